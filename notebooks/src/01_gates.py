# %% [markdown]
# # What gates can and cannot do: LSTM and GRU cells pushed to saturation
#
# A gate is a sigmoid: it reaches 0 or 1 only as its pre-activation goes to $\pm\infty$. For the three
# questions of the 2017 report's section 1 (can a cell (a) store its input, (b) keep its state, (c) is a
# GRU a special case of an LSTM?) this notebook derives the weights on paper, then runs real Keras cells
# with them at a finite scale $s$. How Keras stores weights comes last, in one section. Each **exercise** is
# a function to write, checked by the cell after it.

# %% [markdown]
# ## Setup

# %% nbgrader={"grade": false, "grade_id": "setup01", "locked": true, "schema_version": 3, "solution": false}
# %matplotlib inline
import os, sys
sys.path.insert(0, os.path.abspath(".."))          # the repository root, where helpers/ lives
from helpers.core.quiet import import_tensorflow_quietly
tf = import_tensorflow_quietly()                   # TensorFlow, without its start-up log lines

import numpy as np
import matplotlib.pyplot as plt

from helpers.analysis import checks, gates, plots
from helpers.analysis.widgets import with_static_view

# %% [markdown]
# ## Parameters
#
# `batch` random binary sequences of `steps` steps; scales from `grid_step` to `max_scale`; rows, panels
# and horizons of the tables and figures.

# %% tags=["parameters"]
batch = 64
steps = 500
seed = 0
grid_step = 0.25
max_scale = 40.0
table_scales = [1, 2, 4, 7, 10, 14, 17, 20, 25, 30, 40]
keep_scales = [4, 10, 16, 25]
horizons = [5, 50, 500]

# %%
# Derived values (papermill injects parameters above this cell).
scales = np.arange(grid_step, max_scale + grid_step / 2, grid_step)
x = gates.random_binary(batch, steps, seed)  # (batch, steps, 1), each x_t in {0, 1}
initial = np.random.default_rng(seed + 1).uniform(-1.0, 1.0, (batch, 1))  # c_0 or h_0 for keep_state
horizons = [h for h in horizons if h <= steps]
table_scales = [s for s in table_scales if s <= max_scale]  # rows of the tables must lie on the grid
print(f"{batch} sequences x {steps} steps, {x.mean():.1%} ones; {len(scales)} scales "
      f"from {scales[0]:g} to {scales[-1]:g}; largest |initial state| = {np.abs(initial).max():.3f}")

# %% [markdown]
# ## The equations
#
# The report's LSTM and GRU:
#
# $$
# \begin{aligned}
# f_t &= \sigma(w_f \cdot [h_{t-1}, x_t] + b_f) && (1) &\qquad c_t &= f_t * c_{t-1} + i_t * \tilde c_t && (5)\\
# i_t &= \sigma(w_i \cdot [h_{t-1}, x_t] + b_i) && (2) &\qquad h_t &= o_t * \tanh(c_t) && (6)\\
# \tilde c_t &= \tanh(w_c \cdot [h_{t-1}, x_t] + b_c) && (3) \\
# o_t &= \sigma(w_o \cdot [h_{t-1}, x_t] + b_o) && (4) \\[4pt]
# z_t &= \sigma(w_z \cdot [h_{t-1}, x_t] + b_z) && (7) &\qquad \tilde h_t &= \tanh(w \cdot [r_t * h_{t-1}, x_t] + b) && (9)\\
# r_t &= \sigma(w_r \cdot [h_{t-1}, x_t] + b_r) && (8) &\qquad h_t &= (1 - z_t) * h_{t-1} + z_t * \tilde h_t && (10)
# \end{aligned}
# $$
#
# Below, $w$ weighs $x_t \in \{0, 1\}$ (a pixel), $u$ weighs $h_{t-1}$, and
# $\varepsilon_s = \sigma(-s) = 1/(1 + e^{s}) < e^{-s}$: a gate with zero weights and bias $\pm s$ is
# $1 - \varepsilon_s$ or $\varepsilon_s$.

