"""Plots and printed tables shared by the notebooks.

Every figure function returns the matplotlib Figure (so tests can call it headless) and never calls
``plt.show()``; :func:`save_figure` writes it atomically: into the tracked ``figures/`` only when the project's
runner (``helpers.regenerate``) says so, else into the git-ignored ``lab/figures/``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from helpers.core.files import atomic_path
from helpers.core.paths import FIGURES_DIR

#: One colour per model size, the same in every figure (the report used green/red/orange/blue).
SIZE_COLOURS = {"1x32": "tab:green", "1x64": "tab:red", "1x128": "tab:orange", "3x32": "tab:blue"}


#: Environment variable that tells :func:`save_figure` where figures go: ``helpers.regenerate`` sets it (to its
#: staging folder, whose figures it then moves into ``figures/`` or ``--output-dir``), ``helpers.lab`` and the
#: tests set it to folders of their own.
FIGURES_ENV_VAR = "RNN_MNIST_FIGURES_DIR"
#: Where figures go when nothing says otherwise (a notebook run by hand, in JupyterLab or elsewhere): a
#: git-ignored folder, so an interactive run never changes the tracked ``figures/``.
SCRATCH_FIGURES_DIR = FIGURES_DIR.parent / "lab" / "figures"


def save_figure(fig, name: str, folder: str | Path | None = None, dpi: int = 110) -> Path:
    """Save ``fig`` as ``{folder}/{name}.png`` (atomically) and return the path.

    The folder is ``folder`` if given, else ``$RNN_MNIST_FIGURES_DIR`` if set, else ``lab/figures/`` (git-ignored):
    only the runner, which sets the variable, ever writes the tracked ``figures/``.
    """
    if folder is None:
        folder = os.environ.get(FIGURES_ENV_VAR) or SCRATCH_FIGURES_DIR
    folder = Path(folder)
    path = folder / (name if name.endswith(".png") else f"{name}.png")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return path


def _no_negative_zero(text: str, plus: bool = False) -> str:
    """``"-0.000"`` -> ``"0.000"`` (or ``"+0.000"`` when ``plus``): a value that rounds to zero has no minus sign."""
    if text.startswith("-") and not any(ch in "123456789" for ch in text):
        return ("+" if plus else "") + text[1:]
    return text


def signed(value: float, decimals: int = 3) -> str:
    """``value`` with an explicit sign and ``decimals`` decimals, never ``"-0.000"``.

    >>> signed(-0.00004), signed(0.0123), signed(-0.5, 1)
    ('+0.000', '+0.012', '-0.5')
    """
    return _no_negative_zero(f"{float(value):+.{decimals}f}", plus=True)


def wrap(text: str, width: int = 108, indent: str = "") -> str:
    """``text`` wrapped to ``width`` characters (printed discussions stay within a narrow window)."""
    import textwrap

    return textwrap.fill(text, width=width, initial_indent=indent, subsequent_indent=indent + "  ",
                         break_on_hyphens=False)


def format_table(rows: list, columns: list[str], headers: list[str] | None = None,
                 formats: dict | None = None, default_format: str = "{:.4f}") -> str:
    """A plain-text table with aligned columns and rounded numbers (stable for nbval).

    Args:
        rows: one dict per row (its ``columns`` keys shown), or one list per row (its values in column order).
        columns: keys to show, in order (with list rows: the column titles).
        headers: column titles (default: the keys).
        formats: per-column format strings, e.g. ``{"test_accuracy": "{:.2%}"}``.
        default_format: for floats without an explicit format, e.g. ``"{:.3g}"`` for 3 significant digits.
            ``None`` and NaN print as "-".
    """
    formats = formats or {}
    headers = [str(h) for h in (headers or columns)]
    rows = [row if isinstance(row, dict) else dict(zip(columns, row)) for row in rows]

    def cell(row, key):
        value = row.get(key)
        if value is None or (isinstance(value, (float, np.floating)) and np.isnan(value)):
            return "-"
        if isinstance(value, (float, np.floating)):
            fmt = formats.get(key, default_format)
            return _no_negative_zero(fmt.format(float(value)), plus="+" in fmt)
        if key in formats:
            return formats[key].format(value)
        return str(value)

    body = [[cell(row, key) for key in columns] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(headers, widths)))]
    lines.append("  ".join("-" * w for w in widths))
    for r in body:
        lines.append("  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths))))
    return "\n".join(lines)


def _size(name: str) -> str:
    return name.split("_", 1)[1]


def plot_learning_curve(ax, history: dict, label: str = "", colour: str | None = None, metric: str = "loss"):
    """Draw one model's curves on ``ax``: training dotted, validation solid (as the report's figures)."""
    epochs = np.arange(1, len(history[metric]) + 1)
    ax.plot(epochs, history[metric], linestyle=":", color=colour, label=f"{label} train".strip())
    ax.plot(epochs, history[f"val_{metric}"], linestyle="-", color=colour, label=f"{label} validation".strip())
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric.replace("_", " "))
    return ax


def _panel_title(name: str, manifest: dict) -> str:
    """The model's name, with its progress if it is still training (manifest status other than complete)."""
    if manifest.get("status", "complete") == "complete":
        return name
    budget = manifest.get("config", {}).get("max_epochs")
    done = len(manifest["history"].get("loss", []))
    return f"{name} (training: {done}/{budget})" if budget else f"{name} (training)"


