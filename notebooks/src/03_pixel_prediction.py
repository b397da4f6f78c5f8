# %% [markdown]
# # Predicting the next pixel: GRU models of binarized digits
#
# Instead of naming the digit, a network can learn the digits themselves: read pixels x_1..x_t and output
# the probability that pixel x_{t+1} is ink. Multiplying these conditionals gives the probability of a
# whole image, so such a model can score images, complete them and draw new ones. This notebook evaluates
# the four GRU pixel models of the course (1x32, 1x64, 1x128, 3x32) from their shipped weights, recomputes
# the report's table 11, and shows what the models predict 1, 10 and 28 pixels ahead, how they fill out a
# digit whose bottom is hidden, and what they draw from scratch.

# %% [markdown]
# ## Setup

# %% nbgrader={"grade": false, "grade_id": "setup03", "locked": true, "schema_version": 3, "solution": false}
# %matplotlib inline
import os, sys
sys.path.insert(0, os.path.abspath(".."))          # the repository root, where helpers/ lives
from helpers.core.quiet import import_tensorflow_quietly
tf = import_tensorflow_quietly()                   # TensorFlow, without its start-up log lines

import numpy as np
import matplotlib.pyplot as plt

from helpers.analysis import checks, notebook_models, pixel_prediction as pixel, plots
from helpers.core import data

# %% [markdown]
# ## Parameters
#
# `retrain=True` trains the models from scratch into `runs/`, with the recipe recorded in each shipped
# model's manifest (`epochs=None` keeps its epoch budget, a number replaces it); `quick=True` makes that
# a smoke run on tiny subsets and also evaluates on small subsets. Cross-entropies use the whole test
# and validation sets (`eval_subset=None`) and the first `train_subset` training images. The figures
# show `n_examples` test digits cut after `cut` pixels (484: the last 300 hidden, the cut of notebook 04);
# `seed` drives every sampled pixel.

# %% tags=["parameters"]
models = ["gru_1x32", "gru_1x64", "gru_1x128", "gru_3x32"]
retrain = False
epochs: int | None = None
quick = False
eval_subset: int | None = None
train_subset = 10_000
n_examples = 6
cut = 484
seed = 0

# %%
# Derived values (papermill injects parameters above this cell).
if quick:
    eval_subset, train_subset, n_examples = 100, 100, 3

# %% [markdown]
# The models: the shipped ones, or (with `retrain=True`) trained here first into `runs/`, whose log is long
# and not checked by the tests.

# %% tags=["nbval-ignore-output"]
zoo_models = notebook_models.prepare_models("pixel", models, retrain=retrain, epochs=epochs, quick=quick)
loaded, manifests, missing = zoo_models.loaded, zoo_models.manifests, zoo_models.missing

# %% [markdown]
# The data: binarized MNIST, split 55,000 / 5,000 / 10,000 as in the course; images evaluated per split:

# %%
splits = data.load_mnist()
subsets = {"test": eval_subset, "validation": eval_subset, "train": train_subset}
print({split: len(splits[split].head(n)) for split, n in subsets.items()})

# %% [markdown]
# ## The models
#
# Each model is GRU layer(s) returning every step → dropout → Dense(1): the logit of
# p(x_{t+1} = 1 | x_1..x_t). It is trained with the binary cross-entropy of its 783 predictions per image.
# A model that could not be loaded is listed with what to do.

# %%
print(zoo_models.report())
print(plots.format_table(
    notebook_models.recipe_rows(manifests),
    ["model", "params", "lr", "decay", "batch", "dropout", "epochs_run", "best_epoch", "stopped_by", "hours", "hardware"],
    ["model", "params", "lr", "decay", "batch", "dropout", "epochs", "best", "stopped by", "hours", "trained on"],
    formats={"params": "{:,}", "lr": "{:g}", "dropout": "{:g}", "hours": "{:.2f}"}))

# %% [markdown]
# ## Table 11, recomputed
#
# The loss is the mean cross-entropy per predicted pixel, in nats:
# $\mathcal{L} = -\frac{1}{783}\sum_{t=1}^{783} \big[x_{t+1}\log p_t + (1-x_{t+1})\log(1-p_t)\big]$,
# averaged over images, with $p_t = p(x_{t+1}=1 \mid x_{1..t})$. Multiplied by 783 it is the negative
# log-likelihood of an image in nats; divided by $\ln 2$ it is in bits per pixel. `ref` quotes the report.