# %% [markdown]
# ## (a) Storing the current input
#
# **LSTM.** (1) We want $c_t = x_t$ whatever $c_{t-1}$: by (5) that needs $f_t = 0$, $i_t = 1$ and
# $\tilde c_t = x_t$.
# (2) Gates: $b_f = -s$, $b_i = +s$ (and $b_o = +s$), zero weights, so $f_t = \varepsilon_s$,
# $i_t = 1 - \varepsilon_s$.
# (3) Candidate: for $x_t = 0$, $\tanh(b_c) = 0$ forces $b_c = 0$ exactly; for $x_t = 1$, $\tanh(w_c)$
# reaches 1 only as $w_c \to \infty$: take $w_c = s$, $u = 0$.
# (4) Then $c_t - x_t = \varepsilon_s (c_{t-1} - \tanh(s x_t)) + \tanh(s x_t) - x_t$; from $c_0 = 0$ every
# $c_t$ lies in $[0, 1)$, and $0 \le x_t - \tanh(s x_t) \le 1 - \tanh s$:
# $$|c_t - x_t| \;\le\; \varepsilon_s + (1 - \tanh s) \;\approx\; e^{-s} \quad\text{for every } t.$$
# So $c_t = x_t$ only as $s \to \infty$; the output $h_t = o_t \tanh(c_t)$ tends to $\tanh(x_t)$.
#
# **GRU.** By (10), $h_t = x_t$ needs $z_t = 1$, $\tilde h_t = x_t$: $b_z = +s$, the same candidate
# ($r_t$ then acts on nothing). Same recursion, same bound.

# %% [markdown]
# **Exercise 1.1.** Return the store-input LSTM's weights at scale `s`, in the report's notation
# (`{"f": {"b": ...}, "c": {"w": ...}, ...}`; gates `f, i, c, o`, entries `w, u, b`, missing ones 0),
# without calling `gates.saturating_gates`.

# %% nbgrader={"grade": false, "grade_id": "ex1_1", "locked": false, "schema_version": 3, "solution": true}
def lstm_store_gates(s):
    """Weights making an LSTM's c_t follow a binary x_t within about e^-s."""
    ### BEGIN SOLUTION
    return {"f": {"b": -s}, "i": {"b": s}, "c": {"w": s}, "o": {"b": s}}
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1_1_check", "locked": true, "points": 1, "schema_version": 3, "solution": false}
with checks.exercise("1.1", hint="by (5), f_t -> 0 and i_t -> 1 through their biases, candidate tanh(s x_t)") as ex:
    _x = gates.random_binary(8, 30, seed=3)
    for _s in [4.0, 10.0]:
        _cell = gates.cell_from_gates("lstm", ex.call(lstm_store_gates, _s), dtype="float64")
        _error = gates.construction_error("lstm", "store_input", _x, gates.run_cell(_cell, _x))
        ex.at_most(f"max |c_t - x_t| of a Keras LSTM at s = {_s:g}", _error, gates.error_bound("store_input", _s) + 1e-12)
    ### BEGIN HIDDEN TESTS
    _cell = gates.cell_from_gates("lstm", ex.call(lstm_store_gates, 16.0), dtype="float64")
    _error = gates.construction_error("lstm", "store_input", _x, gates.run_cell(_cell, _x))
    ex.at_most("max |c_t - x_t| at s = 16", _error, gates.error_bound("store_input", 16.0) + 1e-12)
    ### END HIDDEN TESTS

# %% [markdown]
# **Exercise 1.2.** Return the smallest $s$ for which the bound $\varepsilon_s + 1 - \tanh s$ is at most
# `tol` (to 0.01).

