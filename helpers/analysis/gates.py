"""Saturated LSTM and GRU cells: what gates can and cannot do (notebook 01).

Real Keras cells whose weights are set by hand from the report's per-gate notation (:func:`cell_from_gates`):
>>> run = run_cell(saturated_cell("gru", "store_input", scale=16.0), random_binary(batch=64, steps=500))
Details (notation, Keras conventions): docs/internals.md.
"""

from __future__ import annotations

import logging
import math

import keras
import numpy as np
import tensorflow as tf

from helpers.analysis import plots

KINDS = ("lstm", "gru")
BEHAVIOURS = ("store_input", "keep_state")
#: Gate names in the report's notation, in the order Keras stores their columns ("c" and "h" are the
#: candidates c~ and h~).
KERAS_ORDER = {"lstm": ("i", "f", "c", "o"), "gru": ("z", "r", "h")}
#: Scales at which every construction of :func:`saturated_cell` is within 1e-6 of its goal, in float32
#: and float64, on 500 random binary steps (``tests/test_gates.py`` checks it).
SCALE_FOR_1E6 = {"store_input": 16.0, "keep_state": 25.0}
#: The state each construction is judged on.
CHECKED_STATE = {"lstm": "c", "gru": "h"}


def _check_choice(what: str, value, choices) -> str:
    if value not in choices:
        raise ValueError(f"Unknown {what} {value!r}; choose one of: {', '.join(map(repr, choices))}.")
    return value


