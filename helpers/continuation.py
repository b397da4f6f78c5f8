"""Continuing partially hidden digits (notebook 04): the report's table 12, its annex, and a widget.

Two quantities per image and horizon n, both mean cross-entropies in nats per pixel over the n continued
pixels (0-based positions L .. L+n-1, with L = 784 - 300 known pixels):

- **predicted**: for a continuation sampled from the model, -1/n sum_t log p(x~_t | x_<L, x~_L..x~_{t-1}),
  averaged over the samples (the model's surprise at its own samples: an entropy estimate);
- **GT**: -1/n sum_t log p(x_t | x_<t) for the true pixels (teacher forcing: how well the model predicts
  the real continuation).
"""

from __future__ import annotations

import numpy as np

from helpers.sampling import sample_continuations, sequence_cross_entropy

DEFAULT_NS = (1, 10, 28, 300)


def continuation_results(model, cset, ns=DEFAULT_NS, num_samples: int = 10, seed: int = 0) -> dict:
    """Samples and per-image cross-entropies for each horizon n.

    Returns ``{n: {"samples": (N, S, n), "predicted": (N,), "gt": (N,), "most_probable": (N, n)}}``.
    """
    results = {}
    for n in ns:
        sampled = sample_continuations(model, cset.prefix, n, num_samples=num_samples, seed=seed)
        greedy = sample_continuations(model, cset.prefix, n, num_samples=1, greedy=True)
        results[n] = {
            "samples": sampled.samples,
            "predicted": sampled.cross_entropy.mean(axis=1),
            "gt": sequence_cross_entropy(model, cset.images, cset.prefix_len, n),
            "most_probable": greedy.samples[:, 0],
        }
    return results


def table12_rows(all_results: dict, reference_table: dict) -> list[dict]:
    """One "predicted" and one "GT" row per model, a column per n, with the report's value beside."""
    rows = []
    for name, results in all_results.items():
        for kind in ("predicted", "gt"):
            row = {"model": name, "row": "predicted" if kind == "predicted" else "GT"}
            for n, result in results.items():
                row[f"n={n}"] = float(result[kind].mean())
                row[f"ref n={n}"] = reference_table.get(name, {}).get(kind, {}).get(n)
            rows.append(row)
    return rows


def sample_disagreement(samples: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Fraction of continued pixels where a sample differs from the truth, averaged over samples: (N,)."""
    return (samples != truth[:, None, :]).mean(axis=(1, 2))


def sample_spread(samples: np.ndarray) -> np.ndarray:
    """How much the samples disagree with each other: mean over pixels of q(1 - q), q = fraction of ink."""
    q = samples.mean(axis=1)
    return (q * (1.0 - q)).mean(axis=1)


def choose_examples(result: dict, truth: np.ndarray) -> dict:
    """Three distinct images by a stated criterion: ``success`` (samples closest to the truth),
    ``failure`` (samples farthest from it) and ``high variance`` (samples most different from each other).

    ``truth`` is (N, n), the hidden pixels. Ties are broken by image order.
    """
    distance = sample_disagreement(result["samples"], truth)
    spread = sample_spread(result["samples"])
    chosen = {}
    for label, order in (("success", np.argsort(distance, kind="stable")),
                         ("failure", np.argsort(-distance, kind="stable")),
                         ("high variance", np.argsort(-spread, kind="stable"))):
        chosen[label] = int(next(i for i in order if i not in chosen.values()))
    return chosen


def compose(cset, index: int, continuation: np.ndarray) -> np.ndarray:
    """The image with its known prefix, ``continuation`` after it, and -1 (grey) for what is still hidden."""
    image = cset.masked[index].copy()
    image[cset.prefix_len : cset.prefix_len + len(continuation)] = continuation
    return image


def plot_per_image(all_results: dict, n: int):
    """Per-image cross-entropies for horizon n, one panel per model (the report's annex figures 1-4)."""
    import matplotlib.pyplot as plt

    names = list(all_results)
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 2.8), squeeze=False, sharey=True)
    for ax, name in zip(axes[0], names):
        result = all_results[name][n]
        images = np.arange(len(result["gt"]))
        ax.plot(images, result["predicted"], "-", linewidth=1, label=f"samples (mean of {result['samples'].shape[1]})")
        ax.plot(images, result["gt"], ".", markersize=3, label="ground truth")
        ax.set_title(f"{name}, n = {n}", fontsize=9)
        ax.set_xlabel("image")
    axes[0, 0].set_ylabel("nats per pixel")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_example(cset, index: int, result: dict, n: int, title: str = "", n_samples: int = 5):
    """Original, masked, ``n_samples`` sampled continuations and the greedy one (each pixel 1 when p > 0.5), for one image."""
    from helpers.plots import show_image_grid

    n_samples = min(n_samples, result["samples"].shape[1])
    panels = [cset.images[index], cset.masked[index]]
    panels += [compose(cset, index, result["samples"][index, s]) for s in range(n_samples)]
    panels.append(compose(cset, index, result["most_probable"][index]))
    titles = ["original", "masked"] + [f"sample {s + 1}" for s in range(n_samples)] + ["greedy (p > 0.5)"]
    return show_image_grid(np.stack(panels), titles, cols=len(panels), size=1.15, suptitle=title)


