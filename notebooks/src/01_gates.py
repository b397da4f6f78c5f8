# %% [markdown]
# # What gates can and cannot do: LSTM and GRU cells pushed to saturation
#
# A gate is a sigmoid: it only approaches 0 or 1 as its pre-activation goes to $\pm\infty$. For each
# question of section 1 of the 2017 report, this notebook writes the weights by hand, then runs real Keras
# cells with them at a finite scale $s$:
#
# - **(a)** Can an LSTM (resp. a GRU) make its state equal to the input it has just read?
# - **(b)** Can it keep its previous state and ignore the input?
# - **(c)** Is a GRU a special case of an LSTM?
#
# An explorer lets you move the gate biases; an appendix covers float32 rounding and the report's slips.

# %% [markdown]
# ## Setup

# %%
# %matplotlib inline
import os, sys
sys.path.insert(0, os.path.abspath(".."))          # the repository root, where helpers/ lives
from helpers.core.quiet import import_tensorflow_quietly
tf = import_tensorflow_quietly()                   # TensorFlow, without its start-up log lines

import numpy as np
import matplotlib.pyplot as plt

from helpers.analysis import gates, plots
from helpers.analysis.widgets import with_static_view

# %% [markdown]
# ## Parameters
#
# Each construction runs on `batch` random binary sequences of `steps` steps, at every scale $s$ of a grid
# from `grid_step` to `max_scale`. `table_scales` are the rows printed, `keep_scales` the panels of the
# keep-state figure and `horizons` the sequence lengths compared in (b).

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
# (1), (2) and (4) are the forget, input and output gates, (3) the candidate $\tilde c_t$. Below, $w$ weighs
# $x_t$ and $u$ weighs $h_{t-1}$ (scalar or diagonal).
#
# Keras 3 orders the weight blocks $i, f, c, o$ (LSTM) and $z, r, h$ (GRU). Its GRU computes
# $h_t = z^K_t h_{t-1} + (1 - z^K_t)\tilde h_t$, so $z^K_t = 1 - z_t$; since $1 - \sigma(a) = \sigma(-a)$,
# `gates.cell_from_gates` negates the $z$ weights. With `reset_after=True` (the default) its candidate is
# $\tanh(w x_t + b + r_t (u h_{t-1} + b_U))$; `reset_after=False` is exactly (9). Both run below. The
# store-input GRU of (a) at $s = 10$:

# %%
report = gates.saturating_gates("gru", "store_input", 10.0)
cell = gates.saturated_cell("gru", "store_input", 10.0, reset_after=False)
kernel, recurrent, bias = cell.get_weights()
print("report's notation:", report)
print("Keras kernel (z, r, h):", kernel.ravel().tolist())
print("Keras bias   (z, r, h):", bias.ravel().tolist())
print("recurrent_kernel is zero:", not recurrent.any())

# %% [markdown]
# ## (a) Storing the current input
#
# Throughout, $x_t \in \{0, 1\}$ (a binarized pixel) and $\varepsilon_s = \sigma(-s) = 1/(1 + e^{s}) \approx e^{-s}$.
#
# **LSTM.** By (5), $c_t = x_t$ needs $f_t = 0$, $i_t = 1$, $\tilde c_t = x_t$. Take $b_f = -s$,
# $b_i = b_o = +s$ with zero weights, and a candidate with weight $s$ on $x_t$, $u = 0$, $b_c = 0$ (exact
# zeros: for $x_t = 0$ its pre-activation must be 0). Then
# $c_t = \varepsilon_s c_{t-1} + (1 - \varepsilon_s)\tanh(s x_t)$ and, from $c_0 = 0$,
# $$\max_t |c_t - x_t| \;\le\; \varepsilon_s + (1 - \tanh s) \;\approx\; e^{-s}.$$
# So $c_t = x_t$ holds only in the limit $s \to \infty$, and for binary inputs; the output
# $h_t = o_t \tanh(c_t)$ tends to $\tanh(x_t)$, not $x_t$.
#
# **GRU.** By (10), $h_t = x_t$ needs $z_t = 1$, $\tilde h_t = x_t$: $b_z = +s$ (Keras: $-s$) and the same
# candidate, which leaves $r_t$ without effect. $h_t$ follows the LSTM's recursion, with the same bound.
#
# ## (b) Keeping the state and ignoring the input
#
# **LSTM.** By (5), $c_t = c_{t-1}$ needs $i_t = 0$, $f_t = 1$: swap the signs, $b_i = -s$, $b_f = +s$, and
# keep the candidate of (a) as an input to ignore. Then $c_t = (1 - \varepsilon_s) c_{t-1} + \varepsilon_s \tilde c_t$
# drifts towards an average of candidates in $(-1, 1)$:
# $$\max_{t \le T} |c_t - c_0| \;\le\; \bigl(1 - (1 - \varepsilon_s)^T\bigr)(|c_0| + 1) \;\le\; T e^{-s} (|c_0| + 1).$$
# Unlike (a), the error adds up over time: holding $T$ steps within $\delta$ is guaranteed from
# $s = \ln\bigl(T(|c_0| + 1)/\delta\bigr)$, 2.3 more per tenfold $T$.
#
# **GRU.** $z_t = 0$ suffices: $b_z = -s$ (Keras: $+s$). Same recursion, same bound with $|h_0|$.