# %%
rows = pixel.evaluate_pixel_zoo(loaded, splits, subsets)
print(plots.format_table(
    rows, ["model", "test_loss", "ref_test_loss", "delta_test_loss", "val_loss", "ref_val_loss",
           "train_loss", "ref_train_loss", "test_nats_per_image", "test_bits_per_pixel"],
    ["model", "test", "ref", "Δ test", "validation", "ref", "train", "ref", "test nats/image", "test bits/pixel"],
    formats={"delta_test_loss": "{:+.4f}", "test_nats_per_image": "{:.1f}"}))
errors = {split: max((r[f"{key}_se"] for r in rows), default=float("nan")) for split, key in
          (("test", "test"), ("validation", "val"), ("train", "train"))}
print("standard errors of these means over the images, at most:", ", ".join(f"{s} {e:.4f}" for s, e in errors.items()))

# %% [markdown]
# **Exercise 3.1.** Return the mean cross-entropy, in nats per pixel, of binary `targets` under the
# model's `logits` ($p = \sigma(\text{logit})$), without overflow for logits as large as $\pm 1000$.

# %% nbgrader={"grade": false, "grade_id": "ex3_1", "locked": false, "schema_version": 3, "solution": true}
def nats_per_pixel(logits, targets):
    """Mean of -[x log p + (1 - x) log(1 - p)] with p = sigmoid(logits), in nats."""
    ### BEGIN SOLUTION
    logits, targets = np.asarray(logits, dtype=float), np.asarray(targets, dtype=float)
    return float(np.mean(np.logaddexp(0.0, logits) - targets * logits))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex3_1_check", "locked": true, "points": 1, "schema_version": 3, "solution": false}
with checks.exercise("3.1", hint="-log sigma(l) = log(1 + e^-l) = np.logaddexp(0, -l); never form p itself") as ex:
    _logits, _targets = np.array([0.0, 2.0, -3.0, 0.5]), np.array([1.0, 0.0, 0.0, 1.0])
    _p = 1 / (1 + np.exp(-_logits))
    _want = float(np.mean(-_targets * np.log(_p) - (1 - _targets) * np.log(1 - _p)))
    ex.close("nats_per_pixel of four pixels", ex.call(nats_per_pixel, _logits, _targets), _want)
    ex.close("nats_per_pixel([1000, -1000], [1, 0]) (confident and right)", ex.call(nats_per_pixel, np.array([1000.0, -1000.0]), np.array([1.0, 0.0])), 0.0)
    ### BEGIN HIDDEN TESTS
    ex.close("nats_per_pixel([800], [0]) (confident and wrong)", ex.call(nats_per_pixel, np.array([800.0]), np.array([0.0])), 800.0)
    ### END HIDDEN TESTS

# %% [markdown]
# **Exercise 3.2.** Convert a loss in nats per predicted pixel into bits per image.

# %% nbgrader={"grade": false, "grade_id": "ex3_2", "locked": false, "schema_version": 3, "solution": true}
def bits_per_image(nats):
    """Nats per predicted pixel -> bits per image (783 predicted pixels)."""
    ### BEGIN SOLUTION
    return nats * 783 / np.log(2)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex3_2_check", "locked": true, "points": 1, "schema_version": 3, "solution": false}
with checks.exercise("3.2", hint="783 pixels are predicted per image, and 1 nat = 1 / ln 2 bits") as ex:
    ex.close("bits_per_image(0.0845)", ex.call(bits_per_image, 0.0845), 0.0845 * 783 / np.log(2))
    ### BEGIN HIDDEN TESTS
    ex.close("bits_per_image(np.log(2))", ex.call(bits_per_image, np.log(2)), 783.0)
    ### END HIDDEN TESTS

# %% [markdown]
# ## Learning curves
#
# Training loss dotted, validation loss solid, one panel per model (the report's figure 5), then all on one
# axis (its figure 6); log axes, so the late, small improvements show.

# %%
fig = plots.plot_learning_curves_grid(manifests, title="Pixel models: training (dotted) and validation (solid) loss")
for ax in fig.axes:
    ax.set_yscale("log")  # the last epochs' gains are small beside the first ones'
