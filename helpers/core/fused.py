"""The fused formulation of a zoo model (TensorFlow): its recurrent layers, and in a pixel model dropout and the
Dense(1) read-out, run as one loop over the plain layers' own variables, trained through a hand-written,
XLA-compiled backward step on one part of the batch per core. Same function, variables and weights files as
the plain layers; :func:`helpers.core.machine.execution` decides where it is used. Equations: docs/internals.md.
"""

from __future__ import annotations

import functools
import os

import keras
import tensorflow as tf
from keras import ops


def supports(task: str, config: dict) -> bool:
    """Whether a fused formulation of this architecture exists: pixel models (GRU ``reset_after=True`` or LSTM,
    any depth) and classifiers of 2+ layers (a one-layer classifier is already one loop). TensorFlow only."""
    if config["cell"] == "gru" and not config["reset_after"]:
        return False
    return task == "pixel" or int(config["layers"]) > 1


def cell_kind(cell) -> str:
    """``"lstm"`` or ``"gru"``: the kind of a Keras recurrent cell."""
    return "lstm" if type(cell).__name__.startswith("LSTM") else "gru"


def _state_count(cell) -> int:
    return len(cell.state_size) if isinstance(cell.state_size, (list, tuple)) else 1


# --------------------------------------------------------------------------------------------------
# The Keras classes
# --------------------------------------------------------------------------------------------------


class FusedZooModel(keras.Model):
    """A functional model whose graph runs a fused recurrence while ``layers`` lists the plain layers it takes its
    variables from, in the plain model's order: weights, weights files and optimizer state line up with them."""

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
    """The cells of several recurrent layers as one cell (flat states), optionally with a Dense(1) read-out of
    the top output: the inference step of the fused formulation."""

    def __init__(self, cells, head=None, **kwargs):
        super().__init__(**kwargs)
        object.__setattr__(self, "_zoo_parts", (tuple(cells), head))  # not tracked: the model owns them
        self.built = True

    @property
    def state_size(self):
        cells, _ = self._zoo_parts
        return [size for cell in cells for size in (cell.state_size if _state_count(cell) > 1 else [cell.state_size])]

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
    """Recurrent layers, dropout and the Dense(1) read-out of a pixel model as one loop: (B, T, 1) pixels to
    (B, T, 1) logits."""

    def __init__(self, rnn_layers, dropout, head, **kwargs):
        super().__init__(**kwargs)
        object.__setattr__(self, "_zoo_parts", (tuple(rnn_layers), dropout, head))
        self._loop = keras.layers.RNN(StackCell([layer.cell for layer in rnn_layers], head), return_sequences=True)
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
        return fused_training_output(rnn_layers, inputs, keep, 1.0 / (1.0 - dropout.rate), head)


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
        return fused_training_output(self._zoo_parts[0], inputs, None, 1.0, None)


def fused_model(task: str, plain: keras.Model) -> FusedZooModel:
    """The fused formulation of a (built) plain zoo model, over its layers and variables, under its name."""
    inputs = plain.inputs[0]
    rnn = [layer for layer in plain.layers if layer.name.startswith("rnn_")]
    dropout = plain.get_layer("dropout")
    head = plain.layers[plain.layers.index(dropout) + 1 :]
    if task == "pixel":
        outputs = PixelRecurrence(rnn, dropout, head[-1], name="fused_recurrence")(inputs)
    else:
        x = StackedRecurrence(rnn, name="fused_recurrence")(inputs)
        x = dropout(x)
        for layer in head:
            x = layer(x)
        outputs = x
    return FusedZooModel(inputs, outputs, plain.layers, name=plain.name)


# --------------------------------------------------------------------------------------------------
# Training: the batch in parts, forward and backward loops under one custom gradient
# --------------------------------------------------------------------------------------------------


