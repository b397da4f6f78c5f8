"""Notebook sources (``notebooks/src/NN_name.py``, jupytext percent format) and the notebooks built from them.

Each notebook's cells live in a plain Python script: ``# %%`` starts a code cell, ``# %% [markdown]`` a
markdown cell written as ``# `` comments, ``# %% tags=["parameters"]`` a tagged cell, and magics are
commented out (``# %matplotlib inline``). Notebooks are written exactly as JupyterLab 4 saves them (checked
against JupyterLab 4.6.6 itself), so opening one in JupyterLab does not mark it modified and saving it
changes no byte.

    python -m helpers.notebook_sources build 02      # runs/notebooks/02_*.ipynb, unexecuted, from its source
    python -m helpers.notebook_sources reformat      # rewrite the notebooks in JupyterLab's form

``python -m helpers.regenerate`` builds and executes them in one step.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import sys
from pathlib import Path

import nbformat

from helpers.core.files import atomic_path
from helpers.core.paths import NOTEBOOKS_DIR

SOURCES_DIR = NOTEBOOKS_DIR / "src"
#: Where ``build`` writes unexecuted notebooks (git-ignored).
BUILD_DIR = NOTEBOOKS_DIR.parent / "runs" / "notebooks"
#: The jupytext format of the sources.
SOURCE_FORMAT = "py:percent"
#: What JupyterLab writes once the notebook's kernel has started: ipykernel's own ``python3`` kernel spec.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
#: nbformat minor version that JupyterLab 4 writes at least (cell ids are required from 4.5 on).
NBFORMAT_MINOR = 5
#: Cell metadata that jupytext uses for the layout of the text file, never part of a notebook.
JUPYTEXT_CELL_METADATA = ("cell_marker", "lines_to_next_cell", "lines_to_end_of_cell_marker", "skipline",
                          "noskipline")


def language_info(version: str | None = None) -> dict:
    """``language_info`` as ipykernel reports it (JupyterLab stores it verbatim); ``version`` defaults to this Python's."""
    return {
        "codemirror_mode": {"name": "ipython", "version": sys.version_info[0]},
        "file_extension": ".py",
        "mimetype": "text/x-python",
        "name": "python",
        "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3",
        "version": version or sys.version.split()[0],
    }


def source_for(notebook_path: str | Path) -> Path:
    """``notebooks/NN_name.ipynb`` -> ``notebooks/src/NN_name.py``."""
    notebook_path = Path(notebook_path)
    return notebook_path.parent / "src" / f"{notebook_path.stem}.py"


def notebook_for(source_path: str | Path) -> Path:
    """``notebooks/src/NN_name.py`` -> ``notebooks/NN_name.ipynb``."""
    source_path = Path(source_path)
    return source_path.parent.parent / f"{source_path.stem}.ipynb"


def list_sources(folder: str | Path = SOURCES_DIR) -> list[Path]:
    """The notebook sources, in order."""
    return sorted(Path(folder).glob("[0-9][0-9]_*.py"))


def cell_id(cell_type: str, source: str, taken: set[str]) -> str:
    """A cell id derived from the cell's content (stable across rebuilds), made unique against ``taken``."""
    base = hashlib.sha256(f"{cell_type}\n{source}".encode()).hexdigest()[:8]
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


def read_source(path: str | Path) -> nbformat.NotebookNode:
    """The unexecuted notebook described by a percent-format source, in JupyterLab's form."""
    import jupytext

    notebook = jupytext.read(Path(path), fmt=SOURCE_FORMAT)
    notebook.metadata.pop("jupytext", None)
    taken: set[str] = set()
    for cell in notebook.cells:
        for key in JUPYTEXT_CELL_METADATA:
            cell.metadata.pop(key, None)
        cell["id"] = cell_id(cell.cell_type, cell.source, taken)
    return jupyterlab_form(notebook)


