"""What a run ran on: the Keras backend, the CPU and GPUs, library versions, the time."""

from __future__ import annotations

import os
import platform
import sys
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
