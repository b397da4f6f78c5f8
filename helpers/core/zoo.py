"""The model zoo: 8 recurrent architectures (``{cell}_{layers}x{units}``) for 2 tasks, built and loaded by name.

>>> model = build("classify", "gru_1x32")            # fresh weights, default config
>>> model = load("pixel", "gru_1x128")               # shipped weights from data/models/pixel/
Details (tasks, fused formulation, GRU conventions, why the default recipe): docs/internals.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from helpers.core.config import (  # noqa: F401 (the names and default recipes are part of this module's API too)
    ARCHITECTURE_KEYS,
    CELLS,
    REFERENCE_RECIPES,
    TASK_MODELS,
    TASKS,
    ZOO,
    TrainConfig,
    check_task,
    default_config,
    parse_name,
)
from helpers.core.paths import MODELS_DIR

if TYPE_CHECKING:
    import keras

N_CLASSES = 10
HIDDEN_DENSE = 100
#: Sequence length the gate-bias ("chrono") initialisation is tuned for.
T_MAX = 784

class ModelNotTrainedError(FileNotFoundError):
    """The weights of a zoo model are not on disk yet."""


def _chrono_bias(cell: str, units: int, reset_after: bool, rng: np.random.Generator, bias: np.ndarray) -> np.ndarray:
    """Gate biases that make a fresh cell remember for ~U(1, T_MAX) steps (Tallec & Ollivier, 2018).

    LSTM (Keras gate order i, f, c, o): b_f = log U(1, T-1), b_i = -b_f.
    GRU (Keras order z, r, h; Keras keeps h_{t-1} when z = 1): b_z = log U(1, T-1).
    """
    bias = bias.copy()
    memory = np.log(rng.uniform(1.0, T_MAX - 1, size=units)).astype(np.float32)
    if cell == "lstm":
        bias[units : 2 * units] = memory
        bias[:units] = -memory
    else:
        row = bias[0] if reset_after else bias  # reset_after=True: bias has shape (2, 3 * units)
        row[:units] = memory
    return bias


def build(task: str, name: str, fused: bool | None = None, **overrides) -> keras.Model:
    """Build a fresh zoo model.

    Args:
        task: ``"classify"`` or ``"pixel"``.
        name: a zoo name such as ``"gru_1x32"``.
        fused: which formulation computes the model (both compute the same function, from the same
            variables, and read and write the same weights files): ``False`` plain Keras layers, ``True``
            the fused recurrence (:func:`fused_supported`), ``None`` (default) the faster one for this
            machine (:func:`use_fused`).
        **overrides: architecture keys of :func:`default_config` (``reset_after``, ``dropout``,
            ``gate_bias_init``, ``units``, ``layers``, ``seed``) to change; anything else is an error.

    Layers are named ``rnn_0``, ``rnn_1``, ... (recurrent), ``dropout``, then ``dense_100`` and ``logits``
    (classify) or ``logits`` (pixel), so that helpers can find them.
    """
    import keras

    config = default_config(task, name)
    allowed = set(ARCHITECTURE_KEYS) | {"seed"}
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise ValueError(f"Unknown build option(s) {unknown}; allowed: {sorted(allowed)}.")
    config.update(overrides)
    TrainConfig(**config)  # validated once, there
    cell, layers, units = config["cell"], int(config["layers"]), int(config["units"])
    seed = int(config["seed"])
    rng = np.random.default_rng(seed)
    if fused is None:
        fused = use_fused(task, config)
    elif fused and not fused_supported(task, config):
        raise ValueError(f"No fused formulation for the {task} model {name!r} with {_architecture(config)}: "
                         "it needs a GRU (reset_after=True) pixel model or a classifier of 2+ layers, on TensorFlow.")

    inputs = keras.Input(shape=(None, 1), name="pixels")
    x = inputs
    rnn = []
    for i in range(layers):
        layer = _recurrent_layer(config, i, return_sequences=task == "pixel" or i < layers - 1)
        x = layer(x)
        rnn.append(layer)
        if config["gate_bias_init"] == "chrono":
            bias = layer.cell.bias
            bias.assign(_chrono_bias(cell, units, bool(config.get("reset_after", True)), rng, bias.numpy()))
    dropout = keras.layers.Dropout(float(config["dropout"]), seed=seed, name="dropout")
    x = dropout(x)
    head = _head(task, seed)
    for layer in head:
        x = layer(x)
    outputs = x
    if fused:
        model = _fused_model(task, inputs, rnn, dropout, head, name=f"{task}_{name}")
    else:
        model = keras.Model(inputs, outputs, name=f"{task}_{name}")
    model.zoo_config = {k: config[k] for k in ("task", "name", *ARCHITECTURE_KEYS, "seed")}
    model.zoo_fused = bool(fused)
    return model


def _recurrent_layer(config: dict, i: int, return_sequences: bool):
    """Recurrent layer ``rnn_{i}`` of a zoo model, its initialisers seeded from the model's seed."""
    import keras

    seed, units = int(config["seed"]), int(config["units"])
    kwargs = dict(return_sequences=return_sequences, name=f"rnn_{i}", seed=seed + i,
                  kernel_initializer=keras.initializers.GlorotUniform(seed=seed * 100 + 2 * i),
                  recurrent_initializer=keras.initializers.Orthogonal(seed=seed * 100 + 2 * i + 1))
    if config["cell"] == "lstm":
        return keras.layers.LSTM(units, **kwargs)
    return keras.layers.GRU(units, reset_after=bool(config["reset_after"]), **kwargs)