# %% nbgrader={"grade": false, "grade_id": "ex1_2", "locked": false, "schema_version": 3, "solution": true}
def store_scale(tol):
    """Smallest s with sigma(-s) + 1 - tanh(s) <= tol."""
    ### BEGIN SOLUTION
    low, high = 0.0, 100.0
    for _ in range(60):  # the bound decreases with s: bisection
        mid = (low + high) / 2
        low, high = (low, mid) if 1 / (1 + np.exp(mid)) + 1 - np.tanh(mid) <= tol else (mid, high)
    return high
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1_2_check", "locked": true, "points": 1, "schema_version": 3, "solution": false}
with checks.exercise("1.2", hint="the bound decreases with s: solve bound(s) = tol numerically (ln(1/tol) is close)") as ex:
    _s = float(ex.call(store_scale, 1e-3))
    ex.close("store_scale(1e-3)", _s, 6.9088, atol=0.01)
    ex.close("store_scale(1e-6)", ex.call(store_scale, 1e-6), 13.8155, atol=0.01)
    _x = gates.random_binary(8, 30, seed=3)
    _run = gates.run_cell(gates.saturated_cell("lstm", "store_input", _s, dtype="float64"), _x)
    _error = gates.construction_error("lstm", "store_input", _x, _run)
    ex.at_most(f"max |c_t - x_t| of a Keras LSTM at s = {_s:.3f}", _error, 1.011e-3)  # s to 0.01: the bound to 1 %
    ### BEGIN HIDDEN TESTS
    ex.close("store_scale(0.05)", ex.call(store_scale, 0.05), 3.0441, atol=0.01)
    ### END HIDDEN TESTS

# %% [markdown]
# **Exercise 1.3.** The same for the GRU (gates `z, r, h`, with $z$ as in (10)).

# %% nbgrader={"grade": false, "grade_id": "ex1_3", "locked": false, "schema_version": 3, "solution": true}
def gru_store_gates(s):
    """Weights making a GRU's h_t follow a binary x_t within about e^-s."""
    ### BEGIN SOLUTION
    return {"z": {"b": s}, "h": {"w": s}}
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1_3_check", "locked": true, "points": 1, "schema_version": 3, "solution": false}
with checks.exercise("1.3", hint="by (10), z_t -> 1 through its bias, candidate tanh(s x_t) with no bias") as ex:
    _x = gates.random_binary(8, 30, seed=3)
    for _s, _reset_after in [(4.0, False), (10.0, False), (10.0, True)]:
        _cell = gates.cell_from_gates("gru", ex.call(gru_store_gates, _s), dtype="float64", reset_after=_reset_after)
        _error = gates.construction_error("gru", "store_input", _x, gates.run_cell(_cell, _x))
        ex.at_most(f"max |h_t - x_t| of a Keras GRU at s = {_s:g} (reset_after={_reset_after})", _error,
                   gates.error_bound("store_input", _s) + 1e-12)
    ### BEGIN HIDDEN TESTS
    _cell = gates.cell_from_gates("gru", ex.call(gru_store_gates, 16.0), dtype="float64", reset_after=False)
    _error = gates.construction_error("gru", "store_input", _x, gates.run_cell(_cell, _x, {"h": 0.9}))
    ex.at_most("max |h_t - x_t| at s = 16 from h_0 = 0.9", _error, gates.error_bound("store_input", 16.0) + 1e-12)
    ### END HIDDEN TESTS

# %% [markdown]
# ## (b) Keeping the state and ignoring the input
#
# **LSTM.** (1) $c_t = c_{t-1}$ needs $f_t = 1$, $i_t = 0$: swap the signs, $b_f = +s$, $b_i = -s$, and keep
# the candidate of (a) as an input to ignore.
# (2) Then $c_t = (1 - \varepsilon_s) c_{t-1} + \varepsilon_s \tilde c_t$. The drift $d_t = c_t - c_0$
# obeys $d_t = (1 - \varepsilon_s) d_{t-1} + \varepsilon_s(\tilde c_t - c_0)$, with
# $|\tilde c_t - c_0| \le 1 + |c_0|$.
# (3) Unrolled from $d_0 = 0$, a geometric series:
# $$|d_T| \le \varepsilon_s (1 + |c_0|) \sum_{k=0}^{T-1} (1 - \varepsilon_s)^k
# = \bigl(1 - (1 - \varepsilon_s)^T\bigr)(|c_0| + 1) \;\le\; T e^{-s} (|c_0| + 1).$$
# (4) Holding $T$ steps within $\delta$ is guaranteed from $s = \ln\bigl(T(|c_0| + 1)/\delta\bigr)$.
#
# **GRU.** $z_t = 0$ suffices: $b_z = -s$. Same recursion, same bound with $|h_0|$.
#
# **Exercise 1.4.** Return that scale for horizon `T`, initial state `c0` and tolerance `tol`.

