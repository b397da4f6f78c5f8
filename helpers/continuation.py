"""Continuing partially hidden digits (notebook 04): the report's table 12, its annex, and a widget.

Two quantities per image and horizon n, both mean cross-entropies in nats per pixel over the n continued
pixels (positions L .. L+n-1, with L = 784 - 300 known pixels):

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
