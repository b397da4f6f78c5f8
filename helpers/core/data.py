"""MNIST as the course used it: binarized digits read pixel by pixel.

>>> x = binarize(load_mnist().train.images)               # 55k training digits, 1.0 where the pixel is > 0.1
>>> inputs, targets = next_pixel_pairs(to_sequences(x))   # x_1..x_783 -> x_2..x_784
Details (the functions, where ``mnist.npz`` comes from): docs/internals.md.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers.core.paths import DATA_DIR

#: Canonical location of the Keras copy of MNIST and its published SHA-256.
MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
#: Environment variable that points at an ``mnist.npz`` anywhere on disk.
MNIST_ENV_VAR = "MNIST_NPZ"
#: Default place of the file inside the repository (git-ignored).
DEFAULT_MNIST_PATH = DATA_DIR / "mnist.npz"

#: The split used throughout: the first 55k official training images train, the last 5k validate.
N_TRAIN = 55_000
N_VALIDATION = 5_000
IMAGE_SIDE = 28
SEQUENCE_LENGTH = IMAGE_SIDE * IMAGE_SIDE  # 784
#: The course's binarization threshold: a pixel in [0, 1] is "on" when it is strictly above 0.1.
BINARIZE_THRESHOLD = 0.1

_EXPECTED = {
    "x_train": ((60_000, 28, 28), np.uint8),
    "y_train": ((60_000,), None),
    "x_test": ((10_000, 28, 28), np.uint8),
    "y_test": ((10_000,), None),
}


class MnistFileError(RuntimeError):
    """``mnist.npz`` is missing, unreadable or does not hold MNIST."""


@dataclass(frozen=True)
class Split:
    """Images (N, 28, 28) float32 in [0, 1] and integer labels (N,)."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def head(self, n: int | None) -> Split:
        """The first ``n`` examples (all of them when ``n`` is None): a fixed, reproducible subset."""
        if n is None:
            return self
        return Split(self.images[:n], self.labels[:n])


@dataclass(frozen=True)
class MnistSplits:
    """The three splits of the course: ``train`` (55k), ``validation`` (5k) and ``test`` (10k)."""

    train: Split
    validation: Split
    test: Split

    def __getitem__(self, name: str) -> Split:
        if name not in ("train", "validation", "test"):
            raise KeyError(f"Unknown split {name!r}; choose 'train', 'validation' or 'test'.")
        return getattr(self, name)


# --------------------------------------------------------------------------------------------------
# Finding and validating the file
# --------------------------------------------------------------------------------------------------


def _replace_advice(path: Path) -> str:
    """How to replace a bad MNIST file, depending on where it came from."""
    from_env = os.environ.get(MNIST_ENV_VAR)
    if from_env and Path(from_env).expanduser().resolve() == Path(path).resolve():
        return f"replace it with a good copy, or unset {MNIST_ENV_VAR} to use {DEFAULT_MNIST_PATH}"
    if Path(path).resolve() == DEFAULT_MNIST_PATH.resolve():
        return f"delete it and run again to download a fresh copy from {MNIST_URL}"
    return "replace it with a good copy of the Keras mnist.npz"


def validate_mnist_file(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read ``path`` and check it holds MNIST in Keras format; return its four arrays.

    Raises:
        MnistFileError: naming the file, when it is truncated, corrupt or has the wrong content.
    """
    path = Path(path)
    try:
        loaded = np.load(path, allow_pickle=False)
        if not hasattr(loaded, "files"):  # a bare .npy array, not an .npz archive
            raise ValueError(f"it holds a single {type(loaded).__name__}, not an .npz archive of named arrays")
        with loaded as f:
            arrays = {key: f[key] for key in _EXPECTED if key in f.files}
            missing = [key for key in _EXPECTED if key not in f.files]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as err:
        raise MnistFileError(
            f"{path} is not a readable .npz file ({type(err).__name__}: {err}). It may be truncated or "
            f"corrupt: {_replace_advice(path)}."
        ) from err
    if missing:
        raise MnistFileError(f"{path} does not look like the Keras MNIST file: it lacks {missing}.")
    for key, (shape, dtype) in _EXPECTED.items():
        array = arrays[key]
        if array.shape != shape:
            raise MnistFileError(f"{path}: {key} has shape {array.shape}, expected {shape}.")
        if dtype is not None and array.dtype != dtype:
            raise MnistFileError(f"{path}: {key} has dtype {array.dtype}, expected {np.dtype(dtype)}.")
        if key.startswith("x") and array.size and array.min() == array.max():
            raise MnistFileError(f"{path}: every pixel of {key} is {array.flat[0]}: these are not digits; "
                                 f"{_replace_advice(path)}.")
        if key.startswith("y"):
            if not np.issubdtype(array.dtype, np.integer):
                raise MnistFileError(f"{path}: {key} has dtype {array.dtype}, expected integer labels.")
            if array.min() < 0 or array.max() > 9:
                raise MnistFileError(f"{path}: {key} has labels outside 0..9.")
    return arrays


#: Seconds without a byte from the server before a download is abandoned.
DOWNLOAD_TIMEOUT_S = 60
_DOWNLOAD_PREFIX = ".mnist-download-"


def _fetch(url: str, target: Path, timeout: float = DOWNLOAD_TIMEOUT_S) -> str:
    """Stream ``url`` into ``target`` (giving up after ``timeout`` seconds of silence); return its SHA-256."""
    import hashlib
    import urllib.request

    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=timeout) as response, open(target, "wb") as f:
        while chunk := response.read(1 << 20):
            digest.update(chunk)
            f.write(chunk)
    return digest.hexdigest()


def _remove_abandoned_downloads(folder: Path) -> None:
    """Delete download folders left by killed runs (their process is gone)."""
    for stale in folder.glob(f"{_DOWNLOAD_PREFIX}*"):
        pid = stale.name[len(_DOWNLOAD_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and _process_alive(int(pid)):
            continue
        shutil.rmtree(stale, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _download_mnist(destination: Path) -> Path:
    """Download the canonical file, check its SHA-256, and move it atomically to ``destination``."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_downloads(destination.parent)
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=f"{_DOWNLOAD_PREFIX}{os.getpid()}-") as tmp:
        downloaded = Path(tmp) / "mnist.npz"
        try:
            sha256 = _fetch(MNIST_URL, downloaded)
            if sha256 != MNIST_SHA256:
                raise ValueError(f"SHA-256 {sha256} is not the published {MNIST_SHA256}")
        except Exception as err:  # no network, stalled server, proxy, HTTP error, hash mismatch, ...
            raise MnistFileError(
                f"MNIST is not on disk and the download from {MNIST_URL} failed ({type(err).__name__}: {err}). "
                f"Put the Keras-format mnist.npz at {destination}, or set the environment variable "
                f"{MNIST_ENV_VAR} to the path of a copy you already have."
            ) from None
        if destination.exists():  # someone put a file there meanwhile: never overwrite it
            return destination
        shutil.move(downloaded, destination)
    return destination