# %% [markdown]
# ## Checking (a) and (b) on real Keras cells
#
# Each construction runs as one Keras cell with one unit per scale (diagonal weights: units never interact),
# for the LSTM and both GRU variants, in float32 and float64. `keep_state` starts from the states drawn above.

# %%
errors = gates.measure_errors(scales, x, initial, steps=horizons)
c0_max = float(np.abs(initial).max())
bounds = {"store_input": gates.error_bound("store_input", scales),
          "keep_state": gates.error_bound("keep_state", scales, steps, c0_max)}
within = all(np.all(err <= bounds[key[1]] + 1e-15) for key, err in errors.items()  # 1e-15: float64 rounding
             if len(key) == 3 and key[2] == "float64")
print(f"{sum(len(k) == 3 for k in errors)} cells run; every float64 error is within its bound: {within}")
print(f"largest difference between the three cells' float64 errors: {gates.cell_disagreement(errors):.1e}")

# %% [markdown]
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
# Three sequences in float32, each with its initial state (thin line): the LSTM's $c_t$ solid, the GRU's
# $h_t$ dashed on top of it. At small $s$ the state leaks towards an average of the candidates; at large
# $s$ it stays put.

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
# "Special case" means: for every GRU, some LSTM gives the same outputs $h_1, h_2, \dots$ on every input,
# both from a zero state (the Keras default). The mapping $i_t = z_t$, $f_t = 1 - z_t$, $o_t = 1$ fails (the
# LSTM outputs $\tanh(c_t)$ and has no $r_t$), but only counter-examples prove the answer.
#
# **Claim 1: no LSTM reproduces the store-input GRU.** From a zero state $c_1 = i_1 \tilde c_1$, so
# $|c_1| < 1$ and $|h_1| < \tanh 1$ for every LSTM and input, while the GRU of (a) outputs
# $h_1 = (1 - \varepsilon_s)\tanh s$ on $x_1 = 1$. Checked against the store-input LSTM and 1024 random
# LSTM units (weights from $\mathcal N(0, 4^2)$, inputs $x_1 \in [-5, 5]$):

# %%
one = np.ones((1, 1, 1))
rows = []
for s in [1, 2, 4, 8, 16]:
    gru = gates.saturated_cell("gru", "store_input", s, reset_after=False, dtype="float64")
    lstm = gates.saturated_cell("lstm", "store_input", s, dtype="float64")
    rows.append([s, gates.run_cell(gru, one)["h"][0, 1, 0], gates.run_cell(lstm, one)["h"][0, 1, 0]])
print(gates.format_table(["s", "GRU h_1", "store-input LSTM h_1"], rows, digits=6))
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
print(gates.format_table(["t", "u_A", "v_A", "u_B", "v_B", "c_A", "c_B", "h_A", "h_B"], rows, digits=6))
print("same output at t=1 (to 1e-15):", bool(abs(run["h"][0, 1, 0] - run["h"][1, 1, 0]) < 1e-15))
print(f"output difference at t=2: {abs(run['h'][0, 2, 0] - run['h'][1, 2, 0]):.4f}")

# %% [markdown]
# A GRU matching this LSTM has one unit, so its state is its output: after step 1 it is in the same state
# on A and on B, and on the same $(0, 0)$ it gives the same $h_2$. The LSTM's $h_2$ differ, so an LSTM is
# not a special case of a GRU either.
#
# **Answer: no**; neither family contains the other. Claim 1 comes from the squashing
# $h_t = o_t \tanh(c_t)$, claim 2 from the output gate hiding state. Both hold under this strict definition,
# which compares raw outputs; with a linear read-out $y_t = W h_t$ they do not apply, since $W$ can scale an
# LSTM's output past $\tanh 1$ and ignore GRU units that then hold hidden state.

# %% [markdown]
# ## Explore the gates
#
# The explorer plots, for a one-unit cell on a random binary sequence, the input, the gates and the states:
# states from the Keras cell, gates recomputed in numpy (`gates.gate_trace`), which agrees with Keras:

