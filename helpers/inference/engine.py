"""The step-by-step engine of a pixel model, shared by sampling and in-painting: :class:`PixelStepper` runs
its cells one pixel at a time with their carried state; also prefix conditioning, teacher forcing and input
checks. Details: docs/internals.md.
"""

from __future__ import annotations

import weakref

import numpy as np

from helpers.core.data import SEQUENCE_LENGTH

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


def check_draw(test_images_binary, n: int, name: str) -> tuple[np.ndarray, int]:
    """The images as (N, 784) binary rows and ``n``, checked to be a count of at most N images to draw."""
    images = as_binary_rows(test_images_binary, "test_images_binary")
    if images.shape[1] != SEQUENCE_LENGTH:
        raise ValueError(f"Expected images of {SEQUENCE_LENGTH} pixels, got {images.shape[1]}.")
    n = check_count(n, name)
    if n > len(images):
        raise ValueError(f"{name}={n} images asked for, but only {len(images)} were given.")
    return images, n


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


def pixel_model_parts(model) -> tuple[list, object]:
    """``(cells, head)``: the recurrent cells of a pixel model, bottom first, and its ``logits`` layer (checked)."""
    from helpers.core.zoo import recurrent_layers

    layers = recurrent_layers(model)
    if not layers:
        raise ValueError("The model has no recurrent layers named rnn_0, rnn_1, ...; build it with helpers.models.")
    try:
        head = model.get_layer("logits")
    except ValueError as err:
        raise ValueError("The model has no 'logits' layer: pass a pixel model (helpers.models.build('pixel', ...)).") from err
    if int(head.units) != 1 or int(model.input_shape[-1]) != 1:
        raise ValueError("Expected a pixel model (one input and one logit per step); got a different model.")
    return [layer.cell for layer in layers], head


def zero_states(cells, batch: int) -> list:
    """The initial state (all zeros) of ``batch`` rows: ``[h]`` per GRU layer, ``[h, c]`` per LSTM layer."""
    import tensorflow as tf

    return [[tf.zeros((batch, int(cell.units)), tf.float32)] * (2 if type(cell).__name__.startswith("LSTM") else 1)
            for cell in cells]


def pending_logit(head, states):
    """The pending logit (batch,): the ``head`` applied to the top layer's ``h``, the next pixel's prediction."""
    return head(states[-1][0], training=False)[:, 0]


def step_cells(cells, x, states) -> list:
    """Feed one pixel ``x`` (batch,) or (batch, 1) to every cell, bottom first; return the new states."""
    import tensorflow as tf

    inputs = tf.reshape(tf.cast(x, tf.float32), (-1, 1))
    new_states = []
    for cell, state in zip(cells, states):
        inputs, new_state = cell.call(inputs, list(state), training=False)
        new_states.append(list(new_state))
    return new_states


def feed_loop(cells, head, states, values, known, uniforms, greedy: bool):
    """The stepping loop (graph mode); batch-major (B, T) in and out: ``(fed, logits, states, logit)``.

    At each step: record the pending logit, choose the pixel to feed (``values`` where ``known``, else u < p or,
    ``greedy``, p > 0.5), advance the cells. ``known`` None: teacher forcing; ``uniforms`` None: greedy.
    """
    import tensorflow as tf

    values = tf.transpose(values)  # time-major: values[t] is step t of every row
    known = None if known is None else tf.transpose(known)
    uniforms = None if uniforms is None else tf.transpose(uniforms)
    steps = tf.shape(values)[0]
    fed_ta = tf.TensorArray(tf.float32, size=steps)
    logits_ta = tf.TensorArray(tf.float32, size=steps)
    logit = pending_logit(head, states)
    for t in tf.range(steps):
        if known is None:
            x = values[t]
        else:
            p = tf.sigmoid(logit)
            draw = p > 0.5 if greedy else uniforms[t] < p
            x = tf.where(known[t], values[t], tf.cast(draw, tf.float32))
        fed_ta = fed_ta.write(t, x)
        logits_ta = logits_ta.write(t, logit)
        states = step_cells(cells, x, states)
        logit = pending_logit(head, states)
    return tf.transpose(fed_ta.stack()), tf.transpose(logits_ta.stack()), states, logit


