"""Measuring and showing the exact in-painting of notebook 05 (the scorer itself is :mod:`helpers.inpainting`).

>>> result = evaluate_inpainting(model, iset)      # table 13 quantities, recovery, calibration, past-only
>>> print(result["gt_cross_entropy"].mean(), result["fill_cross_entropy"].mean())
"""

from __future__ import annotations

import numpy as np

from helpers.core.data import SEQUENCE_LENGTH
from helpers.inference import exact_fill

#: Tolerance of the per-image check "most probable fill has no higher cross-entropy than the truth":
#: the scorer and the teacher-forced recomputation run different float32 kernels, which agree to ~1e-7.
INVARIANT_TOLERANCE = 1e-5
#: Predicted pixels per image (x_2..x_784): per-image cross-entropies are log-likelihoods divided by this.
SEQUENCE_LENGTH_PREDICTED = SEQUENCE_LENGTH - 1


def hole_statistics(iset) -> dict:
    """How many missing pixels are ink (1) or background (0), and how many holes hold any ink."""
    values = iset.images[np.arange(len(iset.holes))[:, None], iset.holes]
    return {"images": len(iset.holes), "missing_pixels": int(values.size), "ink": int(values.sum()),
            "background": int(values.size - values.sum()), "holes_with_ink": int((values.sum(axis=1) > 0).sum())}


def evaluate_inpainting(model, iset, check_invariant: bool = True) -> dict:
    """Score every candidate fill of every image and measure the result.

    Returns a dict of arrays over images: ``gt_cross_entropy`` and ``fill_cross_entropy`` (nats per pixel
    over the 783 predicted pixels, the report's table 13 quantity), ``posterior`` (N, 2^k), ``confidence``
    (posterior of the chosen fill), ``pixel_correct`` (N, k), ``hole_correct`` (N,), ``past_only_pixel_correct``
    and ``past_only_hole_correct`` (the fill from the pixels before the hole only), and ``filled``.

    With ``check_invariant`` it asserts, per image, that the most probable fill's cross-entropy is not above
    the ground truth's: the truth is one of the candidates, so the maximum likelihood cannot lose to it.
    """
    scores = exact_fill.score_candidates(model, iset.masked)
    rows = np.arange(len(iset.holes))
    truth_pattern = iset.images[rows[:, None], scores.missing]
    # The truth's own candidate index: patterns are enumerated in a fixed order (see candidate_patterns).
    truth_index = np.array([int(np.flatnonzero((scores.patterns == t).all(axis=1))[0]) for t in truth_pattern])
    # Both cross-entropies are recomputed independently of the scorer, by teacher forcing on the complete
    # images, so the check below tests the scorer's argmax against a second computation.
    gt_ce = exact_fill.image_cross_entropy(model, iset.images)
    fill_ce = exact_fill.image_cross_entropy(model, scores.filled)
    if check_invariant:
        worst = float((fill_ce - gt_ce).max())
        if worst > INVARIANT_TOLERANCE:  # an explicit check: `assert` would vanish under python -O
            raise AssertionError(f"A most probable fill has a higher cross-entropy than its ground truth "
                                 f"(by {worst:.2e} nats/pixel): the scorer is inconsistent with the model.")
    filled_values = scores.filled[rows[:, None], scores.missing]
    past = exact_fill.past_only_fill(model, iset.masked)
    past_values = past[rows[:, None], scores.missing]
    return {
        "gt_cross_entropy": gt_ce,
        "fill_cross_entropy": fill_ce,
        "posterior": scores.posterior,
        "confidence": scores.posterior[rows, scores.best],
        "truth_posterior": scores.posterior[rows, truth_index],
        "pixel_correct": filled_values == truth_pattern,
        "hole_correct": (filled_values == truth_pattern).all(axis=1),
        "past_only_pixel_correct": past_values == truth_pattern,
        "past_only_hole_correct": (past_values == truth_pattern).all(axis=1),
        "filled": scores.filled,
        "loglik": scores.loglik,
        "truth_index": truth_index,
        "past_only_filled": past,
        "patterns": scores.patterns,
        "missing": scores.missing,
    }


