"""Evaluating the pixel-prediction models p(x_{t+1} | x_1..x_t) (notebook 03).

Losses are mean cross-entropies in nats per predicted pixel, over the 783 predictions x_2..x_784 of each
binarized image (the first pixel has no context and is not predicted). Per image that is 783 times the
per-pixel value; in bits per pixel it is the per-pixel value divided by ln 2.
"""

from __future__ import annotations

import numpy as np

from helpers import data as data_lib
from helpers import reference

PREDICTED_PIXELS = data_lib.SEQUENCE_LENGTH - 1  # 783


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def pixel_logits(model, sequences, batch_size: int = 250) -> np.ndarray:
    """Logits (N, 783) of p(x_{t+1} = 1 | x_1..x_t) for binary sequences (N, 784[, 1]), teacher-forced."""
    inputs, _ = data_lib.next_pixel_pairs(sequences)
    return model.predict(inputs, batch_size=batch_size, verbose=0)[..., 0]


def per_image_cross_entropy(model, sequences, batch_size: int = 250) -> np.ndarray:
    """Mean nats per predicted pixel for each image (N,): -1/783 sum_t log p(x_{t+1} | x_1..x_t)."""
    sequences = data_lib.to_sequences(sequences)
    logits = pixel_logits(model, sequences, batch_size).astype(np.float64)
    targets = sequences[:, 1:, 0].astype(np.float64)
    # -log sigma(l) = softplus(-l); -log(1 - sigma(l)) = softplus(l)
    nats = targets * _softplus(-logits) + (1.0 - targets) * _softplus(logits)
    return nats.mean(axis=1)


def evaluate_pixel_zoo(models: dict, splits: data_lib.MnistSplits, subsets: dict | None = None) -> list[dict]:
    """Table 11 rows: test / validation / train cross-entropy of each model beside the report's values.

    ``subsets`` maps a split name to the number of its first images to use (None = all of it).
    """
    subsets = subsets or {}
    rows = []
    for name, model in models.items():
        row = {"model": name}
        for split, key in (("test", "test_loss"), ("validation", "val_loss"), ("train", "train_loss")):
            part = splits[split].head(subsets.get(split))
            sequences = data_lib.to_sequences(data_lib.binarize(part.images))
            row[key] = float(per_image_cross_entropy(model, sequences).mean())
            row[f"ref_{key}"] = reference.PIXEL.get(name, {}).get(key)
        row["delta_test_loss"] = row["test_loss"] - row["ref_test_loss"] if row["ref_test_loss"] else None
        row["test_nats_per_image"] = row["test_loss"] * PREDICTED_PIXELS
        row["test_bits_per_pixel"] = row["test_loss"] / np.log(2.0)
        rows.append(row)
    return rows


def probability_map(model, image) -> np.ndarray:
    """p(x_t = 1 | true x_1..x_{t-1}) for every pixel of one image, as a 28x28 map (pixel 1: NaN)."""
    sequence = data_lib.to_sequences(np.asarray(image, dtype=np.float32)[None])
    logits = pixel_logits(model, sequence)[0]
    probs = np.full(data_lib.SEQUENCE_LENGTH, np.nan)
    probs[1:] = 1.0 / (1.0 + np.exp(-logits))
    return probs.reshape(28, 28)


