"""Shared test set-up: quiet TensorFlow, headless matplotlib, the repository on the kernel's path."""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import matplotlib  # noqa: E402

matplotlib.use("agg")  # headless for the unit tests; notebook kernels keep their inline backend
ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
# nbval starts notebook kernels as subprocesses: they inherit this, so `import helpers` works there too, and
# the figures they draw go to a scratch folder, never over the committed figures/.
import tempfile  # noqa: E402

os.environ.setdefault("RNN_MNIST_FIGURES_DIR", tempfile.mkdtemp(prefix="nbval-figures-"))
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
