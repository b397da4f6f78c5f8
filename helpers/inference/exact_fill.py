"""Exact in-painting with a pixel model: the most probable fill of a few missing pixels, given the pixels
before AND after them (all 2^k fills scored, sharing the state up to the first hole).

>>> filled, posterior = most_probable_fill(model, masked)   # masked: (N, 784), -1 at the k missing pixels
Also the course's in-painting sets (:func:`load_or_make_inpainting_set`). Details: docs/internals.md.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from helpers.core.data import IMAGE_SIDE, SEQUENCE_LENGTH, binary_test_images
from helpers.core.files import load_or_make, save_npz
from helpers.core.paths import DATA_DIR
from helpers.inference.engine import (
    MISSING,
    as_binary_rows,
    check_count,
    check_draw,
    log_prob,
    row_batches,
    run_prefix,
    stepper,
)

#: Most missing pixels per image by default: 2^8 = 256 candidates per image.
MAX_MISSING = 8
#: Hard ceiling for ``max_missing`` (2^16 candidates per image).
MAX_MISSING_LIMIT = 16
#: Default rows (images x candidates) run together.
DEFAULT_BATCH_SIZE = 8192
#: Images in each in-painting set, and the default seed.
INPAINTING_IMAGES = 1000
INPAINTING_SEED = 0
#: Hole kinds: one pixel, or a 2x2 block (top-left i and i+1, i+28, i+29).
KINDS = ("pixel", "block")
#: Stroke conditions (see :func:`hole_candidates`): None (anywhere), "touch" and "ink".
STROKES = (None, "touch", "ink")


# --------------------------------------------------------------------------------------------------
# Masked images and candidates
# --------------------------------------------------------------------------------------------------

def check_model(model, function: str) -> None:
    """Raise a TypeError naming ``function``'s ``model`` argument unless it is a Keras model (it has ``layers``)."""
    if not (callable(model) and hasattr(model, "layers")):
        raise TypeError(f"{function}: model must be a Keras pixel model, e.g. helpers.models.load('pixel', "
                        f"'gru_1x128'); got {type(model).__name__}.")



def candidate_patterns(k: int) -> np.ndarray:
    """The 2^k fills of k missing pixels, (2^k, k) float32: row c is c in binary, most significant first.

    >>> candidate_patterns(2)
    array([[0., 0.], [0., 1.], [1., 0.], [1., 1.]], dtype=float32)
    """
    k = check_count(k, "k (the number of missing pixels)", minimum=0)
    if k > MAX_MISSING_LIMIT:
        raise ValueError(f"k={k} missing pixels means 2^{k} candidates; at most {MAX_MISSING_LIMIT} are supported.")
    return np.array(list(itertools.product((0.0, 1.0), repeat=k)), np.float32).reshape(2**k, k)


def check_masked(masked, max_missing: int = MAX_MISSING) -> tuple[np.ndarray, np.ndarray]:
    """Validate masked images; return ``(masked (N, 784) float32, missing (N, k) int64 positions, sorted)``.

    Rules: shape (N, 784) (or (N, 28, 28) / (N, 784, 1)), values 0/1 and -1 at missing pixels, the same
    number k of missing pixels in every image with 1 <= k <= ``max_missing``, and never position 0.
    """
    masked = as_binary_rows(masked, "masked", allow_missing=True)
    if masked.shape[1] != SEQUENCE_LENGTH:
        raise ValueError(f"masked must hold whole images of {SEQUENCE_LENGTH} pixels, got {masked.shape[1]}.")
    if len(masked) == 0:
        raise ValueError("masked holds no image.")
    max_missing = check_count(max_missing, "max_missing")
    if max_missing > MAX_MISSING_LIMIT:
        raise ValueError(
            f"max_missing may be at most {MAX_MISSING_LIMIT} (2^{MAX_MISSING_LIMIT} candidates per image)."
        )
    hole = masked == MISSING
    counts = hole.sum(axis=1)
    if counts.min() != counts.max():
        values, sizes = np.unique(counts, return_counts=True)
        summary = ", ".join(f"{s} image(s) with {v}" for v, s in zip(values, sizes))
        raise ValueError(
            f"Every image must have the same number of missing pixels; found {summary}. "
            "Group the images by count (np.unique((masked == -1).sum(1))) and call once per group."
        )
    k = int(counts[0])
    if k == 0:
        raise ValueError("No missing pixel (-1) in masked: nothing to fill.")
    if k > max_missing:
        raise ValueError(
            f"{k} missing pixels per image means 2^{k} = {2**k} candidates; the limit is max_missing={max_missing} "
            f"(raise it up to {MAX_MISSING_LIMIT} if you have the time and memory)."
        )
    if hole[:, 0].any():
        raise ValueError("Position 0 (the first pixel) may not be missing: the model cannot predict it.")
    missing = np.nonzero(hole)[1].reshape(len(masked), k).astype(np.int64)  # row-major: sorted per image
    return masked, missing


