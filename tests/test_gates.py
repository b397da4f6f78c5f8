"""Tests of helpers.gates: the saturated constructions of notebook 01 and its counter-examples."""

import math

import numpy as np
import pytest

from helpers import gates  # the documented entry point (helpers.analysis.gates)
from helpers.analysis import plots

BATCH, STEPS = 64, 500


@pytest.fixture(scope="module")
def inputs():
    return gates.random_binary(BATCH, STEPS, seed=0)


@pytest.fixture(scope="module")
def initial():
    return np.random.default_rng(1).uniform(-1.0, 1.0, (BATCH, 1))


# --- questions (a) and (b): every construction reaches 1e-6 at its documented scale -------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("behaviour", gates.BEHAVIOURS)
@pytest.mark.parametrize("variant", list(gates.VARIANTS))
def test_construction_reaches_1e6_at_documented_scale(variant, behaviour, dtype, inputs, initial):
    kind, kwargs = gates.VARIANTS[variant]
    scale = gates.SCALE_FOR_1E6[behaviour]
    cell = gates.saturated_cell(kind, behaviour, scale, dtype=dtype, **kwargs)
    start = {gates.CHECKED_STATE[kind]: initial} if behaviour == "keep_state" else None
    run = gates.run_cell(cell, inputs, start)
    error = gates.construction_error(kind, behaviour, inputs, run)
    assert run[gates.CHECKED_STATE[kind]].shape == (BATCH, STEPS + 1, 1)
    assert error.shape == (1,) and error[0] < 1e-6


@pytest.mark.parametrize("behaviour", gates.BEHAVIOURS)
@pytest.mark.parametrize("variant", list(gates.VARIANTS))
def test_float64_error_is_below_the_bound_and_shrinks(variant, behaviour, inputs, initial):
    scales = np.array([1.0, 3.0, 6.0, 10.0, 15.0])
    errors = gates.measure_errors(scales, inputs[:8, :100], initial[:8], dtypes=("float64",))
    error = errors[variant, behaviour, "float64"]
    bound = gates.error_bound(behaviour, scales, steps=100, initial=1.0)
    assert np.all(error <= bound + 1e-15)  # 1e-15: float64 rounding of 1 - c_t
    assert np.all(np.diff(error) < 0)


def test_keep_state_error_grows_linearly_with_steps(inputs, initial):
    errors = gates.measure_errors(np.array([12.0]), inputs, initial, dtypes=("float64",), steps=[50, 500])
    short, long = errors["LSTM", "keep_state", "float64", 50][0], errors["LSTM", "keep_state", "float64", 500][0]
    assert 5 < long / short < 15  # about T e^-s: ten times the steps, about ten times the drift


def test_per_unit_scales_match_separate_cells(inputs):
    together = gates.run_cell(gates.saturated_cell("lstm", "store_input", [2.0, 5.0], dtype="float64"), inputs[:4, :50])
    alone = gates.run_cell(gates.saturated_cell("lstm", "store_input", 5.0, dtype="float64"), inputs[:4, :50])
    np.testing.assert_array_equal(together["c"][..., 1], alone["c"][..., 0])


def test_gru_update_gate_is_mapped_to_keras_convention():
    for reset_after in (False, True):
        cell = gates.cell_from_gates("gru", {"z": {"b": 3.0, "w": 0.5}}, reset_after=reset_after)
        kernel, _, bias = cell.get_weights()
        bias = bias if bias.ndim == 1 else bias[0]
        assert bias[0] == -3.0 and kernel[0, 0] == -0.5  # Keras z = 1 - report z = sigma(-(...))
        trace = gates.gate_trace(cell, np.zeros((1, 1, 1)))
        assert math.isclose(trace["z"][0, 0, 0], 1 / (1 + math.exp(-3.0)), rel_tol=1e-7)


def test_lstm_blocks_follow_keras_order():
    cell = gates.saturated_cell("lstm", "store_input", 7.0)
    kernel, recurrent, bias = cell.get_weights()
    np.testing.assert_array_equal(bias, [7.0, -7.0, 0.0, 7.0])  # i, f, c, o
    np.testing.assert_array_equal(kernel, [[0.0, 0.0, 7.0, 0.0]])
    assert not recurrent.any()


@pytest.mark.parametrize("kind,kwargs", [("lstm", {}), ("gru", {"reset_after": False}), ("gru", {"reset_after": True})])
def test_gate_trace_reproduces_the_keras_cell(kind, kwargs, inputs):
    cell = gates.random_cell(kind, 3, 0.8, seed=2, dtype="float64", **kwargs)
    start = {"h": 0.3, "c": -1.0} if kind == "lstm" else {"h": 0.3}
    run, trace = gates.run_cell(cell, inputs[:4, :40], start), gates.gate_trace(cell, inputs[:4, :40], start)
    for name in run:
        np.testing.assert_allclose(trace[name], run[name], atol=1e-12)


# --- question (c): the counter-examples hold --------------------------------------------------------


