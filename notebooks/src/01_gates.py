# %% [markdown]
# # What gates can and cannot do: LSTM and GRU cells pushed to saturation
#
# A gate is a sigmoid: it is never exactly open or exactly closed, it only approaches 1 or 0 as its
# pre-activation heads to $\pm\infty$. This notebook takes three classic questions about recurrent cells,
# answers each by writing the weights by hand, and then runs real Keras cells with those weights to
# measure how far from the ideal they stay at a finite scale $s$:
#
# - **(a)** Can an LSTM (resp. a GRU) make its state equal to the input it has just read? With which gate values?
# - **(b)** Can it keep its previous state ($c_{t-1}$, resp. $h_{t-1}$) and ignore the current input?
# - **(c)** Is a GRU a special case of an LSTM?
#
# It reproduces section 1 of the 2017 coursework report and corrects it: each limit is stated together
# with the error that remains at scale $s$, each construction is run on random binary sequences in
# float32 and float64, and question (c) is settled by two counter-examples computed with real cells.
# An explorer at the end lets you move every gate bias and watch the gates and the state respond.

# %% [markdown]
# ## Setup

# %%
# %matplotlib inline
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # keep TensorFlow's C++ log noise out of the notebook
sys.path.insert(0, os.path.abspath(".."))          # the repository root, where helpers/ lives
from helpers.paths import import_tensorflow_quietly
tf = import_tensorflow_quietly()                   # TensorFlow, without its start-up log lines

import numpy as np
import matplotlib.pyplot as plt

from helpers import gates, plots

# %% [markdown]
# ## Parameters
#
# Each construction runs on `batch` random binary sequences of `steps` steps. The scale $s$ runs over a
# grid from `grid_step` to `max_scale`; `table_scales` (multiples of `grid_step`) are the rows printed in
# the tables, `keep_scales` the panels of the keep-state figure, and `horizons` the sequence lengths
# compared in part (b).

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
# ## The equations, and how Keras stores them
#
# The report writes the LSTM as
#
# $$
# \begin{aligned}
# f_t &= \sigma(w_f \cdot [h_{t-1}, x_t] + b_f) && (1) &\qquad c_t &= f_t * c_{t-1} + i_t * \tilde c_t && (5)\\
# i_t &= \sigma(w_i \cdot [h_{t-1}, x_t] + b_i) && (2) &\qquad h_t &= o_t * \tanh(c_t) && (6)\\
# \tilde c_t &= \tanh(w_c \cdot [h_{t-1}, x_t] + b_c) && (3) \\
# o_t &= \sigma(w_o \cdot [h_{t-1}, x_t] + b_o) && (4)
# \end{aligned}
# $$
#
# and the GRU as
#
# $$
# \begin{aligned}
# z_t &= \sigma(w_z \cdot [h_{t-1}, x_t] + b_z) && (7) &\qquad \tilde h_t &= \tanh(w \cdot [r_t * h_{t-1}, x_t] + b) && (9)\\
# r_t &= \sigma(w_r \cdot [h_{t-1}, x_t] + b_r) && (8) &\qquad h_t &= (1 - z_t) * h_{t-1} + z_t * \tilde h_t && (10)
# \end{aligned}
# $$
#
# **Correction of the labels.** (1) is the forget gate, (2) the input gate, (4) the output gate, and (3)
# is not a gate at all but the candidate value $\tilde c_t$ that the input gate lets into the memory.
# The report's text attributes (1)(2) to the forget gate, (3)(4) to the input gate and (4) to the
# output gate, and later calls the forget gate "equation (2)". Two more slips of notation: it writes the
# product as $[h_{t-1}, x_t]\, w_c^\top$ with $w_c$ of shape $(n_h + n_x) \times n_{units}$, where the
# shapes only fit without the transpose (its own index sum uses $w_c[k, j]$, i.e. $[h_{t-1}, x_t]\, w_c$);
# and it says "activate" the forget gate for $f_t = 0$, which is the gate fully *closed*: nothing of
# $c_{t-1}$ passes.
#
# Below, $w \cdot [h_{t-1}, x_t]$ is split into a weight on the input $x_t$ (written $w$) and a weight
# on the previous output (written $u$); the constructions only ever need scalar or diagonal $u$.
#
# **Keras' layout** (read from `keras/src/layers/rnn/lstm.py` and `gru.py`, Keras 3):
#
# - `LSTMCell`: `kernel` $(d_x, 4n)$, `recurrent_kernel` $(n, 4n)$, `bias` $(4n)$, blocks in the order
#   $i, f, c, o$.
# - `GRUCell`: blocks $z, r, h$. With `reset_after=False` the candidate is exactly (9). With
#   `reset_after=True` (the Keras default) it is $\tanh(w x_t + b + r_t * (u\,h_{t-1} + b_U))$, with a
#   second bias row: `bias` has shape $(2, 3n)$.
# - Keras updates $h_t = z^K_t * h_{t-1} + (1 - z^K_t) * \tilde h_t$: its gate is the report's $1 - z_t$.
#   Since $1 - \sigma(a) = \sigma(-a)$, the report's $z$ becomes Keras' by negating its weights and bias.
#   `gates.cell_from_gates` does this mapping; every formula in this notebook uses the report's $z$.

