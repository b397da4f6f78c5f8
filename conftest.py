"""Shared test set-up: quiet TensorFlow, headless matplotlib, the repository on the kernel's path."""

import os
import sys
import tempfile
from pathlib import Path

import matplotlib

import helpers  # noqa: F401 (keeps TensorFlow's C++ log noise off, for this process and the kernels it starts)

matplotlib.use("agg")  # headless for the unit tests; notebook kernels keep their inline backend
ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
# nbval starts notebook kernels as subprocesses: they inherit this, so `import helpers` works there too, and
# the figures they draw go to a scratch folder, never over the committed figures/.
os.environ.setdefault("RNN_MNIST_FIGURES_DIR", tempfile.mkdtemp(prefix="nbval-figures-"))
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
