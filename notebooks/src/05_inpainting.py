# %% [markdown]
# # Filling holes with past and future: exact most-probable in-painting
#
# A pixel model reads left to right, top to bottom, yet it can fill a hole using the pixels *after* the
# hole too: every candidate fill gives a complete image, the model gives each complete image a
# probability, and Bayes' rule turns those into a posterior over the fills. This notebook derives that
# posterior for one missing pixel and for a missing 2×2 block, computes it exactly with the GRU pixel
# models, recomputes the report's table 13 (and shows that its numbers cannot come from an exact
# most-probable fill), and then asks what the future pixels add, how well calibrated the posterior is,
# and how the models fare on holes that touch a stroke.

# %% [markdown]
# ## Setup

# %% nbgrader={"grade": false, "grade_id": "setup05", "locked": true, "schema_version": 3, "solution": false}
# %matplotlib inline
import os, sys
sys.path.insert(0, os.path.abspath(".."))          # the repository root, where helpers/ lives
from helpers.core.quiet import import_tensorflow_quietly
tf = import_tensorflow_quietly()                   # TensorFlow, without its start-up log lines

import numpy as np
import matplotlib.pyplot as plt

from helpers.analysis import checks, inpainting as inpainting_analysis, notebook_models, plots
from helpers.analysis.widgets import with_static_view
from helpers.core import reference
from helpers.inference import exact_fill

# %% [markdown]
# ## Parameters
#
# `n_images` holes per set (the course used 1,000 test images per set), drawn with `set_seed`.
# `table_model` is the model of the report's table 13; `models` are all evaluated.

# %% tags=["parameters"]
models = ["gru_1x32", "gru_1x64", "gru_1x128", "gru_3x32"]
table_model = "gru_1x128"
quick = False
n_images = 1000
set_seed = 0

# %%
# Derived values (papermill injects parameters above this cell).
if quick:
    n_images = 50
print(f"{n_images} images per set")

# %% [markdown]
# ## The method
#
# Write $x = (x_1, \dots, x_T)$, $T = 784$, and let the model define
# $p(x) = p(x_1)\prod_{t=2}^{T} p(x_t \mid x_{<t})$. (The model does not predict $x_1$, the top-left
# corner, which is background in every MNIST image: $p(x_1)$ is a constant and holes never cover it.)
#
# **One missing pixel $x_i$.** Conditioning on everything else,
# $$
# p(x_i \mid x_{\neq i}) = \frac{p(x)}{\sum_{v \in \{0,1\}} p(x)\big|_{x_i = v}} .
# $$
# The factors $p(x_t \mid x_{<t})$ with $t < i$ do not involve $x_i$ and cancel; every factor from $t = i$
# on does, because $x_i$ is an input to all later predictions. So
# $$
# p(x_i = v \mid x_{\neq i}) \propto \prod_{t=i}^{T} p(x_t \mid x_{<t})\Big|_{x_i = v}.
# $$
# The report writes this product as $\prod_{k=i}^{T} p(x_{k+1} \mid x_{1:k})$: shifted by one, it
# leaves out the factor $p(x_i \mid x_{<i})$, the prior of the missing pixel itself, and runs to a
# non-existent $x_{T+1}$. The correct range in its notation is $k = i-1, \dots, T-1$.

# %% [markdown]
# **A missing 2×2 block** at positions $i, i+1, j, j+1$ with $j = i + 28$: the same argument with the
# four unknowns $c = (x_i, x_{i+1}, x_j, x_{j+1}) \in \{0,1\}^4$ gives
# $$
# p(c \mid \text{observed}) = \frac{\exp \ell(c)}{\sum_{c'} \exp \ell(c')}, \qquad
# \ell(c) = \sum_{t=i}^{T} \log p(x_t \mid x_{<t})\Big|_{c}.
# $$
# Every term from $t = i$ on depends on the candidate, including the observed pixels between the two
# rows of the block and after it: the future pixels enter the posterior through how well each candidate
# *predicts* them. The report's last line for the block collapses its four grouped factors back into a
# single product over one index $k$, which is also the name of the block's second row, and repeats the
# off-by-one of the single-pixel case (it drops $p(x_i \mid x_{<i})$ and runs to $x_{T+1}$); the
# candidate-dependent part is $\ell(c)$ above.