# %% [markdown]
# Here is a GRU built from the report's notation: the $z$ block of the Keras weights carries the opposite sign.

# %%
report = gates.saturating_gates("gru", "store_input", 10.0)
cell = gates.saturated_cell("gru", "store_input", 10.0, reset_after=False)
kernel, recurrent, bias = cell.get_weights()
print("report's notation:", report)
print("Keras kernel (z, r, h):", kernel.ravel().tolist())
print("Keras bias   (z, r, h):", bias.ravel().tolist())
print("recurrent_kernel is zero:", not recurrent.any())

# %% [markdown]
# The gate values plotted later are recomputed in numpy from a cell's weights (`gates.gate_trace`). As a
# check that this reading of Keras is right, a cell with random full weight matrices is run both ways.

# %%
for kind, kwargs in [("lstm", {}), ("gru", {"reset_after": False}), ("gru", {"reset_after": True})]:
    cell = gates.random_cell(kind, 4, 1.0, seed, dtype="float64", **kwargs)
    run, trace = gates.run_cell(cell, x[:8, :50], {"h": 0.5}), gates.gate_trace(cell, x[:8, :50], {"h": 0.5})
    same = all(np.allclose(run[k], trace[k], rtol=0, atol=1e-12) for k in run)
    print(f"{kind} {kwargs}: numpy and Keras states agree within 1e-12: {same}")