def find_mnist_file(path: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Return the path of ``mnist.npz``: ``path``, else ``$MNIST_NPZ``, else ``data/mnist.npz``.

    When none of those exists and ``download`` is true, the file is downloaded to ``data/mnist.npz``.
    """
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise MnistFileError(f"No MNIST file at {path} (given as the path argument).")
        return path
    from_env = os.environ.get(MNIST_ENV_VAR)
    if from_env:
        path = Path(from_env).expanduser()
        if not path.exists():
            raise MnistFileError(
                f"The environment variable {MNIST_ENV_VAR} points to {path}, which does not exist. "
                f"Fix or unset it (then data/mnist.npz is used or downloaded)."
            )
        return path
    if DEFAULT_MNIST_PATH.exists():
        return DEFAULT_MNIST_PATH
    if not download:
        raise MnistFileError(
            f"No MNIST file: put mnist.npz at {DEFAULT_MNIST_PATH} or set {MNIST_ENV_VAR}."
        )
    return _download_mnist(DEFAULT_MNIST_PATH)


# --------------------------------------------------------------------------------------------------
# Loading and transforming
# --------------------------------------------------------------------------------------------------


def load_mnist(path: str | os.PathLike | None = None, download: bool = True) -> MnistSplits:
    """Load MNIST split as in the course: 55k train, 5k validation, 10k test.

    Images are float32 in [0, 1] (grey levels / 255), labels int64. Validation is the *last* 5,000 images
    of the official training set, train the first 55,000.

    Args:
        path: an explicit ``mnist.npz``; by default ``$MNIST_NPZ`` or ``data/mnist.npz`` (see module doc).
        download: allow downloading the canonical file when none is found.
    """
    arrays = validate_mnist_file(find_mnist_file(path, download=download))
    x_train = arrays["x_train"].astype(np.float32) / 255.0
    y_train = arrays["y_train"].astype(np.int64)
    x_test = arrays["x_test"].astype(np.float32) / 255.0
    y_test = arrays["y_test"].astype(np.int64)
    return MnistSplits(
        train=Split(x_train[:N_TRAIN], y_train[:N_TRAIN]),
        validation=Split(x_train[N_TRAIN:], y_train[N_TRAIN:]),
        test=Split(x_test, y_test),
    )


def numeric_array(value, name: str, function: str) -> np.ndarray:
    """``value`` as a numeric numpy array; a TypeError naming ``function``'s argument ``name`` otherwise."""
    if value is None or isinstance(value, str | bytes):
        raise TypeError(f"{function}: {name} must be an array of numbers, got {type(value).__name__}.")
    try:
        array = np.asarray(value)
    except ValueError as err:  # ragged nested lists
        raise TypeError(f"{function}: {name} must be an array of numbers ({err}).") from None
    if not (array.dtype == bool or np.issubdtype(array.dtype, np.number)):
        raise TypeError(f"{function}: {name} must be an array of numbers, got dtype {array.dtype}.")
    return array


def binarize(images, threshold: float = BINARIZE_THRESHOLD) -> np.ndarray:
    """The course's binarization: ``threshold < images`` as float32 (1.0 = ink, 0.0 = background).

    ``images`` must be grey levels in [0, 1] (as returned by :func:`load_mnist`); ``threshold`` a number in [0, 1).
    """
    images = numeric_array(images, "images", "binarize")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.integer | np.floating):
        raise TypeError(f"binarize: threshold must be a number in [0, 1), got {type(threshold).__name__}.")
    if not 0 <= threshold < 1:  # also rejects NaN
        raise ValueError(f"binarize: threshold must be in [0, 1), got {threshold}.")
    if images.size and not np.all((images >= 0) & (images <= 1)):  # also rejects NaN
        raise ValueError(
            "binarize expects grey levels in [0, 1]; divide uint8 images by 255 first "
            f"(got values in [{images.min()}, {images.max()}])."
        )
    return (threshold < images).astype(np.float32)


