"""The code behind the notebooks: the engine, pixel-model inference, one analysis module per notebook, commands.

- Engine: :mod:`~helpers.data` (MNIST), :mod:`~helpers.models` (the zoo), :mod:`~helpers.config` (the typed
  training config), :mod:`~helpers.training` (the resumable loop), :mod:`~helpers.manifest` (run records,
  atomic files), :mod:`~helpers.workspace` (runs/ and the shipped-models guard), :mod:`~helpers.reference`.
- Inference on pixel models: :mod:`~helpers.sampling` (exact continuation), :mod:`~helpers.inpainting`.
- One module per notebook: :mod:`~helpers.gates` (01), :mod:`~helpers.classification` (02),
  :mod:`~helpers.pixel` (03), :mod:`~helpers.continuation` (04), :mod:`~helpers.inpainting_analysis` (05);
  shared: :mod:`~helpers.plots`, :mod:`~helpers.widgets`, :mod:`~helpers.setup` (notebook setup).
- Commands (``python -m helpers.NAME``): ``train``, ``train_zoo``, ``promote``, ``experiments``,
  ``regenerate``, ``notebook_sources``, ``site``, ``bench``, ``manifest``.

Importing ``helpers`` does not import TensorFlow; it keeps TensorFlow's C++ log noise off, here and only here.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