def summary_row(name: str, set_name: str, result: dict) -> dict:
    """One table row: mean cross-entropies and recovery rates of a model on a set."""
    return {
        "model": name, "set": set_name,
        "gt_ce": float(result["gt_cross_entropy"].mean()),
        "fill_ce": float(result["fill_cross_entropy"].mean()),
        "pixels_recovered": float(result["pixel_correct"].mean()),
        "holes_recovered": float(result["hole_correct"].mean()),
        "past_only_holes": float(result["past_only_hole_correct"].mean()),
        "mean_confidence": float(result["confidence"].mean()),
    }


def calibration(confidence: np.ndarray, correct: np.ndarray, bins=(0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)) -> list[dict]:
    """Predicted confidence against observed accuracy, per confidence bin (empty bins left out)."""
    rows = []
    edges = np.asarray(bins)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, len(edges) - 2)
    for b in range(len(edges) - 1):
        members = which == b
        if members.any():
            rows.append({"bin": f"{edges[b]:.2f}-{edges[b + 1]:.2f}", "holes": int(members.sum()),
                         "confidence": float(confidence[members].mean()), "accuracy": float(correct[members].mean())})
    return rows


def calibration_verdict(rows: list[dict], z: float = 2.0) -> list[str]:
    """Which :func:`calibration` bins are miscalibrated beyond chance, in words.

    A bin counts as over- (under-) confident when its accuracy is below (above) its mean confidence by more
    than ``z`` binomial standard errors, sqrt(c (1 - c) / holes); smaller differences are what a calibrated
    posterior shows by chance on that many holes.
    """
    lines = []
    for row in rows:
        c, a, n = row["confidence"], row["accuracy"], row["holes"]
        error = np.sqrt(c * (1.0 - c) / n)
        if error > 0 and abs(a - c) > z * error:
            kind = "over-confident" if a < c else "under-confident"
            lines.append(f"bin {row['bin']} ({n} holes): confidence {c:.3f}, accuracy {a:.3f}: {kind} "
                         f"by {abs(a - c) / error:.1f} standard errors")
    return lines or [f"every bin is within {z:g} standard errors of calibrated"]


def calibration_noise_line(rows: list[dict], z: float = 2.0) -> str:
    """How many :func:`calibration` bins lie beyond ``z`` standard errors, against what chance gives a
    calibrated posterior (:func:`helpers.analysis.plots.noise_verdict`), in one sentence."""
    from helpers.analysis.plots import noise_verdict

    deviations = [abs(r["accuracy"] - r["confidence"]) / np.sqrt(r["confidence"] * (1 - r["confidence"]) / r["holes"])
                  for r in rows if 0 < r["confidence"] < 1]
    beyond = sum(d > z for d in deviations)
    verdict = noise_verdict(beyond, len(deviations), z, largest=max(deviations) if beyond else None)
    return f"Bins: {verdict}."


def posterior_sample_row(name: str, set_name: str, result: dict, seed: int = 0) -> dict:
    """Table 13 with fills drawn from the exact posterior instead of its most probable candidate.

    Cross-entropies (nats per predicted pixel) of the ground truth, the most probable fill and one posterior
    sample per image (seeded); the differences from the ground truth, ``{key}_minus_gt`` as ``(mean, standard
    error)`` over the images in nats per image, for ``best`` (most probable), ``sample``, ``expected`` (the
    posterior's expectation: exact, no sampling noise) and ``past_only`` (each missing pixel set from the
    pixels before it alone). All from the scorer's log-likelihoods, so the differences are exact to float64.
    """
    loglik = np.asarray(result["loglik"], np.float64)
    posterior = np.asarray(result["posterior"], np.float64)
    rows = np.arange(len(loglik))
    uniforms = np.random.default_rng(seed).random(len(loglik))
    cumulative = np.cumsum(posterior, axis=1)
    drawn = np.minimum((cumulative < (uniforms * cumulative[:, -1])[:, None]).sum(axis=1), posterior.shape[1] - 1)
    truth = loglik[rows, result["truth_index"]]
    patterns, missing = np.asarray(result["patterns"]), np.asarray(result["missing"])
    past_values = np.asarray(result["past_only_filled"])[rows[:, None], missing]
    past_index = (past_values[:, None, :] == patterns[None]).all(axis=2).argmax(axis=1)
    per_image = {"best": loglik.max(axis=1) - truth, "sample": loglik[rows, drawn] - truth,
                 "expected": (posterior * loglik).sum(axis=1) - truth, "past_only": loglik[rows, past_index] - truth}

    def mean_error(values):
        values = -values  # nats per image spent beyond the truth's
        return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")

    return {"model": name, "set": set_name, "gt_ce": float(-truth.mean() / SEQUENCE_LENGTH_PREDICTED),
            "best_ce": float(-loglik.max(axis=1).mean() / SEQUENCE_LENGTH_PREDICTED),
            "sample_ce": float(-loglik[rows, drawn].mean() / SEQUENCE_LENGTH_PREDICTED),
            **{f"{key}_minus_gt": mean_error(values) for key, values in per_image.items()}}