def test_no_lstm_reaches_the_first_output_of_the_store_input_gru():
    h1 = gates.random_lstm_first_outputs(units=1024, weight_std=4.0, batch=32)
    assert h1.max() <= math.tanh(1.0)
    gru = gates.saturated_cell("gru", "store_input", 4.0, reset_after=False, dtype="float64")
    assert gates.run_cell(gru, np.ones((1, 1, 1)))["h"][0, 1, 0] > math.tanh(1.0) + 0.2


def test_hidden_state_pair_defeats_every_gru():
    cell, x = gates.hidden_state_pair()
    run = gates.run_cell(cell, x)
    h, c = run["h"][:, :, 0], run["c"][:, :, 0]
    assert abs(h[0, 1] - h[1, 1]) < 1e-15  # same output after step 1 ...
    assert abs(c[0, 1] - c[1, 1]) > 0.05  # ... from different cell states ...
    np.testing.assert_array_equal(x[0, 1], x[1, 1])  # ... same input at step 2 ...
    assert abs(h[0, 2] - h[1, 2]) > 0.01  # ... different outputs: no GRU (output = state) can do this


def test_hidden_memory_and_counting():
    run = gates.run_cell(gates.hidden_memory_lstm(12.0), gates.hidden_memory_inputs(40))
    assert np.abs(run["h"][:, :-1]).max() < 1e-5 and run["h"][0, -1, 0] > 0.76 and run["h"][1, -1, 0] == 0
    x = gates.random_binary(8, 300, seed=3)
    counted = gates.run_cell(gates.counting_lstm(20.0), x)["c"][:, 1:, 0]
    np.testing.assert_array_equal(counted, np.cumsum(x[:, :, 0], axis=1))
    gru = gates.random_cell("gru", 16, 0.5, seed=0, dtype="float64")
    assert np.abs(gates.run_cell(gru, x, {"h": 0.9})["h"]).max() < 1.0


# --- small helpers, plots and the explorer ----------------------------------------------------------


def test_smallest_scale_and_bound():
    assert gates.smallest_scale([1, 2, 3, 4], [1.0, 1e-4, 1e-2, 1e-5], 1e-3) == 4
    assert math.isnan(gates.smallest_scale([1, 2], [1.0, 1.0], 1e-3))
    assert gates.first_exact_scale([1, 2, 3], [1e-3, 0.0, 0.0]) == 2
    assert gates.error_bound("store_input", 30.0)[()] < 1e-12
    assert math.isclose(gates.error_bound("keep_state", 20.0, steps=500, initial=1.0)[()], 1000 / (1 + math.exp(20)),
                        rel_tol=1e-5)


def test_gate_tables_round_to_significant_digits_through_the_one_table_format():
    rows = [[1.0, 0.123456], [2.0, 0.0]]
    text = plots.format_table(rows, ["s", "err"], default_format="{:.3g}")
    assert text.splitlines()[2].split() == ["1", "0.123"] and text.splitlines()[3].split() == ["2", "0"]


@pytest.mark.parametrize("kind", gates.KINDS)
def test_plot_gate_trajectories_shows_the_input_the_gates_and_the_cells_states(kind):
    """The panels a reader sees: the input sequence, the gates (labelled), and the real cell's states."""
    import matplotlib.pyplot as plt

    biases = {"r": -4.0} if kind == "gru" else {"o": 0.0}
    fig = gates.plot_gate_trajectories(kind, 6.0, "keep_state", biases, candidate_recurrent=1.0, steps=12)
    inputs, gate_panel, state_panel = fig.axes
    x = gates.random_binary(1, 12, 0)[0, :, 0]
    np.testing.assert_array_equal(inputs.get_lines()[0].get_ydata(), x)
    assert [line.get_label() for line in gate_panel.get_lines()] == (
        ["$z_t$ (report)", "$r_t$"] if kind == "gru" else ["$i_t$", "$f_t$", "$o_t$"])
    assert all(0 <= v <= 1 for line in gate_panel.get_lines() for v in line.get_ydata())
    labels = [line.get_label() for line in state_panel.get_lines()]
    assert "$h_t$ (Keras cell)" in labels and (kind == "gru" or "$c_t$ (Keras cell)" in labels)
    h = state_panel.get_lines()[labels.index("$h_t$ (Keras cell)")].get_ydata()
    assert len(h) == 13 and h[0] == (0.6 if kind == "gru" else 0.0)  # the initial state, then 12 steps
    assert inputs.get_ylabel() == "input $x_t$" and state_panel.get_xlabel() == "step t"
    assert fig.get_suptitle().startswith(kind.upper()) and "b_" in fig.get_suptitle()
    plt.close(fig)


def test_gate_explorer_builds():
    import ipywidgets as widgets

    explorer = gates.gate_explorer(steps=10)
    assert isinstance(explorer, widgets.HBox)