class PixelStepper:
    """Run a pixel model's recurrent cells one pixel at a time, carrying their state.

    The state of a model is a list with one entry per recurrent layer: ``[h]`` for a GRU, ``[h, c]`` for an
    LSTM, each (batch, units) float32. The pending prediction of a state is the head (``logits`` layer) applied
    to the top layer's ``h``: after reading ``seq[:t]`` it is the logit of ``seq[t]``. Dropout is inactive
    (inference). Weights are read from the model's variables at every call, so the stepper follows any later
    change of the weights. :meth:`run` is the one compiled loop behind everything (:func:`feed_loop`), a plain
    ``tf.function`` (no XLA: see docs/internals.md).

    Args:
        model: a pixel model from ``helpers.models.build("pixel", ...)`` or ``load("pixel", ...)``.
    """

    def __init__(self, model):
        import tensorflow as tf

        self.cells, self.head = pixel_model_parts(model)
        self.lstm = [type(cell).__name__.startswith("LSTM") for cell in self.cells]
        self.units = [int(cell.units) for cell in self.cells]
        self._run = tf.function(self._run_graph, reduce_retracing=True)

    def zero_states(self, batch: int) -> list:
        """The initial state (all zeros) of a batch of ``batch`` rows: what the model starts from."""
        return zero_states(self.cells, batch)

    def logit(self, states):
        """The pending logit (batch,): the prediction of the next pixel from ``states``."""
        return pending_logit(self.head, states)

    def step(self, x, states) -> list:
        """Feed one pixel ``x`` (batch,) or (batch, 1) to every layer; return the new states."""
        return step_cells(self.cells, x, states)

    def _run_graph(self, states, values, known, uniforms, greedy: bool):
        return feed_loop(self.cells, self.head, states, values, known, uniforms, greedy)

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
        states, values, known, uniforms = _loop_inputs(states, values, known, uniforms, greedy)
        if values.shape[1] == 0:  # nothing to feed (the loop would stack an empty TensorArray)
            empty = np.zeros(tuple(values.shape), np.float32)
            return empty, empty, _states_to_numpy(states), self.logit(states).numpy()
        fed, logits, states, logit = self._run(states, values, known, uniforms, bool(greedy))
        return fed.numpy(), logits.numpy(), _states_to_numpy(states), logit.numpy()


def _loop_inputs(states, values, known, uniforms, greedy: bool):
    """The arguments of :meth:`PixelStepper.run` as the loop takes them (tensors; ``uniforms`` None unless used)."""
    import tensorflow as tf

    states = [[tf.convert_to_tensor(s, tf.float32) for s in layer] for layer in states]
    values = tf.convert_to_tensor(np.asarray(values, np.float32))
    if known is None or greedy:
        uniforms = None
    elif uniforms is None:
        raise ValueError("Sampling unknown pixels needs uniforms (B, T); or pass greedy=True.")
    else:
        uniforms = tf.convert_to_tensor(np.asarray(uniforms, np.float32))
    known = None if known is None else tf.convert_to_tensor(np.asarray(known, bool))
    return states, values, known, uniforms


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


def continuation_logits(model, states, values, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
    """Logits (N, T) of ``values`` (N, T) fed after ``states`` (the per-layer states after each row's prefix, e.g.
    :func:`prefix_states`): column t is the logit of ``values[:, t]`` given the prefix and ``values[:, :t]``."""
    values = np.asarray(values, np.float32)
    run = stepper(model)
    logits = []
    for rows in row_batches(len(values), batch_size):
        _, part, _, _ = run.run([[s[rows] for s in layer] for layer in states], values[rows])
        logits.append(part)
    return np.concatenate(logits)


def sequence_cross_entropy(model, sequences, start: int, n: int, batch_size: int = DEFAULT_BATCH_SIZE,
                           states=None) -> np.ndarray:
    """Mean cross-entropy (nats per pixel) of positions ``start .. start + n - 1`` of ``sequences`` (N,).

    Teacher forcing: each pixel is scored given the true pixels before it (``start`` >= 1, 0-based).
    This is the ground-truth ("GT") row of the course's continuation table with ``start = 784 - n_hidden``.
    ``sequences``: (N, 784), (N, 784, 1) or images (N, 28, 28), binary. ``states``: the per-layer states after
    ``sequences[:, :start]`` (:func:`prefix_states`), if already known: only the span is then stepped.
    """
    sequences = as_binary_rows(sequences, "sequences")
    start, n = check_span(start, n, sequences.shape[1])
    span = sequences[:, start : start + n]
    if states is None:
        logits = teacher_forcing_logits(model, sequences[:, : start + n], batch_size)[:, start : start + n]
    else:
        logits = continuation_logits(model, states, span, batch_size)
    return -log_prob(logits, span).mean(axis=1)