# %% [markdown]
# ## (a) Storing the current input
#
# Throughout, $x_t \in \{0, 1\}$ (a binarized pixel), $s > 0$ is the saturation scale and
# $$\varepsilon_s = \sigma(-s) = \frac{1}{1 + e^{s}} \approx e^{-s}, \qquad \sigma(s) = 1 - \varepsilon_s .$$
#
# ### LSTM: $c_t \to x_t$
#
# By (5), $c_t = x_t$ for every history needs $f_t = 0$, $i_t = 1$ and $\tilde c_t = x_t$. At scale $s$:
#
# | quantity | weights | value |
# |---|---|---|
# | forget gate (1) | $w_f = 0,\ b_f = -s$ | $f_t = \varepsilon_s$ |
# | input gate (2) | $w_i = 0,\ b_i = +s$ | $i_t = 1 - \varepsilon_s$ |
# | candidate (3) | weight $s$ on $x_t$, weight $0$ on $h_{t-1}$, $b_c = 0$ | $\tilde c_t = \tanh(s\,x_t)$ |
# | output gate (4) | $w_o = 0,\ b_o = +s$ | $o_t = 1 - \varepsilon_s$ |
#
# Two of these are exact conditions, not limits: when $x_t = 0$ the pre-activation of (3) must be
# $0$ (tanh vanishes only there), so $b_c = 0$ and the weight on $h_{t-1}$ is $0$ (or, since the goal
# itself is only reached as $s \to \infty$, both must at least tend to 0). When
# $x_t = 1$, the pre-activation $s$ goes to $+\infty$ and $\tanh(s) \to 1$; the tanh itself never exceeds 1.
#
# **Error at finite $s$.** From (5), $c_t = \varepsilon_s c_{t-1} + (1 - \varepsilon_s)\tanh(s x_t)$;
# starting from $c_0 = 0$, every $c_t$ lies in $[0, 1)$. If $x_t = 0$, $|c_t - x_t| = \varepsilon_s c_{t-1} \le \varepsilon_s$.
# If $x_t = 1$, $0 \le 1 - c_t = 1 - \varepsilon_s c_{t-1} - (1-\varepsilon_s)\tanh s \le \varepsilon_s + (1 - \tanh s)$. Hence
# $$\max_t |c_t - x_t| \;\le\; \varepsilon_s + (1 - \tanh s) \;=\; \frac{1}{1+e^{s}} + \frac{2}{1 + e^{2s}} \;\approx\; e^{-s}.$$
# The ideal $c_t = x_t$ is the limit $s \to +\infty$: $b_f \to -\infty$, $b_i \to +\infty$, the
# candidate's input weight $\to +\infty$, while $w_f = w_i = 0$, the candidate's recurrent weight $= 0$
# and $b_c = 0$ stay fixed.
#
# The input is stored in the cell state. The output is $h_t = o_t \tanh(c_t) \to \tanh(x_t)$, a
# squashed copy: for $x_t = 1$ it tends to $\tanh 1$, not to 1. The construction also relies on binary
# inputs: for a real $x_t$, $\tanh(s x_t) \to \operatorname{sign}(x_t)$, not $x_t$.
#
# **Corrections to the report's answer.** $c_t = x_t$ follows from (5), not (6); the condition
# $\tilde c_t = x_t$ comes from (3), not (5); $\tilde c_t$ is a candidate value, not the input gate;
# only the pre-activation tends to $+\infty$ (a limit, which the report at one point writes as an
# equality with $+\infty$), while $\tanh$ of it tends to 1; the bias $b_c$ has one entry
# per unit, with no batch dimension; and $\tilde c_t = x_t$ holds only in the limit and only for binary
# inputs.
#
# ### GRU: $h_t \to x_t$
#
# By (10), $h_t = x_t$ needs $z_t = 1$ and $\tilde h_t = x_t$. Take $w_z = 0$, $b_z = +s$, so
# $z_t = 1 - \varepsilon_s$, and a candidate $\tilde h_t = \tanh(s\,x_t)$: weight $s$ on $x_t$, $b = 0$,
# and weight $0$ on $r_t * h_{t-1}$. That zero recurrent weight makes the candidate exact at every
# finite $s$ and leaves $r_t$ without effect. The report's other route, $r_t = 0$, is a limit as well:
# $w_r = 0$ alone gives $r_t = \sigma(b_r)$, which is 0 only as $b_r \to -\infty$. The report also leaves
# out the weight on $x_t$, which must tend to $+\infty$ for $\tanh(\cdot) \to 1$ when $x_t = 1$.
#
# The update becomes $h_t = \varepsilon_s h_{t-1} + (1-\varepsilon_s)\tanh(s x_t)$, the same recursion
# as $c_t$ above, so the same bound $\varepsilon_s + (1 - \tanh s)$ holds. In Keras the bias of $z^K$
# is $-s$. With `reset_after=True` the recurrent part $r_t * (u\,h_{t-1} + b_U)$ is exactly 0 for
# $u = 0$, $b_U = 0$, so both GRU variants compute the same thing here.

