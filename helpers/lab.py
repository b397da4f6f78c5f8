"""Open the notebooks in JupyterLab on a git-ignored working copy: ``python -m helpers.lab [JUPYTERLAB OPTIONS]``.

The committed ``notebooks/NN_*.ipynb`` are copied into ``lab/`` (beside ``notebooks/``, so the notebooks'
``sys.path.insert(0, os.path.abspath(".."))`` still finds ``helpers/``), and JupyterLab starts there with the
figures of its runs going to ``lab/figures/``: running, autosaving or saving never changes a tracked file.
At each start, a copy whose cells you have not edited is refreshed from the committed notebook; one you edited
is kept, and if its committed notebook changed since it was copied you are asked before it is replaced (the
edited copy is then kept beside it). Options not listed by ``--help`` go to JupyterLab.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

from helpers.analysis.plots import FIGURES_ENV_VAR
from helpers.core.files import atomic_path
from helpers.core.paths import NOTEBOOKS_DIR, REPO_ROOT

#: The working copy (git-ignored): the notebooks JupyterLab opens, and the figures their runs save.
LAB_DIR = REPO_ROOT / "lab"
#: Which committed notebook (its SHA-256) each copy was made from, to tell when the committed one changed.
STATE_FILE = ".copied-from.json"


def committed_notebooks(folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The notebooks the working copy holds: ``NN_name.ipynb`` in ``folder``."""
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def cell_texts(path: Path) -> list[tuple[str, str]]:
    """What a reader edits in a notebook: each cell's type and source (outputs and metadata left out)."""
    with open(path, encoding="utf-8") as file:
        cells = json.load(file).get("cells", [])
    return [(c.get("cell_type", ""), "".join(c.get("source", ""))) for c in cells]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _copy(committed: Path, copy: Path) -> None:
    with atomic_path(copy) as tmp:
        shutil.copyfile(committed, tmp)


def _keep_aside(copy: Path) -> Path:
    """Rename an edited copy to ``NN_name-edited-YYYYmmdd-HHMMSS.ipynb`` beside it; return the new path."""
    aside = copy.with_name(f"{copy.stem}-edited-{time.strftime('%Y%m%d-%H%M%S')}{copy.suffix}")
    copy.rename(aside)
    return aside


def sync_copy(committed: Path, lab_dir: Path, state: dict, ask, replace: bool = False) -> str:
    """Bring ``lab_dir``'s copy of ``committed`` up to date and say what was done (one line).

    ``state`` maps names to the digest of the committed notebook each copy came from (updated here);
    ``ask(question)`` answers a yes/no question; ``replace`` replaces an edited copy without asking
    (it is still kept aside).
    """
    name, copy = committed.name, lab_dir / committed.name
    digest = _digest(committed)
    if not copy.exists():
        _copy(committed, copy)
        state[name] = digest
        return f"{name}: copied"
    if cell_texts(copy) == cell_texts(committed):
        if copy.read_bytes() != committed.read_bytes():
            _copy(committed, copy)  # only outputs differ: nothing of the reader's is lost
        state[name] = digest
        return f"{name}: up to date"
    changed = state.get(name) != digest
    if not replace and not (changed and ask(
            f"{copy} has your edits, and {committed} changed since it was copied. Replace your copy with the new "
            f"notebook (yours is kept beside it as {copy.stem}-edited-...{copy.suffix})? [y/N] ")):
        advice = (f"; `python -m helpers.lab --refresh {name[:2]}` replaces it with the committed one (yours is "
                  f"kept beside it)") if changed else ""
        return f"{name}: your edited copy is kept{advice}"
    aside = _keep_aside(copy)
    _copy(committed, copy)
    state[name] = digest
    return f"{name}: replaced by the committed notebook; your edited copy is {aside.name}"


def sync(lab_dir: Path = LAB_DIR, notebooks: list[Path] | None = None, ask=None,
         refresh: list[str] = ()) -> list[str]:
    """Create or refresh the working copy of ``notebooks`` (default: the committed ones) in ``lab_dir``.

    ``refresh`` names notebooks (``02`` or ``02_classification``) whose edited copies are replaced without
    asking. Returns one line per notebook.
    """
    notebooks = committed_notebooks() if notebooks is None else list(notebooks)
    unknown = [key for key in refresh if not any(_matches(path, key) for path in notebooks)]
    if unknown:
        names = ", ".join(path.stem for path in notebooks)
        raise ValueError(f"--refresh {' '.join(unknown)}: no such notebook; the notebooks are {names}.")
    ask = ask or _ask_on_terminal
    lab_dir.mkdir(parents=True, exist_ok=True)
    state_path = lab_dir / STATE_FILE
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    lines = [sync_copy(path, lab_dir, state, ask, replace=any(_matches(path, key) for key in refresh))
             for path in notebooks]
    with atomic_path(state_path) as tmp:
        tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
    return lines


def _matches(path: Path, key: str) -> bool:
    key = key.removesuffix(".ipynb")
    return path.stem == key or path.stem.split("_")[0] == key


def _ask_on_terminal(question: str) -> bool:
    """Ask on the terminal; without one (a script, a test) the answer is no."""
    if not sys.stdin.isatty():
        return False
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def lab_command(lab_dir: Path, extra: list[str]) -> tuple[list[str], dict]:
    """The JupyterLab command line and environment: served from ``lab_dir``, figures into ``lab_dir/figures``."""
    env = dict(os.environ)
    env[FIGURES_ENV_VAR] = str(lab_dir / "figures")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={lab_dir}", *extra]
    return command, env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.lab",
                                     description="Open the notebooks in JupyterLab on a git-ignored working copy, lab/.",
                                     epilog="Any other option goes to JupyterLab, e.g. --no-browser or "
                                            "--ServerApp.port=8899.")
    parser.add_argument("--refresh", nargs="+", default=[], metavar="NN",
                        help="replace these notebooks' edited copies with the committed ones (yours are kept "
                             "beside them, renamed NN_name-edited-DATE.ipynb)")
    parser.add_argument("--copy-only", action="store_true", help="make or refresh lab/ and do not start JupyterLab")
    args, extra = parser.parse_known_args(argv)
    try:
        lines = sync(refresh=args.refresh)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print("\n".join(f"lab/{line}" for line in lines), flush=True)
    if args.copy_only:
        return 0
    import importlib.util

    if importlib.util.find_spec("jupyterlab") is None:
        print("error: JupyterLab is not installed: pip install -r requirements.txt", file=sys.stderr)
        return 2
    print(f"Starting JupyterLab in {LAB_DIR} (git-ignored; figures go to lab/figures/).", flush=True)
    command, env = lab_command(LAB_DIR, extra)
    if os.name == "posix":
        os.execve(command[0], command, env)  # JupyterLab takes over this process (and Ctrl-C)
    import subprocess

    return subprocess.call(command, env=env)


if __name__ == "__main__":
    sys.exit(main())
