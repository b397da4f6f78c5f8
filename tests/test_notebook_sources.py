"""Each committed notebook is what its source in notebooks/src/ describes, cell for cell, in JupyterLab's form.

Notebooks are edited through their sources (jupytext percent scripts, see helpers/notebook_sources.py); this
test catches a source changed without regenerating its notebook, and a notebook edited by hand.
"""

import json

import nbformat
import pytest

from helpers import notebook_sources as ns
from helpers.core.paths import NOTEBOOKS_DIR

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


def tags(cell) -> list:
    return list(cell.metadata.get("tags", []))


def test_every_notebook_has_a_source():
    assert {p.stem for p in NOTEBOOKS} == {p.stem for p in ns.list_sources()}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_matches_its_source(notebook):
    committed = nbformat.read(notebook, as_version=4)
    # papermill adds an "injected-parameters" cell when parameters are passed; it is not in the source.
    cells = [c for c in committed.cells if "injected-parameters" not in tags(c)]
    source = ns.source_for(notebook)
    expected = ns.read_source(source).cells
    fix = f"rebuild it from notebooks/src/{source.name} and re-execute it (python -m helpers.regenerate --only {notebook.stem[:2]})"
    assert len(cells) == len(expected), f"{notebook.name}: {len(cells)} cells, its source makes {len(expected)}: {fix}"
    for index, (got, want) in enumerate(zip(cells, expected)):
        assert (got.cell_type, got.source, tags(got)) == (want.cell_type, want.source, tags(want)), (
            f"{notebook.name} cell {index} differs from its source: {fix}")
        for key, value in want.metadata.items():  # any other metadata the source gives a cell
            assert got.metadata.get(key) == value, f"{notebook.name} cell {index}: metadata {key!r} differs: {fix}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_metadata_is_in_jupyterlab_form(notebook):
    text = notebook.read_text(encoding="utf-8")
    metadata = json.loads(text)["metadata"]
    fix = "python -m helpers.notebook_sources reformat"
    assert metadata["kernelspec"] == ns.KERNELSPEC, fix
    assert metadata["language_info"] == ns.language_info(metadata["language_info"].get("version")), fix
    assert text.endswith("}\n"), fix


SAMPLE = '''\
# %% [markdown]
# # A title
#
# Some *markdown*, with $x_t$.

# %%
# %matplotlib inline
import os

print(os.sep)


x = 1

# %% tags=["parameters"]
steps = 3

# %% tags=["widget", "other"]
# NBVAL_IGNORE_OUTPUT
print(steps)
'''


def test_read_source_gives_cells_tags_and_magics(tmp_path):
    source = tmp_path / "src" / "07_sample.py"
    source.parent.mkdir()
    source.write_text(SAMPLE)
    nb = ns.read_source(source)
    assert [(c.cell_type, c.source, tags(c)) for c in nb.cells] == [
        ("markdown", "# A title\n\nSome *markdown*, with $x_t$.", []),
        ("code", "%matplotlib inline\nimport os\n\nprint(os.sep)\n\n\nx = 1", []),
        ("code", "steps = 3", ["parameters"]),
        ("code", "# NBVAL_IGNORE_OUTPUT\nprint(steps)", ["widget", "other"]),
    ]
    assert all(set(c.metadata) <= {"tags"} for c in nb.cells)  # no jupytext layout metadata
    assert "jupytext" not in nb.metadata
    assert nb.metadata["kernelspec"] == ns.KERNELSPEC and (nb.nbformat, nb.nbformat_minor) == (4, 5)
    assert len({c.id for c in nb.cells}) == len(nb.cells)


def test_build_notebook_is_reproducible(tmp_path):
    source = tmp_path / "src" / "07_sample.py"
    source.parent.mkdir()
    source.write_text(SAMPLE)
    assert ns.notebook_for(source) == tmp_path / "07_sample.ipynb"
    assert ns.source_for(tmp_path / "07_sample.ipynb") == source
    path = ns.build_notebook(source)
    assert path == tmp_path / "07_sample.ipynb"
    first = path.read_bytes()
    assert ns.build_notebook(source).read_bytes() == first  # same cell ids every time: no churn in diffs
    built = nbformat.read(path, as_version=4)
    nbformat.validate(built)
    assert [(c.cell_type, c.source) for c in built.cells] == [(c.cell_type, c.source) for c in ns.read_source(source).cells]
    other = ns.build_notebook(source, tmp_path / "elsewhere" / "copy.ipynb")
    assert other.read_bytes() == first
