"""Seed-to-seed spread of a test metric, read from the recorded seed runs under ``data/experiments/``.

A verdict against the report uses the spread of its own model when that model has ``MIN_OWN_SEEDS`` seeds,
else the spread pooled over every seed group of the same task (and says it rests on one run). Classifier
spreads are in percentage points of test accuracy, pixel spreads in nats per predicted pixel.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from helpers.core.paths import DATA_DIR

#: Where the seed runs' summaries are kept (``helpers.experiments`` writes them).
EXPERIMENTS_DIR = DATA_DIR / "experiments"
#: Seeds a model needs before its own spread is used instead of the pooled one.
MIN_OWN_SEEDS = 3


@dataclass(frozen=True)
class SeedSpread:
    """The seed SD a verdict uses: ``source`` is ``"own"``, ``"pooled"`` or ``"none"`` (nothing measured)."""

    sd: float
    source: str
    seeds: int = 0
    dof: int = 0
    groups: tuple = ()
    epochs: tuple = ()

    def describe(self, unit: str, digits: int = 2) -> str:
        """Where the spread comes from, in words, e.g. ``"and its own seed SD (0.84 pp over 3 seeds of 30 epochs)"``."""
        runs = f" of {self.budget()}" if self.epochs else ""
        if self.source == "own":
            return f"and its own seed SD ({self.sd:.{digits}f} {unit} over {self.seeds} seeds{runs})"
        if self.source == "pooled":
            source = "pooled over the seeds" if len(self.groups) > 1 else "borrowed from the seeds"
            return (f"and a seed SD {source}{f' ({self.budget()})' if self.epochs else ''} of "
                    f"{' and '.join(self.groups)} "
                    f"({self.sd:.{digits}f} {unit}, {self.dof} degree{'s' if self.dof != 1 else ''} of freedom), as it rests on one run")
        return "alone, as it rests on one run and no seed spread is measured for this task"

    def budget(self) -> str:
        """The epoch budget of the seed runs, e.g. ``"30 epochs"`` (``"30-100 epochs"`` when they differ)."""
        low, high = min(self.epochs), max(self.epochs)
        return f"{low} epochs" if low == high else f"{low}-{high} epochs"


def _metric(summary: dict) -> tuple[str, float] | None:
    """(task, test metric in the spread's unit) of one seed run's summary."""
    task = summary.get("config", {}).get("task", "classify")
    metrics = summary.get("metrics") or {}
    if task == "classify" and "test_accuracy" in metrics:
        return task, 100 * float(metrics["test_accuracy"])
    if task == "pixel" and "test_loss" in metrics:
        return task, float(metrics["test_loss"])
    return None


def _seed_summaries(folder: str | Path):
    """(task, model, test metric, epoch budget) of every seed run's summary in ``folder``."""
    for path in sorted(Path(folder).glob("*.json")):
        try:
            summary = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON ({error.msg}); restore it with git checkout -- {path}") from None
        found = _metric(summary) if summary.get("experiment") == "seeds" else None
        if found:
            yield found[0], summary["model"], found[1], summary.get("config", {}).get("max_epochs")


def seed_groups(folder: str | Path = EXPERIMENTS_DIR) -> dict[tuple[str, str], list[float]]:
    """``{(task, model): [test metric of each seed run]}`` from the summaries in ``folder``."""
    groups: dict[tuple[str, str], list[float]] = {}
    for task, model, value, _ in _seed_summaries(folder):
        groups.setdefault((task, model), []).append(value)
    return groups


def seed_epochs(folder: str | Path = EXPERIMENTS_DIR) -> dict[tuple[str, str], tuple[int, ...]]:
    """``{(task, model): the distinct epoch budgets of its seed runs}``."""
    budgets: dict[tuple[str, str], set] = {}
    for task, model, _, epochs in _seed_summaries(folder):
        if epochs:
            budgets.setdefault((task, model), set()).add(int(epochs))
    return {key: tuple(sorted(value)) for key, value in budgets.items()}


def sample_sd(values) -> float:
    """Sample standard deviation (n - 1 in the denominator)."""
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def pooled(groups: dict, task: str, epochs: dict | None = None) -> SeedSpread:
    """The SD pooled over every group of ``task`` with 2 or more seeds (its degrees of freedom add up)."""
    usable = {model: values for (t, model), values in groups.items() if t == task and len(values) >= 2}
    dof = sum(len(v) - 1 for v in usable.values())
    if not dof:
        return SeedSpread(0.0, "none")
    squares = sum((len(v) - 1) * sample_sd(v) ** 2 for v in usable.values())
    budgets = sorted({e for model in usable for e in (epochs or {}).get((task, model), ())})
    return SeedSpread(math.sqrt(squares / dof), "pooled", 1, dof, tuple(sorted(usable)), tuple(budgets))


def spread_for(task: str, name: str, groups: dict | None = None, epochs: dict | None = None) -> SeedSpread:
    """The spread a verdict on ``name`` uses: its own seeds' SD, else the pooled SD of its task.

    ``epochs`` (default: read with the groups) gives the seed runs' budgets, which the verdict's words name.
    """
    if groups is None:
        groups, epochs = seed_groups(), seed_epochs() if epochs is None else epochs
    own = groups.get((task, name), [])
    if len(own) >= MIN_OWN_SEEDS:
        return SeedSpread(sample_sd(own), "own", len(own), len(own) - 1, (name,), (epochs or {}).get((task, name), ()))
    return pooled(groups, task, epochs)


def pixel_test_se(models_dir: str | Path, name: str) -> float:
    """Standard error over the test images of a shipped pixel model's mean nats per pixel (evaluates it)."""
    from helpers.core import data, zoo
    from helpers.core.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    model = zoo.load("pixel", name, models_dir)
    sequences = data.to_sequences(data.binarize(data.load_mnist().test.images))
    return per_image_se(model, *data.next_pixel_pairs(sequences))


def per_image_se(model, inputs, targets, batch_size: int = 250) -> float:
    """Standard error over the images of a pixel model's mean nats per pixel on ``(inputs, targets)``."""
    import numpy as np

    logits = model.predict(inputs, batch_size=batch_size, verbose=0)[..., 0].astype(np.float64)
    targets = np.asarray(targets, np.float64).reshape(logits.shape)
    nats = (targets * np.logaddexp(0.0, -logits) + (1 - targets) * np.logaddexp(0.0, logits)).mean(axis=1)
    return float(nats.std(ddof=1) / np.sqrt(len(nats)))