def _head(task: str, seed: int) -> list:
    """The dense read-out after the dropout: ``dense_100`` (ReLU) and ``logits`` (classify), or ``logits``."""
    import keras

    def dense(units, name, k, **kwargs):
        return keras.layers.Dense(units, name=name, kernel_initializer=keras.initializers.GlorotUniform(
            seed=seed * 100 + 50 + k), **kwargs)

    if task == "classify":
        return [dense(HIDDEN_DENSE, "dense_100", 0, activation="relu"), dense(N_CLASSES, "logits", 1)]
    return [dense(1, "logits", 1)]


# --------------------------------------------------------------------------------------------------
# The fused formulation
# --------------------------------------------------------------------------------------------------


def _architecture(config: dict) -> str:
    reset = f", reset_after={config['reset_after']}" if config["cell"] == "gru" else ""
    return f"{config['layers']} {config['cell'].upper()} layer(s){reset}"


def fused_supported(task: str, config: dict) -> bool:
    """Whether :func:`build` has a fused formulation of this model (TensorFlow backend only).

    Pixel models (any depth; GRUs with ``reset_after=True`` or LSTMs) and classifiers of two or more
    layers. One-layer classifiers have nothing to fuse: their plain Keras layer is already one loop.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return False
    if config["cell"] == "gru" and not config["reset_after"]:
        return False
    return task == "pixel" or int(config["layers"]) > 1


def gpu_visible() -> bool:
    """Whether TensorFlow sees a GPU (where Keras runs plain GRU/LSTM layers with cuDNN)."""
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


def use_fused(task: str, config: dict) -> bool:
    """Whether :func:`build` uses the fused formulation by default: where supported, unless a GPU is visible.

    The fused model runs its recurrent layers (and, in a pixel model, dropout and the Dense(1) read-out) as
    one loop that emits what the model outputs, without the sequences a stack of Keras layers passes on. In
    training, that loop and its hand-written gradient are compiled with XLA, the batch is cut into one part
    per core, and dropout applies the mask the model's own Dropout layer draws (same seed generator, same
    numbers). On a GPU, Keras runs the plain GRU/LSTM layers with cuDNN, which the fused loop cannot use, so a
    visible GPU gets the plain layers. Both formulations have the same variables and weights files.
    """
    return fused_supported(task, config) and not gpu_visible()


def _fused_model(task: str, inputs, rnn: list, dropout, head: list, name: str):
    """The fused model over the (built) plain layers ``rnn``, ``dropout`` and ``head`` (dense layers)."""
    classes = _fused_classes()
    if task == "pixel":
        outputs = classes.PixelRecurrence(rnn, dropout, head[-1], name="fused_recurrence")(inputs)
    else:
        x = classes.StackedRecurrence(rnn, name="fused_recurrence")(inputs)
        x = dropout(x)
        for layer in head:
            x = layer(x)
        outputs = x
    return classes.FusedZooModel(inputs, outputs, [inputs._keras_history[0], *rnn, dropout, *head], name=name)


def _cell_kind(cell) -> str:
    return "lstm" if type(cell).__name__.startswith("LSTM") else "gru"


def _state_count(cell) -> int:
    return len(cell.state_size) if isinstance(cell.state_size, (list, tuple)) else 1


_FUSED_CLASSES = None


def _fused_classes():
    """The Keras classes of the fused formulation (defined on first use: Keras is imported lazily)."""
    global _FUSED_CLASSES
    if _FUSED_CLASSES is not None:
        return _FUSED_CLASSES
    from types import SimpleNamespace

    import keras
    from keras import ops

    class FusedZooModel(keras.Model):
        """A functional model whose graph runs a fused recurrence while ``layers`` lists the plain layers it
        takes its variables from, in the plain model's order: weights, weights files and optimizer state
        line up with the plain model's."""

        def __init__(self, inputs, outputs, weight_layers, name=None):
            object.__setattr__(self, "_zoo_weight_layers", tuple(weight_layers))  # read by Functional.__init__
            super().__init__(inputs, outputs, name=name)

        @property
        def layers(self):
            return list(self._zoo_weight_layers)

        def __dir__(self):
            # Keras' weights files walk the attributes dir() lists; this one would add the fused layer (no
            # variables, but an empty group) to the file, which must keep the plain model's layout.
            return [name for name in super().__dir__() if name != "_operations_by_depth"]

    class StackCell(keras.layers.Layer):
        """The cells of several recurrent layers as one cell (flat states), optionally with a Dense(1)
        read-out of the top output: the generic (inference) step of the fused formulation."""

        def __init__(self, cells, head=None, **kwargs):
            super().__init__(**kwargs)
            object.__setattr__(self, "_zoo_parts", (tuple(cells), head))  # not tracked: the model owns them
            self.built = True

        @property
        def state_size(self):
            cells, _ = self._zoo_parts
            return [size for cell in cells for size in (cell.state_size if _state_count(cell) > 1
                                                        else [cell.state_size])]

        @property
        def output_size(self):
            cells, head = self._zoo_parts
            return 1 if head is not None else cells[-1].units

        def call(self, inputs, states, training=False):
            cells, head = self._zoo_parts
            x, new_states, i = inputs, [], 0
            for cell in cells:
                n = _state_count(cell)
                x, state = cell.call(x, list(states[i : i + n]), training=False)
                new_states.extend(state)
                i += n
            if head is not None:
                x = ops.add(ops.matmul(x, head.kernel), head.bias)
            return x, new_states

    class PixelRecurrence(keras.layers.Layer):
        """Recurrent layers, dropout and the Dense(1) read-out of a pixel model as one loop: (B, T, 1) pixels
        to (B, T, 1) logits."""

        def __init__(self, rnn_layers, dropout, head, **kwargs):
            super().__init__(**kwargs)
            object.__setattr__(self, "_zoo_parts", (tuple(rnn_layers), dropout, head))
            self._loop = keras.layers.RNN(StackCell([layer.cell for layer in rnn_layers], head),
                                          return_sequences=True)
            self.built = True

        def compute_output_shape(self, input_shape):
            return (input_shape[0], input_shape[1], 1)

        def call(self, inputs, training=False):
            rnn_layers, dropout, head = self._zoo_parts
            if not training:  # dropout is the identity
                return self._loop(inputs)
            keep = None
            if dropout.rate > 0:  # the mask Dropout would draw, from its seed generator (one draw per call)
                shape = (ops.shape(inputs)[0], ops.shape(inputs)[1], rnn_layers[-1].cell.units)
                keep = keras.random.uniform(shape, seed=dropout.seed_generator) >= dropout.rate
            return _tf_fused_training(rnn_layers, inputs, keep, 1.0 / (1.0 - dropout.rate), head)

    class StackedRecurrence(keras.layers.Layer):
        """The recurrent layers of a classifier as one loop: (B, T, 1) pixels to the top layer's last output."""

        def __init__(self, rnn_layers, **kwargs):
            super().__init__(**kwargs)
            object.__setattr__(self, "_zoo_parts", (tuple(rnn_layers),))
            self._loop = keras.layers.RNN(StackCell([layer.cell for layer in rnn_layers]))
            self.built = True

        def compute_output_shape(self, input_shape):
            return (input_shape[0], self._zoo_parts[0][-1].cell.units)

        def call(self, inputs, training=False):
            if not training:
                return self._loop(inputs)
            return _tf_fused_training(self._zoo_parts[0], inputs, None, 1.0, None)

    _FUSED_CLASSES = SimpleNamespace(FusedZooModel=FusedZooModel, StackCell=StackCell,
                                     PixelRecurrence=PixelRecurrence, StackedRecurrence=StackedRecurrence)
    return _FUSED_CLASSES