# %% [markdown]
# **Cross-entropy and likelihood.** The per-image cross-entropy of tables 11 and 13 is
# $H(x) = -\frac{1}{783}\sum_{t=2}^{T} \log p(x_t \mid x_{<t}) = -\frac{1}{783}\log\frac{p(x)}{p(x_1)}$.
# The most probable fill maximises $\ell(c)$, hence minimises $H$ over the candidates; the ground truth is
# one of the candidates, so **the most probable fill can never have a higher cross-entropy than the ground
# truth**, image by image and on average.
#
# The scorer (`helpers.inpainting.most_probable_fill`) enumerates the 2 or 16 candidates, runs the
# recurrent state up to the first missing pixel once per image, continues every candidate from that state
# to the end in one batch, normalises with log-sum-exp and takes the argmax.

# %% [markdown]
# **Exercise 5.1.** Given the log-likelihoods $\ell_0, \ell_1$ of the image completed with $x_i = 0$ and
# with $x_i = 1$ (sums of hundreds of log-probabilities, e.g. $-800$), return $p(x_i = 1 \mid x_{\neq i})$
# without underflow.

# %% nbgrader={"grade": false, "grade_id": "ex5_1", "locked": false, "schema_version": 3, "solution": true}
def pixel_posterior(loglik0, loglik1):
    """p(x_i = 1 | the other pixels) from the log-likelihoods of the two completed images."""
    ### BEGIN SOLUTION
    return float(1 / (1 + np.exp(loglik0 - loglik1)))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex5_1_check", "locked": true, "points": 1, "schema_version": 3, "solution": false}
with checks.exercise("5.1", hint="divide e^l1 / (e^l0 + e^l1) by e^l1: only l0 - l1 matters") as ex:
    ex.close("pixel_posterior(-80, -79)", ex.call(pixel_posterior, -80.0, -79.0), 1 / (1 + np.exp(-1.0)))
    ex.close("pixel_posterior(-800, -801.5)", ex.call(pixel_posterior, -800.0, -801.5), 1 / (1 + np.exp(1.5)))
    ### BEGIN HIDDEN TESTS
    ex.close("pixel_posterior(-1000, -990)", ex.call(pixel_posterior, -1000.0, -990.0), 1 / (1 + np.exp(-10.0)))
    ### END HIDDEN TESTS

# %% [markdown]
# **Exercise 5.2.** The scorer numbers the $2^k$ fills of $k$ missing pixels: fill $c$ sets them, in reading
# order, to the $k$ binary digits of $c$, most significant first. Return those digits as a list of 0/1.

# %% nbgrader={"grade": false, "grade_id": "ex5_2", "locked": false, "schema_version": 3, "solution": true}
def candidate_bits(c, k):
    """The k binary digits of c, most significant first."""
    ### BEGIN SOLUTION
    return [(c >> (k - 1 - j)) & 1 for j in range(k)]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex5_2_check", "locked": true, "points": 1, "schema_version": 3, "solution": false}
with checks.exercise("5.2", hint="digit j (from the left) of c is (c >> (k - 1 - j)) & 1") as ex:
    ex.close("candidate_bits(5, 4)", ex.call(candidate_bits, 5, 4), [0, 1, 0, 1])
    ex.close("candidate_bits(1, 1)", ex.call(candidate_bits, 1, 1), [1])
    ### BEGIN HIDDEN TESTS
    for _c in range(16):
        ex.close(f"candidate_bits({_c}, 4)", ex.call(candidate_bits, _c, 4), exact_fill.candidate_patterns(4)[_c])
    ### END HIDDEN TESTS

# %% [markdown]
# **Question.** The model reads left to right, top to bottom. How can a pixel *below* a hole change the
# posterior of the hole?

# %% [markdown] nbgrader={"grade": false, "grade_id": "q5_1", "locked": false, "schema_version": 3, "solution": true}
# *Model answer.* The hole's value is an input to every later prediction, so each candidate gives the later
# observed pixels different probabilities $p(x_t \mid x_{<t})$. Bayes' rule weighs each candidate by how
# well it predicts them: a candidate after which the observed stroke below is likely gains posterior mass.

# %% [markdown]
# ## The data sets
#
# As in the course: 1,000 test images with one missing pixel, and 1,000 with a missing 2×2 block fully
# inside the image, drawn with a fixed seed and stored in `data/`. Holes placed uniformly land mostly on
# background, which is trivial to fill, so we also build a harder variant of each set where the hole
# touches a stroke (the hole or a pixel next to it is ink; see `helpers.inpainting.hole_candidates`).

