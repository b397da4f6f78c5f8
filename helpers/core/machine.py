"""What a run runs on (the Keras backend, the CPU and GPUs, library versions, the time), and the one decision
that follows from it: how a zoo model runs here (:func:`execution`: plain or fused, XLA or not, which devices).
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
from dataclasses import dataclass
from datetime import UTC, datetime


def keras_backend() -> str:
    """The Keras backend in use (``tensorflow``, ``torch`` or ``jax``), without importing Keras when it is set."""
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def visible_gpus(backend: str | None = None) -> list[str]:
    """Names of the GPUs the Keras backend sees (empty on a CPU-only machine)."""
    backend = backend or keras_backend()
    try:
        if backend == "torch":
            import torch

            return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        if backend == "jax":
            import jax

            return [d.device_kind for d in jax.devices() if d.platform == "gpu"]
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
    except Exception:  # pragma: no cover - description only
        return []


@dataclass(frozen=True)
class Execution:
    """How a zoo model runs on this machine (decided by :func:`execution`)."""

    backend: str
    gpus: int
    fused: bool
    xla: bool

    @property
    def mirrored(self) -> bool:
        """Whether training spreads over several GPUs (TensorFlow's ``MirroredStrategy``)."""
        return self.backend == "tensorflow" and self.gpus > 1

    def scope(self):
        """Where to build and compile the model: ``MirroredStrategy``'s scope over several GPUs, else nothing."""
        if not self.mirrored:
            return contextlib.nullcontext()
        import tensorflow as tf

        return tf.distribute.MirroredStrategy().scope()


def execution(task: str, config: dict, fused: bool | None = None) -> Execution:
    """The one decision of how a zoo model runs here: formulation, XLA, devices.

    - fused: where :func:`helpers.core.fused.supports` the model (TensorFlow only) and no GPU is visible: on a
      GPU, Keras runs plain GRU/LSTM layers with cuDNN, which the fused loop cannot use. ``fused`` True or
      False asks for one formulation (True where none exists is a ValueError).
    - xla (compile the train step): the config's ``jit_compile``, except on PyTorch (never: ``torch.compile``
      would replace the cuDNN kernels with a slow loop) and on TensorFlow with a GPU (cuDNN is not XLA).
    - devices: the GPUs the backend sees; with several, TensorFlow trains under ``MirroredStrategy``.
    """
    backend = keras_backend()
    gpus = len(visible_gpus(backend))
    supported = False
    if backend == "tensorflow":
        from helpers.core import fused as fused_lib

        supported = fused_lib.supports(task, config)
    if fused is None:
        fused = supported and gpus == 0
    elif fused and not supported:
        reset = f", reset_after={config['reset_after']}" if config["cell"] == "gru" else ""
        raise ValueError(f"No fused formulation for the {task} model {config['name']!r} with {config['layers']} "
                         f"{config['cell'].upper()} layer(s){reset} on {backend}: it needs a GRU (reset_after=True) "
                         "or LSTM pixel model, or a classifier of 2+ layers, on TensorFlow; pass fused=False.")
    xla = bool(config.get("jit_compile")) and backend != "torch" and not (backend == "tensorflow" and gpus > 0)
    return Execution(backend, gpus, bool(fused), xla)


def hardware_description() -> dict:
    """What the code runs on: CPU, core count, and the GPUs the Keras backend sees."""
    return {"machine": platform.machine(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "system": platform.system(), "gpus": visible_gpus()}


def software_versions() -> dict:
    """Versions of Python and of the libraries that determine the numbers, and the Keras backend."""
    backend = keras_backend()
    versions = {"python": sys.version.split()[0], "keras_backend": backend}
    modules = (["tensorflow"] if backend == "tensorflow" else [backend]) + ["keras", "numpy"]
    for module in modules:
        try:
            versions[module] = __import__(module).__version__
        except Exception:  # pragma: no cover
            versions[module] = None
    return versions


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
