"""Where training writes, and the guard around the shipped models.

Training writes to ``runs/`` (git-ignored); ``data/models/`` (the shipped models) changes only through
``python -m helpers.promote``. Also: clean, early checks of output folders and of JSON files on disk.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from contextlib import contextmanager
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


def ships(path: str | os.PathLike) -> bool:
    """Whether ``path`` is one of the files the repository ships (a zoo model's weights, manifest or checkpoint).

    Unlike :func:`is_shipped`, a name outside the zoo (``data/models/classify/gru_1x99.json``) is not: git
    never had it, so ``git checkout`` cannot restore it.
    """
    from helpers.core.config import TASK_MODELS

    if not is_shipped(path):
        return False
    parts = Path(path).resolve().relative_to(MODELS_DIR.resolve()).parts
    if len(parts) < 2 or parts[0] not in TASK_MODELS:
        return False
    name = parts[2] if parts[1] == "resume" and len(parts) > 2 else parts[1].split(".")[0]
    return name in TASK_MODELS[parts[0]]


def restore_advice(path: str | os.PathLike) -> str:
    """What to do about a damaged or missing file: ``git checkout`` for shipped files, else start over."""
    if ships(path):
        return f"restore it with `git checkout -- {display(path)}`"
    if is_shipped(path):
        return "it is no shipped model's file (git never had it): delete it"
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


# --------------------------------------------------------------------------------------------------
# One run per folder
# --------------------------------------------------------------------------------------------------

#: Where the locks of folders inside the repository live (git-ignored, so a lock never shows in ``git status``).
LOCKS_DIR = RUNS_DIR / ".locks"


def command_line(argv: list[str] | None = None) -> str:
    """This process's command as a user typed it, e.g. ``python -m helpers.train classify gru_1x32``."""
    import shlex
    import sys

    argv = sys.argv if argv is None else argv
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    head = ["python", "-m", spec.name] if spec is not None and spec.name.startswith("helpers") else \
        ["python", Path(argv[0]).name] if argv and argv[0] else ["python"]
    return shlex.join([*head, *argv[1:]])


def lock_path(target: str | os.PathLike) -> Path:
    """The lock file of ``target`` (a folder or a model's files); taking it never writes into a folder the user named.

    Under ``runs/.locks/`` (git-ignored) for a path inside the repository; in the system's temporary folder for
    one outside it, so that every clone of the project that writes there takes the same lock.
    """
    import hashlib
    import tempfile

    target = Path(target).resolve()
    try:
        return LOCKS_DIR / f"{'__'.join(target.relative_to(REPO_ROOT.resolve()).parts) or 'repository'}.lock"
    except ValueError:
        digest = hashlib.sha256(str(target).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / "rnn-mnist-locks" / f"{'__'.join(target.parts[-2:])}-{digest}.lock"


def _owner_line(owner_file: Path) -> str:
    """Who holds a lock, from its owner file: "`COMMAND` (process PID)"."""
    try:
        owner = json.loads(owner_file.read_text())
        return f"`{owner['command']}` (process {owner['pid']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextmanager
def run_lock(target: str | os.PathLike, what: str | None = None):
    """Hold the one-run lock of ``target`` for the ``with`` block; a second run is refused at once, naming the first.

    The lock is an OS file lock (``filelock``): a run killed with ``kill -9`` releases it, so the next run
    recovers it without help.
    """
    from filelock import FileLock, Timeout

    path = lock_path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, timeout=0)
    owner_file = path.with_name(path.name + ".owner")
    try:
        lock.acquire()
    except Timeout:
        raise WorkspaceError(
            f"{what or display(target)} is in use by {_owner_line(owner_file)}: one run per folder. Wait for it "
            f"to finish, or stop it (Ctrl-C; a stopped run keeps its progress), then run this command again.") from None
    try:
        owner_file.write_text(json.dumps({"command": command_line(), "pid": os.getpid()}))
        yield path
    finally:
        owner_file.unlink(missing_ok=True)
        lock.release()


def locked_run(train):
    """Decorate ``train(task, name, ..., out=, quick=)`` so that it holds the lock of ``{out}/{task}/{name}``."""
    import contextlib
    import functools

    @functools.wraps(train)
    def locked(task, name, *args, out=None, quick=False, **kwargs):
        out_dir = Path(out) if out is not None else (QUICK_RUNS_DIR if quick else RUNS_DIR)
        with contextlib.ExitStack() as stack:
            # A folder that cannot take a lock (a file, read-only) is left to train's own checks.
            with contextlib.suppress(OSError):
                stack.enter_context(run_lock(out_dir / task / name, f"the run {task}/{name} in {display(out_dir)}"))
            return train(task, name, *args, out=out, quick=quick, **kwargs)

    return locked


# --------------------------------------------------------------------------------------------------
# Where commands write
# --------------------------------------------------------------------------------------------------

#: Top-level folders of the repository that git ignores: commands may write there.
IGNORED_TOP = ("runs", "site", "scratch", "logs")


def refuse_tracked(out: str | os.PathLike, flag: str = "--output-dir") -> Path:
    """Raise unless ``out`` lies outside the repository's tracked folders (root, notebooks/, figures/, data/, ...)."""
    resolved = Path(out).resolve()
    root = REPO_ROOT.resolve()
    try:
        relative = resolved.relative_to(root)
    except ValueError:
        return Path(out)
    top = relative.parts[0] if relative.parts else ""
    if not relative.parts or (top not in IGNORED_TOP and (root / top).exists()):
        where = "the repository itself" if not relative.parts else \
            "a file of the repository" if len(relative.parts) == 1 and (root / top).is_file() else \
            f"in {top}/, a folder of the repository"
        raise WorkspaceError(
            f"{flag} {out} is {where}: commands never write over committed files. Name a folder of your own "
            f"(outside the repository, or under runs/), e.g. {flag} runs/{Path(out).name or 'out'}.")
    return Path(out)


class WrittenRecord:
    """The small list of files each command wrote into a folder, so that a later run removes only its own files.

    Kept in ``{folder}/.written.json``, or under ``runs/.records/`` for a folder inside the repository.
    """

    def __init__(self, folder: str | os.PathLike, command: str):
        self.folder, self.command = Path(folder), command
        resolved = self.folder.resolve()
        try:
            relative = resolved.relative_to(REPO_ROOT.resolve())
            self.path = RUNS_DIR / ".records" / f"{'__'.join(relative.parts) or 'repository'}.json"
        except ValueError:
            self.path = self.folder / ".written.json"

    def read(self) -> set[str]:
        """The names this command wrote into the folder in earlier runs."""
        try:
            record = json.loads(self.path.read_text())
            return set(record.get(self.command, []))
        except (OSError, ValueError, AttributeError):
            return set()

    def update(self, added: set[str], removed: set[str] = frozenset()) -> None:
        """Record ``added`` as written by this command, and forget ``removed``."""
        from helpers.core.files import write_json_atomic

        try:
            record = json.loads(self.path.read_text())
            record = record if isinstance(record, dict) else {}
        except (OSError, ValueError):
            record = {}
        names = (set(record.get(self.command, [])) | set(added)) - set(removed)
        record[self.command] = sorted(names)
        write_json_atomic(self.path, record)