def _fake_errors(scales):
    """Errors shaped like measure_errors' output: the GRUs' float32 drift is 0 from s = 3."""
    errors = {}
    for label in gates.VARIANTS:
        for behaviour in gates.BEHAVIOURS:
            for dtype in ("float32", "float64"):
                err = np.exp(-scales) * (2.0 if behaviour == "keep_state" else 1.0)
                if dtype == "float32" and behaviour == "keep_state" and label != "LSTM":
                    err = np.where(scales >= 3, 0.0, err)
                errors[label, behaviour, dtype] = err + (1e-3 if label == "LSTM" and dtype == "float64" else 0.0)
        errors[label, "keep_state", "float64", 10] = np.exp(-scales)
    return errors


def test_error_tables():
    scales = np.arange(0.5, 5.01, 0.5)
    errors = _fake_errors(scales)
    bounds = {b: gates.error_bound(b, scales, 10, 1.0) for b in gates.BEHAVIOURS}
    assert math.isclose(gates.cell_disagreement(errors), 1e-3)
    np.testing.assert_allclose(gates.worst_over_cells(errors, "store_input"), np.exp(-scales) + 1e-3)
    summary = gates.error_summary(scales, errors, bounds, [1, 2.5])
    assert summary.splitlines()[0].split() == ["s", "store:", "error", "store:", "bound", "keep:", "drift",
                                                "keep:", "bound"]
    assert [line.split()[0] for line in summary.splitlines()[2:]] == ["1", "2.5"]
    keep = gates.float32_keep_table(scales, errors, bounds, [2.5, 3])
    assert keep.splitlines()[3].split()[:4] == ["3", f"{math.exp(-3) * 2:.2g}", "0", "0"]
    horizons = gates.horizon_table(scales, errors, [10], 1.0, tol=0.1)
    assert horizons.splitlines()[2].split()[:2] == ["10", "2.5"]  # e^-2.5 = 0.082 <= 0.1 < e^-2
    with pytest.raises(ValueError, match="not on the grid"):
        gates.error_summary(scales, errors, bounds, [1.2])


def test_rounding_thresholds():
    assert math.isclose(gates.correctly_rounded_one("tanh", "float32"), 13 * math.log(2), rel_tol=1e-6)
    assert math.isclose(gates.correctly_rounded_one("sigmoid", "float32"), 25 * math.log(2), rel_tol=1e-6)
    assert 18.9 < gates.stays_one_from(np.tanh, "float64", step=0.01) <= 19.1  # numpy's tanh is nearly exact
    keras_tanh = gates.ROUNDING_CASES[0][3]
    assert gates.stays_one_from(keras_tanh, "float32", step=0.01) < 8.5  # TensorFlow's is an approximation
    table = gates.rounding_table(step=0.01)
    assert len(table.splitlines()) == 2 + len(gates.ROUNDING_CASES)
    assert max(map(len, table.splitlines())) <= 110


def test_float32_exact_keep_scale_is_where_the_lstm_drift_vanishes():
    initial = np.array([[0.019], [-0.5], [0.9]])
    predicted = gates.float32_exact_keep_scale(initial)
    assert math.isclose(predicted, 30 * math.log(2), rel_tol=1e-6)  # 0.019 lies in [2^-6, 2^-5): half spacing 2^-30
    x = gates.random_binary(3, 200, seed=5)
    cell = gates.saturated_cell("lstm", "keep_state", [predicted - 0.25, predicted + 0.25])
    drift = gates.construction_error("lstm", "keep_state", x, gates.run_cell(cell, x, {"c": initial}))
    assert drift[0] > 0 and drift[1] == 0
    assert gates.float32_exact_keep_scale([[0.0], [0.3]]) == math.inf


# --- argument errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,kwargs,message",
    [
        (("rnn", "store_input", 1.0), {}, "'lstm', 'gru'"),
        (("lstm", "forget", 1.0), {}, "'store_input', 'keep_state'"),
        (("gru", "keep_state", 0.0), {}, "scale must be > 0"),
        (("gru", "keep_state", float("nan")), {}, "finite"),
        (("gru", "keep_state", [[1.0]]), {}, "1-D"),
        (("lstm", "keep_state", [1.0, 2.0]), {"units": 3}, "units"),
        (("lstm", "keep_state", 1.0), {"use_bias": False}, "use_bias"),
    ],
)
def test_saturated_cell_rejects_bad_arguments(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        gates.saturated_cell(*args, **kwargs)


def test_other_argument_errors():
    with pytest.raises(ValueError, match="'i', 'f', 'c', 'o'"):
        gates.cell_from_gates("lstm", {"z": {"b": 1.0}})
    with pytest.raises(ValueError, match="'w', 'u', 'b'"):
        gates.cell_from_gates("gru", {"z": {"bias": 1.0}})
    cell = gates.saturated_cell("gru", "keep_state", 2.0)
    with pytest.raises(ValueError, match="initial_state keys"):
        gates.run_cell(cell, np.zeros((2, 3, 1)), {"c": 1.0})
    with pytest.raises(ValueError, match="batch, steps, input_dim"):
        gates.run_cell(cell, np.zeros(3))
    with pytest.raises(ValueError, match="LSTMCell or GRUCell"):
        gates.run_cell(object(), np.zeros((2, 3, 1)))