def javascript_numbers(value):
    """``value`` with its numbers as they come back from a JavaScript JSON round trip (JupyterLab's frontend).

    JavaScript has one number type: a float with an integral value (``30.0``) comes back as an integer
    (``30``), and an integer beyond 2**53 is rounded to the nearest double.
    """
    if isinstance(value, dict):
        return type(value)((key, javascript_numbers(item)) for key, item in value.items())
    if isinstance(value, list):
        return [javascript_numbers(item) for item in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) > 2**53:
        value = float(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:  # JSON.stringify writes 1e+21 on
        return int(value)
    return value


def jupyterlab_form(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` as JupyterLab 4 saves it once its ipykernel kernel has started.

    That is the ``python3`` kernel spec, ipykernel's ``language_info`` (keeping the notebook's Python
    version, which records the kernel that made its outputs), nbformat 4.5 or later, an id on every cell,
    and numbers as JavaScript writes them (``30.0`` -> ``30``, e.g. in the widget state). Sources, outputs
    and all other metadata are untouched: JupyterLab changes nothing else when it opens and saves.
    """
    nb = nbformat.from_dict(javascript_numbers(copy.deepcopy(nb)))
    if nb.get("nbformat") != 4:
        raise ValueError(f"nbformat {nb.get('nbformat')} notebook: only version 4 is supported")
    nb.nbformat_minor = max(nb.get("nbformat_minor", 0), NBFORMAT_MINOR)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = language_info(nb.metadata.get("language_info", {}).get("version"))
    taken = {cell["id"] for cell in nb.cells if cell.get("id")}
    for cell in nb.cells:
        if not cell.get("id"):
            cell["id"] = cell_id(cell.cell_type, cell.source, taken)
    return nb


def notebook_text(nb: nbformat.NotebookNode) -> str:
    """The file text that jupyter_server writes for ``nb`` (nbformat's JSON, one-space indent, final newline)."""
    text = nbformat.writes(nb, version=nbformat.NO_CONVERT)
    return text if text.endswith("\n") else text + "\n"


def write_notebook(nb: nbformat.NotebookNode, path: str | Path) -> Path:
    """Write ``nb`` to ``path`` (atomically) in exactly the form JupyterLab 4 saves it; return the path."""
    text = notebook_text(jupyterlab_form(nb))
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    return Path(path)


def build_notebook(source_path: str | Path, notebook_path: str | Path | None = None) -> Path:
    """Write the unexecuted notebook of a source (by default ``notebooks/NN_name.ipynb``); return its path."""
    target = Path(notebook_path) if notebook_path is not None else notebook_for(source_path)
    return write_notebook(read_source(source_path), target)


def reformat_notebook(path: str | Path) -> Path:
    """Rewrite a notebook file in JupyterLab's form (metadata and layout only; cells and outputs kept)."""
    return write_notebook(nbformat.read(Path(path), as_version=4), path)


def _select(keys: list[str], candidates: list[Path]) -> list[Path]:
    if not keys:
        return candidates
    chosen = [p for p in candidates if p.stem in keys or p.stem.split("_")[0] in keys]
    missing = [k for k in keys if not any(p.stem == k or p.stem.split("_")[0] == k for p in candidates)]
    if missing:
        raise SystemExit(f"error: nothing matches {missing}; choose from {[p.stem for p in candidates]}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.notebook_sources", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["build", "reformat"],
                        help="build: write unexecuted notebooks from their sources; "
                             "reformat: rewrite notebooks in JupyterLab's form")
    parser.add_argument("only", nargs="*", metavar="NN", help="notebooks by number (02) or name (default: all)")
    args = parser.parse_args(argv)
    if args.action == "build":  # never over the committed, executed notebooks
        for source in _select(args.only, list_sources()):
            print(build_notebook(source, BUILD_DIR / f"{source.stem}.ipynb"))
    else:
        for notebook in _select(args.only, sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))):
            print(reformat_notebook(notebook))
    return 0


if __name__ == "__main__":
    sys.exit(main())