# %% nbgrader={"grade": false, "grade_id": "ex1_4", "locked": false, "schema_version": 3, "solution": true}
def keep_scale(T, c0, tol):
    """Scale s from which the bound T e^-s (|c0| + 1) is at most tol."""
    ### BEGIN SOLUTION
    return float(np.log(T * (abs(c0) + 1) / tol))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1_4_check", "locked": true, "points": 1, "schema_version": 3, "solution": false}
with checks.exercise("1.4", hint="solve T e^-s (|c0| + 1) = tol for s") as ex:
    ex.close("keep_scale(500, 1.0, 1e-3)", ex.call(keep_scale, 500, 1.0, 1e-3), np.log(1e6))
    _s = float(ex.call(keep_scale, 50, 0.5, 1e-2))
    ex.close("keep_scale(50, 0.5, 1e-2)", _s, np.log(7500))
    _x = gates.random_binary(8, 50, seed=3)
    _run = gates.run_cell(gates.saturated_cell("lstm", "keep_state", _s, dtype="float64"), _x, {"c": 0.5})
    ex.at_most(f"drift |c_t - c_0| of a Keras LSTM over 50 steps at s = {_s:.3f}",
               gates.construction_error("lstm", "keep_state", _x, _run), 1e-2)
    ### BEGIN HIDDEN TESTS
    ex.close("keep_scale(100, -0.8, 1e-4) (a negative c0)", ex.call(keep_scale, 100, -0.8, 1e-4), np.log(1.8e6))
    ### END HIDDEN TESTS

# %% [markdown]
# **Question.** Why does the error of storing stay the same over any number of steps, while the error of
# keeping grows with $T$?

# %% [markdown] nbgrader={"grade": false, "grade_id": "q1_1", "locked": false, "schema_version": 3, "solution": true}
# *Model answer.* Storing, $f_t = \varepsilon_s$ erases the previous state, errors included: only the
# last step's error remains. Keeping, $f_t = 1 - \varepsilon_s$ keeps the drift so far and each step leaks
# $\varepsilon_s$ of a candidate in: $T$ errors add up (the geometric series).

# %% [markdown]
# ## Checking (a) and (b) on real Keras cells
#
# One Keras cell per construction, one unit per scale (diagonal weights: units never interact), for the
# LSTM and both GRU variants (see *How Keras stores the weights*), in float32 and float64.

# %%
errors = gates.measure_errors(scales, x, initial, steps=horizons)
c0_max = float(np.abs(initial).max())
bounds = {"store_input": gates.error_bound("store_input", scales),
          "keep_state": gates.error_bound("keep_state", scales, steps, c0_max)}
within = all(np.all(err <= bounds[key[1]] + 1e-15) for key, err in errors.items()  # 1e-15: float64 rounding
             if len(key) == 3 and key[2] == "float64")
print(f"{sum(len(k) == 3 for k in errors)} cells run; every float64 error is within its bound: {within}")
print(f"largest difference between the three cells' float64 errors: {gates.cell_disagreement(errors):.1e}")

# The worst error over the batch and the steps (float64, largest of the three cells) beside its bound:
# $|c_t - x_t|$ or $|h_t - x_t|$ for storing, the drift $|c_t - c_0|$ or $|h_t - h_0|$ for keeping.

# %%
print(gates.error_summary(scales, errors, bounds, table_scales))

# %% [markdown]
# Both fall like $e^{-s}$, along their bounds. Keeping needs $s \approx 14$ for $10^{-3}$ where storing needs 7:
# about $\ln(500 \cdot 2) \approx 6.9$ more. On the whole grid, float32 included (thick pale curves; a
# triangle marks where one becomes exactly 0, see the appendix):

