"""Each committed notebook is what its generator script in notebooks/src/ describes, cell for cell.

The notebooks are edited through their generators (see notebooks/src/nbbuild.py); this test catches a
generator changed without regenerating its notebook, and a notebook edited by hand.
"""

import importlib.util
import json
import sys

import pytest

from helpers.paths import NOTEBOOKS_DIR

SOURCES = NOTEBOOKS_DIR / "src"
GENERATORS = sorted(SOURCES.glob("[0-9][0-9]_*.py"))


def generator_cells(path):
    sys.path.insert(0, str(SOURCES))
    try:
        spec = importlib.util.spec_from_file_location(f"generator_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # defines `cells`; writing happens only under __main__
    finally:
        sys.path.remove(str(SOURCES))
    return module.cells


def test_every_notebook_has_a_generator():
    notebooks = {p.stem for p in NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb")}
    assert notebooks == {p.stem for p in GENERATORS}


@pytest.mark.parametrize("generator", GENERATORS, ids=lambda p: p.stem)
def test_notebook_matches_its_generator(generator):
    committed = json.loads((NOTEBOOKS_DIR / f"{generator.stem}.ipynb").read_text())
    # papermill adds an "injected-parameters" cell when parameters are passed; it is not in the generator.
    cells = [c for c in committed["cells"] if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    expected = generator_cells(generator)
    got = [(c["cell_type"], "".join(c["source"])) for c in cells]
    want = [(c["cell_type"], c["source"]) for c in expected]
    assert len(got) == len(want), f"{generator.stem}: {len(got)} cells committed, the generator makes {len(want)}"
    for index, (g, w) in enumerate(zip(got, want)):
        assert g == w, (f"{generator.stem} cell {index} differs from notebooks/src/{generator.name}: run "
                        f"`python notebooks/src/{generator.name}` and `python -m helpers.regenerate --only "
                        f"{generator.stem[:2]}`")
