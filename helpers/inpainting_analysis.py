"""Measuring and showing the exact in-painting of notebook 05 (the scorer itself is :mod:`helpers.inpainting`).

>>> result = evaluate_inpainting(model, iset)      # table 13 quantities, recovery, calibration, past-only
>>> print(result["gt_cross_entropy"].mean(), result["fill_cross_entropy"].mean())
"""

from __future__ import annotations

import numpy as np

from helpers import inpainting
from helpers.data import SEQUENCE_LENGTH

#: Tolerance of the per-image check "most probable fill has no higher cross-entropy than the truth":
#: the scorer and the teacher-forced recomputation run different float32 kernels, which agree to ~1e-7.
INVARIANT_TOLERANCE = 1e-5


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
    scores = inpainting.score_candidates(model, iset.masked)
    rows = np.arange(len(iset.holes))
    truth_pattern = iset.images[rows[:, None], scores.missing]
    # The truth's own candidate index: patterns are enumerated in a fixed order (see candidate_patterns).
    truth_index = np.array([int(np.flatnonzero((scores.patterns == t).all(axis=1))[0]) for t in truth_pattern])
    # Both cross-entropies are recomputed independently of the scorer, by teacher forcing on the complete
    # images, so the check below tests the scorer's argmax against a second computation.
    gt_ce = inpainting.image_cross_entropy(model, iset.images)
    fill_ce = inpainting.image_cross_entropy(model, scores.filled)
    if check_invariant:
        worst = float((fill_ce - gt_ce).max())
        if worst > INVARIANT_TOLERANCE:  # an explicit check: `assert` would vanish under python -O
            raise AssertionError(f"A most probable fill has a higher cross-entropy than its ground truth "
                                 f"(by {worst:.2e} nats/pixel): the scorer is inconsistent with the model.")
    filled_values = scores.filled[rows[:, None], scores.missing]
    past = inpainting.past_only_fill(model, iset.masked)
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


def discussion(rows: list[dict], background_share: dict | None = None) -> list[str]:
    """Sentences on the in-painting results, computed from :func:`summary_row` rows.

    Args:
        rows: one :func:`summary_row` per (model, set).
        background_share: optionally ``{set name: fraction of holes with no ink}``, the score of a fill
            that always answers background.
    """
    lines = []
    if not rows:
        return lines
    gains = sorted(((r["holes_recovered"] - r["past_only_holes"], r["model"], r["set"]) for r in rows))
    (low, *low_at), (high, *high_at) = gains[0], gains[-1]
    hurts = sum(g < 0 for g, *_ in gains)
    lines.append(f"The future pixels change the share of holes filled exactly by {low * 100:+.1f} percentage points "
                 f"({', '.join(low_at)}) to {high * 100:+.1f} ({', '.join(high_at)}); "
                 + (f"they lower it in {hurts} of {len(gains)} (model, set) pairs." if hurts else
                    f"they never lower it here ({len(gains)} (model, set) pairs)."))
    for set_name in dict.fromkeys(r["set"] for r in rows):
        in_set = [r for r in rows if r["set"] == set_name]
        best = max(in_set, key=lambda r: r["holes_recovered"])
        worst = min(in_set, key=lambda r: r["holes_recovered"])
        line = (f"{set_name}: {worst['holes_recovered']:.1%} ({worst['model']}) to {best['holes_recovered']:.1%} "
                f"({best['model']}) of the holes filled exactly")
        if background_share and set_name in background_share:
            line += f"; always answering background would score {background_share[set_name]:.1%}"
        lines.append(line + ".")
    return lines


def plot_calibration(results: dict, title: str = "Calibration of the posterior"):
    """Reliability diagram: mean confidence vs accuracy per bin, one line per (model, set)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    ax.plot([0.5, 1], [0.5, 1], color="grey", linewidth=0.8, linestyle=":", label="perfect calibration")
    for label, result in results.items():
        rows = calibration(result["confidence"], result["hole_correct"])
        ax.plot([r["confidence"] for r in rows], [r["accuracy"] for r in rows], "o-", markersize=3, label=label)
    ax.set_xlabel("posterior of the chosen fill (binned)")
    ax.set_ylabel("fraction of holes filled exactly")
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def hole_rgb(image, holes, hidden: bool = False) -> np.ndarray:
    """RGB image with the hole marked: grey when ``hidden``, else filled ink blue and filled background light blue."""
    from helpers.plots import binary_image_rgb

    image = np.asarray(image, dtype=np.float32).reshape(SEQUENCE_LENGTH).copy()
    rgb = binary_image_rgb(np.clip(image, 0, 1)).reshape(SEQUENCE_LENGTH, 3)
    for position in np.atleast_1d(holes):
        if hidden:
            rgb[position] = (0.6, 0.6, 0.6)
        else:
            rgb[position] = (0.1, 0.3, 0.9) if image[position] > 0.5 else (0.7, 0.85, 1.0)
    return rgb.reshape(28, 28, 3)


def plot_triplets(iset, filled, indices, title: str = "", zoom: bool = True):
    """Original / masked / in-painted for each image in ``indices`` (holes coloured), optionally zoomed."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(indices), 3, figsize=(4.2, 1.45 * len(indices) + 0.3), squeeze=False)
    for row, i in enumerate(indices):
        holes = iset.holes[i]
        panels = [hole_rgb(iset.images[i], holes), hole_rgb(iset.masked[i], holes, hidden=True),
                  hole_rgb(filled[i], holes)]
        r, c = divmod(int(holes[0]), 28)
        for ax, panel, label in zip(axes[row], panels, ("original", "masked", "in-painted")):
            ax.imshow(panel, interpolation="nearest")
            if zoom:
                ax.set_xlim(max(-0.5, c - 6.5), min(27.5, c + 7.5))
                ax.set_ylim(min(27.5, r + 7.5), max(-0.5, r - 6.5))
            ax.set_xticks([])
            ax.set_yticks([])
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
    r, c = divmod(int(holes[0]), 28)
    for ax in axes.flat:
        ax.axis("off")
    for ax, k in zip(axes.flat, order):
        image = iset.masked[index].copy()
        image[holes] = result["patterns"][k]
        ax.imshow(hole_rgb(image, holes), interpolation="nearest")
        ax.set_xlim(max(-0.5, c - 5.5), min(27.5, c + 6.5))
        ax.set_ylim(min(27.5, r + 6.5), max(-0.5, r - 5.5))
        mark = " (truth)" if np.array_equal(result["patterns"][k], truth) else ""
        ax.set_title(f"p = {posterior[k]:.3f}{mark}", fontsize=7)
    fig.suptitle(f"image {index}: every candidate fill, most probable first", fontsize=9)
    fig.tight_layout()
    return fig


def candidate_explorer(sets: dict, results: dict):
    """An ipywidgets explorer: pick a set and an image, see every candidate with its posterior."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def show(set_name, index):
        index = min(index, len(sets[set_name].holes) - 1)
        plt.show(plot_candidates(sets[set_name], index, results[set_name]))

    return widgets.interactive(
        show,
        set_name=widgets.Dropdown(options=list(sets), description="set"),
        index=widgets.BoundedIntText(value=0, min=0, max=max(len(s.holes) for s in sets.values()) - 1,
                                     description="image"),
    )