# %%
fig = gates.plot_saturation_errors(scales, errors, bounds, steps)
plots.save_figure(fig, "01_saturation_error", dpi=120)
plt.show()

# %% [markdown]
# The smallest $s$ that keeps the LSTM's float64 drift within $10^{-3}$ grows like $\ln T$, as the bound
# predicts:

# %%
print(gates.horizon_table(scales, errors, horizons, c0_max))

# %% [markdown]
# Three sequences in float32 (one colour each, a thin line at its initial state), the LSTM's $c_t$ above
# the GRU's $h_t$. At small $s$ the state leaks towards an average of the candidates; at large $s$ it stays.

# %%
keep = np.array(keep_scales, dtype=float)
lstm = gates.run_cell(gates.saturated_cell("lstm", "keep_state", keep), x, {"c": initial})["c"]
gru = gates.run_cell(gates.saturated_cell("gru", "keep_state", keep, reset_after=False), x, {"h": initial})["h"]
fig = gates.plot_keep_state(keep, {"LSTM": ("c", lstm), "GRU": ("h", gru)})
plots.save_figure(fig, "01_keep_state", dpi=120)
plt.show()

# %% [markdown]
# ## (c) Is a GRU a special case of an LSTM?
#
# "Special case": for every GRU, some LSTM gives the same outputs $h_1, h_2, \dots$ on every input, both
# from a zero state. Mapping $i_t = z_t$, $f_t = 1 - z_t$, $o_t = 1$ fails, but only a counter-example
# proves the answer.
#
# **Claim 1: no LSTM reproduces the store-input GRU.** (1) From $c_0 = 0$, (5) gives
# $c_1 = i_1 \tilde c_1$, a product of a number in $(0, 1)$ and one in $(-1, 1)$: $|c_1| < 1$.
# (2) By (6), $|h_1| = o_1 |\tanh c_1| < \tanh 1 \approx 0.762$, for every LSTM and every input.
# (3) The GRU of (a) outputs $h_1 = (1 - \varepsilon_s)\tanh s$ on $x_1 = 1$, which tends to 1.
#
# **Exercise 1.5.** Return the smallest integer $s$ at which that GRU's $h_1$ exceeds $\tanh 1$.

# %% nbgrader={"grade": false, "grade_id": "ex1_5", "locked": false, "schema_version": 3, "solution": true}
def gru_beats_lstm_scale():
    """Smallest integer s with (1 - sigma(-s)) tanh(s) > tanh(1)."""
    ### BEGIN SOLUTION
    s = 1
    while (1 - 1 / (1 + np.exp(s))) * np.tanh(s) <= np.tanh(1):
        s += 1
    return s
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1_5_check", "locked": true, "points": 1, "schema_version": 3, "solution": false}
with checks.exercise("1.5", hint="evaluate (1 - sigma(-s)) tanh(s) at s = 1, 2, 3, ... and compare with tanh(1)") as ex:
    _s = ex.call(gru_beats_lstm_scale)
    ex.close("the smallest integer s", _s, 2)
    _h1 = gates.run_cell(gates.saturated_cell("gru", "store_input", float(_s), dtype="float64"), np.ones((1, 1, 1)))["h"]
    ex.equal(f"a Keras GRU's h_1 = {_h1[0, 1, 0]:.4f} at s = {_s} is above tanh(1) = 0.7616", bool(_h1[0, 1, 0] > np.tanh(1)), True)

# %% [markdown]
# Checked on Keras cells against the store-input LSTM and 1024 random LSTM units (weights from
# $\mathcal N(0, 4^2)$, inputs $x_1 \in [-5, 5]$):

# %%
one = np.ones((1, 1, 1))
rows = []
for s in [1, 2, 4, 8, 16]:
    gru = gates.saturated_cell("gru", "store_input", s, reset_after=False, dtype="float64")
    lstm = gates.saturated_cell("lstm", "store_input", s, dtype="float64")
    rows.append([s, gates.run_cell(gru, one)["h"][0, 1, 0], gates.run_cell(lstm, one)["h"][0, 1, 0]])
