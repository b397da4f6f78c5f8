"""Evaluating the pixel-prediction models p(x_{t+1} | x_1..x_t) (notebook 03).

Losses are mean cross-entropies in nats per predicted pixel, over the 783 predictions x_2..x_784 of each
binarized image (the first pixel has no context and is not predicted). Per image that is 783 times the
per-pixel value; in bits per pixel it is the per-pixel value divided by ln 2.
"""

from __future__ import annotations

import numpy as np

from helpers.core import data as data_lib
from helpers.core import reference
from helpers.core.manifest import still_improving

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


def standard_error(values) -> float:
    """Standard error of the mean of ``values`` (NaN for fewer than 2)."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")


def evaluate_pixel_zoo(models: dict, splits: data_lib.MnistSplits, subsets: dict | None = None) -> list[dict]:
    """Table 11 rows: test / validation / train cross-entropy of each model beside the report's values.

    ``subsets`` maps a split name to the number of its first images to use (None = all of it). Each mean
    ``{split}_loss`` comes with its standard error over the images, ``{split}_se``; ``test_per_image`` keeps
    the per-image test values, for paired comparisons between models on the same images.
    """
    subsets = subsets or {}
    rows = []
    for name, model in models.items():
        row = {"model": name}
        for split, key in (("test", "test_loss"), ("validation", "val_loss"), ("train", "train_loss")):
            part = splits[split].head(subsets.get(split))
            sequences = data_lib.to_sequences(data_lib.binarize(part.images))
            values = per_image_cross_entropy(model, sequences)
            row[key] = float(values.mean())
            row[key.replace("_loss", "_se")] = standard_error(values)
            row[f"ref_{key}"] = reference.PIXEL.get(name, {}).get(key)
            if split == "test":
                row["test_per_image"] = values
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
        shown = axes[1, i].imshow(probability_map(model, image), cmap="gray_r", vmin=0, vmax=1)
        for ax in axes[:, i]:
            ax.axis("off")
    axes[0, 0].set_title("digit", fontsize=8, loc="left")
    axes[1, 0].set_title("p(ink | pixels before)", fontsize=8, loc="left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    bar = fig.colorbar(shown, ax=list(axes[1]), fraction=0.02, pad=0.01)  # after tight_layout, which it would undo
    bar.set_label("p(ink)", fontsize=7)
    bar.ax.tick_params(labelsize=6)
    return fig


def k_step_predictions(model, images, cut: int, ns=(1, 10, 28), fill_out: bool = True, sample: bool = False,
                       seed: int = 0) -> dict:
    """Images whose first ``cut`` pixels are true and the next n are predicted by the model.

    For each n in ``ns`` (plus ``784 - cut`` when ``fill_out``), returns ``{n: (N, 784) array}`` with the
    true prefix, the n predicted pixels, and -1 (shown grey) after them. The prediction is the most
    probable pixel at each step given the pixels before it, predicted ones included (``sample=False``), or
    one random draw (``sample=True``, seeded).
    """
    from helpers.inference.sampling import sample_continuations

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


def plot_k_step(images, panels: dict, cut: int, title: str = "", size: float = 1.35):
    """The images, then one row per horizon of :func:`k_step_predictions` with the predicted pixels coloured
    (ink dark blue, background light blue) and the pixels not predicted grey."""
    from helpers.analysis.plots import marked_rgb, show_rgb_grid

    images = np.asarray(images).reshape(len(images), -1)
    rgbs = [marked_rgb(image, []) for image in images]
    labels = ["digit"]
    for n, panel in panels.items():
        rgbs += [marked_rgb(row, np.arange(cut, cut + n)) for row in panel]
        labels.append(f"{n} px")
    return show_rgb_grid(np.stack(rgbs), cols=len(images), size=size, suptitle=title, row_labels=labels)


def unconditional_samples(model, count: int, seed: int = 0) -> np.ndarray:
    """``count`` whole images sampled from the model (x_1 = 0, the corner pixel; then x_2..x_784 drawn)."""
    from helpers.inference.sampling import sample_continuations

    prefix = np.zeros((1, 1), np.float32)
    result = sample_continuations(model, prefix, data_lib.SEQUENCE_LENGTH - 1, num_samples=count, seed=seed)
    return np.concatenate([np.zeros((count, 1), np.float32), result.samples[0]], axis=1)


def _paired_error(a: dict, b: dict) -> float | None:
    """Standard error of the per-image test difference of two rows (same images), if both keep them."""
    x, y = a.get("test_per_image"), b.get("test_per_image")
    if x is None or y is None or len(x) != len(y):
        return None
    return standard_error(np.asarray(x, np.float64) - np.asarray(y, np.float64))


def _within_noise(difference: float, error: float | None, z: float = 2.0) -> bool:
    return error is not None and np.isfinite(error) and abs(difference) <= z * error


def discussion(rows: list[dict], manifests: dict, missing=()) -> list[str]:
    """Sentences summarising table 11 and the recipe table: each verdict with its evidence, computed so they
    stay true.

    Differences within two standard errors are called within noise: against the report, the rule of
    :func:`helpers.core.reference.judge` on the error of our test mean (``test_se``; a row without it is not
    judged); between two models, the paired error of their per-image differences (``test_per_image``);
    between splits, the two splits' errors combined. Rows without them are compared on the means alone.

    Args:
        rows: :func:`evaluate_pixel_zoo` rows.
        manifests: ``{name: manifest}`` of the same models.
        missing: names of the models that are not trained yet.
    """
    from helpers.analysis.notebook_models import recipe_rows

    lines = _report_lines(rows, manifests, missing)
    lines += _capacity_lines({row["model"]: row for row in rows}, {r["model"]: r for r in recipe_rows(manifests)},
                             manifests)
    if rows:
        best = min(rows, key=lambda r: r["test_loss"])
        bits = best["test_loss"] * PREDICTED_PIXELS / np.log(2.0)
        lines.append(f"Best: {best['model']}, {bits:.0f} bits per image, {bits / data_lib.SEQUENCE_LENGTH:.1%} of "
                     f"the {data_lib.SEQUENCE_LENGTH} bits of the raw binary pixels.")
        lines.extend(generalisation_lines(rows))
    return lines


def _report_lines(rows: list[dict], manifests: dict, missing) -> list[str]:
    """Each model against the report's test cross-entropy, what the ± holds, and how training stands.

    Every verdict is :func:`helpers.core.reference.judge`'s, from the row's per-image standard error
    (``test_se``), the same rule as the README's table and the manifests' notes.
    """
    from helpers.analysis.classification import verdict_summary

    compared = [r for r in rows if r.get("ref_test_loss") is not None]
    judged = [reference.judge("pixel", r["model"], r["test_loss"], r.get("test_se"),
                              n_images=len(r.get("test_per_image", ())) or reference.N_TEST_IMAGES) for r in compared]
    lines = [f"{len(rows)} of {len(rows) + len(missing)} pixel models trained."]
    if judged:
        by_basis: dict[str, list[str]] = {}
        for j in judged:
            if j.error:
                by_basis.setdefault(j.basis(), []).append(j.name)
        bases = "; ".join(basis if len(by_basis) == 1 else f"for {', '.join(names)}, {basis}"
                          for basis, names in by_basis.items())
        lines[0] += " " + verdict_summary(judged, "test cross-entropy", bases)
        budget = reference.seed_budget_sentence([manifests[j.name] for j in judged], judged)
        lines += [budget] if budget else []
    improving = [r["model"] for r in rows if manifests[r["model"]]["status"] == "complete"
                 and still_improving(manifests[r["model"]])]
    if improving:
        lines.append(f"Still improving when their epoch budget ran out: {', '.join(improving)}.")
    training = [r["model"] for r in rows if manifests[r["model"]]["status"] != "complete"]
    if training:
        lines.append(f"Still training (checkpoints, not results): {', '.join(training)}.")
    if missing:
        lines.append(f"Not trained yet, so not compared: {', '.join(missing)}.")
    return lines


#: What the ± of a comparison between two of our models holds when no pixel seed spread is recorded.
PAIRED_BASIS = "± 2 SE of the paired per-image difference, no seed term"


def _seed_term(small: str, large: str) -> tuple[float, str]:
    """The seed variance of a difference between two single runs, and what the ± then holds, in words."""
    from helpers.core.spread import spread_for

    sds = [spread_for("pixel", name).sd for name in (small, large)]
    if not any(sds):
        return 0.0, PAIRED_BASIS
    each = f"{sds[0]:.4f} nats/pixel each" if f"{sds[0]:.4f}" == f"{sds[1]:.4f}" else f"{sds[0]:.4f} and {sds[1]:.4f}"
    return sds[0] ** 2 + sds[1] ** 2, f"± 2 SE of the paired per-image difference and both runs' seed SD ({each})"


def _capacity_lines(by_name: dict, recipes: dict, manifests: dict) -> list[str]:
    """Each larger GRU against a smaller one: the gain with its paired error, the cost, and recipe confounds."""
    lines = []
    for small, large in (("gru_1x32", "gru_1x64"), ("gru_1x64", "gru_1x128"), ("gru_1x32", "gru_3x32")):
        if small in by_name and large in by_name:
            gain = by_name[small]["test_loss"] - by_name[large]["test_loss"]
            error, basis = _paired_error(by_name[small], by_name[large]), ""
            if error:
                seed_variance, basis = _seed_term(small, large)
                error = float(np.sqrt(error**2 + seed_variance))
            rs, rl = recipes[small], recipes[large]
            unfinished = [m for m in (small, large) if manifests[m]["status"] != "complete"]
            # An unfinished model has run fewer epochs by definition; that is said already.
            differ = ((rs["lr"], rs["decay"]) != (rl["lr"], rl["decay"])
                      or (not unfinished and rs["epochs_run"] != rl["epochs_run"]))
            notes = ([f"{' and '.join(unfinished)} still training"] if unfinished else []) + (
                [(f"different recipes, not capacity alone: {small} lr {rs['lr']:g}, decay {rs['decay']}, "
                 f"{rs['epochs_run']} epochs; {large} lr {rl['lr']:g}, decay {rl['decay']}, {rl['epochs_run']} epochs")]
                if differ else [])
            cost = (f"for {rl['params'] / rs['params']:.1f}x the parameters and "
                    f"{rl['hours'] / max(rs['hours'], 1e-9):.1f}x the training hours")
            error_text = f" ± {2 * error:.4f}" if error else ""
            if _within_noise(gain, error):
                head = f"{large} against {small}: within noise ({signed_4(gain)}{error_text} nats/pixel, {basis}) {cost}"
            else:
                per_image = f"{basis + '; ' if basis else ''}{abs(gain) * PREDICTED_PIXELS:.1f} nats per image"
                head = (f"{large} against {small}: {'better' if gain >= 0 else 'worse'} by {abs(gain):.4f}{error_text} "
                        f"nats/pixel ({per_image}) {cost}")
            lines.append(head + (f" ({'; '.join(notes)})." if notes else "."))
    return lines


def signed_4(value: float) -> str:
    """``value`` with a sign and 4 decimals (never ``-0.0000``)."""
    from helpers.analysis.plots import signed

    return signed(value, 4)


def generalisation_lines(rows: list[dict], z: float = 2.0) -> list[str]:
    """Training against held-out cross-entropy (test, and validation where the rows have it): the verdict on
    overfitting and its evidence, in one line.

    A model whose training images cost less than held-out ones fits them better; the difference counts
    beyond noise when it exceeds ``z`` standard errors of the two means combined.
    """
    splits = [(split, key) for split, key in (("test", "test_loss"), ("validation", "val_loss"))
              if all(r.get(key) is not None for r in rows)]
    gaps = {split: [r["train_loss"] - r[key] for r in rows] for split, key in splits}
    ranges = ", ".join(f"train minus {split} from {signed_4(min(g))} to {signed_4(max(g))}" for split, g in gaps.items())
    if min(min(g) for g in gaps.values()) >= 0:
        return [f"No overfitting: no model's training images cost less than held-out ones ({ranges} nats/pixel)."]
    counts, typical = [], []
    for split, key in splits:
        se_key = key.replace("_loss", "_se")
        combined = [np.hypot(r[se_key], r["train_se"]) if r.get(se_key) and r.get("train_se") else None for r in rows]
        typical += [e for e in combined if e is not None]
        beyond = [g < 0 and e is not None and -g > z * e for g, e in zip(gaps[split], combined)]
        known = all(e is not None for e in combined)
        counts.append((split, sum(g < 0 for g in gaps[split]), sum(beyond) if known else None))
    evidence = (f"{ranges} nats/pixel" + (f", SE about {np.median(typical):.4f}" if typical else "") + "; below zero for "
                + " and ".join(f"{neg} of {len(rows)} models against the {split} images"
                               + (f" ({beyond} beyond {z:g} SE)" if beyond is not None else "")
                               for split, neg, beyond in counts))
    clear = [split for split, _, beyond in counts if beyond]
    clean = [split for split, neg, beyond in counts if not neg or beyond == 0]
    if not (clear and clean):
        return [f"Train minus held-out cross-entropy: {evidence}."]
    shares = [-g / r[key] for split, key in splits if split in clear for g, r in zip(gaps[split], rows)]
    held = [abs(r["test_loss"] - r["val_loss"]) for r in rows] if len(splits) == 2 and clean == ["test"] else []
    return [f"Overfitting, if any, is no larger than the difference between two held-out sets: {evidence}; the "
            f"{' and '.join(clear)} gap is {min(shares):.1%} to {max(shares):.1%} of the loss"
            + (f", and the test and validation images differ by {min(held):.4f} to {max(held):.4f}" if held else "")
            + "."]