# %%
kinds = {"1 pixel": ("pixel", None), "2x2 block": ("block", None),
         "1 pixel, stroke": ("pixel", "touch"), "2x2 block, stroke": ("block", "touch")}
sets = {name: exact_fill.get_inpainting_set(kind, stroke, n=n_images, seed=set_seed) for name, (kind, stroke) in kinds.items()}
print(plots.format_table([{"set": name, **inpainting_analysis.hole_statistics(s)} for name, s in sets.items()],
                         ["set", "images", "missing_pixels", "ink", "background", "holes_with_ink"]))
same = all(np.array_equal(s.indices, sets["1 pixel"].indices) for s in sets.values())
print("the four sets hold the same test images (only the holes differ):", same)

# %% [markdown]
# ## Table 13, recomputed
#
# Mean cross-entropy (nats per pixel over the 783 predicted pixels) of the ground-truth images and of the
# images filled with the most probable candidate. `evaluate_inpainting` asserts the inequality above on
# every image; the report's table 13 had the in-painted images *worse* than the ground truth in both
# columns, which an exact most-probable fill cannot produce. (When the sets hold the same images, the
# ground-truth cross-entropy of a model is the same for both: it does not depend on where the hole is.)

# %%
zoo_models = notebook_models.prepare_models("pixel", models)
loaded, manifests = zoo_models.loaded, zoo_models.manifests
print(zoo_models.report())
print("\n".join(notebook_models.status_lines(manifests)))
results = {(name, set_name): inpainting_analysis.evaluate_inpainting(model, s)
           for name, model in loaded.items() for set_name, s in sets.items()}
if results:
    print(f"checked on {len(results)} (model, set) pairs: no fill has a higher cross-entropy than its ground truth")

# %%
table = []
for kind, set_name in (("pixel", "1 pixel"), ("block", "2x2 block")):
    if (table_model, set_name) in results:
        row = inpainting_analysis.summary_row(table_model, set_name, results[(table_model, set_name)])
        ref = reference.INPAINTING[kind]
        table.append({**row, "ref_gt_ce": ref["gt"], "ref_fill_ce": ref["inpainted"]})
if table:
    print(plots.format_table(table, ["model", "set", "gt_ce", "fill_ce", "ref_gt_ce", "ref_fill_ce"],
                             ["model", "set", "GT cross-entropy", "in-painted", "report GT", "report in-painted"]))
else:
    print(f"{table_model} could not be loaded: see the message above")

# %% [markdown]
# Could the report's "in-painted worse than GT" come from *sampling* the fill from the exact posterior
# instead of taking its most probable candidate? Fill minus ground-truth cross-entropy, in nats per image
# (mean ± two standard errors over the images, `± 2 SE`), for the most probable fill, one seeded posterior
# draw per image, the posterior's exact expectation, and the past-only fill of the next section; `report`
# converts its table 13 the same way:

# %%
posterior_rows = [inpainting_analysis.posterior_sample_row(table_model, set_name, results[(table_model, set_name)],
                                                          seed=set_seed)
                  for set_name in ("1 pixel", "2x2 block") if (table_model, set_name) in results]
print(plots.format_table(inpainting_analysis.posterior_table_rows(posterior_rows, reference.INPAINTING),
                         ["set", "gt_ce", "best", "sample", "expected", "past_only", "report"],
                         ["set", "GT ce", "most probable ± 2 SE", "sampled ± 2 SE", "expected ± 2 SE",
                          "past only ± 2 SE", "report"]))
print("\n".join(plots.wrap(line)
                for line in inpainting_analysis.posterior_sample_discussion(posterior_rows, reference.INPAINTING)))

# %% [markdown]
# ## Beyond table 13: every model, every set
#
# `pixels` and `holes` are the fractions of missing pixels, and of whole holes, filled exactly as in the
# original; `past only` is the fraction of holes filled exactly when each missing pixel is set, in
# reading order, to its most probable value given the pixels *before it* alone (for a 2x2 block, the
# second row's pixels also see the 26 known pixels between the block's two rows, but nothing after
# them); `confidence` is the mean posterior of the chosen fill.