def batch_parts(batch: int | None) -> int:
    """Into how many parts the fused training loop cuts a batch: one per core TensorFlow runs ops on (at most 4),
    and no part under 32 rows."""
    threads = tf.config.threading.get_inter_op_parallelism_threads() or os.cpu_count() or 1
    parts = min(int(threads), 4)
    if batch is not None:
        parts = min(parts, max(1, batch // 32))
    return max(1, parts)


def _time_major(a):
    return tf.transpose(a, (1, 0, 2))


def split_batch(inputs, keep, parts: int):
    """``(sizes, xs, keeps)``: the rows of ``inputs`` (and of the mask ``keep``) in ``parts`` time-major parts."""
    batch = tf.shape(inputs)[0]
    sizes = tf.stack([batch // parts] * (parts - 1) + [batch - (parts - 1) * (batch // parts)])
    xs = [_time_major(part) for part in tf.split(tf.stop_gradient(inputs), sizes, axis=0, num=parts)]
    keeps = [None] * parts if keep is None else [_time_major(k) for k in tf.split(keep, sizes, axis=0, num=parts)]
    return sizes, xs, keeps


def fused_training_output(rnn_layers, inputs, keep, scale: float, head):
    """Training-mode output of a fused recurrence, differentiable with respect to the variables.

    ``head`` given: per-step logits (B, T, 1) of ``head`` (a Dense(1)) applied to the top output, times the
    dropout mask (``keep`` (B, T, units) bool, kept values scaled by ``scale``); else the top layer's last output
    (B, units). The forward and backward loops (:func:`compiled_recurrence`) run on each part of the batch
    (:func:`batch_parts`; rows are independent), side by side.
    """
    cells = [layer.cell for layer in rnn_layers]
    variables = [v for cell in cells for v in (cell.kernel, cell.recurrent_kernel, cell.bias)]
    if head is not None:
        variables += [head.kernel, head.bias]
    forward, backward = compiled_recurrence(tuple(cell_kind(c) for c in cells), tuple(c.units for c in cells),
                                            head is not None, keep is not None)
    parts = batch_parts(inputs.shape[0])
    sizes, xs, keeps = split_batch(inputs, keep, parts)
    scale = tf.constant(scale, inputs.dtype)
    readout = head is not None

    @tf.custom_gradient
    def run(*flat):
        flat = [tf.stop_gradient(v) for v in flat]
        results = [forward(x, k, scale, *flat) for x, k in zip(xs, keeps)]

        def grad(d_out):
            d_parts = tf.split(tf.stop_gradient(d_out), sizes, axis=0, num=parts)
            grads = [backward(x, k, scale, _time_major(d) if readout else d, saved, *flat)
                     for x, k, d, (_, saved) in zip(xs, keeps, d_parts, results)]
            return [tf.add_n(list(g)) if parts > 1 else g[0] for g in zip(*grads)]

        outs = [_time_major(out) if readout else out for out, _ in results]
        return (tf.concat(outs, axis=0) if parts > 1 else outs[0]), grad

    return run(*[tf.convert_to_tensor(v.value) for v in variables])


_COMPILED: dict = {}


def compiled_recurrence(kinds: tuple, units: tuple, readout: bool, masked: bool):
    """``(forward, backward)``: :func:`forward` and :func:`backward` for one architecture, XLA-compiled, cached.

    ``kinds``: ``"gru"`` (Keras GRU, ``reset_after=True``) or ``"lstm"`` per layer, bottom first, of ``units``
    units each; ``readout``: with the Dense(1) read-out; ``masked``: with a dropout mask.
    """
    key = (kinds, units, readout, masked)  # one pair of functions (and traces) per architecture
    if key not in _COMPILED:
        _COMPILED[key] = tuple(tf.function(functools.partial(fn, kinds, readout), jit_compile=True, autograph=False)
                               for fn in (forward, backward))
    return _COMPILED[key]


# --------------------------------------------------------------------------------------------------
# One cell, one step: forward, and backward (equations in docs/internals.md, "The fused formulation")
# --------------------------------------------------------------------------------------------------


def _unpack(flat, n: int):
    """The flat arguments as ``([(kernel, recurrent, bias)] per layer, (head kernel, head bias) or ())``."""
    return [tuple(flat[3 * i : 3 * i + 3]) for i in range(n)], tuple(flat[3 * n :])


def _loop_params(kinds, params):
    """What the loops use: an LSTM's two kernels stacked into one matrix, a GRU's as they are."""
    return [(tf.concat([k, r], axis=0), b) if kind == "lstm" else (k, r, b) for kind, (k, r, b) in zip(kinds, params)]


def _project(inp, kernel):
    """``inp @ kernel``; an outer product for the one-pixel input."""
    return inp * kernel[0] if kernel.shape[0] == 1 else tf.matmul(inp, kernel)


def gru_gates(inp, h, layer):
    """``(sigmoid([z, r]), x_h, r_h)`` of a Keras GRU (reset_after): the gates and both candidate terms."""
    kernel, recurrent, bias = layer
    units = recurrent.shape[0]
    x_zr, x_h = tf.split(_project(inp, kernel) + bias[0], [2 * units, units], axis=1)
    h_zr, r_h = tf.split(tf.matmul(h, recurrent) + bias[1], [2 * units, units], axis=1)
    return tf.sigmoid(x_zr + h_zr), x_h, r_h


def lstm_gates(inp, h, layer):
    """``(i, f, g, o)`` of a Keras LSTM: ``[inp, h] @ [kernel; recurrent]`` in one matrix product."""
    stacked, bias = layer
    z_i, z_f, z_c, z_o = tf.split(tf.matmul(tf.concat([inp, h], axis=1), stacked) + bias, 4, axis=1)
    return tf.sigmoid(z_i), tf.sigmoid(z_f), tf.tanh(z_c), tf.sigmoid(z_o)


def cell_step(kind: str, inp, state, layer):
    """Keras' GRU (reset_after) or LSTM step: the new state, and what the backward step reads (a GRU's candidate)."""
    if kind == "gru":
        zr, x_h, r_h = gru_gates(inp, state[0], layer)
        z, r = tf.split(zr, 2, axis=1)
        candidate = tf.tanh(x_h + r * r_h)
        return [z * state[0] + (1 - z) * candidate], [candidate]
    i, f, g, o = lstm_gates(inp, state[0], layer)
    c = f * state[1] + i * g
    return [o * tf.tanh(c), c], []


def gru_step_back(d_state, inp, previous, saved, layer, d_layer):
    """One GRU step back: ``(d inputs or None, [d h_{t-1}], updated weight-gradient sums)``."""
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


def lstm_step_back(d_state, inp, previous, saved, layer, d_layer):
    """One LSTM step back: ``(d inputs, [d h_{t-1}, d c_{t-1}], updated weight-gradient sums)``."""
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


def _readout_input(top, keep_t, scale):
    """The dropout layer's output: kept units scaled, the others 0 (``top`` itself without a mask)."""
    return top if keep_t is None else tf.where(keep_t, top * scale, 0.0)


# --------------------------------------------------------------------------------------------------
# The loops over time
# --------------------------------------------------------------------------------------------------


def forward_step(kinds, readout, x, keep, scale, layers, head, t, states, sequences, saved, logits):
    """Step ``t`` of :func:`forward`: every layer advances, its state and saved values are written at t."""
    inp = x[t]
    new_states, new_sequences, new_saved = [], [], []
    for kind, layer, state, seqs, extra in zip(kinds, layers, states, sequences, saved):
        state, values = cell_step(kind, inp, state, layer)
        new_states.append(state)
        new_sequences.append([ta.write(t + 1, v) for ta, v in zip(seqs, state)])
        new_saved.append([ta.write(t, v) for ta, v in zip(extra, values)])
        inp = state[0]
    if readout:
        top = _readout_input(inp, None if keep is None else keep[t], scale)
        logits = logits.write(t, tf.reduce_sum(top * head[0][:, 0], axis=1, keepdims=True) + head[1])
    return t + 1, new_states, new_sequences, new_saved, logits


def forward(kinds, readout, x, keep, scale, *flat):
    """``(out, saved)`` of a stack of layers over time-major ``x`` (T, B, 1), ``keep`` (T, B, H) bool or None.

    ``flat``: each layer's ``(kernel, recurrent_kernel, bias)`` then, with ``readout``, the read-out's ``(kernel
    (H, 1), bias (1,))``. ``out``: the logits (T, B, 1) with ``readout``, else the top layer's last output (B, H);
    ``saved``: each layer's states at steps 0..T and, for a GRU, its candidate at each step.
    """
    params, head = _unpack(flat, len(kinds))
    layers = _loop_params(kinds, params)
    steps, batch = tf.shape(x)[0], tf.shape(x)[1]
    zeros = [[tf.zeros((batch, p[1].shape[0]), x.dtype)] * (2 if kind == "lstm" else 1)
             for kind, p in zip(kinds, params)]
    body = functools.partial(forward_step, kinds, readout, x, keep, scale, layers, head)
    sequences = [[tf.TensorArray(x.dtype, size=steps + 1).write(0, z) for z in layer] for layer in zeros]
    saved = [[tf.TensorArray(x.dtype, size=steps)] if kind == "gru" else [] for kind in kinds]
    logits = tf.TensorArray(x.dtype, size=steps if readout else 1)
    _, states, sequences, saved, logits = tf.while_loop(
        lambda t, *_: t < steps, body, (tf.constant(0), zeros, sequences, saved, logits), maximum_iterations=steps)
    out = logits.stack() if readout else states[-1][0]
    return out, ([[ta.stack() for ta in layer] for layer in sequences], [[ta.stack() for ta in layer] for layer in saved])


def _readout_step_back(d_logit, keep_t, scale, top_h, head, d_head):
    """The read-out ``logit_t = (mask_t * h_t) @ w + b`` back: ``(d h_t, updated (d w, d b))``."""
    top = _readout_input(top_h, keep_t, scale)
    d_head = (d_head[0] + tf.reduce_sum(top * d_logit, axis=0)[:, None], d_head[1] + tf.reduce_sum(d_logit, axis=0))
    return _readout_input(d_logit * head[0][:, 0], keep_t, scale), d_head


def backward_step(kinds, readout, x, keep, scale, d_out, saved, layers, head, t, d_states, d_layers, d_head):
    """Step ``t`` of :func:`backward`: the read-out, then every layer from the top, one step back."""
    sequences, extras = saved
    d_input = None
    if readout:
        keep_t = None if keep is None else keep[t]
        d_input, d_head = _readout_step_back(d_out[t], keep_t, scale, sequences[-1][0][t + 1], head, d_head)
    new_d_states, new_d_layers = list(d_states), list(d_layers)
    for i in reversed(range(len(kinds))):
        d_state = list(d_states[i])
        if d_input is not None:
            d_state[0] = d_state[0] + d_input
        previous = [seq[t] for seq in sequences[i]]
        inp = x[t] if i == 0 else sequences[i - 1][0][t + 1]
        step_back = gru_step_back if kinds[i] == "gru" else lstm_step_back
        d_input, new_d_states[i], new_d_layers[i] = step_back(
            d_state, inp, previous, [e[t] for e in extras[i]], layers[i], d_layers[i])
    return t - 1, new_d_states, new_d_layers, d_head


def backward(kinds, readout, x, keep, scale, d_out, saved, *flat):
    """The gradients of :func:`forward`'s ``flat`` arguments given ``d_out``, the gradient of its ``out``.

    Each step's gates are recomputed from the saved states (faster than storing them); the weight gradients are
    summed inside the loop.
    """
    params, head = _unpack(flat, len(kinds))
    layers = _loop_params(kinds, params)
    steps, batch = tf.shape(x)[0], tf.shape(x)[1]
    d_states = [[tf.zeros((batch, p[1].shape[0]), x.dtype)] * len(seqs) for p, seqs in zip(params, saved[0])]
    if not readout:
        d_states[-1][0] = d_out  # the last output's gradient enters the top layer at the last step
    d_layers = [tuple(tf.zeros_like(p) for p in layer) for layer in layers]
    d_head = tuple(tf.zeros_like(p) for p in head)
    body = functools.partial(backward_step, kinds, readout, x, keep, scale, d_out, saved, layers, head)
    _, _, d_layers, d_head = tf.while_loop(lambda t, *_: t >= 0, body, (steps - 1, d_states, d_layers, d_head),
                                           maximum_iterations=steps)
    grads = []
    for kind, (kernel, _, _), d_layer in zip(kinds, params, d_layers):
        if kind == "lstm":  # unstack the gradient of [kernel; recurrent]
            d_stacked, d_bias = d_layer
            d_layer = (d_stacked[: kernel.shape[0]], d_stacked[kernel.shape[0] :], d_bias)
        grads.extend(d_layer)
    return grads + list(d_head)
