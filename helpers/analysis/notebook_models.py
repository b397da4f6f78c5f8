"""The models a notebook shows (02-05): loaded, or retrained first when asked; their recipes and training state.

Retraining (the ``retrain`` parameter) never touches ``data/models/``: models go to ``runs/`` and the notebook
loads them from there; it resumes like ``python -m helpers.train``, and notebook 04 reuses what 03 trained.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from helpers.core import zoo
from helpers.core.config import recipe_columns
from helpers.core.manifest import still_improving
from helpers.core.paths import REPO_ROOT
from helpers.core.training import shipped_recipe

#: Where full retraining writes its models (git-ignored).
RETRAINED_MODELS_DIR = REPO_ROOT / "runs" / "retrained-models"
#: Where ``quick`` retraining writes its throw-away models (git-ignored).
QUICK_MODELS_DIR = REPO_ROOT / "runs" / "quick-models"


def retrain_models(task: str, names, epochs: int | None = None, quick: bool = False, verbose: int = 1) -> Path:
    """Train ``names`` with the engine and return the folder to load them from.

    Each model is trained with the recipe of its shipped model (:func:`shipped_recipe`), so that by default
    retraining reproduces what ``data/models/`` holds; ``epochs`` overrides the epoch budget.

    ``quick=True``: a smoke run on tiny subsets, from scratch every time, into ``runs/quick-models/``.
    Otherwise: full training into ``runs/retrained-models/``, resuming any earlier, interrupted retraining.
    """
    from helpers.core import training

    models_dir = QUICK_MODELS_DIR if quick else RETRAINED_MODELS_DIR
    for name in names:
        recipe = shipped_recipe(task, name)
        if epochs is not None or quick:
            recipe.pop("max_epochs", None)  # the caller's budget, or the quick run's
        training.train(task, name, epochs=epochs, quick=quick, out=models_dir, fresh=quick, extend=epochs is not None, verbose=verbose,
                       **recipe)
    return models_dir


@dataclass
class NotebookModels:
    """What a notebook works with: loaded models, their manifests, and the ones that could not be loaded."""

    models_dir: Path | None
    loaded: dict
    manifests: dict
    missing: dict

    def report(self) -> str:
        """One line per model that could not be loaded (with what to do), or how many were loaded."""
        if self.missing:
            return "\n".join(self.missing.values())
        return f"{len(self.loaded)} model(s) loaded from {self.models_dir or 'data/models'}."


def prepare_models(task: str, names, retrain: bool = False, epochs: int | None = None,
                   quick: bool = False) -> NotebookModels:
    """The models a notebook shows: retrained into ``runs/`` first when asked, else the shipped ones."""
    models_dir = retrain_models(task, names, epochs=epochs, quick=quick) if retrain else None
    loaded, missing = load_zoo(task, names, models_dir)
    manifests = {name: zoo.read_manifest(task, name, models_dir) for name in loaded}
    return NotebookModels(models_dir, loaded, manifests, missing)


def load_zoo(task: str, names, models_dir=None) -> tuple[dict, dict]:
    """Load the trained models among ``names``.

    Returns ``(models, missing)``: ``{name: keras.Model}`` for those on disk, and ``{name: message}``
    (with the command that trains it) for the others. Never raises for a model that is not trained yet.
    """
    models, missing = {}, {}
    for name in names:
        try:
            models[name] = zoo.load(task, name, models_dir)
        except zoo.ModelNotTrainedError as err:
            missing[name] = str(err)
    return models, missing


def recipe_rows(manifests: dict) -> list[dict]:
    """One row per model with its training recipe and cost, read from its manifest."""
    rows = []
    for name, manifest in manifests.items():
        config = manifest["config"]
        rows.append({
            "model": name, "params": zoo.count_params(manifest["task"], name, config.get("reset_after", True)),
            **recipe_columns(config), "epochs_run": manifest["epochs_run"],
            "best_epoch": manifest["best_epoch"], "status": manifest["status"],
            "stopped_by": stopped_by(manifest),
            "hours": manifest["train_seconds"] / 3600,
            "hardware": short_hardware(manifest),
        })
    return rows


def short_hardware(manifest: dict, width: int = 24) -> str:
    """Where a model trained, for a table: ``"CPU"``, ``"CPU 1-45, H200 46-60"``, or past ``width`` characters
    the epochs per machine (``"CPU 26 ep, H200 50 ep"``)."""
    from helpers.core.manifest import earlier_runs

    runs = manifest.get("runs") or earlier_runs(manifest, manifest.get("epochs_run", 0), manifest.get("train_seconds", 0))
    def machine(run):
        gpus = run.get("gpus") or []
        return "CPU" if not gpus else (f"{len(gpus)}x " if len(gpus) > 1 else "") + gpus[0].split()[-1]

    names = [(machine(run), run["epochs"]) for run in runs]
    if len({name for name, _ in names}) <= 1:
        return names[0][0] if names else "CPU"
    spans = ", ".join(f"{name} {a}-{b}" if a != b else f"{name} {a}" for name, (a, b) in names)
    if len(spans) <= width:
        return spans
    counts = {}
    for name, (a, b) in names:
        counts[name] = counts.get(name, 0) + b - a + 1
    return ", ".join(f"{name} {n} ep" for name, n in counts.items())


def stopped_by(manifest: dict) -> str:
    """Why training ended: ``"early stopping"``, ``"epoch limit"`` or ``"in progress"``.

    A run that hit its epoch limit may or may not have flattened out: :func:`training_state` says which.
    """
    if manifest["status"] != "complete":
        return "in progress"
    return "epoch limit" if manifest["epochs_run"] >= manifest["config"]["max_epochs"] else "early stopping"


def training_state(manifest: dict) -> str:
    """How a model's training stands, in words, from its manifest.

    >>> training_state({"status": "in_progress", "epochs_run": 6, "best_epoch": 6, "config": {"max_epochs": 30}})
    'still training: 6 epochs so far, so its numbers are a checkpoint, not a result'
    """
    epochs, best = manifest["epochs_run"], manifest["best_epoch"]
    if manifest["status"] != "complete":
        return f"still training: {epochs} epochs so far, so its numbers are a checkpoint, not a result"
    if stopped_by(manifest) == "early stopping":
        return f"converged: early stopping after {epochs} epochs, best at epoch {best}"
    if still_improving(manifest):
        return f"ran its {epochs}-epoch budget and was still improving (best epoch {best})"
    return f"ran its {epochs}-epoch budget, best at epoch {best}"


def status_lines(manifests: dict) -> list[str]:
    """One line per model: its training state (used where a notebook shows results of shipped models)."""
    return [f"{name}: {training_state(manifest)}" for name, manifest in manifests.items()]