def posterior_table_rows(rows: list[dict], reference_inpainting: dict | None = None) -> list[dict]:
    """:func:`posterior_sample_row` rows ready to print: differences as ``"mean ± 2 standard errors"`` (nats per
    image) and, where ``reference_inpainting`` (the report's table 13) has the set's kind, the report's own
    in-painted minus GT difference."""
    from helpers.analysis.plots import signed

    kinds = {"1 pixel": "pixel", "2x2 block": "block"}
    printed = []
    for row in rows:
        out = {k: row[k] for k in ("model", "set", "gt_ce", "best_ce", "sample_ce")}
        for key in ("best", "sample", "expected", "past_only"):
            mean, error = row[f"{key}_minus_gt"]
            out[key] = f"{signed(mean)} ± {2 * error:.3f}"
        ref = (reference_inpainting or {}).get(kinds.get(row["set"]))
        out["report"] = signed((ref["inpainted"] - ref["gt"]) * SEQUENCE_LENGTH_PREDICTED) if ref else "-"
        printed.append(out)
    return printed


def posterior_sample_discussion(rows: list[dict], reference_inpainting: dict | None = None, z: float = 2.0) -> list[str]:
    """Whether sampled fills (:func:`posterior_sample_row`) reproduce the report's in-painted minus GT
    difference, per set: the verdict and its evidence (nats per image; "within noise" = within ``z`` SE)."""
    from helpers.analysis.plots import signed

    kinds = {"1 pixel": "pixel", "2x2 block": "block"}
    lines = []
    for row in rows:
        fills = {"sampled": row["sample_minus_gt"], "past-only": row["past_only_minus_gt"]}
        evidence = ", ".join(f"{name} {signed(mean)} ± {z * error:.3f}" for name, (mean, error) in fills.items())
        ref = (reference_inpainting or {}).get(kinds.get(row["set"]))
        if not ref:
            lines.append(f"{row['model']}, {row['set']}: fill minus ground truth (± {z:g} SE), {evidence} nats per image.")
            continue
        # The report rounds both values to 4 decimals: its difference is known to +-0.0001 nats per pixel.
        gap = (ref["inpainted"] - ref["gt"]) * SEQUENCE_LENGTH_PREDICTED
        low, high = gap - 1e-4 * SEQUENCE_LENGTH_PREDICTED, gap + 1e-4 * SEQUENCE_LENGTH_PREDICTED
        near = [name for name, (mean, error) in fills.items() if mean + z * error >= low and mean - z * error <= high]
        verdict = (f"within {z:g} SE of the {' and '.join(near)} fill" if near else f"beyond {z:g} SE of both fills")
        lines.append(f"{row['model']}, {row['set']}: the report's {signed(gap)} nats per image ({signed(low)} to "
                     f"{signed(high)} given its rounding) is {verdict}: fill minus ground truth (± {z:g} SE) {evidence}.")
    return lines


