"""Retraining from a notebook (the ``retrain`` parameter of notebooks 02 and 03)."""

from __future__ import annotations

from pathlib import Path

from helpers.paths import MODELS_DIR, REPO_ROOT

#: Where ``quick`` retraining writes its throw-away models (git-ignored), so shipped weights stay intact.
QUICK_MODELS_DIR = REPO_ROOT / "runs" / "quick-models"


def retrain(task: str, names, epochs: int | None = None, quick: bool = False, verbose: int = 1) -> Path:
    """Train ``names`` from scratch with the engine and return the folder to load them from.

    ``quick=True`` trains on tiny subsets into ``runs/quick-models/`` (never over the shipped weights);
    otherwise the shipped models in ``data/models/`` are replaced by new ones (``--fresh``).
    """
    from helpers.training import train

    models_dir = QUICK_MODELS_DIR if quick else MODELS_DIR
    for name in names:
        train(task, name, epochs=epochs, quick=quick, out=models_dir, fresh=True, verbose=verbose)
    return models_dir