# %% [markdown]
# ## (b) Keeping the state and ignoring the input
#
# ### LSTM: $c_t \to c_{t-1}$
#
# By (5), $c_t = c_{t-1}$ whatever the input needs $i_t = 0$ and $f_t = 1$: take $w_i = w_f = 0$,
# $b_i = -s$, $b_f = +s$, so $i_t = \varepsilon_s$ and $f_t = 1 - \varepsilon_s$. The candidate is left as
# in (a), $\tilde c_t = \tanh(s x_t)$, so that storing and keeping differ only by the signs of two gate
# biases, and the input really is there to be ignored. Then
# $$c_t = (1 - \varepsilon_s)\, c_{t-1} + \varepsilon_s\, \tilde c_t ,$$
# a weighted average. Unrolling it over $T$ steps,
# $$c_T - c_0 = \bigl(1 - (1-\varepsilon_s)^T\bigr)\,(\bar c - c_0), \qquad
# \bar c = \frac{\varepsilon_s \sum_{t=1}^{T} (1-\varepsilon_s)^{T-t}\, \tilde c_t}{1 - (1-\varepsilon_s)^T} \in (-1, 1),$$
# so
# $$\max_{t \le T} |c_t - c_0| \;\le\; \bigl(1 - (1-\varepsilon_s)^T\bigr)\,(|c_0| + 1) \;\le\; T\,\varepsilon_s\,(|c_0| + 1) \;\approx\; T e^{-s} (|c_0| + 1).$$
# Unlike (a), the error adds up over time: each step leaks a fraction $\varepsilon_s$ of the state.
# Keeping a state for $T$ steps within $\delta$ is guaranteed once $s \ge \ln\bigl(T(|c_0|+1)/\delta\bigr)$
# (an upper bound: a slightly smaller $s$ may already do, as measured below), so each tenfold increase of
# $T$ costs $\ln 10 \approx 2.3$ more in $s$. With $b_o = +s$ the output
# $h_t = o_t \tanh(c_t)$ stays close to $\tanh(c_0)$.
#
# ### GRU: $h_t \to h_{t-1}$
#
# By (10), $z_t = 0$ suffices, whatever $r_t$ and $\tilde h_t$ are: $w_z = 0$, $b_z = -s$ (Keras:
# $+s$ on $z^K$). Then $h_t = (1-\varepsilon_s) h_{t-1} + \varepsilon_s \tilde h_t$, the same recursion
# and the same bound with $|h_0|$.
#
# **Corrections to the report's answer.** The gates are right, but $c_t = c_{t-1}$ (and $h_t = h_{t-1}$)
# holds only in the limit, the deviation grows linearly with the number of steps, and the input gate
# is written $\tilde i_t$ in one place where $i_t$ is meant.

# %% [markdown]
# ## Running the constructions on real Keras cells
#
# Each (cell, behaviour, precision) gets one Keras cell with one unit per scale of the grid. All the
# weights are diagonal, so the units never interact and each behaves exactly like a one-unit cell with
# its own $s$ (a unit test checks this). `store_input` starts from a zero state; `keep_state` starts
# from the random initial states drawn above, the same for every scale. The error is the worst case
# over the batch and the steps $t = 1..T$ of $|c_t - x_t|$ (LSTM) or $|h_t - x_t|$ (GRU) for storing,
# and of the drift $|c_t - c_0|$ or $|h_t - h_0|$ for keeping (the drift bounds every one-step change
# $|c_t - c_{t-1}|$ by twice itself).

# %%
errors = gates.measure_errors(scales, x, initial, steps=horizons)
c0_max = float(np.abs(initial).max())
bounds = {"store_input": gates.error_bound("store_input", scales),
          "keep_state": gates.error_bound("keep_state", scales, steps, c0_max)}
within = all(np.all(err <= bounds[key[1]] + 1e-15) for key, err in errors.items()  # 1e-15: float64 rounding
             if len(key) == 3 and key[2] == "float64")
print(f"{sum(len(k) == 3 for k in errors)} cells run; every float64 error is within the bound: {within}")