def plot_probability_maps(model, images, title: str = ""):
    """Each binary image beside the model's one-step-ahead probability of ink at every pixel."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(images), figsize=(1.5 * len(images), 3.3), squeeze=False)
    for i, image in enumerate(images):
        axes[0, i].imshow(np.asarray(image).reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        axes[1, i].imshow(probability_map(model, image), cmap="gray_r", vmin=0, vmax=1)
        for ax in axes[:, i]:
            ax.axis("off")
    axes[0, 0].set_title("digit", fontsize=8, loc="left")
    axes[1, 0].set_title("p(ink | pixels before)", fontsize=8, loc="left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def k_step_predictions(model, images, cut: int, ns=(1, 10, 28), fill_out: bool = True, sample: bool = False,
                       seed: int = 0) -> dict:
    """Images whose first ``cut`` pixels are true and the next n are predicted by the model.

    For each n in ``ns`` (plus ``784 - cut`` when ``fill_out``), returns ``{n: (N, 784) array}`` with the
    true prefix, the n predicted pixels, and -1 (shown grey) after them. The prediction is the most
    probable pixel at each step given the pixels before it, predicted ones included (``sample=False``), or
    one random draw (``sample=True``, seeded).
    """
    from helpers.sampling import sample_continuations

    sequences = data_lib.to_sequences(images)[..., 0]
    if not 1 <= cut < data_lib.SEQUENCE_LENGTH:
        raise ValueError(f"cut must be between 1 and 783, got {cut}.")
    ns = list(ns) + ([data_lib.SEQUENCE_LENGTH - cut] if fill_out else [])
    panels = {}
    for n in ns:
        result = sample_continuations(model, sequences[:, :cut], n, num_samples=1, seed=seed, greedy=not sample)
        panel = np.full_like(sequences, -1.0)
        panel[:, :cut] = sequences[:, :cut]
        panel[:, cut : cut + n] = result.samples[:, 0]
        panels[n] = panel
    return panels


def unconditional_samples(model, count: int, seed: int = 0) -> np.ndarray:
    """``count`` whole images sampled from the model (x_1 = 0, the corner pixel; then x_2..x_784 drawn)."""
    from helpers.sampling import sample_continuations

    prefix = np.zeros((1, 1), np.float32)
    result = sample_continuations(model, prefix, data_lib.SEQUENCE_LENGTH - 1, num_samples=count, seed=seed)
    return np.concatenate([np.zeros((count, 1), np.float32), result.samples[0]], axis=1)


def discussion(rows: list[dict], manifests: dict, missing=()) -> list[str]:
    """Sentences summarising table 11 and the recipe table, computed so they stay true.

    Args:
        rows: :func:`evaluate_pixel_zoo` rows.
        manifests: ``{name: manifest}`` of the same models.
        missing: names of the models that are not trained yet.
    """
    from helpers.classification import recipe_rows, training_state

    lines = []
    by_name = {row["model"]: row for row in rows}
    recipes = {r["model"]: r for r in recipe_rows(manifests)}
    compared = [r for r in rows if r.get("ref_test_loss") is not None]
    beats = [r["model"] for r in compared if r["test_loss"] <= r["ref_test_loss"]]
    lines.append(f"{len(rows)} of {len(rows) + len(missing)} pixel models are trained; {len(beats)} of the "
                 f"{len(compared)} with a reference number match or beat the report's test cross-entropy.")
    for row in compared:
        verdict = "beats" if row["test_loss"] <= row["ref_test_loss"] else "falls short of"
        lines.append(f"{row['model']}: {row['test_loss']:.4f} nats/pixel {verdict} the report's "
                     f"{row['ref_test_loss']:.4f} ({row['test_loss'] - row['ref_test_loss']:+.4f}, that is "
                     f"{(row['test_loss'] - row['ref_test_loss']) * PREDICTED_PIXELS:+.1f} nats per image); "
                     f"{training_state(manifests[row['model']])}.")
    if missing:
        lines.append(f"Not trained yet, so not compared: {', '.join(missing)}.")
    for small, large in (("gru_1x32", "gru_1x64"), ("gru_1x64", "gru_1x128"), ("gru_1x32", "gru_3x32")):
        if small in by_name and large in by_name:
            gain = by_name[small]["test_loss"] - by_name[large]["test_loss"]
            s, l = recipes[small], recipes[large]
            verdict = "better" if gain >= 0 else "worse"
            unfinished = [m for m in (small, large) if manifests[m]["status"] != "complete"]
            # An unfinished model has run fewer epochs by definition; that is said already.
            differ = ((s["lr"], s["decay"]) != (l["lr"], l["decay"])
                      or (not unfinished and s["epochs_run"] != l["epochs_run"]))
            notes = ([f"{' and '.join(unfinished)} still training"] if unfinished else []) + (
                [f"different recipes, so not capacity alone: {small} lr {s['lr']:g}, decay {s['decay']}, "
                 f"{s['epochs_run']} epochs; {large} lr {l['lr']:g}, decay {l['decay']}, {l['epochs_run']} epochs"]
                if differ else [])
            lines.append(f"{large} against {small}: {verdict} by {abs(gain):.4f} nats/pixel "
                         f"({abs(gain) * PREDICTED_PIXELS:.1f} nats per image) with {l['params'] / s['params']:.1f}x "
                         f"the parameters and {l['hours'] / max(s['hours'], 1e-9):.1f}x the training hours"
                         + (f" ({'; '.join(notes)})." if notes else "."))
    if rows:
        best = min(rows, key=lambda r: r["test_loss"])
        bits = best["test_loss"] * PREDICTED_PIXELS / np.log(2.0)
        lines.append(f"The best test cross-entropy, {best['model']}'s, is {bits:.0f} bits per image: "
                     f"{bits / data_lib.SEQUENCE_LENGTH:.1%} of the {data_lib.SEQUENCE_LENGTH} bits of the raw "
                     f"binary pixels.")
        overfit = [r["train_loss"] - r["test_loss"] for r in rows]
        lines.append(f"Train minus test cross-entropy ranges from {min(overfit):+.4f} to {max(overfit):+.4f} nats/pixel: "
                     + ("no model fits its training images better than unseen ones, so capacity and training time, "
                        "not overfitting, limit them." if min(overfit) >= 0 else
                        "a negative value means a model fits its training images better than unseen ones."))
    return lines