def continuation_explorer(models: dict, cset, ns=DEFAULT_NS):
    """An ipywidgets explorer: pick an image, n, a model and a seed, see 5 samples and the greedy completion."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def show(index, n, model_name, seed):
        model = models[model_name]
        prefix = cset.prefix[index : index + 1]
        sampled = sample_continuations(model, prefix, n, num_samples=5, seed=seed)
        greedy = sample_continuations(model, prefix, n, num_samples=1, greedy=True)
        result = {"samples": sampled.samples, "most_probable": greedy.samples[:, 0]}
        single = type(cset)(cset.indices[index : index + 1], cset.images[index : index + 1],
                            cset.masked[index : index + 1], cset.prefix_len, cset.seed)
        fig = plot_example(single, 0, result, n, title=f"{model_name}: image {index}, n = {n}, seed {seed}, "
                           f"samples' cross-entropy {sampled.cross_entropy.mean():.3f} nats/pixel")
        plt.show(fig)

    return widgets.interactive(
        show,
        index=widgets.BoundedIntText(value=0, min=0, max=len(cset.indices) - 1, description="image"),
        n=widgets.Dropdown(options=list(ns), value=ns[-1], description="n"),
        model_name=widgets.Dropdown(options=list(models), description="model"),
        seed=widgets.BoundedIntText(value=0, min=0, max=10_000, description="seed"),
    )


def gap_statistics(all_results: dict) -> dict:
    """GT minus predicted cross-entropy per model and horizon: ``{model: {n: (mean, standard error)}}``.

    The mean is over images; a gap is only meaningful when it is large against its standard error
    (about 2 or more of them).
    """
    stats = {}
    for name, results in all_results.items():
        stats[name] = {}
        for n, result in results.items():
            gaps = np.asarray(result["gt"], dtype=np.float64) - np.asarray(result["predicted"], dtype=np.float64)
            error = gaps.std(ddof=1) / np.sqrt(len(gaps)) if len(gaps) > 1 else float("nan")
            stats[name][n] = (float(gaps.mean()), float(error))
    return stats


def gap_rows(stats: dict) -> list[dict]:
    """:func:`gap_statistics` as table rows, each cell ``"mean ± standard error"``."""
    from helpers.plots import signed

    return [{"model": name, **{f"n={n}": f"{signed(mean)} ± {error:.3f}" for n, (mean, error) in by_n.items()}}
            for name, by_n in stats.items()]


def table12_consistency_rows(all_results: dict, whole_image_nats: dict, reference_continuation: dict,
                             reference_pixel: dict, n: int = 300, test_set_nats: dict | None = None) -> list[dict]:
    """Is a GT value of table 12 compatible with the same model's table 11? Nats per image, ours and the report's.

    The GT cross-entropy of the last ``n`` pixels, times ``n``, is the part of an image's negative
    log-likelihood spent on those pixels; it cannot exceed the whole image's (table 11's per-pixel value
    times 783), since every pixel's term is non-negative.

    Args:
        all_results: :func:`continuation_results` per model.
        whole_image_nats: ``{model: mean negative log-likelihood per image (nats)}`` of the same images.
        reference_continuation, reference_pixel: the report's tables 12 and 11 (``helpers.reference``).
        n: the horizon to check (must be a horizon of the results and of the reference).
        test_set_nats: optionally ``{model: mean nats per image over the whole test set}`` (our table 11
            value times 783), to show whether the continuation images are typical test images.
    """
    test_set_nats = test_set_nats or {}
    rows = []
    for name, results in all_results.items():
        row = {"model": name, "n": n, "ours_last": float(results[n]["gt"].mean()) * n, "ours_whole": whole_image_nats.get(name),
               "ours_test_whole": test_set_nats.get(name)}
        ref_gt = reference_continuation.get(name, {}).get("gt", {}).get(n)
        ref_test = reference_pixel.get(name, {}).get("test_loss")
        row["ref_last"] = ref_gt * n if ref_gt is not None else None
        row["ref_whole"] = ref_test * 783 if ref_test is not None else None
        rows.append(row)
    return rows


def reference_gt_ratios(reference_continuation: dict) -> dict:
    """``{n: (lowest, highest)}`` ratio of the report's GT value to its predicted value, over its models."""
    ratios = {}
    for rows in reference_continuation.values():
        for n, gt in rows.get("gt", {}).items():
            predicted = rows.get("predicted", {}).get(n)
            if predicted:
                ratios.setdefault(n, []).append(gt / predicted)
    return {n: (min(values), max(values)) for n, values in sorted(ratios.items())}


