"""The main job: re-execute every notebook headlessly with papermill, in order, each in a fresh kernel.

    python -m helpers.regenerate                       # all notebooks, written back in place
    python -m helpers.regenerate --only 02 04          # just these (by number prefix or file name)
    python -m helpers.regenerate -p quick True -p retrain True --output-dir /tmp/smoke
    python -m helpers.regenerate --list                # what would run

Parameters given with ``-p NAME VALUE`` are passed to every notebook that declares ``NAME`` in its
``parameters`` cell (others are left alone, so ``-p models '["gru_1x32"]'`` is safe for all). Values are
parsed as Python literals when they can be (``True``, ``3``, ``["a"]``), else taken as strings.

Each notebook is written to a temporary file and moved into place only when it ran without error, so a
failure never leaves a half-executed notebook behind. Cells tagged ``widget`` (the interactive explorers)
get a watchdog: headless execution of a widget cell occasionally never returns (a known nbclient problem,
jupyter/nbclient#312), so such a cell that runs past ``WIDGET_CELL_TIMEOUT_S`` makes the runner execute
the notebook again from the start, up to ``ATTEMPTS`` times. On failure the command stops, names the notebook
and the failing cell, and exits with status 1.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import time
from pathlib import Path

from helpers.manifest import atomic_path
from helpers.paths import NOTEBOOKS_DIR, REPO_ROOT
from helpers.plots import FIGURES_DIR, FIGURES_ENV_VAR

KERNEL_NAME = "python3"
#: Longest time one cell may run before the notebook is declared failed (seconds; None: no limit, since
#: a notebook asked to retrain models may legitimately run for hours).
CELL_TIMEOUT_S = None
#: Cells carrying this tag display an ipywidget; they only build the widget, so they are quick.
WIDGET_TAG = "widget"
#: Watchdog for widget cells (seconds): past it, the execution is considered hung and is restarted.
WIDGET_CELL_TIMEOUT_S = 300.0
#: How many times a notebook is executed before a hung widget cell counts as a failure.
ATTEMPTS = 3


def cell_timeout_function(default: float | None):
    """nbclient's ``timeout_func``: the watchdog for widget-tagged cells, ``default`` for the others."""

    def timeout_for(cell) -> float | None:
        tags = cell.get("metadata", {}).get("tags", [])
        if WIDGET_TAG in tags:
            return WIDGET_CELL_TIMEOUT_S if default is None else min(default, WIDGET_CELL_TIMEOUT_S)
        return default

    return timeout_for


def list_notebooks(folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The project's notebooks, in order (``01_...``, ``02_...``, ...)."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def select_notebooks(only: list[str] | None, folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """Filter :func:`list_notebooks` by number prefix (``02``) or name (``02_classification``)."""
    notebooks = list_notebooks(folder)
    if not only:
        return notebooks
    chosen = []
    for key in only:
        key = key.removesuffix(".ipynb")
        matches = [p for p in notebooks if p.stem == key or p.stem.split("_")[0] == key]
        if not matches:
            names = ", ".join(p.stem for p in notebooks) or "none"
            raise ValueError(f"No notebook matches {key!r}; the notebooks are: {names}.")
        chosen += [m for m in matches if m not in chosen]
    return sorted(chosen)


def parse_value(text: str):
    """``"True"`` -> True, ``"3"`` -> 3, ``"[1, 2]"`` -> [1, 2], anything else stays a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def declared_parameters(path: Path) -> set[str]:
    """Names assigned in the notebook's ``parameters``-tagged cell."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    names = set()
    for cell in notebook.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            for node in ast.parse(cell.source).body:
                targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
                names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def run_notebook(path: Path, output: Path, parameters: dict | None = None, progress: bool = True,
                 cell_timeout: float | None = CELL_TIMEOUT_S) -> float:
    """Execute one notebook with papermill into ``output`` (atomically); return the seconds it took.

    When ``output`` is not the notebook itself, its figures go to ``{output folder}/figures/`` instead of
    the repository's ``figures/``.
    """
    import papermill

    parameters = parameters or {}
    declared = declared_parameters(path)
    unknown_everywhere = {k for k in parameters if k not in declared}
    used = {k: v for k, v in parameters.items() if k not in unknown_everywhere}
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env_path) if p)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if Path(output).resolve() != Path(path).resolve():
        os.environ[FIGURES_ENV_VAR] = str(Path(output).resolve().parent / "figures")
    else:
        os.environ.pop(FIGURES_ENV_VAR, None)
    from nbclient.exceptions import CellTimeoutError

    tick = time.perf_counter()
    started = time.time() - 1.0  # file times may be rounded down to the second
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with atomic_path(output) as tmp:
                papermill.execute_notebook(
                    str(path), str(tmp), parameters=used, kernel_name=KERNEL_NAME, cwd=str(path.parent),
                    progress_bar=progress, log_output=False, report_mode=False,
                    execution_timeout=cell_timeout,  # a stuck cell fails the run instead of hanging it
                    timeout_func=cell_timeout_function(cell_timeout),
                )
            break
        except CellTimeoutError:
            # Only a widget cell can time out when no --cell-timeout is set: that is the known hang.
            if cell_timeout is not None or attempt == ATTEMPTS:
                raise
            print(f"{path.name}: a widget cell did not return within {WIDGET_CELL_TIMEOUT_S:.0f} s (a known "
                  f"headless-execution hang); executing the notebook again ({attempt + 1} of {ATTEMPTS}).",
                  file=sys.stderr, flush=True)
    for stale in prune_stale_figures(path, started):
        print(f"{stale.name} is no longer produced by {Path(output).name}: removed", flush=True)
    return time.perf_counter() - tick