print(plots.format_table(rows, ["s", "GRU h_1", "store-input LSTM h_1"], default_format="{:.6g}"))
random_h1 = gates.random_lstm_first_outputs(units=1024, weight_std=4.0, batch=128, seed=seed)
print(f"tanh(1) = {np.tanh(1.0):.6f}; largest |h_1| of 1024 random LSTM units: {random_h1.max():.6f}")
print(f"any above tanh(1): {bool((random_h1 > np.tanh(1.0)).any())}")

# %% [markdown]
# **Claim 2: no GRU reproduces some LSTMs.** A one-unit LSTM with input $(u_t, v_t)$,
# $\tilde c_t = \tanh(u_t)$, $o_t = \sigma(v_t)$ and zero biases reads sequence A, starting $(1, 0)$, or B,
# starting $(2, v_B)$ with $v_B$ chosen to give the same $h_1$; both then read $(0, 0)$:

# %%
cell, pair = gates.hidden_state_pair()
run = gates.run_cell(cell, pair)
rows = [[t, *pair[0, t - 1], *pair[1, t - 1], run["c"][0, t, 0], run["c"][1, t, 0], run["h"][0, t, 0],
         run["h"][1, t, 0]] for t in (1, 2)]
print(plots.format_table(rows, ["t", "u_A", "v_A", "u_B", "v_B", "c_A", "c_B", "h_A", "h_B"], default_format="{:.6g}"))
print("same output at t=1 (to 1e-15):", bool(abs(run["h"][0, 1, 0] - run["h"][1, 1, 0]) < 1e-15))
print(f"output difference at t=2: {abs(run['h'][0, 2, 0] - run['h'][1, 2, 0]):.4f}")


# %% [markdown]
# A one-unit GRU's state is its output: equal $h_1$ on A and B means equal states, hence equal $h_2$ on
# $(0, 0)$. The LSTM's $h_2$ differ. **Answer: no**, neither family contains the other (under this strict
# definition; a linear read-out $y_t = W h_t$ could rescale and hide units).

# %% [markdown]
# ## How Keras stores the weights
#
# `gates.cell_from_gates` turns the report's notation into a Keras cell:
#
# - Keras 3 orders the weight blocks $i, f, c, o$ (LSTM) and $z, r, h$ (GRU), in `kernel` (on $x_t$),
#   `recurrent_kernel` (on $h_{t-1}$) and `bias`.
# - Keras' GRU computes $h_t = z^K_t h_{t-1} + (1 - z^K_t)\tilde h_t$, so $z^K_t = 1 - z_t$; since
#   $1 - \sigma(a) = \sigma(-a)$, the report's $z$ weights are negated.
# - With `reset_after=True` (the default) the candidate is $\tanh(w x_t + b + r_t (u h_{t-1} + b_U))$;
#   `reset_after=False` is exactly (9); with $b_U = 0$ both agree here.
#
# The store-input GRU of (a) at $s = 10$:

# %%
report = gates.saturating_gates("gru", "store_input", 10.0)
cell = gates.saturated_cell("gru", "store_input", 10.0, reset_after=False)
kernel, recurrent, bias = cell.get_weights()
print("report's notation:", report)
print("Keras kernel (z, r, h):", kernel.ravel().tolist())
print("Keras bias   (z, r, h):", bias.ravel().tolist())
print("recurrent_kernel is zero:", not recurrent.any())

# %% [markdown]
# **Exercise 1.6.** Write one step of Keras' `GRUCell(reset_after=False)` in numpy: `x` is (batch, inputs),
# `h` (batch, units), the weights as `cell.get_weights()` returns them.