# %%
for kind, kwargs in [("lstm", {}), ("gru", {"reset_after": False}), ("gru", {"reset_after": True})]:
    cell = gates.random_cell(kind, 4, 1.0, seed, dtype="float64", **kwargs)
    run, trace = gates.run_cell(cell, x[:8, :50], {"h": 0.5}), gates.gate_trace(cell, x[:8, :50], {"h": 0.5})
    same = all(np.allclose(run[k], trace[k], rtol=0, atol=1e-12) for k in run)
    print(f"{kind} {kwargs}: numpy and Keras states agree within 1e-12: {same}")

# %% [markdown]
# The image is the default state (LSTM, `store_input`, $s = 8$); run the cell for the live explorer. Picking
# a cell, behaviour or scale resets the bias sliders to the construction; then move any bias, the
# candidate's recurrent weight `u` or the initial state. Try: lower $s$ until `keep_state` leaks; set
# $b_f = b_i = +s$ in an LSTM (a counter); in a GRU, raise `u` and let $b_r$ decide whether the past leaks
# in (appendix A.4).

# %% tags=["widget", "nbval-ignore-output"]
with_static_view(gates.gate_explorer, steps=30, seed=seed)

# %% [markdown]
# ## Summary
#
# - **(a)** Yes, in the limit: $f_t \to 0$, $i_t \to 1$ (LSTM) or $z_t \to 1$ (GRU), candidate
#   $\tanh(s x_t)$. The error is below $\varepsilon_s + 1 - \tanh s \approx e^{-s}$; the LSTM outputs $\tanh(x_t)$.
# - **(b)** Yes, in the limit, with the signs swapped. The drift over $T$ steps is below
#   $T e^{-s}(|c_0| + 1)$, so $s$ must grow like $\ln T$.
# - **(c)** No: an LSTM's first output stays below $\tanh 1$, which a GRU exceeds, and an LSTM can hide
#   state behind its output gate, which a GRU cannot.

# %% [markdown]
# ## Appendix
#
# ### A.1 float32: when rounding makes an error exactly 0
#
# Some float32 curves of the error figure stop: the error became exactly 0, because a sigmoid or a tanh
# returned exactly 1.0. Where that happens depends on the implementation, not only on the precision
# (scanned with step 0.001; "correctly rounded" is the exact value rounded to the nearest float):

# %%
print(gates.rounding_table())
print(f"numpy float32: 1 - tanh(9.25) = {1.0 - float(np.tanh(np.float32(9.25))):.3g} = 2^-24")

# %% [markdown]
# Keras' float32 tanh (TensorFlow's approximation) returns 1.0 from $s \approx 7.91$, before correct
# rounding would ($1 - \tanh s \le 2^{-25}$ from $s \approx 9.01$); numpy's float32 tanh is still below 1
# at 9.25 and reaches 1.0 at 10; in float64, numpy's reaches 1.0 near 19 and Keras' near 17.7. Keras'
# float32 sigmoid $1/(1 + e^{-s})$ is 1.0 from $24 \ln 2 \approx 16.64$, where $1 + e^{-s}$ rounds to 1.
#
# The consequences for `keep_state` in float32:
#
# - **GRU**: Keras computes $(1 - z^K_t)\tilde h_t$ with $z^K_t = \sigma(s)$. Once that is 1.0 (first grid
#   point 16.75) nothing is written and the drift is exactly 0.
# - **LSTM**: its forget gate is 1.0 from the same $s$, but its input gate $\varepsilon_s$ stays positive
#   and adds up to $\varepsilon_s$ at each step. The addition is lost only when it is below half the float32
#   spacing at $c_t$, which is smallest at the smallest $|c_0|$. So the drift is exactly 0 from
#   $s = \ln(1/\text{half spacing} - 1)$ for the smallest $|c_0|$ of the batch, larger for a smaller one, and
#   never for $c_0 = 0$:

# %%
smallest = float(np.abs(initial).min())
print(f"smallest |c_0| = {smallest:.4f}; half the float32 spacing there = "
      f"{np.spacing(np.float32(smallest)) / 2:.3g}; predicted exact 0 from s = "
      f"{gates.float32_exact_keep_scale(initial):.2f}")
print("measured exact 0 from s =", {label: gates.first_exact_scale(scales, errors[label, "keep_state", "float32"])
                                    for label in gates.VARIANTS})
from_zero = gates.run_cell(gates.saturated_cell("lstm", "keep_state", max_scale), x[:1], {"c": 0.0})["c"]
print(f"LSTM from c_0 = 0 at s = {max_scale:g}: float32 drift {np.abs(from_zero).max():.2g}")
rows = [s for s in (14, 16.5, 16.75, 20, 20.75, 21, 25) if s <= max_scale]
print(gates.float32_keep_table(scales, errors, bounds, rows))

# %% [markdown]
# For `store_input` the error is carried by $\varepsilon_s$ itself, which float32 represents down to about
# $10^{-38}$, so it keeps falling like $e^{-s}$ in both precisions.
#
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