# %% [markdown]
# Worst-case error of `store_input` ($|c_t - x_t|$ for the LSTM, $|h_t - x_t|$ for the GRU). GRU-rb and
# GRU-ra are the GRU with `reset_after=False` and `True`; f32 and f64 the precision.

# %%
print(gates.error_table(scales, errors, bounds, "store_input", table_scales))

# %% [markdown]
# Worst-case drift of `keep_state` ($|c_t - c_0|$ for the LSTM, $|h_t - h_0|$ for the GRU) over all
# steps, with the bound $\bigl(1 - (1-\varepsilon_s)^T\bigr)(\max|c_0| + 1)$.

# %%
print(gates.error_table(scales, errors, bounds, "keep_state", table_scales))

# %% [markdown]
# The same numbers on the whole grid, on a log scale, with the bound dotted and grey lines at $10^{-3}$
# and $10^{-6}$. The three cells give nearly the same curves: for these weights they compute the same
# recursion, up to rounding (in float32 the GRU computes $1 - z^K_t$ and can round it to $1 - 2^{-24}$,
# so at large $s$ its `store_input` error sits slightly above the others'). A curve stops where its
# error becomes exactly 0 (a triangle marks where a float32 curve does).

# %%
fig = gates.plot_saturation_errors(scales, errors, bounds, steps)
plots.save_figure(fig, "01_saturation_error", dpi=120)
plt.show()

# %% [markdown]
# The smallest scale of the grid from which each construction stays within $10^{-3}$ and $10^{-6}$,
# measured and as predicted by the bound, and the scale from which the float32 error is exactly 0:

# %%
print(gates.threshold_table(scales, errors, bounds))

# %% [markdown]
# **Why float32 departs from the bound.** A float32 sigmoid rounds to exactly 1.0 once $s$ is large
# enough, and so does tanh:

# %%
for dtype in ("float32", "float64"):
    found = gates.float_saturation(scales, dtype)
    print(f"{dtype}: sigmoid(s) == 1.0 from s = {found['sigmoid']:g}, "
          f"tanh(s) == 1.0 from s = {found['tanh']:g}")

# %% [markdown]
# From that scale on, the GRU's keep-state drift is exactly 0 in float32: Keras computes $1 - z^K$, which
# becomes exactly 0 when $z^K = \sigma(s)$ rounds to 1, so nothing is written any more. The LSTM's
# forget gate also rounds to 1, but its input gate $\sigma(-s)$ is computed directly and stays positive,
# so it keeps adding tiny amounts $\varepsilon_s \tilde c_t$ to $c_t$; these are lost to rounding only once
# they fall below half a unit in the last place of $c_t$, which is why its float32 drift reaches exactly
# 0 at a larger $s$. For `store_input` the error is carried by $\varepsilon_s$ itself, which float32 can
# represent down to about $10^{-38}$, so it keeps falling like $e^{-s}$ in both precisions. In float64
# every construction stays within its bound (up to the rounding of $1 - c_t$, about $10^{-16}$; the
# check above allows $10^{-15}$), as it printed.
#
# **The cost of a long memory.** For the LSTM in float64, the smallest $s$ that keeps the drift within
# $10^{-3}$ grows with the horizon $T$ roughly like $\ln T$, as the bound $T e^{-s}(|c_0|+1)$ predicts:

# %%
rows = []
for horizon in horizons:
    drift = errors["LSTM", "keep_state", "float64", horizon]
    bound = gates.error_bound("keep_state", scales, horizon, c0_max)
    rows.append([horizon, gates.smallest_scale(scales, drift, 1e-3), gates.smallest_scale(scales, bound, 1e-3),
                 float(np.log(horizon * (c0_max + 1) / 1e-3))])
print(gates.format_table(["T", "measured s", "bound s", "ln(T(|c0|+1)/1e-3)"], rows, digits=4))

