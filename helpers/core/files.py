"""Atomic writes (a reader, or a process killed half-way, sees the old file or the new one, never half) and the
small derived data files, made once and reused."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path next to ``path``; on success move it onto ``path`` atomically.

    >>> with atomic_path("model.weights.h5") as tmp:
    ...     model.save_weights(tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes)  # keep ".weights.h5": Keras checks the file name
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name.split('.')[0]}-", suffix=suffix, dir=path.parent)
    os.close(fd)
    os.unlink(tmp)  # let the writer create it
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json_atomic(path: str | os.PathLike, data) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    return Path(path)


def save_npz(path: str | os.PathLike, what: str, **arrays) -> Path:
    """Write ``arrays`` to the .npz file ``path``, compressed and atomically; ``what`` names the file in errors."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"{what} is an .npz file; got {path}.")
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, **arrays)
    return path


def load_or_make(path: str | os.PathLike, load, make_and_save, settings, wanted: dict):
    """``load(path)`` if the file exists and ``settings(loaded) == wanted``; ``make_and_save()`` if it is absent.

    A file made with other settings is an error that says to delete it (never silently replaced).
    """
    path = Path(path)
    if not path.exists():
        return make_and_save()
    loaded = load(path)
    found = settings(loaded)
    if found != wanted:
        described = ", ".join(f"{key} {value}" for key, value in found.items())
        asked = ", ".join(f"{key} {value}" for key, value in wanted.items())
        raise ValueError(f"{path} was made with {described}, not {asked}. Delete it to rebuild, or pass another path.")
    return loaded
