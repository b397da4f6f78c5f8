"""Retraining from a notebook (the ``retrain`` parameter of notebooks 02, 03 and 04).

A notebook never overwrites the shipped weights in ``data/models/``: retrained models go to ``runs/``
(git-ignored), and the notebook then loads them from there. Full retraining is resumable like
``python -m helpers.train``: re-running the notebook continues where it stopped, and a later notebook
(04 after 03) reuses the models an earlier one trained. Delete ``runs/retrained-models/`` to start over.
"""

from __future__ import annotations

from pathlib import Path

from helpers.paths import REPO_ROOT
from helpers.training import shipped_recipe

#: Where full retraining writes its models (git-ignored).
RETRAINED_MODELS_DIR = REPO_ROOT / "runs" / "retrained-models"
#: Where ``quick`` retraining writes its throw-away models (git-ignored).
QUICK_MODELS_DIR = REPO_ROOT / "runs" / "quick-models"


def retrain(task: str, names, epochs: int | None = None, quick: bool = False, verbose: int = 1) -> Path:
    """Train ``names`` with the engine and return the folder to load them from.

    Each model is trained with the recipe of its shipped model (:func:`shipped_recipe`), so that by default
    retraining reproduces what ``data/models/`` holds; ``epochs`` overrides the epoch budget.

    ``quick=True``: a smoke run on tiny subsets, from scratch every time, into ``runs/quick-models/``.
    Otherwise: full training into ``runs/retrained-models/``, resuming any earlier, interrupted retraining.
    """
    from helpers import training

    models_dir = QUICK_MODELS_DIR if quick else RETRAINED_MODELS_DIR
    for name in names:
        recipe = shipped_recipe(task, name)
        if epochs is not None or quick:
            recipe.pop("max_epochs", None)  # the caller's budget, or the quick run's
        training.train(task, name, epochs=epochs, quick=quick, out=models_dir, fresh=quick, extend=epochs is not None, verbose=verbose,
                       **recipe)
    return models_dir