# %%
rows = [inpainting_analysis.summary_row(name, set_name, result) for (name, set_name), result in results.items()]
print(plots.format_table(rows, ["model", "set", "gt_ce", "fill_ce", "pixels_recovered", "holes_recovered", "past_only_holes", "mean_confidence"],
                         ["model", "set", "GT ce", "fill ce", "pixels", "holes", "past only", "confidence"],
                         formats={k: "{:.1%}" for k in ("pixels_recovered", "holes_recovered", "past_only_holes", "mean_confidence")}))

# %% [markdown]
# What the future adds is the difference between the `holes` and `past only` columns, in percentage
# points (pp). It could in principle be negative: the posterior picks the fill that is most probable
# *under the model*, and an imperfect model can be confidently wrong about what the pixels below a hole
# imply.

# %%
for (name, set_name), result in results.items():
    gain = result["hole_correct"].mean() - result["past_only_hole_correct"].mean()
    print(f"{name:>9} {set_name:<18} future context adds {gain * 100:+.1f} pp of holes filled exactly")
print(f"smallest gain: {min(r['holes_recovered'] - r['past_only_holes'] for r in rows) * 100:+.1f} pp")

# %% [markdown]
# ## Is the posterior calibrated?
#
# If the model's posterior is honest, holes filled with confidence 0.8 should be right about 80 % of the
# time. The reliability diagram bins the holes by the posterior of the chosen fill (on the stroke sets,
# where confidence varies most; one panel per set, with the number of holes per bin below):

# %%
chosen = {f"{n}, {s}": r for (n, s), r in results.items() if "stroke" in s}
fig = inpainting_analysis.plot_calibration(chosen)
plots.save_figure(fig, "05_calibration")
plt.show()
if (table_model, "2x2 block, stroke") in results:
    r = results[(table_model, "2x2 block, stroke")]
    bins = inpainting_analysis.calibration(r["confidence"], r["hole_correct"])
    print(f"{table_model}, 2x2 block, stroke:")
    print(plots.format_table(bins, ["bin", "holes", "confidence", "accuracy"]))
    print("\n".join(inpainting_analysis.calibration_verdict(bins)))
    print(plots.wrap(inpainting_analysis.calibration_noise_line(bins)))

# %% [markdown]
# ## What the fills look like
#
# Like the report's figures 8-11: successes, and wrong fills. Each row shows the whole digit with a red
# frame around the zoomed window, then the original, the masked image (hole grey) and the in-painting
# (filled ink dark blue, filled background light blue) in that window.

# %%
viz_model = table_model if table_model in loaded else next(iter(loaded), None)
for set_name in (["1 pixel", "2x2 block", "2x2 block, stroke"] if viz_model else []):
    result, s = results[(viz_model, set_name)], sets[set_name]
    has_ink = s.images[np.arange(len(s.holes))[:, None], s.holes].any(axis=1)
    wins = np.flatnonzero(result["hole_correct"] & has_ink)[:4]
    losses = np.flatnonzero(~result["hole_correct"])[:4]
    for label, idx in (("filled exactly", wins), ("wrong fills", losses)):
        if len(idx):
            fig = inpainting_analysis.plot_triplets(s, result["filled"], idx, title=f"{viz_model}, {set_name}: {label}")
            plots.save_figure(fig, f"05_{set_name.replace(' ', '_').replace(',', '')}_{label.split()[0]}")
            plt.show()

# %% [markdown]
# ## Explore the candidates
#
# Pick a set and an image to see every candidate fill with its posterior probability (the truth marked):

# %% tags=["widget", "nbval-ignore-output"]
with_static_view(inpainting_analysis.candidate_explorer, sets,
                 {s: results[(viz_model, s)] for s in sets}) if viz_model else print("no trained model")

# %% [markdown]
# ## What the numbers say
#
# Computed from the tables above (always answering background fills the share of holes that hold no ink exactly):

# %%
background = {name: 1 - inpainting_analysis.hole_statistics(s)["holes_with_ink"] / len(s.holes) for name, s in sets.items()}
print("\n".join(plots.wrap(line) for line in inpainting_analysis.discussion(rows, background)))

# %% [markdown]
# How to read these numbers. Uniformly placed holes mostly fall on background, which a fill that always
# answers background gets right as often as the `always background` share says; a model must beat that
# share to show it has learned anything, and the stroke sets, where that share is low, are the real test
# of what the pixels after the hole contribute. The posterior is a probability and can be checked as
# one: the calibration table says in which confidence range it deserves trust.
