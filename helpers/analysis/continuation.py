"""Continuing partially hidden digits (notebook 04): the report's table 12, its annex, and a widget.

Per image and horizon n: the "predicted" and "GT" cross-entropies of the report, plus the entropy and the GT
along the sampled path. Definitions: docs/internals.md.
"""

from __future__ import annotations

import numpy as np

from helpers.inference.engine import continuation_logits, log_prob, prefix_states
from helpers.inference.sampling import sample_continuations

DEFAULT_NS = (1, 10, 28, 300)


def sampled_path_logits(model, prefix, samples: np.ndarray, states=None) -> np.ndarray:
    """Logits (N, S, n) of p(x_t = 1 | prefix, sampled x~_L..x~_{t-1}) along each sampled path (N, S, n).

    ``states``: the per-layer states after each prefix (:func:`helpers.inference.engine.prefix_states`), if known.
    """
    count, num_samples, n = samples.shape
    states = prefix_states(model, prefix) if states is None else states
    repeated = [[np.repeat(s, num_samples, axis=0) for s in layer] for layer in states]
    logits = continuation_logits(model, repeated, samples.reshape(count * num_samples, n))
    return logits.astype(np.float64).reshape(count, num_samples, n)


def bernoulli_entropy(logits) -> np.ndarray:
    """H(p) in nats of Bernoulli(sigmoid(logits)), stably: softplus(l) - l sigmoid(l)."""
    logits = np.asarray(logits, np.float64)
    return np.logaddexp(0.0, logits) - logits * 0.5 * (1.0 + np.tanh(logits / 2.0))


