"""Where training writes, and the guard around the shipped models.

Training writes to ``runs/`` (git-ignored); ``data/models/`` (the shipped models) changes only through
``python -m helpers.promote``. Also: clean, early checks of output folders and of JSON files on disk.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

from helpers.core.paths import MODELS_DIR, REPO_ROOT

#: Default output folder of ``python -m helpers.train`` and ``helpers.train_zoo``.
RUNS_DIR = REPO_ROOT / "runs"
#: Where ``--quick`` smoke runs go when no ``--out`` is given (never promoted).
QUICK_RUNS_DIR = RUNS_DIR / "quick"
#: Free disk space an output folder must have before a run starts (bytes).
MIN_FREE_BYTES = 200 * 2**20


#: The file in a checkpoint folder that names its current checkpoint (``epoch-NNNN/``).
RESUME_STATE = "state.json"


def resume_folder(task: str, name: str, models_dir: str | os.PathLike) -> Path:
    """A model's checkpoint folder: ``{models_dir}/{task}/resume/{name}/`` (:data:`RESUME_STATE`, ``epoch-NNNN/``)."""
    folder = Path(models_dir)
    return (folder if folder.name == task else folder / task) / "resume" / name


def resume_state(task: str, name: str, models_dir: str | os.PathLike) -> Path:
    """The file that names a model's current checkpoint: ``resume_folder(...) / RESUME_STATE``."""
    return resume_folder(task, name, models_dir) / RESUME_STATE


class WorkspaceError(ValueError):
    """A folder or file of the workspace cannot be used; the message says what to do."""


def display(path: str | os.PathLike) -> str:
    """``path`` relative to the repository when it is inside it, else absolute."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(REPO_ROOT.resolve()))
    except ValueError:
        return str(path)


def is_shipped(path: str | os.PathLike) -> bool:
    """Whether ``path`` is the shipped models folder or inside it."""
    shipped, path = MODELS_DIR.resolve(), Path(path).resolve()
    return path == shipped or shipped in path.parents


def refuse_shipped(out: str | os.PathLike, flag: str = "--out") -> None:
    """Raise unless ``out`` is outside ``data/models`` (training never writes the shipped models)."""
    if is_shipped(out):
        raise WorkspaceError(
            f"{flag} {display(out)}: training never writes into the shipped models. Train into runs/ (the "
            f"default) and ship a finished run with `python -m helpers.promote TASK NAME`.")


def check_writable(folder: str | os.PathLike, flag: str = "--out", min_free: int = MIN_FREE_BYTES) -> Path:
    """Create ``folder`` if needed and prove it takes a file; raise a one-line error naming ``flag`` if not."""
    folder = Path(folder)
    for parent in (folder, *folder.parents):
        if parent.exists() and not parent.is_dir():
            raise WorkspaceError(f"{flag} {folder}: {parent} is a file, not a folder. Choose another folder.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as err:
        raise WorkspaceError(f"{flag} {folder} is not writable ({err.strerror or err}). Choose a folder you can "
                             f"write to.") from None
    free = shutil.disk_usage(folder).free
    if free < min_free:
        raise WorkspaceError(f"{flag} {folder}: only {free / 2**20:.0f} MiB free on its disk, at least "
                             f"{min_free / 2**20:.0f} MiB needed. Free some space or choose another folder.")
    return folder


def restore_advice(path: str | os.PathLike) -> str:
    """What to do about a damaged or missing file: ``git checkout`` for shipped files, else start over."""
    if is_shipped(path):
        return f"restore it with `git checkout -- {display(path)}`"
    return "delete it (or pass --fresh) to start that run over"


def read_json(path: str | os.PathLike, what: str = "file") -> dict:
    """Read a JSON object; a missing, truncated or invalid file is a :class:`WorkspaceError` naming it."""
    path = Path(path)
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        raise WorkspaceError(f"{what} {display(path)} is missing: {restore_advice(path)}.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise WorkspaceError(f"{what} {display(path)} is not valid JSON ({err}): {restore_advice(path)}.") from None
    if not isinstance(value, dict):
        raise WorkspaceError(f"{what} {display(path)} does not hold a JSON object: {restore_advice(path)}.")
    return value


def check_weights_file(path: str | os.PathLike) -> None:
    """Raise :class:`WorkspaceError` unless ``path`` is a readable Keras ``.weights.h5`` file."""
    import h5py

    path = Path(path)
    if not path.exists():
        raise WorkspaceError(f"weights file {display(path)} is missing: {restore_advice(path)}.")
    try:
        with h5py.File(path, "r") as f:
            if "layers" not in f:
                raise OSError("no 'layers' group")
            arrays = []
            f["layers"].visititems(lambda _, obj: arrays.append(obj[()].shape) if isinstance(obj, h5py.Dataset)
                                   else None)
    except (OSError, KeyError, ValueError) as err:
        raise WorkspaceError(f"weights file {display(path)} is damaged or truncated ({err}): "
                             f"{restore_advice(path)}.") from None
    if not arrays:
        raise WorkspaceError(f"weights file {display(path)} holds no weights: {restore_advice(path)}.")