# %% nbgrader={"grade": false, "grade_id": "ex1_6", "locked": false, "schema_version": 3, "solution": true}
def gru_step(x, h, kernel, recurrent_kernel, bias):
    """h_t of Keras' GRUCell(reset_after=False) from x_t and h_{t-1}."""
    ### BEGIN SOLUTION
    n = h.shape[1]
    sigmoid = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    z = sigmoid(x @ kernel[:, :n] + h @ recurrent_kernel[:, :n] + bias[:n])
    r = sigmoid(x @ kernel[:, n:2 * n] + h @ recurrent_kernel[:, n:2 * n] + bias[n:2 * n])
    candidate = np.tanh(x @ kernel[:, 2 * n:] + (r * h) @ recurrent_kernel[:, 2 * n:] + bias[2 * n:])
    return z * h + (1 - z) * candidate
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1_6_check", "locked": true, "points": 1, "schema_version": 3, "solution": false}
with checks.exercise("1.6", hint="blocks z, r, h in that order; Keras keeps z * h_{t-1} + (1 - z) * candidate") as ex:
    _rng = np.random.default_rng(5)
    _cell = gates.random_cell("gru", 3, 1.0, seed=5, input_dim=2, reset_after=False, dtype="float64")
    _xs, _h = _rng.normal(size=(4, 2)), _rng.uniform(-1, 1, (4, 3))
    _want = _cell(tf.constant(_xs), [tf.constant(_h)])[0].numpy()
    ex.close("h_t of a random 3-unit GRU, 4 inputs", ex.call(gru_step, _xs, _h, *_cell.get_weights()), _want, atol=1e-9)
    ### BEGIN HIDDEN TESTS
    _cell = gates.random_cell("gru", 5, 2.0, seed=6, input_dim=1, reset_after=False, dtype="float64")
    _xs, _h = _rng.normal(size=(7, 1)), _rng.uniform(-1, 1, (7, 5))
    _want = _cell(tf.constant(_xs), [tf.constant(_h)])[0].numpy()
    ex.close("h_t of a random 5-unit GRU", ex.call(gru_step, _xs, _h, *_cell.get_weights()), _want, atol=1e-9)
    ### END HIDDEN TESTS

# %% [markdown]
# ## Explore the gates
#
# A one-unit cell on a random binary sequence: input, gates (recomputed in numpy by `gates.gate_trace`,
# which agrees with Keras) and states:

# %%
for kind, kwargs in [("lstm", {}), ("gru", {"reset_after": False}), ("gru", {"reset_after": True})]:
    cell = gates.random_cell(kind, 4, 1.0, seed, dtype="float64", **kwargs)
    run, trace = gates.run_cell(cell, x[:8, :50], {"h": 0.5}), gates.gate_trace(cell, x[:8, :50], {"h": 0.5})
    same = all(np.allclose(run[k], trace[k], rtol=0, atol=1e-12) for k in run)
    print(f"{kind} {kwargs}: numpy and Keras states agree within 1e-12: {same}")

# %% [markdown]
# The image is the default state; run the cell for the live explorer (a cell, behaviour or scale resets the
# biases). Try: lower $s$ until `keep_state` leaks; $b_f = b_i = +s$ in an LSTM (a counter); in a GRU,
# raise `u` and let $b_r$ decide whether the past leaks in (A.4).

# %% tags=["widget", "nbval-ignore-output"]
with_static_view(gates.gate_explorer, steps=30, seed=seed)

# %% [markdown]
# ## Summary
#
# - **(a)** Yes, in the limit; error below $\varepsilon_s + 1 - \tanh s \approx e^{-s}$.
# - **(b)** Yes, in the limit; drift over $T$ steps below $T e^{-s}(|c_0| + 1)$: $s$ grows like $\ln T$.
# - **(c)** No: an LSTM's $h_1$ stays below $\tanh 1$, which a GRU exceeds; an LSTM can hide state
#   behind its output gate, a GRU cannot.

# %% [markdown]
# ## Appendix
#
# ### A.1 float32: when rounding makes an error exactly 0
#
# Some float32 curves of the error figure stop: the error became exactly 0 because a sigmoid or a tanh
# returned exactly 1.0, from a scale that depends on the implementation as well as the precision (scanned
# with step 0.001; "correctly rounded" is the exact value rounded to the nearest float). In float32 a
# keep-state GRU stops writing once $\sigma(s)$ rounds to 1; an LSTM only once $\varepsilon_s$ falls below
# half the float32 spacing at $c_t$. The details, with the measured drifts, are in `docs/float32.md`.

