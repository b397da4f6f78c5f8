"""Helpers for the rnn-mnist-notebooks project.

Every piece of logic used by the notebooks lives here, as small documented functions:

- :mod:`helpers.data`        MNIST loading, binarization, sequence views and tf.data pipelines.
- :mod:`helpers.models`      the model zoo (8 recurrent architectures, 2 tasks), build and load.
- :mod:`helpers.training`    the resumable training engine (``python -m helpers.train``).
- :mod:`helpers.manifest`    reading and writing model manifests, atomic file writes.
- :mod:`helpers.regenerate`  the papermill runner that re-executes every notebook.
- :mod:`helpers.gates`       saturated LSTM/GRU cells for notebook 01.
- :mod:`helpers.sampling`    exact, stateful continuation sampling for notebook 04.
- :mod:`helpers.inpainting`  exact most-probable fill of missing pixels for notebook 05.

Importing ``helpers`` does not import TensorFlow; the submodules that need it do.
"""

from helpers.paths import DATA_DIR, FIGURES_DIR, MODELS_DIR, NOTEBOOKS_DIR, REPO_ROOT

__all__ = ["REPO_ROOT", "DATA_DIR", "MODELS_DIR", "FIGURES_DIR", "NOTEBOOKS_DIR"]