plots.save_figure(fig, "03_learning_curves")
plt.show()

# %%
if manifests:
    fig = plots.plot_learning_curves_combined(manifests, title="Pixel models", log_y=True)
    plots.save_figure(fig, "03_learning_curves_combined")
    plt.show()

# %% [markdown]
# ## One step ahead
#
# With the true pixels as input, the model's probability of ink at every position is an image of what it
# expects next. Strokes it can extrapolate (the continuation of a line from the row above) are dark; the
# first pixel of a new stroke is not predictable and stays pale.

# %%
examples = data.binarize(splits.test.images[:n_examples])
best = min(loaded, key=lambda n: min(manifests[n]["history"]["val_loss"])) if loaded else None
print("best model by validation loss:", best)
if best:
    fig = pixel.plot_probability_maps(loaded[best], examples, title=f"{best}: one-step-ahead probabilities")
    plots.save_figure(fig, "03_one_step_probabilities")
    plt.show()

# %% [markdown]
# ## 1, 10 and 28 pixels ahead, and filling out the image
#
# Now the model sees the first `cut` pixels (484 = 17 rows and 8 pixels, as in notebook 04) and predicts
# further on its own: each new pixel is the likelier value given everything before it, its own predictions
# included (a *greedy* completion: picking each pixel in turn is not the same as finding the most probable
# sequence). One row of the image is 28 pixels. Predicted pixels are coloured (ink dark blue, background
# light blue); grey marks pixels not predicted. The errors compound: a short horizon copies the stroke
# well, while over the hidden bottom a completion can drift away from the digit it started.

# %%
for name, model in loaded.items():
    panels = pixel.k_step_predictions(model, examples, cut, ns=(1, 10, 28))
    fig = pixel.plot_k_step(examples, panels, cut, title=f"{name}: greedy continuation after {cut} pixels")
    plots.save_figure(fig, f"03_k_step_{name}")
    plt.show()

# %% [markdown]
# The greedy completion has no variety, and it can lock into a pattern: where ink usually follows ink,
# one ink pixel makes the next one likely too, so strokes may thicken or loops fill in. Sampling each
# pixel from its probability gives varied completions instead:

# %%
if best:
    fills = [pixel.k_step_predictions(loaded[best], examples, cut, ns=(), sample=True, seed=seed + s)[784 - cut] for s in range(4)]
    grid = np.concatenate([examples.reshape(len(examples), -1)] + fills)
    fig = plots.show_image_grid(grid, cols=len(examples), size=1.1, suptitle=f"{best}: the original, then 4 sampled completions")
    plots.save_figure(fig, "03_sampled_completions")
    plt.show()

# %% [markdown]
# ## Drawing from scratch
#
# Starting from the blank corner pixel and sampling all 783 others gives the model's own digits. They show
# what it has learned about strokes, thickness and layout, and what it has not: many samples are not
# recognisable digits, since nothing forces a shape begun in the top rows to be finished consistently
# hundreds of steps later, though the larger models draw some clear ones.

# %%
samples = {name: pixel.unconditional_samples(model, 8, seed=seed) for name, model in loaded.items()}
if samples:
    grid = np.concatenate(list(samples.values()))
    titles = [name for name in samples for _ in range(8)]
    fig = plots.show_image_grid(grid, titles, cols=8, size=1.1, suptitle="Unconditional samples")
    plots.save_figure(fig, "03_unconditional_samples")
    plt.show()

# %% [markdown]
# ## What the numbers say
#
# Computed from the table above:

# %%
print("\n".join(plots.wrap(line) for line in pixel.discussion(rows, manifests, missing)))

# %% [markdown]
# How to read these numbers. Cross-entropy is a code length: a model that needs fewer bits per image
# than the 784 raw pixels has learned what digits look like, and the ratio says how much. A difference
# smaller than two standard errors is called within noise: the test set cannot tell it from chance, nor
# from the seed-to-seed spread, where seed runs measure it (the lines above say which spread each ±
# holds: the shipped models are single runs, and only the seeds recorded under `data/experiments/` tell
# how much a second run would differ). Comparisons
# between sizes are only fair at equal recipes: where the lines above name different recipes, the
# difference mixes capacity with training, and a model still improving when its budget ran out has not
# shown its limit.