def fill_candidates(masked, missing, patterns) -> np.ndarray:
    """Every candidate fill of every image: (N, C, 784) float32 (``patterns`` from :func:`candidate_patterns`)."""
    masked, missing, patterns = np.asarray(masked, np.float32), np.asarray(missing), np.asarray(patterns, np.float32)
    filled = np.repeat(masked[:, None, :], len(patterns), axis=1)
    rows = np.arange(len(masked))[:, None, None]
    cands = np.arange(len(patterns))[None, :, None]
    filled[rows, cands, missing[:, None, :]] = patterns[None, :, :]
    return filled


def fill(masked, missing, values) -> np.ndarray:
    """``masked`` (N, 784) with ``values`` (N, k) written at ``missing`` (N, k)."""
    filled = np.array(masked, np.float32, copy=True)
    filled[np.arange(len(filled))[:, None], missing] = values
    return filled


def posterior_from_loglik(loglik) -> np.ndarray:
    """Normalise log-likelihoods (N, C) into posteriors (N, C) that sum to 1 (log-sum-exp, float64)."""
    loglik = np.asarray(loglik, np.float64)
    shifted = loglik - loglik.max(axis=1, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------------------------------
# Scoring candidates
# --------------------------------------------------------------------------------------------------


class CandidateScores(NamedTuple):
    """Scores of the 2^k candidate fills of N images.

    Attributes:
        loglik: (N, C) float64, log p(x_2..x_784 | x_1) of each filled image (nats).
        posterior: (N, C) float64, p(candidate | observed pixels); rows sum to 1.
        best: (N,) int64, the most probable candidate.
        filled: (N, 784) float32, the images filled with their most probable candidate.
        missing: (N, k) int64, the missing positions (sorted).
        patterns: (C, k) float32, :func:`candidate_patterns`.
    """

    loglik: np.ndarray
    posterior: np.ndarray
    best: np.ndarray
    filled: np.ndarray
    missing: np.ndarray
    patterns: np.ndarray


def _chunks_by_start(first: np.ndarray, images_per_chunk: int):
    """Index arrays of images sorted by ``first`` (stable), ``images_per_chunk`` at a time."""
    order = np.argsort(first, kind="stable")
    for part in row_batches(len(order), images_per_chunk):
        yield order[part]


def _branching_loglik(run, masked: np.ndarray, missing: np.ndarray, window: int) -> np.ndarray:
    """Candidate log-likelihoods (n, 2^k) of one chunk of images, branching rows at the missing pixels.

    Each image starts as one row (its observed prefix is read once). Reading order is cut into windows of
    ``window`` pixels; at the start of a window holding missing pixels, every row of that image is split in
    two per missing pixel (0 and 1), so rows only multiply when a hole is reached, and the 2^k rows of an
    image share everything before it. All rows of all images advance together, one compiled call per window.
    """
    n, k = missing.shape
    branch_at = missing // window * window  # where each missing pixel is assigned
    image = np.arange(n)  # the image of each row
    bits = np.full((n, k), MISSING, np.float32)  # the values assigned to each row's missing pixels
    cand = np.zeros(n, np.int64)  # candidate index so far (assigned bits, most significant first)
    loglik = np.zeros(n, np.float64)
    states = [[np.asarray(s) for s in layer] for layer in run.zero_states(n)]

    def segment(start: int, stop: int) -> np.ndarray:
        """The pixels start..stop-1 of every row: observed ones, and the row's bits at its missing pixels."""
        values = masked[image, start:stop]
        for j in range(k):
            pos = missing[image, j]
            inside = np.flatnonzero((pos >= start) & (pos < stop))
            values[inside, pos[inside] - start] = bits[inside, j]
        return values

    def add_logp(logits: np.ndarray, values: np.ndarray, start: int) -> None:
        logp = log_prob(logits, values)
        if start == 0:
            logp[:, 0] = 0.0  # nothing predicts the first pixel
        loglik[:] += logp.sum(axis=1)

    t = 0
    for boundary in np.unique(branch_at):
        boundary = int(boundary)
        if boundary > t:
            values = segment(t, boundary)
            _, logits, states, _ = run.run(states, values)
            add_logp(logits, values, t)
            t = boundary
        for j in range(k):
            split = np.flatnonzero(branch_at[image, j] == boundary)
            if split.size == 0:
                continue
            bits[split, j] = 0.0
            ones = bits[split]
            ones[:, j] = 1.0
            bits = np.concatenate([bits, ones])
            cand = np.concatenate([cand, cand[split] + (1 << (k - 1 - j))])
            image = np.concatenate([image, image[split]])
            loglik = np.concatenate([loglik, loglik[split]])
            states = [[np.concatenate([s, s[split]]) for s in layer] for layer in states]
    values = segment(t, SEQUENCE_LENGTH)
    _, logits, _, last_logit = run.run(states, values[:, :-1])
    add_logp(np.concatenate([logits, last_logit[:, None]], axis=1), values, t)  # predictions of t..783
    result = np.full((n, 2**k), np.nan)
    result[image, cand] = loglik
    return result


#: Width (pixels) of the windows at whose start rows branch (see :func:`candidate_loglik`).
BRANCH_WINDOW = 8


def candidate_loglik(
    model, masked, batch_size: int = DEFAULT_BATCH_SIZE, max_missing: int = MAX_MISSING
) -> np.ndarray:
    """log p(x_2..x_784 | x_1) (N, C) of every candidate fill, the fast way.

    Rows branch lazily: an image is one row (its prefix read once) until its first missing pixel, two after
    it, four after the second, and so on, so the 2^k candidates share all the computation before each of
    their differences; all rows of all images step together in big batches. Rows branch at the start of
    the :data:`BRANCH_WINDOW`-pixel window holding a missing pixel, which costs a few extra steps and keeps
    the number of compiled calls below 784 / BRANCH_WINDOW per chunk. ``batch_size`` bounds the final rows
    (images x C) of a chunk of images (at least one image per chunk); chunks waste nothing.
    """
    check_model(model, "candidate_loglik")
    masked, missing = check_masked(masked, max_missing)
    n_cand = 2 ** missing.shape[1]
    run = stepper(model)
    loglik = np.zeros((len(masked), n_cand), np.float64)
    images_per_chunk = max(1, check_count(batch_size, "batch_size") // n_cand)
    for chunk in row_batches(len(masked), images_per_chunk):
        loglik[chunk] = _branching_loglik(run, masked[chunk], missing[chunk], BRANCH_WINDOW)
    return loglik


def naive_candidate_loglik(
    model, masked, batch_size: int = 4096, max_missing: int = MAX_MISSING
) -> np.ndarray:
    """log p(x_2..x_784 | x_1) (N, C) of every candidate, each scored as an independent full sequence.

    The baseline of :func:`candidate_loglik`: the model reads all 784 pixels of all N x C fills.
    """
    check_model(model, "naive_candidate_loglik")
    import tensorflow as tf

    masked, missing = check_masked(masked, max_missing)
    patterns = candidate_patterns(missing.shape[1])
    values = fill_candidates(masked, missing, patterns).reshape(-1, SEQUENCE_LENGTH)
    forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    loglik = np.zeros(len(values), np.float64)
    for rows in row_batches(len(values), batch_size):
        logits = forward(tf.constant(values[rows, :-1, None]))[..., 0].numpy()  # predict positions 1..783
        loglik[rows] = log_prob(logits, values[rows, 1:]).sum(axis=1)
    return loglik.reshape(len(masked), len(patterns))


def score_candidates(
    model, masked, batch_size: int = DEFAULT_BATCH_SIZE, max_missing: int = MAX_MISSING
) -> CandidateScores:
    """Score every candidate fill (:func:`candidate_loglik`) and pick the most probable: :class:`CandidateScores`."""
    check_model(model, "score_candidates")
    masked, missing = check_masked(masked, max_missing)
    patterns = candidate_patterns(missing.shape[1])
    loglik = candidate_loglik(model, masked, batch_size, max_missing)
    posterior = posterior_from_loglik(loglik)
    best = loglik.argmax(axis=1)
    filled = fill(masked, missing, patterns[best])
    return CandidateScores(loglik, posterior, best, filled, missing, patterns)


def most_probable_fill(
    model, masked, batch_size: int = DEFAULT_BATCH_SIZE, max_missing: int = MAX_MISSING
) -> tuple[np.ndarray, np.ndarray]:
    """The exact most probable fill of the missing pixels given all observed pixels, past and future.

    Args:
        model: a pixel model.
        masked: (N, 784) with 0/1 observed pixels and -1 at the k missing ones (same k for every image,
            1 <= k <= ``max_missing``; holes may differ in position between images; never position 0).
        batch_size: rows (images x 2^k candidates) run together.
        max_missing: the largest k accepted.

    Returns:
        ``(filled, posterior)``: filled (N, 784) float32 and posterior (N, 2^k) float64 over the
        candidates in :func:`candidate_patterns` order. :func:`score_candidates` returns more.
    """
    check_model(model, "most_probable_fill")
    scores = score_candidates(model, masked, batch_size, max_missing)
    return scores.filled, scores.posterior


def past_only_fill(model, masked, batch_size: int = DEFAULT_BATCH_SIZE, max_missing: int = MAX_MISSING) -> np.ndarray:
    """Fill each missing pixel with its most probable value given the pixels BEFORE it only.

    Steps through the image: a missing pixel is 1 when p(x_i = 1 | x_<i) > 0.5, with earlier missing
    pixels already filled this way; the pixels after each missing pixel are ignored (for a 2x2 block, its
    second row does see the known pixels between the block's two rows). (N, 784) float32.
    """
    check_model(model, "past_only_fill")
    masked, missing = check_masked(masked, max_missing)
    run = stepper(model)
    filled = masked.copy()
    for chunk in _chunks_by_start(missing[:, 0], check_count(batch_size, "batch_size")):
        t0, t1 = int(missing[chunk, 0].min()), int(missing[chunk, -1].max()) + 1
        states, _, _ = run_prefix(model, masked[chunk, :t0])
        part = masked[chunk, t0:t1]
        fed, _, _, _ = run.run(states, part, part != MISSING, None, greedy=True)
        filled[chunk, t0:t1] = fed
    return filled


def image_cross_entropy(model, images, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
    """Mean cross-entropy (nats per pixel) of whole images (N,) over positions 1..783: -loglik / 783.

    The quantity of the course's in-painting table (ground truth vs in-painted images).
    """
    check_model(model, "image_cross_entropy")
    from helpers.inference.engine import sequence_cross_entropy

    return sequence_cross_entropy(model, images, 1, SEQUENCE_LENGTH - 1, batch_size)


# --------------------------------------------------------------------------------------------------
# The data sets
# --------------------------------------------------------------------------------------------------


class InpaintingSet(NamedTuple):
    """Test images with a hole each.

    Attributes:
        masked: (N, 784) float32, the image with -1 at the hole.
        images: (N, 784) float32 0/1, the ground truth.
        indices: (N,) int64, indices into the 10k MNIST test set.
        holes: (N, k) int64, the missing positions (sorted; k = 1 for "pixel", 4 for "block").
        kind: "pixel" or "block".
        stroke: None, "touch" or "ink" (see :func:`hole_candidates`).
        seed: the seed it was drawn with.
    """

    masked: np.ndarray
    images: np.ndarray
    indices: np.ndarray
    holes: np.ndarray
    kind: str
    stroke: str | None
    seed: int


def hole_offsets(kind: str) -> np.ndarray:
    """Positions of a hole relative to its top-left pixel i: (0,) for "pixel", (0, 1, 28, 29) for "block"."""
    if kind == "pixel":
        return np.array([0], np.int64)
    if kind == "block":
        return np.array([0, 1, IMAGE_SIDE, IMAGE_SIDE + 1], np.int64)
    raise ValueError(f"Unknown hole kind {kind!r}; choose one of {KINDS}.")


def _window_any(images: np.ndarray, top: int, left: int, size: int) -> np.ndarray:
    """(N, 28, 28) bool: any ink in the size x size window whose top-left is (r + top, c + left), clipped."""
    n = len(images)
    pad = size + max(abs(top), abs(left))
    padded = np.zeros((n, IMAGE_SIDE + 2 * pad, IMAGE_SIDE + 2 * pad), bool)
    padded[:, pad : pad + IMAGE_SIDE, pad : pad + IMAGE_SIDE] = images > 0.5
    out = np.zeros((n, IMAGE_SIDE, IMAGE_SIDE), bool)
    for dr in range(size):
        for dc in range(size):
            r0, c0 = pad + top + dr, pad + left + dc
            out |= padded[:, r0 : r0 + IMAGE_SIDE, c0 : c0 + IMAGE_SIDE]
    return out


def hole_candidates(images, kind: str, stroke: str | None = None) -> np.ndarray:
    """(N, 784) bool: where the top-left pixel of a hole may go in each image.

    Always: the hole lies inside the image (a block's top-left row and column are in 0..26, so it never
    wraps across rows) and does not cover position 0. Then ``stroke``:

    - ``None``: anywhere.
    - ``"touch"``: the hole touches a stroke: some pixel of the hole or of its 8-neighbourhood (the
      3x3 window around a pixel, the 4x4 window around a block, clipped to the image) is ink.
    - ``"ink"``: some missing pixel is ink in the ground truth (the hardest set).
    """
    if stroke not in STROKES:
        raise ValueError(f"Unknown stroke condition {stroke!r}; choose one of {STROKES}.")
    images = as_binary_rows(images, "images").reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    size = int(np.sqrt(len(hole_offsets(kind))))  # side of the hole: 1 for a pixel, 2 for a block
    allowed = np.zeros((IMAGE_SIDE, IMAGE_SIDE), bool)
    allowed[: IMAGE_SIDE - size + 1, : IMAGE_SIDE - size + 1] = True
    allowed[0, 0] = False
    allowed = np.broadcast_to(allowed, images.shape)
    if stroke == "touch":
        allowed = allowed & _window_any(images, -1, -1, size + 2)
    elif stroke == "ink":
        allowed = allowed & _window_any(images, 0, 0, size)
    return allowed.reshape(len(images), SEQUENCE_LENGTH)


def make_inpainting_set(
    test_images_binary, kind: str, n: int = INPAINTING_IMAGES, seed: int = INPAINTING_SEED, stroke: str | None = None
) -> InpaintingSet:
    """Draw ``n`` distinct test images and one hole each (a pixel or a 2x2 block), reproducibly.

    Images are visited in the order of a random permutation (numpy Generator with ``seed``); an image is
    kept when it has a place for the hole (:func:`hole_candidates`), and the hole's top-left is drawn
    uniformly among those places. The same arguments always give the same set.
    """
    offsets = hole_offsets(kind)
    images, n = check_draw(test_images_binary, n, "n")
    allowed = hole_candidates(images, kind, stroke)
    rng = np.random.default_rng(seed)
    indices, holes = [], []
    for index in rng.permutation(len(images)):
        places = np.flatnonzero(allowed[index])
        if len(places) == 0:
            continue
        top_left = places[rng.integers(len(places))]
        indices.append(index)
        holes.append(top_left + offsets)
        if len(indices) == n:
            break
    if len(indices) < n:
        raise ValueError(
            f"Only {len(indices)} images have a place for a {kind} hole with stroke={stroke!r}; asked for {n}."
        )
    indices, holes = np.array(indices, np.int64), np.array(holes, np.int64)
    truth = images[indices]
    masked = truth.copy()
    masked[np.arange(n)[:, None], holes] = MISSING
    return InpaintingSet(masked, truth, indices, holes, kind, stroke, int(seed))


def make_missing_pixel_set(
    test_images_binary, n: int = INPAINTING_IMAGES, seed: int = INPAINTING_SEED, stroke: str | None = None
) -> InpaintingSet:
    """One missing pixel per image (positions 1..783; ``stroke`` as in :func:`hole_candidates`)."""
    return make_inpainting_set(test_images_binary, "pixel", n, seed, stroke)


def make_missing_block_set(
    test_images_binary, n: int = INPAINTING_IMAGES, seed: int = INPAINTING_SEED, stroke: str | None = None
) -> InpaintingSet:
    """A missing 2x2 block i, i+1, i+28, i+29 per image, fully inside the image (never covering position 0)."""
    return make_inpainting_set(test_images_binary, "block", n, seed, stroke)


def default_inpainting_path(kind: str, stroke: str | None = None) -> Path:
    """``data/inpainting_{kind}.npz``, ``data/inpainting_{kind}_stroke.npz`` ("touch") or ``..._ink.npz``."""
    hole_offsets(kind)
    if stroke not in STROKES:
        raise ValueError(f"Unknown stroke condition {stroke!r}; choose one of {STROKES}.")
    suffix = {None: "", "touch": "_stroke", "ink": "_ink"}[stroke]
    return DATA_DIR / f"inpainting_{kind}{suffix}.npz"


def save_inpainting_set(iset: InpaintingSet, path: str | os.PathLike | None = None) -> Path:
    """Write ``iset`` as a compressed .npz atomically (default :func:`default_inpainting_path`)."""
    path = path if path is not None else default_inpainting_path(iset.kind, iset.stroke)
    return save_npz(path, "An in-painting set", images=np.asarray(iset.images, np.uint8),
                    indices=np.asarray(iset.indices, np.int64), holes=np.asarray(iset.holes, np.int64),
                    kind=np.str_(iset.kind), stroke=np.str_(iset.stroke or "none"), seed=np.int64(iset.seed))


def load_inpainting_set(path: str | os.PathLike) -> InpaintingSet:
    """Read a set written by :func:`save_inpainting_set` (``masked`` is rebuilt from images and holes)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No in-painting set at {path}; build it with load_or_make_inpainting_set().")
    with np.load(path, allow_pickle=False) as f:
        images = f["images"].astype(np.float32)
        holes = f["holes"].astype(np.int64)
        stroke = str(f["stroke"])
        masked = images.copy()
        masked[np.arange(len(images))[:, None], holes] = MISSING
        return InpaintingSet(
            masked, images, f["indices"].astype(np.int64), holes, str(f["kind"]),
            None if stroke == "none" else stroke, int(f["seed"]),
        )


def load_or_make_inpainting_set(
    kind: str = "pixel",
    stroke: str | None = None,
    n: int = INPAINTING_IMAGES,
    seed: int = INPAINTING_SEED,
    path: str | os.PathLike | None = None,
    test_images_binary=None,
) -> InpaintingSet:
    """Load an in-painting set from ``path`` (default :func:`default_inpainting_path`), or make and save it.

    A file made with other arguments is an error (delete it to rebuild).
    """
    path = Path(path) if path is not None else default_inpainting_path(kind, stroke)

    def make_and_save():
        images = binary_test_images() if test_images_binary is None else test_images_binary
        iset = make_inpainting_set(images, kind, n, seed, stroke)
        save_inpainting_set(iset, path)
        return iset

    def settings(iset):
        return {"kind": iset.kind, "stroke": iset.stroke, "images": len(iset.indices), "seed": iset.seed}

    wanted = {"kind": kind, "stroke": stroke, "images": n, "seed": seed}
    return load_or_make(path, load_inpainting_set, make_and_save, settings, wanted)


def get_inpainting_set(kind: str = "pixel", stroke: str | None = None, n: int = INPAINTING_IMAGES,
                       seed: int = INPAINTING_SEED) -> InpaintingSet:
    """The course's stored set for the default ``n`` and ``seed``; any other set is drawn the same way, not stored.

    >>> get_inpainting_set("block", "touch")          # data/inpainting_block_stroke.npz
    >>> get_inpainting_set("pixel", n=50, seed=3)     # drawn from the test set, kept in memory only
    """
    if (n, seed) == (INPAINTING_IMAGES, INPAINTING_SEED):
        return load_or_make_inpainting_set(kind, stroke, n=n, seed=seed)
    return make_inpainting_set(binary_test_images(), kind, n, seed, stroke)
