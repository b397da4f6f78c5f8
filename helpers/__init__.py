"""The code behind the notebooks, in three layers, and the commands that drive them.

- :mod:`helpers.core`: MNIST, the model zoo, the typed training config and resumable loop, run records,
  atomic files, the workspace guard, the report's numbers.
- :mod:`helpers.inference`: one step-by-step engine for pixel models, behind exact sampling and in-painting.
- :mod:`helpers.analysis`: one module per notebook, named after it, and the plots, widgets and setup they share.
- Commands, ``python -m helpers.NAME``: ``train``, ``train_zoo``, ``promote``, ``experiments``, ``regenerate``,
  ``notebook_sources``, ``site``, ``bench``, ``manifest``.

``helpers.models``, ``helpers.data``, ``helpers.gates`` and ``helpers.inpainting`` are ``core.zoo``,
``core.data``, ``analysis.gates`` and ``inference.exact_fill`` under the names readers know. Importing
``helpers`` does not import TensorFlow; it keeps TensorFlow's C++ log noise off, here and only here.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