def plot_learning_curves_grid(manifests: dict, metric: str = "loss", title: str = ""):
    """One panel per model (``{name: manifest}``), training dotted and validation solid.

    A grey vertical line marks the best epoch; a model still in training has its progress in the title,
    e.g. ``gru_1x128 (training: 16/60)``, so a checkpoint is not read as a finished curve.
    """
    import matplotlib.pyplot as plt

    names = list(manifests)
    cols = min(4, max(1, len(names)))
    rows = int(np.ceil(len(names) / cols)) if names else 1
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.9 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        history = manifests[name]["history"]
        plot_learning_curve(ax, history, colour=SIZE_COLOURS.get(_size(name)), metric=metric)
        best = manifests[name].get("best_epoch")
        if best:
            ax.axvline(best, color="grey", linewidth=0.8, alpha=0.6)
        ax.set_title(_panel_title(name, manifests[name]))
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    if names:
        axes.flat[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_learning_curves_combined(manifests: dict, metric: str = "loss", title: str = "", log_y: bool = False):
    """All models on one axis, coloured by size; training dotted, validation solid."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, manifest in manifests.items():
        plot_learning_curve(ax, manifest["history"], label=name, colour=SIZE_COLOURS.get(_size(name)), metric=metric)
    if log_y:
        ax.set_yscale("log")
    ax.legend(fontsize=8, ncol=2)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def binary_image_rgb(image, hidden=None) -> np.ndarray:
    """A 28x28 binary image as RGB: ink black on white, ``hidden`` pixels (mask or -1 values) grey."""
    image = np.asarray(image, dtype=np.float32).reshape(28, 28)
    rgb = np.repeat((1.0 - np.clip(image, 0, 1))[..., None], 3, axis=-1)
    mask = (image < 0) if hidden is None else np.asarray(hidden, dtype=bool).reshape(28, 28)
    rgb[mask] = (0.6, 0.6, 0.6)
    return rgb


def show_image_grid(images, titles=None, cols: int = 10, size: float = 1.2, hidden=None, suptitle: str = ""):
    """A grid of binary images (values 0/1, or -1 for hidden pixels shown grey)."""
    images = np.asarray(images)
    fig, axes = image_axes(len(images), cols, size, suptitle, title_room=0.3)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(binary_image_rgb(images[i], None if hidden is None else hidden[i]), interpolation="nearest")
            if titles is not None:
                ax.set_title(titles[i], fontsize=7)
    fig.tight_layout()
    return fig


def image_axes(n: int, cols: int, size: float, suptitle: str = "", title_room: float = 0.35):
    """A figure and a (rows, cols) grid of axes for ``n`` images, ``cols`` at most a row, ``size`` inches each."""
    import matplotlib.pyplot as plt

    cols = min(cols, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows + (title_room if suptitle else 0)),
                             squeeze=False)
    if suptitle:
        fig.suptitle(suptitle)
    return fig, axes


#: Colours of pixels a model filled in or predicted (ink, background), the same in notebooks 03-05.
PREDICTED_INK = (0.1, 0.3, 0.9)
PREDICTED_BACKGROUND = (0.7, 0.85, 1.0)


def marked_rgb(image, marked) -> np.ndarray:
    """A 28x28 RGB image: ink black, background white, hidden (-1) grey, and the ``marked`` pixels (positions
    or a boolean mask over the 784) coloured: ink dark blue, background light blue."""
    image = np.asarray(image, dtype=np.float32).reshape(784)
    rgb = binary_image_rgb(image).reshape(784, 3)
    mask = np.zeros(784, bool)
    marked = np.asarray(marked)
    if marked.dtype == bool:
        mask[:] = marked.reshape(784)
    else:
        mask[marked.astype(int).ravel()] = True
    mask &= image >= 0
    rgb[mask & (image > 0.5)] = PREDICTED_INK
    rgb[mask & (image <= 0.5)] = PREDICTED_BACKGROUND
    return rgb.reshape(28, 28, 3)


def span_window(start: int, n: int, min_size: int = 12, margin: int = 2) -> tuple[int, int, int, int]:
    """A square crop ``(top, bottom, left, right)`` (end exclusive) of the 28x28 image that holds pixels
    ``start .. start + n - 1`` with ``margin`` pixels around them, at least ``min_size`` wide, inside the image."""
    rows, cols = np.divmod(np.arange(start, start + n), 28)
    col_lo, col_hi = (cols.min(), cols.max()) if rows.min() == rows.max() else (0, 27)
    size = int(min(28, max(min_size, rows.max() - rows.min() + 1 + 2 * margin, col_hi - col_lo + 1 + 2 * margin)))

    def place(lo, hi):
        first = round((lo + hi + 1) / 2 - size / 2)
        return int(min(max(first, 0), 28 - size))

    top, left = place(int(rows.min()), int(rows.max())), place(int(col_lo), int(col_hi))
    return top, top + size, left, left + size


def show_rgb_grid(images, titles=None, cols: int = 10, size: float = 1.2, suptitle: str = "", window=None,
                  row_labels=None):
    """A grid of 28x28 RGB images, each framed, optionally cropped to ``window = (top, bottom, left, right)``.

    ``row_labels`` (one per grid row) label the rows on the left; ``titles`` label each image.
    """
    images = np.asarray(images)
    fig, axes = image_axes(len(images), cols, size, suptitle)
    for i, ax in enumerate(axes.flat):
        if i >= len(images):
            ax.axis("off")
            continue
        ax.imshow(images[i], interpolation="nearest")
        if window is not None:
            top, bottom, left, right = window
            ax.set_xlim(left - 0.5, right - 0.5)
            ax.set_ylim(bottom - 0.5, top - 0.5)
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_color("0.55")
            spine.set_linewidth(0.8)
        if titles is not None and titles[i]:
            ax.set_title(titles[i], fontsize=8)
    for row, label in enumerate(row_labels or []):
        axes[row, 0].set_ylabel(label, fontsize=8)
    fig.tight_layout()
    return fig


def chance_exceedance(z: float = 2.0) -> float:
    """P(|Z| > z) for a standard normal Z: the share of estimates beyond ``z`` standard errors by chance alone."""
    import math

    return math.erfc(z / math.sqrt(2.0))


def noise_verdict(count: int, total: int, z: float = 2.0, largest: float | None = None) -> str:
    """Whether ``count`` of ``total`` differences beyond ``z`` standard errors are more than chance gives, in words.

    Chance alone (independent estimates, no real difference) puts on average ``total * P(|Z| > z)`` beyond
    ``z``, and at least ``count`` of them with the binomial probability given. With ``largest`` (the largest
    deviation, in standard errors), the chance that some of the ``total`` reaches it is added.

    >>> noise_verdict(1, 16)
    '1 of 16 beyond 2 standard errors, where chance alone gives 0.7 on average (at least 1 in 53% of cases): consistent with noise'
    """
    import math

    def share(q):
        return "under 1%" if q < 0.01 else f"{q:.0%}"

    p = chance_exceedance(z)
    tail = sum(math.comb(total, k) * p**k * (1 - p) ** (total - k) for k in range(count, total + 1))
    text = (f"{count} of {total} beyond {z:g} standard errors, where chance alone gives {total * p:.1f} on average"
            + (f" (at least {count} in {share(tail)} of cases)" if count else ""))
    if largest is not None:
        some = 1 - (1 - chance_exceedance(largest)) ** total
        tail = min(tail, some)
        text += f"; one of {total} as far as {largest:.1f} standard errors happens by chance in {share(some)} of cases"
    return text + (": consistent with noise" if tail >= 0.05 else ": more than chance explains")