# %% [markdown]
# **A state that survives.** Three of the sequences, each with its own initial state (thin horizontal
# line), over all the steps, in float32. The LSTM's $c_t$ is solid and the GRU's $h_t$ dashed
# (`reset_after=False`); the dashed curves lie on the solid ones, since both cells follow the same
# recursion. At small $s$ the state leaks towards an average of the candidates; at large $s$ it stays put.

# %%
keep = np.array(keep_scales, dtype=float)
lstm = gates.run_cell(gates.saturated_cell("lstm", "keep_state", keep), x, {"c": initial})["c"]
gru = gates.run_cell(gates.saturated_cell("gru", "keep_state", keep, reset_after=False), x, {"h": initial})["h"]
fig = gates.plot_keep_state(keep, {"LSTM": ("c", lstm), "GRU": ("h", gru)})
plots.save_figure(fig, "01_keep_state", dpi=120)
plt.show()
rows = [[s, np.abs(lstm[:, -1, k] - lstm[:, 0, k]).max(), np.abs(gru[:, -1, k] - gru[:, 0, k]).max(),
         gates.error_bound("keep_state", s, steps, c0_max)[()]] for k, s in enumerate(keep)]
print(gates.format_table(["s", "LSTM max|c_T - c_0|", "GRU max|h_T - h_0|", "bound"], rows, digits=3))

# %% [markdown]
# ## (c) Is a GRU a special case of an LSTM?
#
# "Special case" means: for every GRU (any size, any weights) there is an LSTM whose output sequence
# $h_1, h_2, \dots$ is the same for every input sequence, both cells starting from a zero state (the
# Keras default). Comparing (5)-(6) with (10) suggests the mapping $i_t = z_t$, $f_t = 1 - z_t$,
# $o_t = 1$, $c_t = h_t$. It breaks in two places: the LSTM would output $\tanh(c_t)$, not $c_t$, and the
# GRU's reset gate acts inside the candidate (9), where the LSTM has nothing like it. A failed mapping is
# not a proof, though; a counter-example is.
#
# **Claim 1: no LSTM reproduces the store-input GRU.** Start any LSTM from
# $h_0 = c_0 = 0$. Then $c_1 = i_1 \tilde c_1$ with $0 < i_1 < 1$ and $|\tilde c_1| < 1$, so $|c_1| < 1$
# and $|h_1| = o_1 |\tanh c_1| < \tanh 1$ for every unit, every weight and every input (more generally
# $|c_t| < t$ and $|h_t| < \tanh t$). The GRU of (a) at scale $s$ outputs, on $x_1 = 1$,
# $h_1 = (1 - \varepsilon_s) \tanh s$, which exceeds $\tanh 1$ as soon as $s \ge 2$. So this GRU's
# input-output map is not that of any LSTM: a GRU is not a special case of an LSTM.
#
# The computation below checks both sides with real cells: the GRU's $h_1$, the store-input LSTM's
# $h_1$ (the best an LSTM can do, approaching $\tanh 1$ from below), and the largest $|h_1|$ over 1024
# random LSTM units with weights drawn from $\mathcal N(0, 4^2)$ and 128 inputs $x_1 \in [-5, 5]$.

# %%
one = np.ones((1, 1, 1))
rows = []
for s in [1, 2, 4, 8, 16]:
    gru = gates.saturated_cell("gru", "store_input", s, reset_after=False, dtype="float64")
    lstm = gates.saturated_cell("lstm", "store_input", s, dtype="float64")
    rows.append([s, gates.run_cell(gru, one)["h"][0, 1, 0], gates.run_cell(lstm, one)["h"][0, 1, 0]])
print(gates.format_table(["s", "GRU h_1", "store-input LSTM h_1"], rows, digits=6))
random_h1 = gates.random_lstm_first_outputs(units=1024, weight_std=4.0, batch=128, seed=seed)
print(f"tanh(1) = {np.tanh(1.0):.6f}; largest |h_1| of 1024 random LSTM units: {random_h1.max():.6f}; "
      f"any above tanh(1): {bool((random_h1 > np.tanh(1.0)).any())}; "
      f"within 1e-12 of it: {bool(np.tanh(1.0) - random_h1.max() < 1e-12)}")