def binary_test_images() -> np.ndarray:
    """The 10k binarized test digits (N, 28, 28), from which the continuation and in-painting sets are drawn."""
    return binarize(load_mnist().test.images)


def to_sequences(images) -> np.ndarray:
    """Images (N, 28, 28) or (N, 784) -> float32 sequences (N, 784, 1) in reading order (row by row)."""
    images = numeric_array(images, "images", "to_sequences").astype(np.float32)
    if images.ndim == 2 and images.shape[1] == SEQUENCE_LENGTH:
        return images[..., None]
    if images.ndim == 3 and images.shape[1:] == (IMAGE_SIDE, IMAGE_SIDE):
        return images.reshape(len(images), SEQUENCE_LENGTH, 1)
    if images.ndim == 3 and images.shape[1:] == (SEQUENCE_LENGTH, 1):
        return images
    raise ValueError(f"Expected images of shape (N, 28, 28), (N, 784) or (N, 784, 1); got {images.shape}.")


def to_images(sequences) -> np.ndarray:
    """Sequences (N, 784[, 1]) -> images (N, 28, 28); the inverse of :func:`to_sequences`."""
    sequences = numeric_array(sequences, "sequences", "to_images")
    if sequences.ndim not in (2, 3) or sequences[0:1].size not in (0, SEQUENCE_LENGTH):
        raise ValueError(f"to_images: sequences must be (N, 784) or (N, 784, 1), got shape {sequences.shape}.")
    return sequences.reshape(len(sequences), IMAGE_SIDE, IMAGE_SIDE)


def next_pixel_pairs(sequences) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-prediction pairs: inputs x_1..x_783 and targets x_2..x_784, each (N, 783, 1)."""
    sequences = to_sequences(sequences)
    return sequences[:, :-1], sequences[:, 1:]


def make_dataset(inputs, targets, batch_size: int, shuffle: bool = False, seed: int = 0):
    """Batches of (inputs, targets) for ``model.fit``/``evaluate``, optionally shuffled with a fixed seed.

    The shuffle order depends only on ``seed`` (pass e.g. ``seed + epoch`` to get a new, reproducible
    order every epoch: this is what makes interrupted training resume exactly). With Keras' TensorFlow
    backend this is a ``tf.data.Dataset``; with another backend (PyTorch, JAX) an :class:`ArrayBatches`,
    which yields the same batches in the same order.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}.")
    if len(inputs) != len(targets):
        raise ValueError(f"inputs and targets differ in length: {len(inputs)} vs {len(targets)}.")
    if shuffle:
        order = np.random.default_rng(seed).permutation(len(inputs))
        inputs, targets = inputs[order], targets[order]
    import keras

    if keras.backend.backend() != "tensorflow":
        return ArrayBatches(inputs, targets, batch_size)
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((inputs, targets)).batch(batch_size)
    return dataset.prefetch(tf.data.AUTOTUNE)


def ArrayBatches(inputs, targets, batch_size: int):
    """A ``keras.utils.PyDataset`` of consecutive (inputs, targets) batches: the last one may be smaller."""
    return _array_batches_class()(inputs, targets, batch_size)


@functools.cache
def _array_batches_class():
    """The PyDataset class behind :func:`ArrayBatches`, defined on first use so importing this module needs no Keras."""
    import keras

    class _ArrayBatches(keras.utils.PyDataset):
        def __init__(self, inputs, targets, batch_size):
            super().__init__()
            self.inputs, self.targets, self.batch_size = inputs, targets, batch_size

        def __len__(self):
            return -(-len(self.inputs) // self.batch_size)

        def __getitem__(self, index):
            if not 0 <= index < len(self):
                raise IndexError(f"batch {index} out of range: there are {len(self)} batches.")
            part = slice(index * self.batch_size, (index + 1) * self.batch_size)
            return self.inputs[part], self.targets[part]

    return _ArrayBatches


def task_arrays(task: str, split: Split) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs and targets of one split for a task.

    ``classify``: binarized sequences (N, 784, 1) and labels (N,).
    ``pixel``: binarized x_1..x_783 and x_2..x_784, each (N, 783, 1).
    """
    sequences = to_sequences(binarize(split.images))
    if task == "classify":
        return sequences, split.labels
    if task == "pixel":
        return next_pixel_pairs(sequences)
    raise ValueError(f"Unknown task {task!r}; choose 'classify' or 'pixel'.")