def _per_unit(value, name: str) -> np.ndarray:
    """A scalar or a 1-D sequence of finite floats, as a float64 array of shape (units,) or ()."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim > 1 or not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be a finite number or a 1-D sequence of finite numbers (one per unit).")
    return array


def check_scale(scale) -> np.ndarray:
    """Validate a saturation scale s: a positive number, or a 1-D sequence of them (one per unit)."""
    array = _per_unit(scale, "scale")
    if array.size == 0 or np.any(array <= 0):
        raise ValueError(f"scale must be > 0 (got {scale!r}); the gates saturate as scale grows.")
    return array


def saturating_gates(kind: str, behaviour: str, scale) -> dict:
    """The derivation's weights at finite scale s, in the report's notation (see docs/internals.md).

    ``store_input``: LSTM b_f = -s, b_i = +s, c~ = tanh(s * x_t) (no weight on h_{t-1}, b_c = 0), b_o = +s;
    GRU b_z = +s, h~ = tanh(s * x_t) (no weight on h_{t-1}, b = 0).
    ``keep_state``: the same candidates, with the gates swapped: LSTM b_i = -s, b_f = +s; GRU b_z = -s.
    Gates not listed (the GRU's r) keep weight 0 and bias 0; r has no effect while the candidate ignores
    h_{t-1}.
    """
    _check_choice("kind", kind, KINDS)
    _check_choice("behaviour", behaviour, BEHAVIOURS)
    s = check_scale(scale)
    s = float(s) if s.ndim == 0 else s
    sign = 1.0 if behaviour == "store_input" else -1.0
    if kind == "lstm":
        return {"f": {"b": -sign * s}, "i": {"b": sign * s}, "c": {"w": s}, "o": {"b": s}}
    return {"z": {"b": sign * s}, "h": {"w": s}}


def _units_of(gates: dict, input_dim: int) -> int:
    """Number of units implied by the per-unit arrays of ``gates`` (1 when everything is shared)."""
    sizes = set()
    for params in gates.values():
        for key, value in params.items():
            shape = np.shape(value)
            if key == "w" and (len(shape) == 2 or (len(shape) == 1 and input_dim == 1)):
                sizes.add(shape[-1])
            elif key != "w" and len(shape) == 1:
                sizes.add(shape[0])
    if len(sizes) > 1:
        raise ValueError(f"Per-unit weights disagree on the number of units: {sorted(sizes)}.")
    return sizes.pop() if sizes else 1


def cell_from_gates(kind: str, gates: dict, input_dim: int = 1, **cell_kwargs):
    """Build a Keras cell whose weights are given gate by gate in the report's notation.

    Args:
        kind: ``"lstm"`` or ``"gru"``.
        gates: ``{gate: {"w": ..., "u": ..., "b": ...}}`` with gate in ``f, i, o, c`` (LSTM; ``c`` is the
            candidate c~) or ``z, r, h`` (GRU; ``z`` as in the report's equation (10), ``h`` is h~).
            ``w`` is a scalar, an (input_dim, units) array, or a 1-D array: one weight per unit when
            input_dim is 1, else one weight per input shared by every unit;
            ``u`` (diagonal recurrent weight) and ``b`` are scalars or (units,) arrays. Missing entries are 0.
        input_dim: size of x_t.
        **cell_kwargs: passed to ``keras.layers.LSTMCell``/``GRUCell`` (``units``, ``reset_after``, ``dtype``).
            ``units`` defaults to the length of the per-unit arrays, else 1.

    Returns:
        The built cell, weights assigned.
    """
    _check_choice("kind", kind, KINDS)
    names = KERAS_ORDER[kind]
    for gate, params in gates.items():
        _check_choice(f"{kind.upper()} gate", gate, names)
        for key in params:
            _check_choice(f"weight name for gate {gate!r}", key, ("w", "u", "b"))
    if not cell_kwargs.get("use_bias", True):
        raise ValueError("use_bias=False is not supported: the constructions need the gate biases.")
    implied = _units_of(gates, input_dim)
    units = int(cell_kwargs.pop("units", implied))
    if implied not in (1, units):
        raise ValueError(f"units={units} but the per-unit weights have {implied} entries; pass units={implied} "
                         "or leave units out.")
    layer = keras.layers.LSTMCell if kind == "lstm" else keras.layers.GRUCell
    for name in ("kernel_initializer", "recurrent_initializer", "bias_initializer"):
        cell_kwargs.setdefault(name, "zeros")  # overwritten below; Keras' orthogonal default is slow for big cells
    cell = layer(units, **cell_kwargs)
    cell.build((None, input_dim))

    kernel = np.zeros((input_dim, len(names) * units))
    recurrent = np.zeros((units, len(names) * units))
    bias = np.zeros(len(names) * units)
    for block, gate in enumerate(names):
        params = gates.get(gate, {})
        # Keras' GRU z is the report's 1 - z = sigma(-(...)): negate that block.
        sign = -1.0 if (kind == "gru" and gate == "z") else 1.0
        cols = slice(block * units, (block + 1) * units)
        w = np.asarray(params.get("w", 0.0), dtype=np.float64)
        if w.ndim == 1:
            w = w[None, :] if input_dim == 1 else w[:, None]  # per unit (input_dim 1) or per input
        kernel[:, cols] = sign * np.broadcast_to(w, (input_dim, units))
        recurrent[:, cols] = sign * np.diag(np.broadcast_to(_per_unit(params.get("u", 0.0), "u"), (units,)))
        bias[cols] = sign * np.broadcast_to(_per_unit(params.get("b", 0.0), "b"), (units,))
    if kind == "gru" and cell.reset_after:
        bias = np.stack([bias, np.zeros_like(bias)])  # input bias row, recurrent bias row (b_U = 0)
    cell.set_weights([kernel, recurrent, bias])
    return cell


def saturated_cell(kind: str, behaviour: str, scale, **cell_kwargs):
    """A Keras cell set by the derivation of notebook 01 at saturation scale ``scale``.

    Args:
        kind: ``"lstm"`` (``keras.layers.LSTMCell``) or ``"gru"`` (``keras.layers.GRUCell``).
        behaviour: ``"store_input"`` (LSTM: c_t -> x_t; GRU: h_t -> x_t, for binary x_t) or ``"keep_state"``
            (LSTM: c_t -> c_{t-1}; GRU: h_t -> h_{t-1}, whatever the input).
        scale: the saturation scale s > 0 (gate biases are +/-s, the candidate's input weight is s). A 1-D
            sequence gives one scale per unit: the units never interact, so one cell runs many scales at once.
        **cell_kwargs: passed to the Keras cell, e.g. ``reset_after=False`` (the report's GRU) or
            ``dtype="float64"``. The input is one-dimensional (a binary pixel).

    The exact weights are those of :func:`saturating_gates`; the goal is reached only as s -> +inf, with
    a worst-case error bounded by :func:`error_bound`.
    """
    return cell_from_gates(kind, saturating_gates(kind, behaviour, scale), input_dim=1, **cell_kwargs)


def cell_kind(cell) -> str:
    """``"lstm"`` or ``"gru"`` for a Keras cell."""
    if isinstance(cell, keras.layers.LSTMCell):
        return "lstm"
    if isinstance(cell, keras.layers.GRUCell):
        return "gru"
    raise ValueError(f"Expected a keras.layers.LSTMCell or GRUCell, got {type(cell).__name__}.")


def random_binary(batch: int = 64, steps: int = 500, seed: int = 0, p: float = 0.5) -> np.ndarray:
    """Random binary inputs of shape (batch, steps, 1): each x_t is 1 with probability ``p``."""
    rng = np.random.default_rng(seed)
    return (rng.random((batch, steps, 1)) < p).astype(np.float64)


class _DropRetracingWarning(logging.Filter):
    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


def run_cell(cell, inputs, initial_state=None) -> dict:
    """Run a real Keras cell step by step over ``inputs`` and return its state trajectories.

    Args:
        cell: a built ``LSTMCell`` or ``GRUCell``.
        inputs: (batch, steps, input_dim) array (a (batch, steps) array is read as input_dim = 1).
        initial_state: ``None`` (zeros) or a dict with ``"h"`` (and ``"c"`` for an LSTM); each value is
            broadcast to (batch, units).

    Returns:
        ``{"h": (batch, steps + 1, units)}`` plus ``"c"`` for an LSTM, as float64 numpy arrays; index 0 is
        the initial state, index t the state after x_t. The loop is compiled once per call with
        ``tf.function`` (each call traces afresh; TensorFlow's warning about that is silenced here).
    """
    kind = cell_kind(cell)
    x = np.asarray(inputs, dtype=np.float64)
    x = x[..., None] if x.ndim == 2 else x
    if x.ndim != 3:
        raise ValueError(f"inputs must have shape (batch, steps, input_dim); got {np.shape(inputs)}.")
    batch, units, dtype = x.shape[0], cell.units, cell.compute_dtype
    names = ("h", "c") if kind == "lstm" else ("h",)
    initial_state = initial_state or {}
    unknown = set(initial_state) - set(names)
    if unknown:
        raise ValueError(f"initial_state keys for a {kind.upper()} are {names}; got {sorted(unknown)}.")
    states = [tf.constant(np.broadcast_to(np.asarray(initial_state.get(n, 0.0), np.float64), (batch, units)), dtype)
              for n in names]

    @tf.function
    def loop(xs, states):
        arrays = [tf.TensorArray(dtype, size=tf.shape(xs)[0]) for _ in states]
        for t in tf.range(tf.shape(xs)[0]):
            _, states = cell(xs[t], states)
            arrays = [a.write(t, s) for a, s in zip(arrays, states)]
        return [a.stack() for a in arrays]

    tf_logger, quiet = tf.get_logger(), _DropRetracingWarning()
    tf_logger.addFilter(quiet)
    try:
        stacked = loop(tf.constant(np.swapaxes(x, 0, 1), dtype), states)
    finally:
        tf_logger.removeFilter(quiet)
    return {
        n: np.concatenate([s.numpy()[:, None].astype(np.float64), np.swapaxes(a.numpy(), 0, 1).astype(np.float64)], 1)
        for n, s, a in zip(names, states, stacked)
    }


def construction_error(kind: str, behaviour: str, inputs, run: dict) -> np.ndarray:
    """Worst-case error of a construction, per unit, over the batch and every step t = 1..T.

    ``store_input``: max |c_t - x_t| (LSTM) or max |h_t - x_t| (GRU).
    ``keep_state``: max |c_t - c_0| (LSTM) or max |h_t - h_0| (GRU): the drift from the initial state, which
    bounds every one-step change |c_t - c_{t-1}| by twice itself and is what must stay small for a memory.
    """
    _check_choice("kind", kind, KINDS)
    _check_choice("behaviour", behaviour, BEHAVIOURS)
    state = run[CHECKED_STATE[kind]]
    if behaviour == "store_input":
        target = np.asarray(inputs, dtype=np.float64).reshape(state.shape[0], -1, 1)
    else:
        target = state[:, :1]
    return np.abs(state[:, 1:] - target).max(axis=(0, 1))


def sigmoid(a):
    """sigma(a) = 1 / (1 + e^-a), computed in float64 without overflow."""
    a = np.asarray(a, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -a))


def error_bound(behaviour: str, scale, steps: int = 500, initial: float = 1.0) -> np.ndarray:
    """Exact-arithmetic upper bound on :func:`construction_error` with eps = sigma(-s) = 1 / (1 + e^s).

    ``store_input`` (state started in [0, 1], binary inputs): eps + (1 - tanh s) ~ e^-s.
    ``keep_state`` (|initial state| <= ``initial``, candidates in (-1, 1)): (1 - (1 - eps)^T) (initial + 1),
    about T e^-s (initial + 1) while that is small.
    """
    _check_choice("behaviour", behaviour, BEHAVIOURS)
    s = check_scale(scale)
    eps = sigmoid(-s)
    if behaviour == "store_input":
        return eps + (1.0 - np.tanh(s))
    return -np.expm1(steps * np.log1p(-eps)) * (initial + 1.0)


def smallest_scale(scales, errors, tol: float) -> float:
    """Smallest s of the grid from which the error stays <= ``tol`` for every larger s (nan if never)."""
    scales, errors = np.asarray(scales, dtype=np.float64), np.asarray(errors, dtype=np.float64)
    order = np.argsort(scales)
    ok = errors[order] <= tol
    bad = np.flatnonzero(~ok)
    first = 0 if bad.size == 0 else bad[-1] + 1
    return float(scales[order][first]) if first < len(scales) else math.nan


# ----------------------------------------------------------------------------------------------------
# Gate activations, recomputed from a cell's weights (for plots; tests check them against the cell).
# ----------------------------------------------------------------------------------------------------


def _report_blocks(cell) -> dict:
    """The cell's weights per gate in the report's convention: {gate: (W_x, U, b_x, b_U)}."""
    kind, units = cell_kind(cell), cell.units
    kernel, recurrent, bias = (np.asarray(v, dtype=np.float64) for v in cell.get_weights())
    if bias.ndim == 1:
        bias = np.stack([bias, np.zeros_like(bias)])
    blocks = {}
    for k, gate in enumerate(KERAS_ORDER[kind]):
        cols = slice(k * units, (k + 1) * units)
        sign = -1.0 if (kind == "gru" and gate == "z") else 1.0
        blocks[gate] = tuple(sign * a[..., cols] for a in (kernel, recurrent, bias[0], bias[1]))
    return blocks


def gate_trace(cell, inputs, initial_state=None) -> dict:
    """Gate activations and states at every step, recomputed in float64 numpy from the cell's weights.

    Same arguments as :func:`run_cell`. Returns arrays of shape (batch, steps, units) for the gates
    (LSTM: ``i, f, o, c_tilde``; GRU: ``z`` as in the report's equation (10), ``r``, ``h_tilde``) and
    (batch, steps + 1, units) for the states (``h``, and ``c`` for an LSTM).
    """
    kind, blocks = cell_kind(cell), _report_blocks(cell)
    x = np.asarray(inputs, dtype=np.float64)
    x = x[..., None] if x.ndim == 2 else x
    batch, steps, units = x.shape[0], x.shape[1], cell.units
    initial_state = initial_state or {}
    h = np.broadcast_to(np.asarray(initial_state.get("h", 0.0), np.float64), (batch, units)).copy()
    c = np.broadcast_to(np.asarray(initial_state.get("c", 0.0), np.float64), (batch, units)).copy()
    reset_after = kind == "gru" and cell.reset_after
    names = ("i", "f", "o", "c_tilde", "h", "c") if kind == "lstm" else ("z", "r", "h_tilde", "h")
    trace = {name: [] for name in names}
    trace["h"].append(h)
    if kind == "lstm":
        trace["c"].append(c)

    def pre(gate, x_t, h_prev):
        w, u, bx, bu = blocks[gate]
        return x_t @ w + h_prev @ u + bx + bu

    for t in range(steps):
        x_t = x[:, t]
        if kind == "lstm":
            i, f, o = (sigmoid(pre(g, x_t, h)) for g in ("i", "f", "o"))
            c_tilde = np.tanh(pre("c", x_t, h))
            c = f * c + i * c_tilde
            h = o * np.tanh(c)
            for name, value in zip(("i", "f", "o", "c_tilde", "h", "c"), (i, f, o, c_tilde, h, c)):
                trace[name].append(value)
        else:
            z, r = sigmoid(pre("z", x_t, h)), sigmoid(pre("r", x_t, h))
            w, u, bx, bu = blocks["h"]
            inner = r * (h @ u + bu) if reset_after else (r * h) @ u + bu
            h_tilde = np.tanh(x_t @ w + bx + inner)
            h = (1.0 - z) * h + z * h_tilde
            for name, value in zip(("z", "r", "h_tilde", "h"), (z, r, h_tilde, h)):
                trace[name].append(value)
    return {name: np.stack(values, axis=1) for name, values in trace.items()}


# ----------------------------------------------------------------------------------------------------
# Question (c): counter-examples.
# ----------------------------------------------------------------------------------------------------


def random_cell(kind: str, units: int, weight_std: float, seed: int = 0, input_dim: int = 1, **cell_kwargs):
    """A Keras cell whose every weight (full matrices, not diagonal) is drawn i.i.d. from N(0, weight_std^2)."""
    _check_choice("kind", kind, KINDS)
    layer = keras.layers.LSTMCell if kind == "lstm" else keras.layers.GRUCell
    for name in ("kernel_initializer", "recurrent_initializer", "bias_initializer"):
        cell_kwargs.setdefault(name, "zeros")  # every weight is overwritten below
    cell = layer(units, **cell_kwargs)
    cell.build((None, input_dim))
    rng = np.random.default_rng(seed)
    cell.set_weights([rng.normal(0.0, weight_std, w.shape) for w in cell.get_weights()])
    return cell


def random_lstm_first_outputs(units: int = 1024, weight_std: float = 4.0, batch: int = 128,
                              seed: int = 0) -> np.ndarray:
    """|h_1| of ``units`` random LSTM units started from zero state, as a (batch, units) float64 array.

    Every input weight and bias of every gate is drawn from N(0, weight_std^2); the recurrent weights are
    left at 0 because h_0 = 0 makes them irrelevant at step 1 (so the units are independent random LSTMs,
    and the cell stays small). The inputs x_1 are ``batch`` values spread over [-5, 5]. From
    h_0 = c_0 = 0, |c_1| = |i_1 c~_1| < 1 gives |h_1| < tanh(1) whatever the weights.
    """
    rng = np.random.default_rng(seed)
    gates = {g: {"w": rng.normal(0.0, weight_std, (1, units)), "b": rng.normal(0.0, weight_std, units)}
             for g in KERAS_ORDER["lstm"]}
    cell = cell_from_gates("lstm", gates, input_dim=1, dtype="float64")
    x = np.linspace(-5.0, 5.0, batch).reshape(batch, 1, 1)
    return np.abs(run_cell(cell, x)["h"][:, 1])


def hidden_state_pair(dtype: str = "float64"):
    """An LSTM and two 2-step inputs with equal outputs at step 1 but different outputs at step 2.

    The cell has one unit, input x_t = (u_t, v_t), and only two non-zero weights: c~ = tanh(u_t) and
    o = sigma(v_t); every bias is 0, so i = f = 1/2. From zero state, h_1 = sigma(v_1) tanh(tanh(u_1) / 2).
    Sequence A starts with (1, 0), sequence B with (2, v_B), where v_B solves sigma(v_B) tanh(tanh(2)/2) =
    tanh(tanh(1)/2) / 2 exactly; both then read (0, 0). Returns ``(cell, inputs)`` with inputs of shape
    (2, 2, 2): row 0 is A, row 1 is B.
    """
    cell = cell_from_gates("lstm", {"c": {"w": [1.0, 0.0]}, "o": {"w": [0.0, 1.0]}}, input_dim=2, units=1, dtype=dtype)
    target = 0.5 * np.tanh(np.tanh(1.0) / 2.0) / np.tanh(np.tanh(2.0) / 2.0)
    v_b = math.log(target / (1.0 - target))
    inputs = np.array([[[1.0, 0.0], [0.0, 0.0]], [[2.0, v_b], [0.0, 0.0]]])
    return cell, inputs


def hidden_memory_lstm(scale: float, **cell_kwargs):
    """An LSTM unit that stores a bit and hides it until asked. Input x_t = (v_t, q_t).

    f = i = sigma(s) (keep everything, write what comes), c~ = tanh(s v_t) (writes v_t = 1 as ~1),
    o = sigma(2 s q_t - s): about 0 while the query q_t is 0, about 1 when it is 1.
    """
    s = float(check_scale(scale))
    gates = {"f": {"b": s}, "i": {"b": s}, "c": {"w": [s, 0.0]}, "o": {"w": [0.0, 2 * s], "b": -s}}
    return cell_from_gates("lstm", gates, input_dim=2, units=1, **cell_kwargs)


def hidden_memory_inputs(steps: int = 40) -> np.ndarray:
    """Two sequences (2, steps, 2): A writes v_1 = 1, B writes nothing; both ask (q = 1) at the last step."""
    x = np.zeros((2, steps, 2))
    x[0, 0, 0] = 1.0
    x[:, -1, 1] = 1.0
    return x


def counting_lstm(scale: float, **cell_kwargs):
    """An LSTM unit whose cell state counts the ones it has read: f = i = o = sigma(s), c~ = tanh(s x_t)."""
    s = float(check_scale(scale))
    return cell_from_gates("lstm", {"f": {"b": s}, "i": {"b": s}, "c": {"w": s}, "o": {"b": s}}, **cell_kwargs)


# ----------------------------------------------------------------------------------------------------
# The numeric demonstration of questions (a) and (b).
# ----------------------------------------------------------------------------------------------------

#: The three cells the constructions are run on: label -> (kind, Keras keyword arguments).
VARIANTS = {
    "LSTM": ("lstm", {}),
    "GRU reset_after=False": ("gru", {"reset_after": False}),
    "GRU reset_after=True": ("gru", {"reset_after": True}),
}


def measure_errors(scales, inputs, initial, dtypes=("float32", "float64"), steps=None) -> dict:
    """Worst-case error of every construction, one cell per (variant, behaviour, dtype), one unit per scale.

    Args:
        scales: 1-D grid of saturation scales s (one unit each; units never interact).
        inputs: (batch, T, 1) binary inputs.
        initial: (batch, 1) initial states for ``keep_state`` (c_0 for the LSTM, h_0 for the GRU, the same
            values for every scale); ``store_input`` starts from zero.
        dtypes: Keras dtypes to run in.
        steps: optional list of horizons T' <= T; for each, the keep_state drift over the first T' steps is
            stored under key (variant, "keep_state", dtype, T').

    Returns:
        ``{(variant, behaviour, dtype): errors of shape (len(scales),)}`` (see :func:`construction_error`).
    """
    results = {}
    for dtype in dtypes:
        for label, (kind, kwargs) in VARIANTS.items():
            for behaviour in BEHAVIOURS:
                cell = saturated_cell(kind, behaviour, scales, dtype=dtype, **kwargs)
                start = {CHECKED_STATE[kind]: initial} if behaviour == "keep_state" else None
                run = run_cell(cell, inputs, start)
                results[label, behaviour, dtype] = construction_error(kind, behaviour, inputs, run)
                for horizon in (steps or []) if behaviour == "keep_state" else []:
                    part = {k: v[:, : horizon + 1] for k, v in run.items()}
                    results[label, behaviour, dtype, horizon] = construction_error(kind, behaviour, inputs, part)
    return results


def first_exact_scale(scales, errors) -> float:
    """Smallest s of the grid from which the measured error is exactly 0 (nan if it never is)."""
    errors = np.asarray(errors)
    return smallest_scale(scales, np.where(errors == 0, 0.0, 1.0), 0.0)


def _row_index(scales, s) -> int:
    """Index of the grid scale equal to ``s`` (a ValueError if ``s`` is not on the grid)."""
    k = int(np.argmin(np.abs(scales - s)))
    if not np.isclose(scales[k], s):
        raise ValueError(f"scale {s} is not on the grid; pick table scales that are multiples of the grid step.")
    return k


def worst_over_cells(errors: dict, behaviour: str, dtype: str = "float64") -> np.ndarray:
    """Per scale, the largest error of the three cells of :data:`VARIANTS` for one behaviour and dtype."""
    return np.max([errors[label, behaviour, dtype] for label in VARIANTS], axis=0)


def cell_disagreement(errors: dict, dtype: str = "float64") -> float:
    """Largest difference between the errors of the three cells of :data:`VARIANTS`, over scales and behaviours."""
    return float(max(np.ptp([errors[label, behaviour, dtype] for label in VARIANTS], axis=0).max()
                     for behaviour in BEHAVIOURS))


def error_summary(scales, errors: dict, bounds: dict, rows, dtype: str = "float64") -> str:
    """Worst error of the three cells beside its bound, for both behaviours, at the grid scales ``rows``."""
    scales = np.asarray(scales, dtype=np.float64)
    worst = {behaviour: worst_over_cells(errors, behaviour, dtype) for behaviour in BEHAVIOURS}
    header = ["s", "store: error", "store: bound", "keep: drift", "keep: bound"]
    table = []
    for s in rows:
        k = _row_index(scales, s)
        table.append([f"{s:g}", *[float(v[k]) for b in BEHAVIOURS for v in (worst[b], bounds[b])]])
    return plots.format_table(table, header, default_format="{:.2g}")


def horizon_table(scales, errors: dict, horizons, initial: float, tol: float = 1e-3) -> str:
    """Smallest grid s keeping the float64 LSTM's drift within ``tol`` over T steps, measured and bounded."""
    rows = []
    for horizon in horizons:
        drift = errors["LSTM", "keep_state", "float64", horizon]
        bound = error_bound("keep_state", scales, horizon, initial)
        rows.append([horizon, smallest_scale(scales, drift, tol), smallest_scale(scales, bound, tol),
                     float(np.log(horizon * (initial + 1.0) / tol))])
    return plots.format_table(rows, ["T", "measured s", "bound s", f"ln(T(|c0|+1)/{tol:g})"],
                              default_format="{:.4g}")


def float32_keep_table(scales, errors: dict, bounds: dict, rows) -> str:
    """``keep_state`` drift in float32, cell by cell, beside the float64 drift (worst cell) and the bound."""
    scales = np.asarray(scales, dtype=np.float64)
    short = {"LSTM": "LSTM", "GRU reset_after=False": "GRU-rb", "GRU reset_after=True": "GRU-ra"}
    header = ["s", *[f"{short[label]} f32" for label in VARIANTS], "float64", "bound"]
    worst = worst_over_cells(errors, "keep_state", "float64")
    table = []
    for s in rows:
        k = _row_index(scales, s)
        table.append([f"{s:g}", *[float(errors[label, "keep_state", "float32"][k]) for label in VARIANTS],
                      float(worst[k]), float(bounds["keep_state"][k])])
    return plots.format_table(table, header, default_format="{:.2g}")


#: (function, dtype, implementation, callable) rows of :func:`rounding_table`; Keras' are what the cells use.
ROUNDING_CASES = (
    ("tanh", "float32", "Keras (TensorFlow)", lambda s: keras.activations.tanh(keras.ops.convert_to_tensor(s))),
    ("tanh", "float32", "numpy", np.tanh),
    ("tanh", "float64", "Keras (TensorFlow)", lambda s: keras.activations.tanh(keras.ops.convert_to_tensor(s))),
    ("tanh", "float64", "numpy", np.tanh),
    ("sigmoid", "float32", "Keras (TensorFlow)", lambda s: keras.activations.sigmoid(keras.ops.convert_to_tensor(s))),
    ("sigmoid", "float64", "Keras (TensorFlow)", lambda s: keras.activations.sigmoid(keras.ops.convert_to_tensor(s))),
)
#: Bits of the significand: the float just below 1.0 is 1 - 2^-bits.
SIGNIFICAND_BITS = {"float32": 24, "float64": 53}


def correctly_rounded_one(function: str, dtype: str) -> float:
    """Smallest s from which the exact tanh(s) or sigmoid(s), correctly rounded to ``dtype``, is 1.0.

    That happens once 1 - f(s) is at most half the gap below 1, 2^-(bits + 1): 2 / (e^2s + 1) for tanh,
    1 / (1 + e^s) for the sigmoid.
    """
    _check_choice("function", function, ("tanh", "sigmoid"))
    half_gap = 2.0 ** -(SIGNIFICAND_BITS[dtype] + 1)
    return math.log(2.0 / half_gap - 1.0) / 2.0 if function == "tanh" else math.log(1.0 / half_gap - 1.0)


def stays_one_from(function, dtype: str, step: float = 0.001, stop: float = 40.0) -> float:
    """Smallest s of a fine grid (``step``) from which ``function(s)`` computed in ``dtype`` stays exactly 1.0."""
    s = np.arange(step, stop + step / 2, step)
    values = np.asarray(function(s.astype(dtype)), dtype=np.float64)
    return smallest_scale(s, 1.0 - values, 0.0)


def rounding_table(step: float = 0.001) -> str:
    """Where tanh(s) and sigmoid(s) stay exactly 1.0 (to ``step``), per implementation, beside correct rounding."""
    rows = [[name, dtype, implementation, f"{stays_one_from(function, dtype, step):.3f}",
             f"{correctly_rounded_one(name, dtype):.3f}"] for name, dtype, implementation, function in ROUNDING_CASES]
    return plots.format_table(rows, ["function", "dtype", "implementation", "stays 1.0 from s",
                                     "correctly rounded: from s"], default_format="{:.3g}")


def float32_exact_keep_scale(initial) -> float:
    """Smallest s from which a float32 LSTM keeping state leaves every c_0 in ``initial`` exactly unchanged.

    Its forget gate rounds to 1, but its input gate adds eps_s = sigma(-s) (times c~ <= 1) at each step; the
    addition is lost to rounding once eps_s is below half the float32 spacing at the smallest |c_0|, i.e.
    from s = ln(1 / half_spacing - 1). Infinite when some c_0 is 0 (eps_s is then always kept).
    """
    smallest = float(np.min(np.abs(np.asarray(initial, dtype=np.float32))))
    if smallest == 0.0:
        return math.inf
    half_spacing = float(np.spacing(np.float32(smallest))) / 2.0
    return math.log(1.0 / half_spacing - 1.0)


def plot_saturation_errors(scales, errors: dict, bounds: dict, steps: int):
    """Log-scale worst-case error against s: one panel per behaviour.

    float32 is drawn thick and pale, float64 thin and dashed, the bound dotted. Where a float32 error becomes
    exactly 0 (no place on a log axis) its curve stops and a triangle on the bottom edge marks the scale.
    """
    import matplotlib.pyplot as plt

    floor = 1e-18
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), constrained_layout=True)
    colours = dict(zip(VARIANTS, ("C0", "C1", "C2")))
    for ax, behaviour in zip(axes, BEHAVIOURS):
        for (label, beh, dtype, *horizon), err in errors.items():
            if beh != behaviour or horizon:
                continue
            single = dtype == "float32"
            ax.semilogy(scales, np.where(err > 0, err, np.nan), "-" if single else "--", color=colours[label],
                        lw=4 if single else 1.2, alpha=0.45 if single else 1.0, label=f"{label}, {dtype}")
            zero = first_exact_scale(scales, err)
            if single and not math.isnan(zero):
                ax.plot([zero], [floor], "v", color=colours[label], ms=9, clip_on=False)
        ax.semilogy(scales, bounds[behaviour], ":", color="black", lw=2, label="bound (exact arithmetic)")
        for tol in (1e-3, 1e-6):
            ax.axhline(tol, color="grey", lw=0.6)
        what = "state - x_t" if behaviour == "store_input" else "state - initial state"
        ax.set(title=f"{behaviour}: worst |{what}| over {steps} steps", xlabel="scale s",
               ylabel="worst-case error", ylim=(floor, 10))
    axes[1].legend(fontsize=8, loc="lower left", title="\u25bc: float32 error exactly 0 from here",
                   title_fontsize=8)
    return fig


def plot_keep_state(scales, runs: dict, rows: int = 3):
    """c_t (LSTM) or h_t (GRU) of a few sequences over time: one row of panels per cell, one column per scale.

    Each sequence has its colour (in the legend), and a thin line of the same colour marks its initial state.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(len(runs), len(scales), figsize=(3.2 * len(scales), 2.6 * len(runs)), sharex=True,
                             sharey=True, squeeze=False, constrained_layout=True)
    for r, (label, (name, states)) in enumerate(runs.items()):
        for k, s in enumerate(scales):
            ax = axes[r, k]
            for b in range(rows):
                ax.plot(states[b, :, k], lw=1.2, color=f"C{b}")
                ax.axhline(states[b, 0, k], color=f"C{b}", lw=0.5, alpha=0.6)
            ax.set_title(f"{label} ${name}_t$, s = {s:g}", fontsize=9)
        axes[r, 0].set_ylabel("state")
    for ax in axes[-1]:
        ax.set_xlabel("step t")
    handles = [Line2D([], [], color=f"C{b}", lw=1.2, label=f"sequence {b + 1}") for b in range(rows)]
    handles.append(Line2D([], [], color="grey", lw=0.5, label="its initial state"))
    axes[0, 0].legend(handles=handles, fontsize=7)
    return fig


# ----------------------------------------------------------------------------------------------------
# Tables, plots and the explorer.
# ----------------------------------------------------------------------------------------------------


def plot_lstm_vs_gru(hidden: dict, counting: dict, counts, gru_h):
    """Two LSTM behaviours beside a GRU.

    Left: the hidden-memory LSTM on sequences A (writes a 1) and B (writes nothing): c_t and h_t.
    Right: the counting LSTM's c_t against the number of ones read (one sequence), and the range of a
    random GRU's state h_t (every unit and sequence) on the same inputs.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
    t = np.arange(hidden["h"].shape[1])
    for row, name in enumerate(("A (writes 1)", "B (writes 0)")):
        axes[0].plot(t, hidden["c"][row, :, 0], color=f"C{row}", label=f"$c_t$, {name}")
        axes[0].plot(t, hidden["h"][row, :, 0], color=f"C{row}", ls="--", marker=".", label=f"$h_t$, {name}")
    axes[0].set(title="LSTM: a memory kept in $c_t$, hidden from $h_t$ until asked", xlabel="step t")
    axes[0].legend(fontsize=8)
    t = np.arange(counting["c"].shape[1])
    axes[1].plot(t, counting["c"][0, :, 0], label="LSTM $c_t$")
    axes[1].plot(t[1:], counts[0], ":", color="black", label="number of ones read")
    axes[1].fill_between(t, gru_h.min(axis=(0, 2)), gru_h.max(axis=(0, 2)), color="C1", alpha=0.5,
                         label="random GRU: range of $h_t$")
    axes[1].axhline(1.0, color="grey", lw=0.6)
    axes[1].axhline(-1.0, color="grey", lw=0.6)
    axes[1].set_yscale("symlog", linthresh=1.0)  # linear inside (-1, 1), logarithmic outside
    axes[1].set(title="LSTM cell state as a counter; a GRU state stays in (-1, 1)", xlabel="step t",
                ylabel="state (symlog scale)")
    axes[1].legend(fontsize=8, loc="lower right")
    return fig


def explorer_gates(kind: str, scale: float, biases: dict | None = None, candidate_recurrent: float = 0.0) -> dict:
    """The ``store_input`` candidate at scale s with the gate biases given (report notation, missing = 0)."""
    _check_choice("kind", kind, KINDS)
    candidate = "c" if kind == "lstm" else "h"
    gates = {g: {"b": float(b)} for g, b in (biases or {}).items()}
    gates[candidate] = {"w": float(scale), "u": float(candidate_recurrent), **gates.get(candidate, {})}
    return gates


def plot_gate_trajectories(kind: str, scale: float = 8.0, behaviour: str | None = "store_input", biases=None,
                           candidate_recurrent: float = 0.0, steps: int = 30, seed: int = 0,
                           initial_state: float = 0.6, reset_after: bool = False):
    """Input, gate activations and states of a one-unit cell on one random binary sequence.

    Args:
        kind: ``"lstm"`` or ``"gru"``.
        scale: s: the candidate's input weight (and the +/-s gate biases when ``behaviour`` is given).
        behaviour: ``"store_input"``, ``"keep_state"`` or ``None``; it sets the gate biases of
            :func:`saturating_gates`, which ``biases`` then overrides gate by gate.
        biases: e.g. ``{"f": -3.0}``: gate biases in the report's notation (GRU ``z`` as in equation (10)).
        candidate_recurrent: weight of h_{t-1} (LSTM) or r * h_{t-1} (GRU) in the candidate (0 in the
            constructions); with it, the GRU's reset gate r matters.
        steps, seed: the random binary input sequence.
        initial_state: c_0 (LSTM; h_0 = 0) or h_0 (GRU).
        reset_after: GRU variant.

    Returns:
        The matplotlib figure (three stacked panels). The states come from the real Keras cell; gate
        activations are recomputed from its weights by :func:`gate_trace`.
    """
    import matplotlib.pyplot as plt

    merged = {}
    if behaviour is not None:
        merged = {g: p["b"] for g, p in saturating_gates(kind, behaviour, scale).items() if "b" in p}
    merged.update(biases or {})
    kwargs = {"reset_after": reset_after} if kind == "gru" else {}
    cell = cell_from_gates(kind, explorer_gates(kind, scale, merged, candidate_recurrent), units=1, dtype="float64",
                           **kwargs)
    x = random_binary(1, steps, seed)
    init = {"c": initial_state} if kind == "lstm" else {"h": initial_state}
    states, trace = run_cell(cell, x, init), gate_trace(cell, x, init)
    t = np.arange(1, steps + 1)
    fig, axes = plt.subplots(3, 1, figsize=(8, 6.5), sharex=True, constrained_layout=True)
    axes[0].step(t, x[0, :, 0], where="mid", color="black")
    axes[0].set(ylabel="input $x_t$", ylim=(-0.15, 1.15))
    names = {"i": "$i_t$", "f": "$f_t$", "o": "$o_t$", "z": "$z_t$ (report)", "r": "$r_t$"}
    for gate, label in names.items():
        if gate in trace:
            axes[1].plot(t, trace[gate][0, :, 0], marker=".", label=label)
    axes[1].set(ylabel="gate", ylim=(-0.05, 1.05))
    axes[1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
    candidate = "c_tilde" if kind == "lstm" else "h_tilde"
    candidate_label = r"$\tilde c_t$" if kind == "lstm" else r"$\tilde h_t$"
    axes[2].plot(t, trace[candidate][0, :, 0], ":", color="grey", label=candidate_label)
    for name in ("c", "h") if kind == "lstm" else ("h",):
        axes[2].plot(np.arange(steps + 1), states[name][0, :, 0], marker=".", label=f"${name}_t$ (Keras cell)")
    axes[2].step(t, x[0, :, 0], where="mid", color="black", alpha=0.25, label="$x_t$")
    axes[2].set(xlabel="step t", ylabel="state")
    axes[2].legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
    shown = ", ".join(f"b_{g}={v:+.1f}" for g, v in sorted(merged.items()))
    variant = f" (reset_after={reset_after})" if kind == "gru" else ""
    fig.suptitle(f"{kind.upper()}{variant}, s={scale:g}, {shown or 'all biases 0'}")
    return fig


def gate_explorer(steps: int = 30, seed: int = 0):
    """An ipywidgets explorer around :func:`plot_gate_trajectories`.

    Choosing a cell, a behaviour or a scale resets the bias sliders to the construction's values; moving a
    bias slider afterwards perturbs that gate alone.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    from helpers.analysis.widgets import explorer_box, styled

    kind = widgets.Dropdown(options=[("LSTM", "lstm"), ("GRU", "gru")], description="cell")
    behaviour = widgets.Dropdown(options=list(BEHAVIOURS), description="behaviour")
    scale = widgets.FloatSlider(value=8.0, min=0.5, max=30.0, step=0.5, description="scale s")
    sliders = {g: widgets.FloatSlider(value=0.0, min=-30.0, max=30.0, step=0.5, description=f"b_{g}",
                                      continuous_update=False) for g in ("i", "f", "o", "z", "r")}
    recurrent = widgets.FloatSlider(value=0.0, min=-10.0, max=10.0, step=0.5, description="u (cand.)",
                                    continuous_update=False)
    state0 = widgets.FloatSlider(value=0.6, min=-2.0, max=2.0, step=0.1, description="state_0", continuous_update=False)
    output = widgets.Output()
    resetting = [False]  # while the sliders are being reset, draw once at the end, not once per slider

    def reset_biases(*_):
        gates = saturating_gates(kind.value, behaviour.value, scale.value)
        resetting[0] = True
        try:
            for g, slider in sliders.items():
                slider.disabled = g not in KERAS_ORDER[kind.value]
                slider.value = float(gates.get(g, {}).get("b", 0.0))
        finally:
            resetting[0] = False
        draw()

    def draw(*_):
        if resetting[0]:
            return
        biases = {g: s.value for g, s in sliders.items() if g in KERAS_ORDER[kind.value]}
        with output:
            output.clear_output(wait=True)
            fig = plot_gate_trajectories(kind.value, scale.value, None, biases, recurrent.value, steps, seed,
                                         state0.value)
            display(fig)
            plt.close(fig)

    for control in (kind, behaviour, scale):
        control.observe(reset_biases, names="value")
    for control in (*sliders.values(), recurrent, state0):
        control.observe(draw, names="value")
    reset_biases()
    controls = styled(kind, behaviour, scale, *sliders.values(), recurrent, state0, width="330px")
    return explorer_box(controls, output)