# %% [markdown]
# The random units never exceed $\tanh 1$; the largest ones reach it to within float64 rounding, because
# a few of them have saturated gates, as in the construction of (a). The bound is a supremum that no
# LSTM attains, and the GRU clears it by a wide margin.
#
# **Claim 2: no GRU reproduces some LSTMs either.** The output of a GRU is its whole state, so its next
# output is a function of its current output and the next input: $h_{t+1} = \Phi(h_t, x_{t+1})$. Any two
# inputs that give a GRU the same output at step 1 and the same input at step 2 give it the same output
# at step 2. An LSTM is not bound by this, because part of its state, $c_t$, is hidden behind $o_t$.
# `gates.hidden_state_pair` builds a one-unit LSTM with input $x_t = (u_t, v_t)$ and only two non-zero
# weights, $\tilde c_t = \tanh(u_t)$ and $o_t = \sigma(v_t)$ (all biases 0, so $i_t = f_t = 1/2$). From
# zero state $h_1 = \sigma(v_1)\tanh(\tanh(u_1)/2)$. Sequence A starts with $(1, 0)$; sequence B with
# $(2, v_B)$, where $v_B$ is chosen so that $\sigma(v_B) \tanh(\tanh(2)/2) = \tfrac12 \tanh(\tanh(1)/2)$
# exactly. Both then read $(0, 0)$.

# %%
cell, pair = gates.hidden_state_pair()
run = gates.run_cell(cell, pair)
rows = [[t, *pair[0, t - 1], *pair[1, t - 1], run["c"][0, t, 0], run["c"][1, t, 0], run["h"][0, t, 0],
         run["h"][1, t, 0]] for t in (1, 2)]
print(gates.format_table(["t", "u_A", "v_A", "u_B", "v_B", "c_A", "c_B", "h_A", "h_B"], rows, digits=6))
print("same output at t=1 (to 1e-15):", bool(abs(run["h"][0, 1, 0] - run["h"][1, 1, 0]) < 1e-15))
print(f"output difference at t=2: {abs(run['h'][0, 2, 0] - run['h'][1, 2, 0]):.4f}")

# %% [markdown]
# A GRU with any weights and any initial state that matched this one-unit LSTM on A and on B (so a
# one-unit GRU, its state being its output) would
# have the same state after step 1 in both cases (its state is its output), hence the same output at
# step 2, yet the LSTM's outputs at step 2 differ. So an LSTM is not a special case of a GRU either.
#
# **Conclusion.** Neither family contains the other, so the answer to (c) is no: no choice of gate
# values turns one cell into the other. Claim 1 comes from
# the output squashing $h_t = o_t \tanh(c_t)$, which caps what an LSTM can emit early on; claim 2 from
# the output gate, which lets an LSTM keep information that its output does not show. The report names
# these differences (the output gate with its extra tanh, and the single gate $z_t$ that ties forgetting
# to writing in a GRU); the two claims turn them into a proof.
#
# **Two more things an LSTM's state can do.** The figure illustrates them; it is not part of the proof.
# On the left, an LSTM unit (scale 12, input $(v_t, q_t)$) writes a bit at step 1 and keeps its output
# gate almost closed until a query $q_t = 1$ arrives at the last step. On the right, an LSTM unit with
# $f_t = i_t = 1$ (scale 20, float32) adds every input to $c_t$ and so counts the ones it has read, a
# value far outside $(-1, 1)$. A GRU state cannot do that: by (10) each $h_t$ is a weighted average of
# $h_{t-1}$ and $\tilde h_t \in (-1, 1)$, so it stays in $(-1, 1)$ when $h_0$ does; the shaded band is a
# random 32-unit GRU on the same inputs. (A GRU could still encode a count in small steps inside
# $(-1, 1)$; this is a difference of state, not a proof.)

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
print(f"hidden memory: largest |h_t| before the query: A {silent[0]:.1e}, B {silent[1]:.1e}; "
      f"h at the query: A {hidden['h'][0, -1, 0]:.4f}, B {hidden['h'][1, -1, 0]:.4f}; "
      f"c_A = {hidden['c'][0, -1, 0]:.4f}")
