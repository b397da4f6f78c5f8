"""Continuation sampling with a pixel model: condition on the first pixels once, then step the cells.

A pixel model (``helpers.models.build("pixel", ...)``) fed x_1..x_t outputs at step t the logit of
p(x_{t+1} = 1 | x_1..x_t). In code, positions are 0-based indices into the 784-pixel sequence: the output
after reading ``seq[:t]`` predicts ``seq[t]``. Nothing predicts ``seq[0]`` (the top-left corner, always 0
in MNIST): its probability is treated as a constant and left out of every log-likelihood here, which
therefore are log p(x_2..x_784 | x_1) restricted to the positions asked for.

The fast path never re-reads the past. :class:`PixelStepper` runs the recurrent cells one pixel at a time
with their carried state (all layers, GRU or LSTM) in one compiled ``tf.while_loop``; every row of the batch
(images x samples) advances together:

>>> prefix = images[:, :484]                                   # (N, 484) binary, known pixels
>>> out = sample_continuations(model, prefix, n=300, num_samples=10, seed=0)
>>> out.samples.shape, out.cross_entropy.shape                 # (N, 10, 300), (N, 10)
>>> best = sample_continuations(model, prefix, n=300, num_samples=1, greedy=True)   # greedy (p > 0.5)
>>> gt = sequence_cross_entropy(model, images, start=484, n=300)                   # ground truth row

The continuation set of the course (100 test images with their last 300 pixels hidden) is built by
:func:`make_continuation_set` and kept in ``data/continuation_set.npz`` (:func:`load_or_make_continuation_set`).

Randomness comes from a numpy ``Generator`` seeded by ``seed``: the uniforms u (N, num_samples, n) are drawn
up front and pixel t of a sample is 1 when u_t < p_t. Identical seeds give identical samples, and
:func:`naive_sample_continuations` (the baseline that re-runs the whole model over the whole history for
every new pixel) draws the same uniforms, so both give the same samples.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import NamedTuple

import numpy as np

from helpers.data import SEQUENCE_LENGTH
from helpers.manifest import atomic_path
from helpers.paths import DATA_DIR

#: Pixels hidden at the end of every image of the continuation set (the course's choice).
HIDDEN_PIXELS = 300
#: Images in the continuation set.
CONTINUATION_IMAGES = 100
#: Default seed of the continuation set.
CONTINUATION_SEED = 0
#: Where :func:`load_or_make_continuation_set` keeps the continuation set.
CONTINUATION_SET_PATH = DATA_DIR / "continuation_set.npz"
#: Value that marks a hidden pixel in masked images.
MISSING = -1.0
#: Default number of rows (images x samples) run together.
DEFAULT_BATCH_SIZE = 4096


# --------------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------------


def as_binary_rows(x, name: str = "sequences", allow_missing: bool = False) -> np.ndarray:
    """``x`` as float32 (N, T): accepts (N, T), (N, T, 1) and images (N, 28, 28) (-> (N, 784)).

    Values must be 0 or 1 (or ``-1`` for a missing pixel when ``allow_missing``); anything else is a
    ValueError that says what is allowed.
    """
    x = np.asarray(x)
    if x.dtype == bool:
        x = x.astype(np.float32)
    if not (np.issubdtype(x.dtype, np.number)):
        raise ValueError(f"{name} must be a numeric array, got dtype {x.dtype}.")
    if x.ndim == 3 and x.shape[1:] == (28, 28):
        x = x.reshape(len(x), SEQUENCE_LENGTH)
    elif x.ndim == 3 and x.shape[2] == 1:
        x = x[..., 0]
    if x.ndim != 2:
        raise ValueError(
            f"{name} must have shape (N, T), (N, T, 1) or (N, 28, 28); got shape {x.shape}. "
            "Add a batch axis for a single image (x[None])."
        )
    x = x.astype(np.float32)
    allowed = (0.0, 1.0, MISSING) if allow_missing else (0.0, 1.0)
    bad = ~np.isin(x, allowed)
    if bad.any():
        what = "0, 1, or -1 for a missing pixel" if allow_missing else "binary: 0 or 1"
        example = x[bad].flat[0]
        raise ValueError(
            f"{name} must be {what}; found {int(bad.sum())} other value(s), e.g. {example!r}. "
            "Binarize grey levels first with helpers.data.binarize."
        )
    return x


def check_count(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def check_span(start: int, n: int, length: int = SEQUENCE_LENGTH) -> tuple[int, int]:
    """Check that positions ``start .. start + n - 1`` (0-based) lie in a sequence of ``length`` pixels.

    ``start`` must be >= 1 (nothing predicts the first pixel) and ``n`` >= 1.
    """
    start = check_count(start, "start (the first position, 0-based)", minimum=1)
    n = check_count(n, "n (the number of pixels)", minimum=1)
    if start + n > length:
        raise ValueError(
            f"Positions {start}..{start + n - 1} go beyond the image: a sequence has {length} pixels "
            f"(positions 0..{length - 1}), so n may be at most {length - start} after {start} known pixels."
        )
    return start, n


# --------------------------------------------------------------------------------------------------
# The stepper
# --------------------------------------------------------------------------------------------------


class PixelStepper:
    """Run a pixel model's recurrent cells one pixel at a time, carrying their state.

    The state of a model is a list with one entry per recurrent layer: ``[h]`` for a GRU, ``[h, c]`` for
    an LSTM, each (batch, units) float32. The pending prediction of a state is the head (``logits``
    layer) applied to the top layer's ``h``: after reading ``seq[:t]`` it is the logit of ``seq[t]``.
    Dropout is inactive (inference). Weights are read from the model's variables at every call, so the
    stepper follows any later change of the weights.

    :meth:`run` is the one compiled loop behind everything: at each step it records the pending logit,
    chooses the pixel to feed (the given value where it is known, otherwise a sample u < p or, greedily,
    p > 0.5) and advances the cells. It is a plain ``tf.function`` (graph mode, no XLA): on a CPU,
    ``jit_compile=True`` made the loop about twice slower in our measurements (XLA's CPU matmuls), and
    it would recompile for every new sequence length.

    Args:
        model: a pixel model from ``helpers.models.build("pixel", ...)`` or ``load("pixel", ...)``.
    """

    def __init__(self, model):
        import tensorflow as tf

        from helpers.models import recurrent_layers

        layers = recurrent_layers(model)
        if not layers:
            raise ValueError("The model has no recurrent layers named rnn_0, rnn_1, ...; build it with helpers.models.")
        try:
            self.head = model.get_layer("logits")
        except ValueError as err:
            raise ValueError(
                "The model has no 'logits' layer: pass a pixel model (helpers.models.build('pixel', ...))."
            ) from err
        if int(self.head.units) != 1 or int(model.input_shape[-1]) != 1:
            raise ValueError("Expected a pixel model (one input and one logit per step); got a different model.")
        self.cells = [layer.cell for layer in layers]
        self.lstm = [type(cell).__name__.startswith("LSTM") for cell in self.cells]
        self.units = [int(cell.units) for cell in self.cells]
        self._run = tf.function(self._run_graph, reduce_retracing=True)

    # -- single steps (usable eagerly or inside tf.function) ----------------------------------------

    def zero_states(self, batch: int) -> list:
        """The initial state (all zeros) of a batch of ``batch`` rows: what the model starts from."""
        import tensorflow as tf

        return [
            [tf.zeros((batch, u), tf.float32)] * (2 if lstm else 1) for u, lstm in zip(self.units, self.lstm)
        ]

    def logit(self, states) -> tf.Tensor:  # noqa: F821 (TensorFlow is imported lazily)
        """The pending logit (batch,): the prediction of the next pixel from ``states``."""
        return self.head(states[-1][0], training=False)[:, 0]

    def step(self, x, states) -> list:
        """Feed one pixel ``x`` (batch,) or (batch, 1) to every layer; return the new states."""
        import tensorflow as tf

        inputs = tf.reshape(tf.cast(x, tf.float32), (-1, 1))
        new_states = []
        for cell, state in zip(self.cells, states):
            inputs, new_state = cell.call(inputs, list(state), training=False)
            new_states.append(list(new_state))
        return new_states

    # -- the compiled loop -------------------------------------------------------------------------

    def _run_graph(self, states, values, known, uniforms, greedy: bool):
        """The loop; batch-major (B, T) in and out. ``known`` None: teacher forcing; ``uniforms`` None: greedy."""
        import tensorflow as tf

        values = tf.transpose(values)  # time-major: values[t] is step t of every row
        known = None if known is None else tf.transpose(known)
        uniforms = None if uniforms is None else tf.transpose(uniforms)
        steps = tf.shape(values)[0]
        fed_ta = tf.TensorArray(tf.float32, size=steps)
        logits_ta = tf.TensorArray(tf.float32, size=steps)
        logit = self.logit(states)
        for t in tf.range(steps):
            if known is None:
                x = values[t]
            else:
                p = tf.sigmoid(logit)
                draw = p > 0.5 if greedy else uniforms[t] < p
                x = tf.where(known[t], values[t], tf.cast(draw, tf.float32))
            fed_ta = fed_ta.write(t, x)
            logits_ta = logits_ta.write(t, logit)
            states = self.step(x, states)
            logit = self.logit(states)
        return tf.transpose(fed_ta.stack()), tf.transpose(logits_ta.stack()), states, logit

    def run(self, states, values, known=None, uniforms=None, greedy: bool = False):
        """Advance ``states`` over T steps, feeding known pixels and sampling (or choosing) the others.

        Args:
            states: per-layer states of a batch of B rows (e.g. :meth:`zero_states` or :func:`prefix_states`).
            values: (B, T) pixels to feed where ``known``; ignored elsewhere (e.g. -1).
            known: (B, T) bool; ``None`` means all known (teacher forcing).
            uniforms: (B, T) uniforms in [0, 1) for the unknown pixels (pixel = u < p); needed unless
                ``greedy`` or everything is known.
            greedy: choose unknown pixels as ``p > 0.5`` instead of sampling.

        Returns:
            numpy ``(fed, logits, states, logit)``: ``fed`` (B, T) the pixels fed, ``logits`` (B, T) where
            ``logits[:, t]`` is the logit of ``fed[:, t]`` given everything before it, the final per-layer
            states, and the final pending logit (B,) (the prediction of the pixel after the last one fed).
        """
        import tensorflow as tf

        values = np.asarray(values, np.float32)
        states = [[tf.convert_to_tensor(s, tf.float32) for s in layer] for layer in states]
        if values.shape[1] == 0:  # nothing to feed (the loop would stack an empty TensorArray)
            empty = np.zeros(values.shape, np.float32)
            return empty, empty, _states_to_numpy(states), self.logit(states).numpy()
        if known is not None:
            known = tf.convert_to_tensor(np.asarray(known, bool))
            if not greedy:
                if uniforms is None:
                    raise ValueError("Sampling unknown pixels needs uniforms (B, T); or pass greedy=True.")
                uniforms = tf.convert_to_tensor(np.asarray(uniforms, np.float32))
        fed, logits, states, logit = self._run(
            states, tf.convert_to_tensor(values), known, None if greedy or known is None else uniforms, bool(greedy)
        )
        return fed.numpy(), logits.numpy(), _states_to_numpy(states), logit.numpy()


_STEPPERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def stepper(model) -> PixelStepper:
    """The (cached) :class:`PixelStepper` of ``model``: its compiled loop is traced once per model."""
    try:
        return _STEPPERS[model]
    except KeyError:
        pass
    except TypeError:  # not weak-referenceable: no cache
        return PixelStepper(model)
    _STEPPERS[model] = result = PixelStepper(model)
    return result


def row_batches(total: int, batch_size: int):
    batch_size = check_count(batch_size, "batch_size")
    for start in range(0, total, batch_size):
        yield slice(start, min(start + batch_size, total))


def _states_to_numpy(states) -> list:
    return [[np.asarray(s) for s in layer] for layer in states]


def _concat_states(parts: list) -> list:
    return [[np.concatenate([p[i][j] for p in parts]) for j in range(len(parts[0][i]))] for i in range(len(parts[0]))]


def log_prob(logits, values) -> np.ndarray:
    """log p(value) of binary ``values`` under Bernoulli(sigmoid(logits)), in float64 (stable)."""
    logits = np.asarray(logits, np.float64)
    values = np.asarray(values, np.float64)
    # log sigmoid(l) = -softplus(-l); log(1 - sigmoid(l)) = -softplus(l)
    return -np.logaddexp(0.0, np.where(values > 0.5, -logits, logits))


# --------------------------------------------------------------------------------------------------
# Conditioning on a prefix, teacher forcing
# --------------------------------------------------------------------------------------------------


def run_prefix(model, prefix, batch_size: int = DEFAULT_BATCH_SIZE):
    """Read ``prefix`` (N, L) once from the zero state: return ``(states, logits, next_logit)``.

    ``states`` are the per-layer states after the prefix (numpy, see :class:`PixelStepper`), ``logits``
    (N, L) the logit of every prefix pixel given the ones before it (column 0 is the model's bias-only
    guess for the first pixel, which has no conditional: ignore it), and ``next_logit`` (N,) the
    prediction of pixel L.
    """
    prefix = as_binary_rows(prefix, "prefix")
    if prefix.shape[1] < 1:
        raise ValueError("The prefix is empty: give at least the first pixel (nothing predicts it).")
    run = stepper(model)
    parts, logits, nexts = [], [], []
    for rows in row_batches(len(prefix), batch_size):
        chunk = prefix[rows]
        _, chunk_logits, states, next_logit = run.run(run.zero_states(len(chunk)), chunk)
        parts.append(states)
        logits.append(chunk_logits)
        nexts.append(next_logit)
    return _concat_states(parts), np.concatenate(logits), np.concatenate(nexts)


def prefix_states(model, prefix, batch_size: int = DEFAULT_BATCH_SIZE) -> list:
    """The per-layer states after reading ``prefix`` (N, L) binary: ``[[h], ...]`` (GRU) or ``[[h, c], ...]`` (LSTM).

    Each array is (N, units). The prediction of pixel L from them is ``stepper(model).logit(states)``.
    """
    return run_prefix(model, prefix, batch_size)[0]


def teacher_forcing_logits(model, sequences, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
    """Logits (N, T) of every pixel of ``sequences`` (N, T) given the previous ones, by stepping the cells.

    Column t equals the full model's output at step t - 1 (the model fed ``seq[:T-1]``); column 0 is the
    bias-only guess for the first pixel (no conditional; ignore it).
    """
    return run_prefix(model, sequences, batch_size)[1]


def sequence_cross_entropy(model, sequences, start: int, n: int, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
    """Mean cross-entropy (nats per pixel) of positions ``start .. start + n - 1`` of ``sequences`` (N,).

    Teacher forcing: each pixel is scored given the true pixels before it (``start`` >= 1, 0-based).
    This is the ground-truth ("GT") row of the course's continuation table with ``start = 784 - n_hidden``.
    ``sequences``: (N, 784), (N, 784, 1) or images (N, 28, 28), binary.
    """
    sequences = as_binary_rows(sequences, "sequences")
    start, n = check_span(start, n, sequences.shape[1])
    logits = teacher_forcing_logits(model, sequences[:, : start + n], batch_size)
    logp = log_prob(logits[:, start : start + n], sequences[:, start : start + n])
    return -logp.mean(axis=1)


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

    Returns:
        :class:`Continuations`.
    """
    prefix, n, num_samples = _check_sampling_args(prefix, n, num_samples)
    run = stepper(model)
    states = prefix_states(model, prefix, batch_size)
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
    images = as_binary_rows(test_images_binary, "test_images_binary")
    if images.shape[1] != SEQUENCE_LENGTH:
        raise ValueError(f"Expected images of {SEQUENCE_LENGTH} pixels, got {images.shape[1]}.")
    n_images = check_count(n_images, "n_images")
    if n_images > len(images):
        raise ValueError(f"n_images={n_images} but only {len(images)} images were given.")
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
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"The continuation set is an .npz file; got {path}.")
    with atomic_path(path) as tmp:
        np.savez_compressed(
            tmp,
            indices=np.asarray(cset.indices, np.int64),
            images=np.asarray(cset.images, np.uint8),
            prefix_len=np.int64(cset.prefix_len),
            seed=np.int64(cset.seed),
        )
    return path


def load_continuation_set(path: str | os.PathLike = CONTINUATION_SET_PATH) -> ContinuationSet:
    """Read a set written by :func:`save_continuation_set`."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"No continuation set at {path}; build it with load_or_make_continuation_set() "
            "(or make_continuation_set + save_continuation_set)."
        )
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
    path = Path(path)
    if path.exists():
        cset = load_continuation_set(path)
        if (len(cset.indices), cset.hidden, cset.seed) != (n_images, hidden, seed):
            raise ValueError(
                f"{path} holds {len(cset.indices)} images with {cset.hidden} hidden pixels (seed {cset.seed}), "
                f"not the {n_images} / {hidden} / seed {seed} asked for. Delete it to rebuild, or pass another path."
            )
        return cset
    if test_images_binary is None:
        from helpers.data import binarize, load_mnist

        test_images_binary = binarize(load_mnist().test.images)
    cset = make_continuation_set(test_images_binary, n_images, hidden, seed)
    save_continuation_set(cset, path)
    return cset
