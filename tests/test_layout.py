"""The package's layers: imports point one way (commands -> analysis -> inference -> core), and the old paths work."""

import ast
import importlib
from pathlib import Path

import pytest

HELPERS = Path(__file__).resolve().parents[1] / "helpers"
LAYERS = {"core": 0, "inference": 1, "analysis": 2}
ALIASES = {"models": "core.zoo", "data": "core.data", "gates": "analysis.gates", "inpainting": "inference.exact_fill"}


def layer(module: str) -> int | None:
    """0 core, 1 inference, 2 analysis, 3 a command; None outside helpers."""
    parts = module.split(".")
    if parts[0] != "helpers" or len(parts) < 2:
        return None
    if parts[1] in ALIASES:
        return LAYERS[ALIASES[parts[1]].split(".")[0]]
    return LAYERS.get(parts[1], 3)


def imported(path: Path) -> set[str]:
    """Every helpers module ``path`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("helpers"):
            packages = {"helpers", "helpers.core", "helpers.inference", "helpers.analysis"}
            found |= {f"{node.module}.{a.name}" for a in node.names} if node.module in packages else {node.module}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("helpers")}
    return found


LAYERED = sorted(p for package in LAYERS for p in (HELPERS / package).glob("*.py") if p.name != "__init__.py")


@pytest.mark.parametrize("path", LAYERED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_layer_imports_only_the_layers_below_it(path):
    own = LAYERS[path.parent.name]
    upward = sorted(m for m in imported(path) if (layer(m) or 0) > own)
    assert not upward, f"helpers/{path.parent.name}/{path.name} imports {upward}, from a layer above it"


@pytest.mark.parametrize("old, new", sorted(ALIASES.items()))
def test_the_old_import_paths_are_the_same_modules(old, new):
    assert importlib.import_module(f"helpers.{old}") is importlib.import_module(f"helpers.{new}")


def test_the_public_names_stay_where_readers_find_them():
    from helpers.data import binarize, load_mnist
    from helpers.gates import saturated_cell
    from helpers.inpainting import most_probable_fill
    from helpers.models import build, load

    assert all(callable(f) for f in (binarize, load_mnist, saturated_cell, most_probable_fill, build, load))


#: Former module names (now core.manifest, analysis.notebook_models, bench.cases), removed once nothing called them.
FORMER_NAMES = ["core.records", "analysis.setup", "bench_models"]


@pytest.mark.parametrize("old", FORMER_NAMES)
def test_former_module_names_are_gone(old):
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"helpers.{old}")


def test_only_machine_asks_for_devices():
    """One function decides plain/fused/XLA/devices (helpers.core.machine.execution): no other module asks a
    backend for its GPUs."""
    asking = ('_devices("GPU")', "cuda.device_count", "jax.devices")
    others = sorted(str(p.relative_to(HELPERS)) for p in HELPERS.rglob("*.py")
                    if p.name != "machine.py" and any(word in p.read_text() for word in asking))
    assert not others, f"{others} ask for devices themselves: use helpers.core.machine.execution"


def test_one_table_format():
    """``format_table`` is defined once, in helpers.analysis.plots."""
    defining = sorted(str(p.relative_to(HELPERS)) for p in HELPERS.rglob("*.py")
                      if "def format_table(" in p.read_text())
    assert defining == ["analysis/plots.py"]


def test_no_function_in_helpers_is_over_60_lines():
    """A function past 60 lines is several ideas waiting to be named (docstrings count)."""
    long = []
    for path in sorted(HELPERS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                long.append(f"{path.relative_to(HELPERS)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1})")
    assert not long, long
