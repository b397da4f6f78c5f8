"""Continuation sampling with a pixel model: condition on the first pixels once, then step the cells.

>>> out = sample_continuations(model, images[:, :484], n=300, num_samples=10, seed=0)   # out.samples (N, 10, 300)
Also the course's continuation set (:func:`load_or_make_continuation_set`). Details: docs/internals.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from helpers.core.data import SEQUENCE_LENGTH, binary_test_images
from helpers.core.files import load_or_make, save_npz
from helpers.core.paths import DATA_DIR
from helpers.inference.engine import (
    MISSING,
    as_binary_rows,
    check_count,
    check_draw,
    log_prob,
    prefix_states,
    row_batches,
    stepper,
)

#: Pixels hidden at the end of every image of the continuation set (the course's choice).
HIDDEN_PIXELS = 300
#: Images in the continuation set.
CONTINUATION_IMAGES = 100
#: Default seed of the continuation set.
CONTINUATION_SEED = 0
#: Where :func:`load_or_make_continuation_set` keeps the continuation set.
CONTINUATION_SET_PATH = DATA_DIR / "continuation_set.npz"
#: Default number of rows (images x samples) run together.
DEFAULT_BATCH_SIZE = 4096


# --------------------------------------------------------------------------------------------------
# Sampling continuations
# --------------------------------------------------------------------------------------------------


class Continuations(NamedTuple):
    """Continuations of N prefixes, ``num_samples`` each, over ``n`` pixels.

    Attributes:
        samples: (N, S, n) float32 0/1, the sampled pixels (positions L .. L + n - 1).
        probs: (N, S, n) float32, p(x_t = 1 | prefix and the sampled pixels before t).
        log_likelihood: (N, S) float64, sum over the n pixels of log p(sampled pixel | its history), nats.
        cross_entropy: (N, S) float64, ``-log_likelihood / n``: nats per pixel (the course's table 12).
    """

    samples: np.ndarray
    probs: np.ndarray
    log_likelihood: np.ndarray
    cross_entropy: np.ndarray


def _check_sampling_args(prefix, n, num_samples) -> tuple[np.ndarray, int, int]:
    prefix = as_binary_rows(prefix, "prefix")
    if prefix.shape[1] < 1:
        raise ValueError("The prefix is empty: give at least the first pixel (nothing predicts it).")
    n = check_count(n, "n (the number of pixels to sample)")
    num_samples = check_count(num_samples, "num_samples")
    if prefix.shape[1] + n > SEQUENCE_LENGTH:
        raise ValueError(
            f"Sampling {n} pixels after a prefix of {prefix.shape[1]} goes beyond the image "
            f"({SEQUENCE_LENGTH} pixels): n may be at most {SEQUENCE_LENGTH - prefix.shape[1]}."
        )
    return prefix, n, num_samples


def continuation_uniforms(n_images: int, num_samples: int, n: int, seed: int = 0) -> np.ndarray:
    """The uniforms (N, S, n) float32 that drive sampling with ``seed`` (numpy Generator, PCG64)."""
    return np.random.default_rng(seed).random((n_images, num_samples, n), dtype=np.float32)


def _continuations(samples, logits, shape) -> Continuations:
    samples = np.asarray(samples, np.float32).reshape(shape)
    logits = np.asarray(logits, np.float32).reshape(shape)
    loglik = log_prob(logits, samples).sum(axis=-1)
    probs = (1.0 / (1.0 + np.exp(-logits.astype(np.float64)))).astype(np.float32)
    return Continuations(samples, probs, loglik, -loglik / shape[-1])


def sample_continuations(
    model,
    prefix,
    n: int,
    num_samples: int = 10,
    seed: int = 0,
    greedy: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    states=None,
) -> Continuations:
    """Sample ``num_samples`` continuations of ``n`` pixels after each prefix, exactly and fast.

    The prefix is read once per image; its final states are repeated for the samples and all
    N x num_samples rows are stepped together, each sampled pixel fed back (x_t ~ Bernoulli(p_t)).

    Args:
        model: a pixel model.
        prefix: (N, L) binary known pixels (positions 0..L-1); also (N, L, 1).
        n: pixels to sample, positions L .. L + n - 1; 1 <= n <= 784 - L.
        num_samples: continuations per image.
        seed: seed of the numpy Generator that draws the uniforms (:func:`continuation_uniforms`).
        greedy: the most probable pixel-by-pixel completion instead (pixel = 1 when p > 0.5); every
            sample is then the same (use ``num_samples=1``).
        batch_size: rows (images x samples) stepped together at most.
        states: the per-layer states after each prefix (:func:`helpers.inference.engine.prefix_states`), if
            already known: the prefix is then not read again.

    Returns:
        :class:`Continuations`.
    """
    prefix, n, num_samples = _check_sampling_args(prefix, n, num_samples)
    run = stepper(model)
    states = prefix_states(model, prefix, batch_size) if states is None else states
    uniforms = None if greedy else continuation_uniforms(len(prefix), num_samples, n, seed).reshape(-1, n)
    rows = len(prefix) * num_samples
    repeated = [[np.repeat(s, num_samples, axis=0) for s in layer] for layer in states]
    samples, logits = [], []
    for part in row_batches(rows, batch_size):
        part_states = [[s[part] for s in layer] for layer in repeated]
        size = part.stop - part.start
        fed, part_logits, _, _ = run.run(
            part_states, np.zeros((size, n), np.float32), np.zeros((size, n), bool),
            None if greedy else uniforms[part], greedy,
        )
        samples.append(fed)
        logits.append(part_logits)
    return _continuations(np.concatenate(samples), np.concatenate(logits), (len(prefix), num_samples, n))


def naive_sample_continuations(
    model, prefix, n: int, num_samples: int = 10, seed: int = 0, greedy: bool = False
) -> Continuations:
    """The slow baseline of :func:`sample_continuations`: re-run the full model over the whole history
    (prefix + pixels sampled so far) for every new pixel. Same uniforms, hence the same samples.

    For benchmarks and tests only: its cost grows as n x (L + n) instead of n.
    """
    prefix, n, num_samples = _check_sampling_args(prefix, n, num_samples)
    import tensorflow as tf

    forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    uniforms = continuation_uniforms(len(prefix), num_samples, n, seed).reshape(-1, n)
    history = np.repeat(prefix, num_samples, axis=0)
    samples = np.zeros((len(history), n), np.float32)
    logits = np.zeros((len(history), n), np.float32)
    for t in range(n):
        last = forward(tf.constant(history[:, :, None]))[:, -1, 0].numpy()
        p = (1.0 / (1.0 + np.exp(-last.astype(np.float64)))).astype(np.float32)
        x = (p > 0.5) if greedy else (uniforms[:, t] < p)
        samples[:, t], logits[:, t] = x, last
        history = np.concatenate([history, samples[:, t : t + 1]], axis=1)
    return _continuations(samples, logits, (len(prefix), num_samples, n))


# --------------------------------------------------------------------------------------------------
# The continuation set
# --------------------------------------------------------------------------------------------------


class ContinuationSet(NamedTuple):
    """Test images with their last ``hidden`` pixels hidden.

    Attributes:
        indices: (N,) int64 indices into the 10k MNIST test set.
        images: (N, 784) float32 0/1, the binarized originals (ground truth).
        masked: (N, 784) float32, the images with the hidden pixels set to -1.
        prefix_len: number of known pixels (784 - hidden); ``masked[:, :prefix_len]`` is the prefix.
        seed: seed the indices were drawn with.
    """

    indices: np.ndarray
    images: np.ndarray
    masked: np.ndarray
    prefix_len: int
    seed: int

    @property
    def prefix(self) -> np.ndarray:
        """The known pixels (N, prefix_len)."""
        return self.images[:, : self.prefix_len]

    @property
    def hidden(self) -> int:
        return SEQUENCE_LENGTH - self.prefix_len


def make_continuation_set(
    test_images_binary, n_images: int = CONTINUATION_IMAGES, hidden: int = HIDDEN_PIXELS, seed: int = CONTINUATION_SEED
) -> ContinuationSet:
    """Draw ``n_images`` images (without replacement, fixed ``seed``) and hide their last ``hidden`` pixels.

    Args:
        test_images_binary: the binarized test set, (N, 28, 28) or (N, 784), e.g.
            ``binarize(load_mnist().test.images)``.
        n_images: images to draw (<= N).
        hidden: pixels hidden at the end, 1..783.
        seed: numpy Generator seed; the same seed gives the same set.
    """
    images, n_images = check_draw(test_images_binary, n_images, "n_images")
    hidden = check_count(hidden, "hidden")
    if hidden > SEQUENCE_LENGTH - 1:
        raise ValueError(f"hidden must be in 1..{SEQUENCE_LENGTH - 1} (keep at least the first pixel), got {hidden}.")
    indices = np.sort(np.random.default_rng(seed).choice(len(images), size=n_images, replace=False)).astype(np.int64)
    chosen = images[indices]
    masked = chosen.copy()
    masked[:, SEQUENCE_LENGTH - hidden :] = MISSING
    return ContinuationSet(indices, chosen, masked, SEQUENCE_LENGTH - hidden, int(seed))


def save_continuation_set(cset: ContinuationSet, path: str | os.PathLike = CONTINUATION_SET_PATH) -> Path:
    """Write ``cset`` to ``path`` (.npz, compressed) atomically; ``masked`` is rebuilt on load."""
    return save_npz(path, "The continuation set", indices=np.asarray(cset.indices, np.int64),
                    images=np.asarray(cset.images, np.uint8), prefix_len=np.int64(cset.prefix_len),
                    seed=np.int64(cset.seed))


def load_continuation_set(path: str | os.PathLike = CONTINUATION_SET_PATH) -> ContinuationSet:
    """Read a set written by :func:`save_continuation_set`."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No continuation set at {path}; build it with load_or_make_continuation_set().")
    with np.load(path, allow_pickle=False) as f:
        images = f["images"].astype(np.float32)
        prefix_len = int(f["prefix_len"])
        masked = images.copy()
        masked[:, prefix_len:] = MISSING
        return ContinuationSet(f["indices"].astype(np.int64), images, masked, prefix_len, int(f["seed"]))


def load_or_make_continuation_set(
    path: str | os.PathLike = CONTINUATION_SET_PATH,
    n_images: int = CONTINUATION_IMAGES,
    hidden: int = HIDDEN_PIXELS,
    seed: int = CONTINUATION_SEED,
    test_images_binary=None,
) -> ContinuationSet:
    """Load the continuation set from ``path``, or make it from the MNIST test set and save it there.

    A file made with other arguments is an error (delete it to rebuild).
    """
    def make_and_save():
        images = binary_test_images() if test_images_binary is None else test_images_binary
        cset = make_continuation_set(images, n_images, hidden, seed)
        save_continuation_set(cset, path)
        return cset

    def settings(cset):
        return {"images": len(cset.indices), "hidden": cset.hidden, "seed": cset.seed}

    wanted = {"images": n_images, "hidden": hidden, "seed": seed}
    return load_or_make(path, load_continuation_set, make_and_save, settings, wanted)