def prune_stale_figures(notebook: Path, since: float, folder: Path | None = None) -> list[Path]:
    """Delete the notebook's figures (``NN_*.png``, NN its number) that were not written since ``since``.

    Run after a successful execution, so ``figures/`` holds exactly the figures the notebook now shows (a
    figure named after a model that is no longer shown would otherwise linger). Returns the deleted paths.
    """
    folder = Path(folder) if folder is not None else Path(os.environ.get(FIGURES_ENV_VAR) or FIGURES_DIR)
    prefix = Path(notebook).name.split("_", 1)[0]
    stale = [p for p in sorted(folder.glob(f"{prefix}_*.png")) if p.stat().st_mtime < since]
    for path in stale:
        path.unlink()
    return stale


def _failure_message(path: Path, err: Exception) -> str:
    cell = getattr(err, "exec_count", None)
    ename, evalue = getattr(err, "ename", type(err).__name__), getattr(err, "evalue", str(err))
    where = f"cell [{cell}]" if cell is not None else "a cell"
    return f"{path.name} failed in {where}: {ename}: {evalue}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.regenerate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="NN", help="notebooks to run, by number (01) or name")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="papermill parameter for the notebooks that declare it (repeatable)")
    parser.add_argument("--output-dir", type=Path, help="write executed notebooks here instead of in place")
    parser.add_argument("--list", action="store_true", help="list the notebooks that would run and exit")
    parser.add_argument("--cell-timeout", type=float, default=CELL_TIMEOUT_S, metavar="SECONDS",
                        help="fail a notebook whose cell runs longer than this (default: no limit)")
    parser.add_argument("--notebooks-dir", type=Path, default=None, metavar="DIR",
                        help="folder of the NN_*.ipynb notebooks (default: notebooks/)")
    args = parser.parse_args(argv)
    folder = args.notebooks_dir if args.notebooks_dir is not None else NOTEBOOKS_DIR
    try:
        notebooks = select_notebooks(args.only, folder)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not notebooks:
        print(f"error: no notebooks found in {folder}", file=sys.stderr)
        return 2
    parameters = {name: parse_value(value) for name, value in args.parameter}
    unknown = set(parameters) - set().union(*(declared_parameters(p) for p in notebooks))
    if unknown:
        print(f"error: no selected notebook declares parameter(s) {sorted(unknown)}", file=sys.stderr)
        return 2
    if args.list:
        for path in notebooks:
            print(f"{path.name}: parameters {sorted(declared_parameters(path))}")
        return 0
    total = 0.0
    for i, path in enumerate(notebooks, 1):
        output = (args.output_dir / path.name) if args.output_dir else path
        print(f"[{i}/{len(notebooks)}] {path.name} ...", flush=True)
        try:
            seconds = run_notebook(path, output, parameters, cell_timeout=args.cell_timeout)
        except Exception as err:  # papermill raises PapermillExecutionError with the cell's details
            print(f"error: {_failure_message(path, err)}", file=sys.stderr)
            print("The committed notebook was left unchanged.", file=sys.stderr)
            return 1
        total += seconds
        print(f"[{i}/{len(notebooks)}] {path.name} done in {seconds:.0f} s -> {output}", flush=True)
    print(f"All {len(notebooks)} notebook(s) executed in {total:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