def discussion(stats: dict, consistency: list[dict], n_images: int,
               reference_continuation: dict | None = None) -> list[str]:
    """Sentences on table 12, computed from :func:`gap_statistics` and :func:`table12_consistency_rows`.

    With ``reference_continuation`` (the report's table 12), a last line gives the range of the report's GT to
    predicted ratio at each horizon.
    """
    from helpers.plots import signed

    lines = []
    significant = [f"{name} n={n} ({signed(mean)} ± {error:.3f})" for name, by_n in stats.items()
                   for n, (mean, error) in by_n.items() if error > 0 and abs(mean) > 2 * error]
    total = sum(len(by_n) for by_n in stats.values())
    lines.append(f"Of {total} (model, n) gaps between the GT and predicted rows, {len(significant)} exceed twice "
                 f"their standard error over the {n_images} images"
                 + (f": {'; '.join(significant)}." if significant else
                    "; the models are about as surprised by the true endings as by their own samples."))
    for row in consistency:
        if row["ours_whole"] is not None:
            lines.append(f"{row['model']}: our GT value at n = {row['n']} spends {row['ours_last']:.1f} nats per image "
                         f"on the hidden pixels, out of {row['ours_whole']:.1f} for the whole image"
                         + (f"; the report's spends {row['ref_last']:.1f}, against {row['ref_whole']:.1f} for a "
                            f"whole test image in its table 11." if row["ref_last"] is not None else "."))
    broken = [r for r in consistency if r["ref_last"] is not None and r["ref_whole"] is not None
              and r["ref_last"] > r["ref_whole"]]
    ratios = [r["ours_whole"] / r["ours_test_whole"] for r in consistency
              if r["ours_whole"] is not None and r.get("ours_test_whole")]
    if ratios:
        lines.append(f"These {n_images} images are typical test images: they cost our models {min(ratios):.2f} to "
                     f"{max(ratios):.2f} times the nats of an average test image.")
    if broken:
        n = broken[0]["n"]
        lines.append(f"For {len(broken)} of {len(consistency)} models the report's GT value at n = {n} puts more nats on "
                     "the hidden pixels alone than its table 11 puts on a whole test image. Every pixel's term is "
                     "non-negative, so a per-pixel average over randomly drawn test images cannot do that unless the "
                     f"images are far harder than the test set: at n = {n} the report's GT value cannot be the "
                     "quantity defined above (this check says nothing about its shorter horizons).")
    if reference_continuation:
        ranges = "; ".join(f"n = {n}: {low:.1f} to {high:.1f}" for n, (low, high) in
                           reference_gt_ratios(reference_continuation).items())
        lines.append(f"The report's GT value divided by its predicted value, lowest to highest over its models: {ranges}.")
    return lines