print(f"counting: largest |c_t - ones read so far| = {np.abs(counting['c'][:, 1:, 0] - counts).max():g}, "
      f"largest c_T = {counting['c'][:, -1, 0].max():g}")
print(f"random GRU: largest |h_t| = {np.abs(gru_h).max():.4f}")

# %% [markdown]
# ## Explore the gates
#
# `gates.plot_gate_trajectories` draws, for a one-unit cell on one random binary sequence, the input,
# the gate activations and the states (the states come from the Keras cell, the gates are recomputed
# from its weights). It starts from a construction and lets you override any gate bias. Here is the
# store-input GRU at $s = 6$ with a candidate that does look at the past: recurrent weight 3, so
# $\tilde h_t = \tanh(6 x_t + 3\, r_t h_{t-1})$. With the reset gate closed ($b_r = -5$, first figure) the
# recurrent term is nearly removed and $h_t$ follows $x_t$. With it open ($b_r = +5$, second figure) a
# state near 1 feeds its own candidate, $\tanh(3) \approx 1$ when $x_t = 0$, so the unit latches near 1.
# Here it does so from the first step: the figure starts from $h_0 = 0.6$, whose candidate
# $\tanh(6 x_1 + 3 r_1 \cdot 0.6)$, with $r_1 = \sigma(5) \approx 0.99$, is at least $\tanh(1.79) \approx 0.95$
# whatever $x_1$ is.

# %%
for name, b_r in (("closed", -5.0), ("open", 5.0)):
    fig = gates.plot_gate_trajectories("gru", 6.0, "store_input", {"r": b_r}, candidate_recurrent=3.0, seed=seed)
    plots.save_figure(fig, f"01_gate_trajectories_reset_{name}", dpi=120)
    plt.show()

# %% [markdown]
# In a live notebook, the explorer below does the same interactively: pick a cell, a behaviour and a
# scale (which reset the bias sliders to the construction), then move any bias, the candidate's
# recurrent weight `u` or the initial state. Things to try: lower $s$ until `keep_state` visibly leaks;
# in an LSTM set $b_f = b_i = +s$ to make a counter; in a GRU give `u` a large value and watch $b_r$
# decide whether the past leaks into the candidate.

# %% tags=["widget"]
# NBVAL_IGNORE_OUTPUT
gates.gate_explorer(steps=30, seed=seed)

# %% [markdown]
# ## Summary
#
# - **(a)** An LSTM stores a binary input in its cell state with $f_t \to 0$, $i_t \to 1$ and
#   $\tilde c_t = \tanh(s x_t)$ (input weight $s \to +\infty$, recurrent weight and $b_c$ exactly 0); a
#   GRU stores it in $h_t$ with the report's $z_t \to 1$ (Keras' $z^K_t \to 0$) and the same candidate.
#   At scale $s$ the worst error is below $\sigma(-s) + 1 - \tanh s \approx e^{-s}$, and the LSTM's
#   output is $\tanh(x_t)$, not $x_t$.
# - **(b)** Swapping the signs gives memory: $i_t \to 0$, $f_t \to 1$ for the LSTM, $z_t \to 0$ for the
#   GRU. The drift after $T$ steps is below $T e^{-s}(|c_0| + 1)$, so long memories need $s$ growing
#   like $\ln T$; float32 rounding can make it exactly 0 beyond a certain $s$.
# - **(c)** No. From a zero state an LSTM's first output is below $\tanh 1$, which a GRU exceeds, and an
#   LSTM can hide state behind its output gate, which a GRU cannot: neither is a special case of the
#   other.