def continuation_results(model, cset, ns=DEFAULT_NS, num_samples: int = 10, seed: int = 0) -> dict:
    """Samples and per-image cross-entropies for each horizon n.

    Returns ``{n: {"samples": (N, S, n), "predicted": (N,), "entropy": (N,), "gt": (N,),
    "gt_sampled_path": (N,), "most_probable": (N, n)}}`` (defined in docs/internals.md).
    """
    results = {}
    states = prefix_states(model, cset.prefix)  # the prefix is read once, for every horizon and estimate
    truth_all = cset.images[:, cset.prefix_len : cset.prefix_len + max(ns)]
    gt_logp = log_prob(continuation_logits(model, states, truth_all), truth_all)  # teacher forcing, once
    for n in ns:
        sampled = sample_continuations(model, cset.prefix, n, num_samples=num_samples, seed=seed, states=states)
        greedy = sample_continuations(model, cset.prefix, n, num_samples=1, greedy=True, states=states)
        logits = sampled_path_logits(model, cset.prefix, sampled.samples, states)
        truth = truth_all[:, :n]
        results[n] = {
            "samples": sampled.samples,
            "predicted": sampled.cross_entropy.mean(axis=1),
            "entropy": bernoulli_entropy(logits).mean(axis=(1, 2)),
            "gt": -gt_logp[:, :n].mean(axis=1),
            "gt_sampled_path": -log_prob(logits, np.broadcast_to(truth[:, None], logits.shape)).mean(axis=(1, 2)),
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


def choose_common_examples(all_results: dict, n: int, truth: np.ndarray) -> dict:
    """The same three images for every model: :func:`choose_examples`' criteria averaged over the models.

    ``success``: the samples closest to the truth on average over the models; ``failure``: the farthest;
    ``high variance``: the samples most different from each other. Ties go to the image whose true
    continuation holds more ink (an all-background success shows nothing), then to image order.
    """
    distance = np.mean([sample_disagreement(r[n]["samples"], truth) for r in all_results.values()], axis=0)
    spread = np.mean([sample_spread(r[n]["samples"]) for r in all_results.values()], axis=0)
    ink = -np.asarray(truth).sum(axis=1)  # more ink first
    chosen = {}
    for label, key in (("success", distance), ("failure", -distance), ("high variance", -spread)):
        order = np.lexsort((np.arange(len(key)), ink, np.round(key, 12)))
        chosen[label] = int(next(i for i in order if i not in chosen.values()))
    return chosen


def compose(cset, index: int, continuation: np.ndarray) -> np.ndarray:
    """The image with its known prefix, ``continuation`` after it, and -1 (grey) for what is still hidden."""
    image = cset.masked[index].copy()
    image[cset.prefix_len : cset.prefix_len + len(continuation)] = continuation
    return image


def plot_per_image(all_results: dict, n: int, reference_table: dict | None = None):
    """Per image, the samples' cross-entropy (mean over samples) against the true continuation's, one panel
    per model (the report's annex figures 1-4, as a scatter: the images are unrelated, so no line joins them).

    Where the results hold ``gt_sampled_path`` (and it differs from GT, as it does beyond n = 1), those
    values are drawn too (against the same predicted values); with ``reference_table`` (the report's table 12)
    its mean (GT, predicted) point is marked.
    """
    import matplotlib.pyplot as plt

    names = list(all_results)
    fig, axes = plt.subplots(1, len(names), figsize=(3.3 * len(names), 3.3), squeeze=False, sharex=True, sharey=True)
    top = max(max(float(np.max(r[n][k])) for k in ("gt", "predicted", "gt_sampled_path") if k in r[n])
              for r in all_results.values())
    for ax, name in zip(axes[0], names):
        result = all_results[name][n]
        samples = result["samples"].shape[1]
        ax.plot([0, top], [0, top], color="grey", linewidth=0.8, linestyle=":")
        ax.scatter(result["gt"], result["predicted"], s=9, alpha=0.7, label="true continuation")
        if "gt_sampled_path" in result and not np.allclose(result["gt_sampled_path"], result["gt"]):  # same at n = 1
            ax.scatter(result["gt_sampled_path"], result["predicted"], s=9, alpha=0.5, marker="x",
                       label="true pixels along the sampled paths")
        ref = (reference_table or {}).get(name, {})
        if n in ref.get("gt", {}) and n in ref.get("predicted", {}):
            ax.plot(ref["gt"][n], ref["predicted"][n], "*", color="black", markersize=10, label="report (mean)")
        ax.set_title(f"{name}, n = {n}", fontsize=9)
        ax.set_xlabel("GT cross-entropy (nats/pixel)", fontsize=8)
    axes[0, 0].set_ylabel(f"samples' cross-entropy (mean of {samples})", fontsize=8)
    axes[0, 0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def example_panels(cset, index: int, result: dict, n: int, n_samples: int = 5) -> tuple[list, list]:
    """RGB panels (original, masked, samples, greedy) of one image with the continued pixels coloured, and titles."""
    from helpers.analysis.plots import marked_rgb

    span = np.arange(cset.prefix_len, cset.prefix_len + n)
    n_samples = min(n_samples, result["samples"].shape[1])
    panels = [marked_rgb(cset.images[index], span), marked_rgb(cset.masked[index], [])]
    panels += [marked_rgb(compose(cset, index, result["samples"][index, s]), span) for s in range(n_samples)]
    panels.append(marked_rgb(compose(cset, index, result["most_probable"][index]), span))
    titles = ["original", "masked"] + [f"sample {s + 1}" for s in range(n_samples)] + ["greedy (p > 0.5)"]
    return panels, titles


def plot_example(cset, index: int, result: dict, n: int, title: str = "", n_samples: int = 5, zoom: bool = True):
    """Original, masked, ``n_samples`` sampled continuations and the greedy one (each pixel 1 when p > 0.5),
    for one image; the n continued pixels coloured (ink dark blue, background light blue), zoomed on them."""
    from helpers.analysis.plots import show_rgb_grid, span_window

    panels, titles = example_panels(cset, index, result, n, n_samples)
    window = span_window(cset.prefix_len, n) if zoom else None
    return show_rgb_grid(np.stack(panels), titles, cols=len(panels), size=1.5, suptitle=title, window=window)


def plot_example_models(cset, index: int, all_results: dict, n: int, title: str = "", n_samples: int = 5,
                        zoom: bool = True):
    """:func:`plot_example` for every model at once: one row per model, the same image (the report's annex)."""
    from helpers.analysis.plots import show_rgb_grid, span_window

    panels, titles = [], []
    for row, results in enumerate(all_results.values()):
        more, names = example_panels(cset, index, results[n], n, n_samples)
        panels += more
        titles += names if row == 0 else [""] * len(names)
    window = span_window(cset.prefix_len, n) if zoom else None
    return show_rgb_grid(np.stack(panels), titles, cols=len(panels) // len(all_results), size=1.5, suptitle=title,
                         window=window, row_labels=list(all_results))


def continuation_explorer(models: dict, cset, ns=DEFAULT_NS):
    """An ipywidgets explorer: pick an image, n, a model and a seed, see 5 samples and the greedy completion."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from helpers.analysis.widgets import interactive_explorer

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

    return interactive_explorer(
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
    """:func:`gap_statistics` as table rows, each cell ``"mean ± 2 standard errors"`` (see :func:`horizon_headers`)."""
    from helpers.analysis.plots import signed

    return [{"model": name, **{f"n={n}": f"{signed(mean)} ± {2 * error:.3f}" for n, (mean, error) in by_n.items()}}
            for name, by_n in stats.items()]


def horizon_headers(horizons) -> list[str]:
    """Column titles of the ``n=...`` cells of :func:`gap_rows`, :func:`estimator_rows` and
    :func:`sampled_path_rows`, which say what their ± holds: ``["n=1, ± 2 SE", ...]``."""
    return [f"n={n}, ± 2 SE" for n in horizons]


def whole_image_nats(models: dict, images, manifests: dict) -> tuple[dict, dict]:
    """Per model, the mean nats per image of ``images`` and (from its manifest) of the average test image."""
    from helpers.analysis.pixel_prediction import PREDICTED_PIXELS, per_image_cross_entropy

    whole = {name: float(per_image_cross_entropy(model, images).mean()) * PREDICTED_PIXELS
             for name, model in models.items()}
    test_set = {name: m["metrics"]["test_loss"] * PREDICTED_PIXELS for name, m in manifests.items()
                if "test_loss" in m.get("metrics", {})}
    return whole, test_set


def table12_consistency_rows(all_results: dict, whole_image_nats: dict, reference_continuation: dict,
                             reference_pixel: dict, n: int = 300, test_set_nats: dict | None = None) -> list[dict]:
    """Is a GT value of table 12 compatible with the same model's table 11? Nats per image, ours and the report's.

    The GT cross-entropy of the last ``n`` pixels, times ``n``, is the part of an image's negative
    log-likelihood spent on those pixels; it cannot exceed the whole image's (table 11's per-pixel value
    times 783), since every pixel's term is non-negative.

    Args:
        all_results: :func:`continuation_results` per model.
        whole_image_nats: ``{model: mean negative log-likelihood per image (nats)}`` of the same images.
        reference_continuation, reference_pixel: the report's tables 12 and 11 (``helpers.core.reference``).
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


def discussion(stats: dict, consistency: list[dict], n_images: int) -> list[str]:
    """Verdicts on table 12 with their evidence, computed from :func:`gap_statistics` and
    :func:`table12_consistency_rows` (the report's GT / predicted ratios are in :func:`sampled_path_discussion`)."""
    from helpers.analysis.plots import noise_verdict, signed

    significant = [f"{name} n={n} {signed(mean)} ± {2 * error:.3f}" for name, by_n in stats.items()
                   for n, (mean, error) in by_n.items() if error > 0 and abs(mean) > 2 * error]
    total = sum(len(by_n) for by_n in stats.values())
    lines = [f"GT minus predicted (± 2 SE over the {n_images} images): "
             + (f"{'; '.join(significant)}; that is {noise_verdict(len(significant), total)}." if significant else
                f"none of the {total} (model, n) gaps is beyond noise; the models are about as surprised by the true "
                "endings as by their own samples.")]
    shown = [r for r in consistency if r["ours_whole"] is not None]
    broken = [r for r in consistency if r["ref_last"] is not None and r["ref_whole"] is not None
              and r["ref_last"] > r["ref_whole"]]
    if broken:
        n = broken[0]["n"]
        lines.append(f"At n = {n} the report's GT value cannot be the quantity defined above (its shorter horizons are "
                     f"not tested): for {len(broken)} of {len(consistency)} models it puts more nats on the hidden "
                     "pixels alone than its table 11 on a whole test image, though every pixel's term is non-negative.")
    if shown:
        ratios = [r["ours_whole"] / r["ours_test_whole"] for r in shown if r.get("ours_test_whole")]
        lines.append(f"Nats per image at n = {shown[0]['n']}, hidden pixels of the whole image (the report's, "
                     "against its table 11): "
                     + "; ".join(f"{r['model']} {r['ours_last']:.1f} of {r['ours_whole']:.1f}"
                                 + (f" ({r['ref_last']:.1f} against {r['ref_whole']:.1f})" if r["ref_last"] is not None
                                    else "") for r in shown)
                     + (f". These images are typical: they cost our models {_span(ratios)} times an average test "
                        "image." if ratios else "."))
    return lines


def _span(values) -> str:
    """``"0.98 to 1.02"``, or ``"1.00"`` alone when both ends print the same."""
    low, high = f"{min(values):.2f}", f"{max(values):.2f}"
    return low if low == high else f"{low} to {high}"


def mean_and_error(values) -> tuple[float, float]:
    """Mean of ``values`` and its standard error (NaN for fewer than 2)."""
    values = np.asarray(values, dtype=np.float64)
    error = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else float("nan")
    return float(values.mean()), float(error)


def _cell(values) -> str:
    """``"mean ± 2 standard errors"`` of ``values``."""
    mean, error = mean_and_error(values)
    return f"{mean:.3f} ± {2 * error:.3f}"


def estimator_rows(all_results: dict) -> list[dict]:
    """The predicted row two ways, ``"mean ± 2 standard errors"`` over images: the samples' cross-entropy, and
    the mean entropy H(p_t) along the same sampled paths (same expectation, less noise)."""
    rows = []
    for name, results in all_results.items():
        for key, label in (("predicted", "samples' cross-entropy"), ("entropy", "mean entropy H(p_t)")):
            rows.append({"model": name, "estimate": label, **{f"n={n}": _cell(r[key]) for n, r in results.items()}})
    return rows


def sampled_path_rows(all_results: dict, reference_table: dict) -> list[dict]:
    """Per model: the GT row (true path), the hypothesis (true pixels along the sampled paths), both as
    ``"mean ± 2 standard errors"``, and the report's GT row."""
    rows = []
    for name, results in all_results.items():
        rows.append({"model": name, "row": "GT, true path", **{f"n={n}": _cell(r["gt"]) for n, r in results.items()}})
        rows.append({"model": name, "row": "GT, sampled path",
                     **{f"n={n}": _cell(r["gt_sampled_path"]) for n, r in results.items()}})
        ref = reference_table.get(name, {}).get("gt", {})
        rows.append({"model": name, "row": "report GT", **{f"n={n}": f"{ref[n]:.3f}" if n in ref else "-" for n in results}})
    return rows


def ratio_ranges(all_results: dict, key: str = "gt_sampled_path") -> dict:
    """``{n: (lowest, highest)}`` over the models of mean(``key``) / mean(predicted)."""
    ratios = {}
    for results in all_results.values():
        for n, r in results.items():
            ratios.setdefault(n, []).append(float(np.mean(r[key]) / np.mean(r["predicted"])))
    return {n: (min(v), max(v)) for n, v in sorted(ratios.items())}


def sampled_path_discussion(all_results: dict, reference_table: dict, z: float = 2.0) -> list[str]:
    """Does scoring the true pixels along the sampled paths reproduce the report's GT row? The verdict and its
    evidence.

    Compares, for every (model, n > 1) the report has, its GT value with our true-path and sampled-path
    values (at n = 1 the two are the same number), and the GT / predicted ratios of all three.
    """
    def ranges(found):
        return ", ".join(f"{found[n][0]:.1f}-{found[n][1]:.1f}" if n in found else "-" for n in horizons)

    closer = within_sampled = within_true = cases = 0
    for name, results in all_results.items():
        ref = reference_table.get(name, {}).get("gt", {})
        for n, r in results.items():
            if n == 1 or n not in ref:
                continue
            cases += 1
            (true_mean, true_error), (path_mean, path_error) = mean_and_error(r["gt"]), mean_and_error(r["gt_sampled_path"])
            closer += abs(ref[n] - path_mean) < abs(ref[n] - true_mean)
            within_sampled += abs(ref[n] - path_mean) <= z * path_error
            within_true += abs(ref[n] - true_mean) <= z * true_error
    horizons = list(ratio_ranges(all_results))
    evidence = (f"GT / predicted at n = {', '.join(map(str, horizons))}, lowest-highest over the models: sampled "
                f"paths {ranges(ratio_ranges(all_results))}; true path {ranges(ratio_ranges(all_results, 'gt'))}; "
                f"the report {ranges(reference_gt_ratios(reference_table))}.")
    if not cases:
        return [evidence]
    longest = max(n for results in all_results.values() for n in results)
    grows = ratio_ranges(all_results)[longest][0] > 2 * ratio_ranges(all_results, "gt")[longest][1]
    head = ("Scoring the true pixels along sampled paths reproduces the report's GT row, which was probably computed "
            "that way" if closer >= 0.75 * cases and grows else
            "Scoring the true pixels along sampled paths does not reproduce the report's GT row")
    return [f"{head}: at n > 1 it is closer to our sampled-path value than to the true-path one in {closer} of {cases} "
            f"(model, n) cases, within {z:g} SE of it in {within_sampled} (of the true-path value: {within_true}).",
            evidence]
