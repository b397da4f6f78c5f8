"""Small models and data shared by the tests (imported as ``testkit``; pytest puts tests/ on the path)."""

import numpy as np

from helpers.core import data
from helpers.core.zoo import build

#: Training options of the tiny runs: 2 epochs of batch 32, a high learning rate, no XLA, no log.
TINY = dict(epochs=2, batch_size=32, lr=0.01, verbose=0, jit_compile=False)


def tiny_mnist_splits(n_train: int, n_validation: int, n_test: int) -> data.MnistSplits:
    """The first real MNIST images (grey levels in [0, 1]): train and validation from the official train set."""
    n = n_train + n_validation
    with np.load(data.find_mnist_file(download=False)) as f:
        x_train, y_train = f["x_train"][:n] / np.float32(255), f["y_train"][:n].astype(np.int64)
        x_test, y_test = f["x_test"][:n_test] / np.float32(255), f["y_test"][:n_test].astype(np.int64)
    return data.MnistSplits(train=data.Split(x_train[:n_train], y_train[:n_train]),
                            validation=data.Split(x_train[n_train:], y_train[n_train:]),
                            test=data.Split(x_test, y_test))


def sharp_model(name: str = "gru_1x8", seed: int = 0, scale: float = 0.8, task: str = "pixel", **overrides):
    """A random model with large weights (a fresh model predicts the same everywhere, which hides bugs)."""
    model = build(task, name, gate_bias_init="default", **overrides)
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, scale, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def synthetic_images(n: int = 40, seed: int = 0, density: float = 0.25) -> np.ndarray:
    """Binary (n, 28, 28) 'digits': random ink in the centre, a blank 4-pixel border like MNIST."""
    images = (np.random.default_rng(seed).random((n, 28, 28)) < density).astype(np.float32)
    images[:, :4], images[:, -4:], images[:, :, :4], images[:, :, -4:] = 0, 0, 0, 0
    return images


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))
