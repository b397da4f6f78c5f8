"""Where the project keeps things, relative to the repository root."""

from pathlib import Path

#: The repository root (the folder that holds ``helpers/``).
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Data files: ``mnist.npz`` (downloaded, never committed) and the small derived sets.
DATA_DIR = REPO_ROOT / "data"
#: Shipped trained models: ``data/models/{task}/{name}.weights.h5`` and ``{name}.json``.
MODELS_DIR = DATA_DIR / "models"
#: Figures saved by the notebooks.
FIGURES_DIR = REPO_ROOT / "figures"
#: The notebooks, executed and committed with their outputs.
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