def discussion(rows: list[dict], background_share: dict | None = None) -> list[str]:
    """The verdicts on the in-painting results with their evidence, computed from :func:`summary_row` rows.

    Args:
        rows: one :func:`summary_row` per (model, set).
        background_share: optionally ``{set name: fraction of holes with no ink}``, the score of a fill
            that always answers background.
    """
    if not rows:
        return []
    gains = sorted((r["holes_recovered"] - r["past_only_holes"], r["model"], r["set"]) for r in rows)
    (low, *low_at), (high, *high_at) = gains[0], gains[-1]
    hurts = sum(g < 0 for g, *_ in gains)
    lines = [(f"The future pixels lower the share of holes filled exactly in {hurts} of {len(gains)} (model, set) pairs"
              if hurts else f"The future pixels never lower the share of holes filled exactly, in {len(gains)} (model, "
              "set) pairs") + f": {low * 100:+.1f} ({', '.join(low_at)}) to {high * 100:+.1f} percentage points "
             f"({', '.join(high_at)})."]
    spans = []
    for set_name in dict.fromkeys(r["set"] for r in rows):
        in_set = [r for r in rows if r["set"] == set_name]
        best = max(in_set, key=lambda r: r["holes_recovered"])
        worst = min(in_set, key=lambda r: r["holes_recovered"])
        spans.append(f"{set_name} {worst['holes_recovered']:.1%} ({worst['model']}) to {best['holes_recovered']:.1%} "
                     f"({best['model']})" + (f" against {background_share[set_name]:.1%}"
                                             if background_share and set_name in background_share else ""))
    lines.append("Holes filled exactly, lowest to highest model" + (", against always answering background"
                                                                    if background_share else "")
                 + ": " + "; ".join(spans) + ".")
    return lines


def plot_calibration(results: dict, title: str = "Calibration of the posterior", decimals: int = 3):
    """Reliability diagram, one column per set: accuracy against mean confidence per bin, one line per model,
    and below it the number of holes in each bin.

    ``results`` is ``{"model, set": result}``. A posterior's last float32 bits differ between CPU types (about
    1e-7), and a point moved by that much can change a few antialiased pixels. So confidences are rounded to
    ``decimals`` before binning, and each bin's mean is drawn rounded to ``decimals - 1`` (0.005 at most, a
    few pixels): the figure then changes only if a posterior lies within 1e-7 of a rounding boundary.
    """
    import matplotlib.pyplot as plt

    panels: dict[str, dict] = {}
    for label, result in results.items():
        model, _, set_name = label.partition(", ")  # a label without a set goes to one unnamed panel
        panels.setdefault(set_name, {})[model] = result
    fig, axes = plt.subplots(2, len(panels), figsize=(4.6 * len(panels), 5.6), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1.2]})
    for column, (set_name, models) in enumerate(panels.items()):
        top, bottom = axes[0, column], axes[1, column]
        top.plot([0.5, 1], [0.5, 1], color="grey", linewidth=0.8, linestyle=":", label="perfect calibration")
        binned = {m: calibration(np.round(r["confidence"], decimals), r["hole_correct"]) for m, r in models.items()}
        labels = sorted({r["bin"] for rows in binned.values() for r in rows}, key=lambda b: float(b.split("-")[0]))
        for k, (model, rows) in enumerate(binned.items()):
            x = [round(r["confidence"], decimals - 1) for r in rows]
            top.plot(x, [round(r["accuracy"], decimals) for r in rows], "o-", markersize=3, color=f"C{k}", label=model)
            counts = {r["bin"]: r["holes"] for r in rows}
            bottom.bar(np.arange(len(labels)) + (k - (len(models) - 1) / 2) * 0.2,
                       [counts.get(b, 0) for b in labels], width=0.2, color=f"C{k}")
        top.set(xlabel="posterior of the chosen fill (bin mean)", title=set_name)
        top.legend(fontsize=7, loc="upper left")
        bottom.set_xticks(np.arange(len(labels)), labels, fontsize=6)
        bottom.set(yscale="log", xlabel="posterior bin")
    axes[0, 0].set_ylabel("fraction of holes filled exactly")
    axes[1, 0].set_ylabel("holes")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def hole_rgb(image, holes, hidden: bool = False) -> np.ndarray:
    """RGB image with the hole marked: grey when ``hidden``, else filled ink blue and filled background light blue."""
    from helpers.analysis.plots import PREDICTED_BACKGROUND, PREDICTED_INK, binary_image_rgb

    image = np.asarray(image, dtype=np.float32).reshape(SEQUENCE_LENGTH).copy()
    rgb = binary_image_rgb(np.clip(image, 0, 1)).reshape(SEQUENCE_LENGTH, 3)
    for position in np.atleast_1d(holes):
        if hidden:
            rgb[position] = (0.6, 0.6, 0.6)
        else:
            rgb[position] = PREDICTED_INK if image[position] > 0.5 else PREDICTED_BACKGROUND
    return rgb.reshape(28, 28, 3)