# %%
print(gates.rounding_table())

# %% [markdown]
# ### A.2 The report's slips
#
# - **Equation references.** (1) is the forget gate, (2) the input gate, (3) the candidate $\tilde c_t$,
#   (4) the output gate; the report assigns (1)(2) to the forget gate, (3)(4) to the input gate and (4) to
#   the output gate, and later calls $\tilde c_t$ the input gate. In (a), $c_t = x_t$ follows from (5), not
#   (6), and $\tilde c_t = x_t$ from (3), not (5); in (c) the forget gate is (1), not (2).
# - **Shapes.** With $w_c \in \mathbb{R}^{(n_h + n_x) \times n_{units}}$, the product
#   $[h_{t-1}, x_t]\, w_c^\top$ does not fit; its own index sum $\sum_k h_{t-1}[i, k]\, w_c[k, j]$ is
#   $[h_{t-1}, x_t]\, w_c$.
# - **GRU, (a).** $w_r = 0$ alone gives $r_t = \sigma(b_r)$, which is 0 only as $b_r \to -\infty$. And the
#   weight on $x_t$ is missing: it must go to $+\infty$ for $\tilde h_t \to 1$ when $x_t = 1$.
# - **(b).** $\tilde i_t$ is written where $i_t$ is meant.
#
# ### A.3 Two more things an LSTM state can do
#
# An illustration, not part of the proof. Left: an LSTM unit (scale 12, input $(v_t, q_t)$) writes a bit at
# step 1 and keeps its output gate almost closed until a query $q_t = 1$ at the last step. Right: with
# $f_t = i_t = 1$ (scale 20, float32) $c_t$ counts the ones read, far outside $(-1, 1)$, where by (10) a GRU
# state started inside stays (shaded: a random 32-unit GRU on the same inputs).

# %%
hidden = gates.run_cell(gates.hidden_memory_lstm(12.0), gates.hidden_memory_inputs(40))
counting = gates.run_cell(gates.counting_lstm(20.0), x)
counts = np.cumsum(x[:, :, 0], axis=1)
gru_h = gates.run_cell(gates.random_cell("gru", 32, 0.5, seed, dtype="float64"), x, {"h": 0.0})["h"]
fig = gates.plot_lstm_vs_gru(hidden, counting, counts, gru_h)
plots.save_figure(fig, "01_lstm_vs_gru", dpi=120)
plt.show()

# %%
silent = np.abs(hidden["h"][:, :-1, 0]).max(axis=1)
print(f"hidden memory: largest |h_t| before the query: A {silent[0]:.1e}, B {silent[1]:.1e}")
print(f"h at the query: A {hidden['h'][0, -1, 0]:.4f}, B {hidden['h'][1, -1, 0]:.4f}; "
      f"c_A = {hidden['c'][0, -1, 0]:.4f}")
print(f"counting: largest |c_t - ones read so far| = {np.abs(counting['c'][:, 1:, 0] - counts).max():g}, "
      f"largest c_T = {counting['c'][:, -1, 0].max():g}")
print(f"random GRU: largest |h_t| = {np.abs(gru_h).max():.4f}")

# %% [markdown]
# ### A.4 The GRU's reset gate
#
# The store-input GRU at $s = 6$ with a candidate that looks at the past, $\tilde h_t = \tanh(6 x_t + 3\,
# r_t h_{t-1})$, from $h_0 = 0.6$. With the reset gate closed ($b_r = -5$, first figure) $h_t$ follows
# $x_t$. Open ($b_r = +5$, second), a state near 1 feeds its own candidate and the unit latches near 1 from
# the first step: $\tanh(6 x_1 + 3 \sigma(5) \cdot 0.6) \ge \tanh(1.79) \approx 0.95$.

# %%
for name, b_r in (("closed", -5.0), ("open", 5.0)):
    fig = gates.plot_gate_trajectories("gru", 6.0, "store_input", {"r": b_r}, candidate_recurrent=3.0, seed=seed)
    plots.save_figure(fig, f"01_gate_trajectories_reset_{name}", dpi=120)
    plt.show()