def _tf_fused_training(rnn_layers, inputs, keep, scale: float, head):
    """Training-mode output of a fused recurrence (TensorFlow), differentiable with respect to the variables.

    ``head`` given: per-step logits (B, T, 1) of ``head`` (a Dense(1)) applied to the top output, times the
    dropout mask (``keep`` (B, T, units) bool, kept values scaled by ``scale``); else the top layer's last
    output (B, units). The forward and the backward loops are XLA-compiled (:func:`_xla_recurrence`); the
    batch is cut into one part per core (rows are independent), whose loops run side by side.
    """
    import tensorflow as tf

    cells = [layer.cell for layer in rnn_layers]
    variables = [v for cell in cells for v in (cell.kernel, cell.recurrent_kernel, cell.bias)]
    if head is not None:
        variables += [head.kernel, head.bias]
    forward, backward = _xla_recurrence(tuple(_cell_kind(c) for c in cells), tuple(c.units for c in cells),
                                        head is not None, keep is not None)
    parts = _batch_parts(inputs.shape[0])
    batch = tf.shape(inputs)[0]
    sizes = tf.stack([batch // parts] * (parts - 1) + [batch - (parts - 1) * (batch // parts)])
    time_major = lambda a: tf.transpose(a, (1, 0, 2))  # noqa: E731
    xs = [time_major(part) for part in tf.split(tf.stop_gradient(inputs), sizes, axis=0, num=parts)]
    keeps = [None] * parts if keep is None else [time_major(k) for k in tf.split(keep, sizes, axis=0, num=parts)]
    scale = tf.constant(scale, inputs.dtype)

    @tf.custom_gradient
    def run(*flat):
        flat = [tf.stop_gradient(v) for v in flat]
        results = [forward(x, k, scale, *flat) for x, k in zip(xs, keeps)]

        def grad(d_out):
            d_parts = tf.split(tf.stop_gradient(d_out), sizes, axis=0, num=parts)
            grads = [backward(x, k, scale, time_major(d) if head is not None else d, saved, *flat)
                     for x, k, d, (_, saved) in zip(xs, keeps, d_parts, results)]
            return [tf.add_n(list(g)) if parts > 1 else g[0] for g in zip(*grads)]

        outs = [time_major(out) if head is not None else out for out, _ in results]
        return (tf.concat(outs, axis=0) if parts > 1 else outs[0]), grad

    return run(*[tf.convert_to_tensor(v.value) for v in variables])


def _batch_parts(batch: int | None) -> int:
    """Into how many parts the fused training loop cuts a batch: one per core TensorFlow runs ops on (at most
    4), and no part under 32 rows."""
    import os

    import tensorflow as tf

    threads = tf.config.threading.get_inter_op_parallelism_threads() or os.cpu_count() or 1
    parts = min(int(threads), 4)
    if batch is not None:
        parts = min(parts, max(1, batch // 32))
    return max(1, parts)


_XLA_RECURRENCES: dict = {}


def _xla_recurrence(kinds: tuple, units: tuple, readout: bool, masked: bool):
    """``(forward, backward)``: XLA-compiled TensorFlow functions of a stack of recurrent layers.

    ``kinds``: ``"gru"`` (Keras GRU, ``reset_after=True``) or ``"lstm"`` per layer, bottom first, of ``units``
    units each; the flat arguments are each layer's ``(kernel, recurrent_kernel, bias)`` then, with
    ``readout``, the read-out's ``(kernel (H, 1), bias (1,))``. Inputs are time-major: ``x`` (T, B, 1),
    ``keep`` (T, B, H) bool (with ``masked``) or None.

    ``forward(x, keep, scale, *flat) -> (out, saved)``: ``out`` is the logits (T, B, 1) with ``readout``,
    else the top layer's last output (B, H); ``saved`` is each layer's states at steps 0..T (and, for a GRU,
    its candidate activation at each step). ``backward(x, keep, scale, d_out, saved, *flat)`` returns the
    gradients of the flat arguments. It recomputes each step's gates from the saved states, which is
    faster than storing them, and sums the weight gradients inside the loop.
    """
    key = (kinds, units, readout, masked)  # one pair of functions (and traces) per architecture
    if key in _XLA_RECURRENCES:
        return _XLA_RECURRENCES[key]
    import tensorflow as tf

    n = len(kinds)

    def unpack(flat):
        return [tuple(flat[3 * i : 3 * i + 3]) for i in range(n)], tuple(flat[3 * n :])

    def loop_params(params):  # what the loops use: an LSTM's two kernels stacked into one matrix
        return [(tf.concat([k, r], axis=0), b) if kind == "lstm" else (k, r, b)
                for kind, (k, r, b) in zip(kinds, params)]

    def project(inp, kernel):  # inp @ kernel; an outer product for the one-pixel input
        return inp * kernel[0] if kernel.shape[0] == 1 else tf.matmul(inp, kernel)

    def gru_gates(inp, h, layer):
        kernel, recurrent, bias = layer
        units = recurrent.shape[0]
        x_zr, x_h = tf.split(project(inp, kernel) + bias[0], [2 * units, units], axis=1)
        h_zr, r_h = tf.split(tf.matmul(h, recurrent) + bias[1], [2 * units, units], axis=1)
        return tf.sigmoid(x_zr + h_zr), x_h, r_h

    def lstm_gates(inp, h, layer):
        stacked, bias = layer  # [inputs, h] @ [kernel; recurrent]: one matrix product
        z_i, z_f, z_c, z_o = tf.split(tf.matmul(tf.concat([inp, h], axis=1), stacked) + bias, 4, axis=1)
        return tf.sigmoid(z_i), tf.sigmoid(z_f), tf.tanh(z_c), tf.sigmoid(z_o)

    def cell_step(kind, inp, state, layer):
        """Keras' GRU (reset_after) or LSTM step: the new state, and what the backward pass reads."""
        if kind == "gru":
            zr, x_h, r_h = gru_gates(inp, state[0], layer)
            z, r = tf.split(zr, 2, axis=1)
            candidate = tf.tanh(x_h + r * r_h)
            return [z * state[0] + (1 - z) * candidate], [candidate]
        i, f, g, o = lstm_gates(inp, state[0], layer)
        c = f * state[1] + i * g
        return [o * tf.tanh(c), c], []

    def cell_grad(kind, d_state, inp, previous, saved, layer, d_layer):
        """One step back: (d inputs, d previous state, updated weight-gradient sums)."""
        if kind == "gru":
            kernel, recurrent, _ = layer
            dh = d_state[0]
            zr, _, r_h = gru_gates(inp, previous[0], layer)
            z, r = tf.split(zr, 2, axis=1)
            candidate = saved[0]
            d_a = dh * (1 - z) * (1 - candidate * candidate)
            d_zr = tf.concat([dh * (previous[0] - candidate), d_a * r_h], axis=1) * zr * (1 - zr)
            d_x = tf.concat([d_zr, d_a], axis=1)
            d_h = tf.concat([d_zr, d_a * r], axis=1)
            d_kernel, d_recurrent, d_bias = d_layer
            d_inp_kernel = (tf.reduce_sum(inp * d_x, axis=0, keepdims=True) if kernel.shape[0] == 1
                            else tf.matmul(inp, d_x, transpose_a=True))
            d_layer = (d_kernel + d_inp_kernel, d_recurrent + tf.matmul(previous[0], d_h, transpose_a=True),
                       d_bias + tf.stack([tf.reduce_sum(d_x, axis=0), tf.reduce_sum(d_h, axis=0)]))
            d_inp = tf.matmul(d_x, kernel, transpose_b=True) if kernel.shape[0] > 1 else None
            return d_inp, [dh * z + tf.matmul(d_h, recurrent, transpose_b=True)], d_layer
        stacked, _ = layer
        dh, dc = d_state
        i, f, g, o = lstm_gates(inp, previous[0], layer)
        tanh_c = tf.tanh(f * previous[1] + i * g)
        dc = dc + dh * o * (1 - tanh_c * tanh_c)
        d_z = tf.concat([dc * g * i * (1 - i), dc * previous[1] * f * (1 - f), dc * i * (1 - g * g),
                         dh * tanh_c * o * (1 - o)], axis=1)
        d_stacked, d_bias = d_layer
        d_layer = (d_stacked + tf.matmul(tf.concat([inp, previous[0]], axis=1), d_z, transpose_a=True),
                   d_bias + tf.reduce_sum(d_z, axis=0))
        d_inp, d_h = tf.split(tf.matmul(d_z, stacked, transpose_b=True), [inp.shape[1], dc.shape[1]], axis=1)
        return d_inp, [d_h, dc * f], d_layer

    def readout_input(top, keep_t, scale):  # the dropout layer's output: kept units scaled, the others 0
        return top if keep_t is None else tf.where(keep_t, top * scale, 0.0)

    def forward(x, keep, scale, *flat):
        params, head = unpack(flat)
        layers = loop_params(params)
        steps, batch = tf.shape(x)[0], tf.shape(x)[1]
        zeros = [[tf.zeros((batch, p[1].shape[0]), x.dtype)] * (2 if kind == "lstm" else 1)
                 for kind, p in zip(kinds, params)]

        def body(t, states, sequences, saved, logits):
            inp = x[t]
            new_states, new_sequences, new_saved = [], [], []
            for kind, layer, state, seqs, extra in zip(kinds, layers, states, sequences, saved):
                state, values = cell_step(kind, inp, state, layer)
                new_states.append(state)
                new_sequences.append([ta.write(t + 1, v) for ta, v in zip(seqs, state)])
                new_saved.append([ta.write(t, v) for ta, v in zip(extra, values)])
                inp = state[0]
            if readout:
                top = readout_input(inp, None if keep is None else keep[t], scale)
                logits = logits.write(t, tf.reduce_sum(top * head[0][:, 0], axis=1, keepdims=True) + head[1])
            return t + 1, new_states, new_sequences, new_saved, logits

        sequences = [[tf.TensorArray(x.dtype, size=steps + 1).write(0, z) for z in layer] for layer in zeros]
        saved = [[tf.TensorArray(x.dtype, size=steps)] if kind == "gru" else [] for kind in kinds]
        logits = tf.TensorArray(x.dtype, size=steps if readout else 1)
        _, states, sequences, saved, logits = tf.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(0), zeros, sequences, saved, logits),
            maximum_iterations=steps)
        out = logits.stack() if readout else states[-1][0]
        stack = lambda arrays: [[ta.stack() for ta in layer] for layer in arrays]  # noqa: E731
        return out, (stack(sequences), stack(saved))

    def backward(x, keep, scale, d_out, saved, *flat):
        params, head = unpack(flat)
        layers = loop_params(params)
        sequences, extras = saved
        steps, batch = tf.shape(x)[0], tf.shape(x)[1]
        d_states = [[tf.zeros((batch, p[1].shape[0]), x.dtype)] * len(seqs) for p, seqs in zip(params, sequences)]
        if not readout:
            d_states[-1][0] = d_out  # the last output's gradient enters the top layer at the last step
        d_layers = [tuple(tf.zeros_like(p) for p in layer) for layer in layers]
        d_head = tuple(tf.zeros_like(p) for p in head)

        def body(t, d_states, d_layers, d_head):
            d_input = None
            if readout:  # logit_t = (mask_t * h_t) @ w + b
                d_logit = d_out[t]
                keep_t = None if keep is None else keep[t]
                top = readout_input(sequences[-1][0][t + 1], keep_t, scale)
                d_head = (d_head[0] + tf.reduce_sum(top * d_logit, axis=0)[:, None],
                          d_head[1] + tf.reduce_sum(d_logit, axis=0))
                d_input = readout_input(d_logit * head[0][:, 0], keep_t, scale)
            new_d_states, new_d_layers = list(d_states), list(d_layers)
            for i in reversed(range(n)):
                d_state = list(d_states[i])
                if d_input is not None:
                    d_state[0] = d_state[0] + d_input
                previous = [seq[t] for seq in sequences[i]]
                inp = x[t] if i == 0 else sequences[i - 1][0][t + 1]
                d_input, new_d_states[i], new_d_layers[i] = cell_grad(
                    kinds[i], d_state, inp, previous, [e[t] for e in extras[i]], layers[i], d_layers[i])
            return t - 1, new_d_states, new_d_layers, d_head

        _, _, d_layers, d_head = tf.while_loop(lambda t, *_: t >= 0, body, (steps - 1, d_states, d_layers, d_head),
                                               maximum_iterations=steps)
        grads = []
        for kind, (kernel, _, _), d_layer in zip(kinds, params, d_layers):
            if kind == "lstm":  # unstack the gradient of [kernel; recurrent]
                d_stacked, d_bias = d_layer
                d_layer = (d_stacked[: kernel.shape[0]], d_stacked[kernel.shape[0] :], d_bias)
            grads.extend(d_layer)
        return grads + list(d_head)

    result = tuple(tf.function(fn, jit_compile=True, autograph=False) for fn in (forward, backward))
    _XLA_RECURRENCES[key] = result
    return result


def recurrent_layers(model) -> list:
    """The recurrent layers of a zoo model, in order (``rnn_0``, ``rnn_1``, ...)."""
    return [layer for layer in model.layers if layer.name.startswith("rnn_")]


def count_recurrent_params(cell: str, units: int, input_dim: int, reset_after: bool = True) -> int:
    """Closed-form parameter count of one LSTM/GRU layer.

    LSTM: 4 gates x (input weights + recurrent weights + bias) = 4 (n (d + n) + n).
    GRU: 3 x (n (d + n) + n), plus another 3n recurrent bias when ``reset_after`` (Keras default).
    """
    per_gate = units * (input_dim + units) + units
    if cell == "lstm":
        return 4 * per_gate
    if cell == "gru":
        return 3 * per_gate + (3 * units if reset_after else 0)
    raise ValueError(f"Unknown cell {cell!r}; choose one of {CELLS}.")


def count_params(task: str, name: str, reset_after: bool = True) -> int:
    """Closed-form parameter count of a whole zoo model (recurrent layers + head)."""
    check_task(task)
    cell, layers, units = parse_name(name)
    total, input_dim = 0, 1
    for _ in range(layers):
        total += count_recurrent_params(cell, units, input_dim, reset_after)
        input_dim = units
    if task == "classify":
        total += units * HIDDEN_DENSE + HIDDEN_DENSE + HIDDEN_DENSE * N_CLASSES + N_CLASSES
    else:
        total += units + 1
    return total


def model_paths(task: str, name: str, models_dir: str | Path | None = None) -> tuple[Path, Path]:
    """``(weights_path, manifest_path)`` of a zoo model: ``{models_dir}/{task}/{name}.weights.h5|.json``."""
    check_task(task)
    parse_name(name)
    folder = Path(models_dir) if models_dir is not None else MODELS_DIR
    folder = folder / task if folder.name != task else folder
    return folder / f"{name}.weights.h5", folder / f"{name}.json"


def read_manifest(task: str, name: str, models_dir: str | Path | None = None) -> dict:
    """The manifest (JSON) of a trained model; raises :class:`ModelNotTrainedError` when absent."""
    _, manifest_path = model_paths(task, name, models_dir)
    if not manifest_path.exists():
        raise ModelNotTrainedError(_not_trained_message(task, name, manifest_path))
    from helpers.core.workspace import read_json

    return read_json(manifest_path, "manifest")


def is_trained(task: str, name: str, models_dir: str | Path | None = None) -> bool:
    """Whether weights and manifest of a model are on disk."""
    weights, manifest = model_paths(task, name, models_dir)
    return weights.exists() and manifest.exists()


def _not_trained_message(task: str, name: str, path: Path) -> str:
    from helpers.core.workspace import display, is_shipped

    if is_shipped(path):
        return (f"No trained {task} model {name!r} at {display(path)}. It is a shipped file: restore it with "
                f"`git checkout -- {display(path)}`.")
    return (f"No trained {task} model {name!r} at {display(path)}. Train it with "
            f"`python -m helpers.train {task} {name} --out {display(Path(path).parent.parent)}` (resumable).")


def _check_weight_shapes(model, weights_path: Path) -> None:
    """Raise ValueError unless the layer weights in a Keras ``.weights.h5`` file have the model's shapes.

    Keras matches layers by position and silently ignores extra ones (a 2-layer file loads into a 1-layer
    model without error), so the shapes are compared first.
    """
    import h5py

    with h5py.File(weights_path, "r") as f:
        if "layers" not in f:  # not the Keras 3 layout: let load_weights judge it
            return
        saved = []
        f["layers"].visititems(lambda _, obj: saved.append(tuple(obj.shape)) if isinstance(obj, h5py.Dataset) else None)
    expected = [tuple(w.shape) for w in model.weights]
    if sorted(saved) != sorted(expected):
        raise ValueError(f"the file holds {len(saved)} weight arrays of shapes {sorted(saved)}, "
                         f"the model has {len(expected)} of shapes {sorted(expected)}")


def load(task: str, name: str, models_dir: str | Path | None = None) -> keras.Model:
    """Build a zoo model with the architecture recorded in its manifest and load its trained weights.

    Raises:
        ModelNotTrainedError: the weights are not there yet (the message gives the train command).
        ValueError: the weights file does not match the architecture.
    """
    weights_path, manifest_path = model_paths(task, name, models_dir)
    if not weights_path.exists():
        raise ModelNotTrainedError(_not_trained_message(task, name, weights_path))
    overrides = {}
    if manifest_path.exists():
        from helpers.core.workspace import read_json

        config = read_json(manifest_path, "manifest").get("config", {})
        overrides = {k: config[k] for k in ARCHITECTURE_KEYS if k in config}
    model = build(task, name, **overrides)
    try:
        _check_weight_shapes(model, weights_path)
        model.load_weights(weights_path)
    except Exception as err:
        from helpers.core.workspace import restore_advice

        raise ValueError(
            f"{weights_path} does not match the {task} model {name!r} "
            f"({type(err).__name__}: {err}): {restore_advice(weights_path)}."
        ) from err
    return model


def per_step_classifier(model) -> keras.Model:
    """A classifier that outputs class logits after *every* pixel, sharing ``model``'s trained weights.

    The last recurrent layer is rebuilt with ``return_sequences=True`` and the dense head applied at every
    step (dropout is inactive at inference). ``output[:, t]`` is the prediction after reading t + 1 pixels;
    the last step equals ``model``'s own output.
    """
    import keras

    config = getattr(model, "zoo_config", None)
    if config is None or config["task"] != "classify":
        raise ValueError("per_step_classifier needs a classify model built by helpers.models.build or load.")
    overrides = {k: config[k] for k in ARCHITECTURE_KEYS}
    sequence_model = build("pixel", config["name"], fused=False, **overrides)  # every layer returns sequences
    x = sequence_model.get_layer(f"rnn_{config['layers'] - 1}").output
    x = keras.layers.Dense(HIDDEN_DENSE, activation="relu", name="dense_100")(x)
    outputs = keras.layers.Dense(N_CLASSES, name="logits")(x)
    stepwise = keras.Model(sequence_model.input, outputs, name=f"per_step_{config['name']}")
    for layer in stepwise.layers:
        if layer.name.startswith("rnn_") or layer.name in ("dense_100", "logits"):
            layer.set_weights(model.get_layer(layer.name).get_weights())
    return stepwise