def hole_window(holes, size: int = 14) -> tuple[int, int, int, int]:
    """A ``size`` x ``size`` crop ``(top, bottom, left, right)`` (end exclusive) around the hole, inside the image."""
    rows, cols = np.divmod(np.asarray(holes).ravel(), 28)

    def place(lo, hi):
        return int(min(max(round((int(lo) + int(hi) + 1) / 2 - size / 2), 0), 28 - size))

    top, left = place(rows.min(), rows.max()), place(cols.min(), cols.max())
    return top, top + size, left, left + size


def _frame(ax, colour="0.55", width: float = 0.8) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color(colour)
        spine.set_linewidth(width)


def _crop(ax, window) -> None:
    top, bottom, left, right = window
    ax.set_xlim(left - 0.5, right - 0.5)
    ax.set_ylim(bottom - 0.5, top - 0.5)


def plot_triplets(iset, filled, indices, title: str = "", zoom: bool = True):
    """Original / masked / in-painted for each image in ``indices`` (holes coloured), optionally zoomed.

    Zoomed, every crop is the same 14x14 window inside the image, framed, and a first column shows the
    whole digit with that window outlined, so each fragment is seen in place.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    columns = (["whole digit"] if zoom else []) + ["original", "masked", "in-painted"]
    fig, axes = plt.subplots(len(indices), len(columns), figsize=(1.45 * len(columns), 1.5 * len(indices) + 0.35),
                             squeeze=False)
    for row, i in enumerate(indices):
        holes = iset.holes[i]
        panels = [hole_rgb(iset.images[i], holes), hole_rgb(iset.masked[i], holes, hidden=True),
                  hole_rgb(filled[i], holes)]
        window = hole_window(holes)
        if zoom:
            panels.insert(0, panels[0])
        for col, (ax, panel, label) in enumerate(zip(axes[row], panels, columns)):
            ax.imshow(panel, interpolation="nearest")
            _frame(ax)
            if zoom and col == 0:
                top, bottom, left, right = window
                ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False,
                                       edgecolor="tab:red", linewidth=1.2))
            elif zoom:
                _crop(ax, window)
            if row == 0:
                ax.set_title(label, fontsize=8)
        axes[row, 0].set_ylabel(f"image {i}", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_candidates(iset, index: int, result: dict, max_candidates: int = 16):
    """Every candidate fill of one image (zoomed on the hole) with its posterior probability."""
    import matplotlib.pyplot as plt

    posterior = result["posterior"][index]
    order = np.argsort(-posterior, kind="stable")[:max_candidates]
    cols = min(8, len(order))
    rows = int(np.ceil(len(order) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.5 * rows + 0.3), squeeze=False)
    holes = result["missing"][index]
    truth = iset.images[index, holes]
    window = hole_window(holes, size=12)
    for ax in axes.flat:
        ax.axis("off")
    for ax, k in zip(axes.flat, order):
        image = iset.masked[index].copy()
        image[holes] = result["patterns"][k]
        ax.axis("on")
        ax.imshow(hole_rgb(image, holes), interpolation="nearest")
        _frame(ax)
        _crop(ax, window)
        mark = " (truth)" if np.array_equal(result["patterns"][k], truth) else ""
        ax.set_title(f"p = {posterior[k]:.3f}{mark}", fontsize=7)
    fig.suptitle(f"image {index}: every candidate fill, most probable first", fontsize=9)
    fig.tight_layout()
    return fig


def candidate_explorer(sets: dict, results: dict):
    """An ipywidgets explorer: pick a set and an image, see every candidate with its posterior."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from helpers.analysis.widgets import interactive_explorer

    def show(set_name, index):
        index = min(index, len(sets[set_name].holes) - 1)
        plt.show(plot_candidates(sets[set_name], index, results[set_name]))

    return interactive_explorer(
        show,
        set_name=widgets.Dropdown(options=list(sets), description="set"),
        index=widgets.BoundedIntText(value=0, min=0, max=max(len(s.holes) for s in sets.values()) - 1,
                                     description="image"),
    )
