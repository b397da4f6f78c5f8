"""The main job: re-execute every notebook headlessly with papermill, in order, each in a fresh kernel.

    python -m helpers.regenerate                       # all notebooks, written back in place
    python -m helpers.regenerate --only 02 04          # just these (by number prefix or file name)
    python -m helpers.regenerate -p quick True -p retrain True --output-dir /tmp/smoke
    python -m helpers.regenerate --list                # what would run

``-p NAME VALUE`` goes to every notebook that declares ``NAME`` in its ``parameters`` cell, checked against
the type of its default there before anything runs. All or nothing: every notebook and figure is written to
a staging folder, and only when all of them ran without error are they moved into place (figures to
``figures/``, or ``DIR/figures/`` with ``--output-dir``). Widget cells get a watchdog against a known
headless hang (jupyter/nbclient#312): the notebook is executed again, up to ``ATTEMPTS`` times.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from helpers.analysis.plots import FIGURES_DIR, FIGURES_ENV_VAR
from helpers.core.files import atomic_path
from helpers.core.paths import NOTEBOOKS_DIR, REPO_ROOT
from helpers.core.workspace import WrittenRecord, display, refuse_tracked, run_lock

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
    """The project's notebooks, in order (``01_...``, ``02_...``): executed ones, and sources not built yet."""
    from helpers.notebook_sources import list_sources, notebook_for

    found = set(folder.glob("[0-9][0-9]_*.ipynb"))
    found |= {notebook_for(source) for source in list_sources(folder / "src")}
    return sorted(found)


def read_notebook(path: Path):
    """The notebook to execute: built from its source (``src/NN_name.py``) when there is one, else the file."""
    import nbformat

    from helpers.notebook_sources import read_source, source_for

    source = source_for(path)
    return read_source(source) if source.exists() else nbformat.read(path, as_version=4)


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


#: Marks a default that is not a literal (its type cannot be checked).
UNCHECKED = object()


class Declared(NamedTuple):
    """A parameter of a notebook's ``parameters`` cell: its default, and its annotation's text if it has one."""

    default: object
    annotation: str | None = None


def parameter_declarations(path: Path) -> dict[str, Declared]:
    """Names assigned in the notebook's ``parameters``-tagged cell, with their defaults and annotations."""
    notebook = read_notebook(path)
    declared = {}
    for cell in notebook.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            for node in ast.parse(cell.source).body:
                targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
                value = getattr(node, "value", None)
                try:
                    default = ast.literal_eval(value) if value is not None else UNCHECKED
                except ValueError:
                    default = UNCHECKED
                annotation = ast.unparse(node.annotation) if isinstance(node, ast.AnnAssign) else None
                declared.update({t.id: Declared(default, annotation) for t in targets if isinstance(t, ast.Name)})
    return declared


def parameter_defaults(path: Path) -> dict:
    """Names assigned in the notebook's ``parameters``-tagged cell, with their default values."""
    return {name: spec.default for name, spec in parameter_declarations(path).items()}


def declared_parameters(path: Path) -> set[str]:
    """Names assigned in the notebook's ``parameters``-tagged cell."""
    return set(parameter_declarations(path))


_KINDS = {bool: "True or False", int: "an integer", float: "a number", str: "a string", list: "a list",
          dict: "a dict", tuple: "a tuple", type(None): "None"}
_ANNOTATION_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "dict": dict,
                     "tuple": tuple, "None": type(None)}


def annotation_types(annotation: str) -> tuple[type, ...]:
    """The types an annotation such as ``int | None`` or ``list[str]`` allows (outer types only)."""
    kinds = []
    for part in annotation.split("|"):
        head = part.strip().split("[", 1)[0].strip()
        if head not in _ANNOTATION_TYPES:
            raise ValueError(f"annotation {annotation!r}: only int, float, str, bool, list, dict, tuple and None "
                             f"are understood")
        kinds.append(_ANNOTATION_TYPES[head])
    return tuple(kinds)


def typed_value(name: str, text: str, default, where: str, annotation: str | None = None):
    """``text`` converted to the declared type (the annotation, else the default's); a ValueError naming it."""
    if annotation is not None:
        return _typed_by_annotation(name, text, annotation, where)
    if default is None and name in PARAMETER_TYPES:
        return _typed_by_annotation(name, text, PARAMETER_TYPES[name], where)
    if default is UNCHECKED:
        return parse_value(text)
    kind = type(default)
    if kind is bool:
        if text in ("True", "true"):
            return True
        if text in ("False", "false"):
            return False
    else:
        value = parse_value(text)
        if kind is str and not isinstance(value, str):
            value = text  # a string parameter takes the text as it is
        if default is None or (isinstance(value, kind) and not isinstance(value, bool)) \
                or (kind is float and isinstance(value, int) and not isinstance(value, bool)):
            if default is None and not _is_literal(text):
                raise ValueError(f"-p {name} {text!r}: {where} declares {name} = None; give None or a Python "
                                 f"literal such as 5 or 'text'.")
            if kind is list and default and value and not all(isinstance(v, type(default[0])) for v in value):
                raise ValueError(f"-p {name} {text!r}: {where} expects a list of {type(default[0]).__name__}, "
                                 f"like {default!r}.")
            return value
    shown = repr(default) if len(repr(default)) <= 40 else repr(default)[:37] + "..."
    raise ValueError(f"-p {name} {text!r}: {where} declares {name} = {shown}, so the value must be "
                     f"{_KINDS.get(kind, kind.__name__)}" + (" (true/false also accepted)" if kind is bool else "") + ".")


def _typed_by_annotation(name: str, text: str, annotation: str, where: str):
    """``text`` as a value of one of the annotation's types (``int | None``: 5 or None, never 2.5 or 'x')."""
    kinds = annotation_types(annotation)
    value = parse_value(text)
    if bool in kinds and text in ("true", "false"):
        value = text == "true"
    if isinstance(value, bool):
        ok = bool in kinds
    elif isinstance(value, int) and float in kinds and int not in kinds:
        value, ok = float(value), True
    else:
        ok = isinstance(value, tuple(k for k in kinds if k is not bool)) and _is_literal(text) \
            or (str in kinds and isinstance(value, str))
    if not ok:
        wanted = " or ".join(_KINDS.get(k, k.__name__) for k in kinds)
        raise ValueError(f"-p {name} {text!r}: {name} in {where} is {annotation}, so the value must be {wanted}.")
    return value


def _is_literal(text: str) -> bool:
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return False
    return True


#: Declared types of the project's parameters whose default is None, used when the parameters cell does not
#: annotate them (an annotation such as ``epochs: int | None = None`` wins).
PARAMETER_TYPES = {"epochs": "int | None", "eval_subset": "int | None"}
#: Parameters that count something: a value must be at least this (lists: every item).
MINIMUM = {"epochs": 1, "eval_subset": 1, "train_subset": 1, "curve_images": 1, "protocol_epochs": 1,
           "n_images": 1, "num_samples": 1, "n_examples": 1, "batch": 1, "steps": 1, "cut": 1,
           "grid_step": 1e-9, "max_scale": 1e-9, "table_scales": 1e-9, "keep_scales": 1e-9, "horizons": 1,
           "seed": 0, "set_seed": 0}
#: Parameters that name zoo models.
MODEL_PARAMETERS = ("models", "table_model")


def check_meaning(name: str, value, where: str, task_models: tuple[str, ...]) -> None:
    """Raise a ValueError naming ``-p name`` when ``value`` means nothing here (an unknown model, a count < 1)."""
    from helpers.core.config import ZOO

    if name in MODEL_PARAMETERS and value is not None:
        names = value if isinstance(value, list) else [value]
        allowed = task_models or ZOO
        unknown = [n for n in names if n not in allowed]
        if unknown or not names:
            raise ValueError(f"-p {name}: {', '.join(map(repr, unknown)) or 'an empty list'} is not a model of "
                             f"{where}; choose from {', '.join(allowed)}.")
    low = MINIMUM.get(name)
    items = value if isinstance(value, list) else [value]
    numbers = [v for v in items if isinstance(v, int | float) and not isinstance(v, bool)]
    if low is not None and any(not (v >= low and math.isfinite(v)) for v in numbers):
        wanted = "a positive" if low > 0 else "a non-negative"
        raise ValueError(f"-p {name} {value!r}: {where} needs {wanted} {'number' if low < 1 else 'count'}"
                         f"{' in every item' if isinstance(value, list) else ''}.")


def notebook_task_models(path: Path) -> tuple[str, ...]:
    """The zoo models a notebook can show: those of the task it prepares (``prepare_models("pixel", ...)``)."""
    import re

    from helpers.core.config import TASK_MODELS

    notebook = read_notebook(path)
    for cell in notebook.cells:
        found = re.search(r"prepare_models\(\s*[\"'](\w+)[\"']", cell.source)
        if cell.cell_type == "code" and found and found.group(1) in TASK_MODELS:
            return tuple(TASK_MODELS[found.group(1)])
    return ()


def check_parameters(notebooks: list[Path], raw: dict[str, str]) -> dict[Path, dict]:
    """Per notebook, the parameters it declares, typed and checked for meaning (a ValueError before any work)."""
    typed, declared_anywhere = {}, set()
    for path in notebooks:
        declared = parameter_declarations(path)
        declared_anywhere |= set(declared)
        typed[path] = {}
        for name, text in raw.items():
            if name in declared:
                value = typed_value(name, text, declared[name].default, path.name, declared[name].annotation)
                check_meaning(name, value, path.name, notebook_task_models(path))
                typed[path][name] = value
    unknown = sorted(set(raw) - declared_anywhere)
    if unknown:
        raise ValueError(f"no selected notebook declares parameter(s) {unknown}; --list shows each notebook's.")
    return typed


def run_notebook(path: Path, output: Path, parameters: dict | None = None, progress: bool = True,
                 cell_timeout: float | None = CELL_TIMEOUT_S, figures_dir: Path | None = None) -> float:
    """Execute one notebook (built from its source if it has one) into ``output``; return the seconds it took.

    Runs in ``path``'s folder; ``output`` is written atomically, in JupyterLab's form, without run metadata
    (:func:`strip_run_metadata`). Figures go to ``figures_dir`` if given, else (when ``output`` is not the
    notebook itself) to ``{output folder}/figures/``, else to the repository's ``figures/``.
    """
    import nbformat
    import papermill

    from helpers.notebook_sources import write_notebook

    parameters = parameters or {}
    declared = declared_parameters(path)
    used = {k: v for k, v in parameters.items() if k in declared}
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env_path) if p)
    if figures_dir is not None:
        os.environ[FIGURES_ENV_VAR] = str(Path(figures_dir).resolve())
    elif Path(output).resolve() != Path(path).resolve():
        os.environ[FIGURES_ENV_VAR] = str(Path(output).resolve().parent / "figures")
    else:
        os.environ[FIGURES_ENV_VAR] = str(FIGURES_DIR)
    from nbclient.exceptions import CellTimeoutError

    tick = time.perf_counter()
    for attempt in range(1, ATTEMPTS + 1):
        notebook = read_notebook(path)
        reporter = CellProgress(path.name, notebook, injected=bool(used)) if progress else None
        try:
            with atomic_path(output) as tmp:
                papermill.execute_notebook(
                    notebook, str(tmp), parameters=used, kernel_name=KERNEL_NAME, cwd=str(path.parent),
                    progress_bar=False, log_output=False, report_mode=False,
                    execution_timeout=cell_timeout,  # a stuck cell fails the run instead of hanging it
                    timeout_func=cell_timeout_function(cell_timeout),
                    extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no kernel warnings after a Ctrl-C
                    **({"on_cell_execute": reporter.cell_started} if reporter else {}),
                )
                write_notebook(strip_run_metadata(nbformat.read(tmp, as_version=4)), tmp)
            break
        except CellTimeoutError:
            # Only a widget cell can time out when no --cell-timeout is set: that is the known hang.
            if cell_timeout is not None or attempt == ATTEMPTS:
                raise
            print(f"{path.name}: a widget cell did not return within {WIDGET_CELL_TIMEOUT_S:.0f} s (a known "
                  f"headless-execution hang); executing the notebook again ({attempt + 1} of {ATTEMPTS}).",
                  file=sys.stderr, flush=True)
        finally:
            if reporter:
                reporter.close()
    return time.perf_counter() - tick


def strip_run_metadata(nb):
    """``nb`` without what only says when and where it ran (papermill's record, execution timestamps).

    So a regeneration that changes no output changes no byte of the notebook.
    """
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    return stable_widget_ids(nb)


WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def stable_widget_ids(nb):
    """``nb`` with its widgets' random model ids replaced by ids numbered in the order the outputs reach them.

    ipywidgets names every model with a fresh UUID, so without this each run would change the saved widget state
    and the outputs that show it, although nothing a reader sees changed.
    """
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    if not state:
        return nb
    order = [view["model_id"] for cell in nb.cells for out in cell.get("outputs", [])
             if (view := out.get("data", {}).get(WIDGET_VIEW)) and view.get("model_id") in state]
    seen: dict[str, None] = {}
    while order:  # breadth first: a model, then the models its state names (children, layout, style, ...)
        model = order.pop(0)
        if model in state and model not in seen:  # a reference to a model that was not saved is left as it is
            seen[model] = None
            order += re.findall(r"IPY_MODEL_([0-9a-f]+)", json.dumps(state[model], sort_keys=True))
    content = {m: re.sub(r"[0-9a-f]{32}", "", json.dumps(state[m], sort_keys=True)) for m in state}
    rest = sorted((m for m in state if m not in seen), key=content.get)  # unreachable ones, by what they hold
    renamed = {old: hashlib.md5(f"widget-{i}".encode()).hexdigest() for i, old in enumerate([*seen, *rest])}
    text = re.sub(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])", lambda m: renamed.get(m.group(0), m.group(0)), json.dumps(nb))
    import nbformat

    return nbformat.from_dict(json.loads(text))


class CellProgress:
    """One progress bar per notebook that says which cell runs: its section heading and first line."""

    def __init__(self, name: str, notebook, injected: bool = False):
        from tqdm import tqdm

        self.labels, heading = {}, ""
        for cell in notebook.cells:
            lines = [line.strip() for line in cell.source.splitlines() if line.strip()]
            if cell.cell_type == "markdown":
                heading = next((line.lstrip("#").strip() for line in lines if line.startswith("#")), heading)
            elif cell.cell_type == "code":
                first = next((line.lstrip("# ") for line in lines if not line.startswith("%")), "")
                self.labels[cell.get("id")] = " | ".join(part for part in (heading, first) if part)[:70]
        total = len(self.labels) + (1 if injected else 0)  # papermill adds a cell for the parameters given
        self.bar = tqdm(total=total, desc=name, unit="cell", file=sys.stdout, dynamic_ncols=True, leave=False,
                        mininterval=0)

    def cell_started(self, cell=None, cell_index=None, **_):
        """nbclient's ``on_cell_execute`` hook: advance the bar and show what the cell is doing."""
        label = self.labels.get(cell.get("id")) if cell is not None else None
        self.bar.set_postfix_str(label or "parameters given with -p", refresh=False)
        self.bar.update(1)

    def close(self):
        self.bar.close()


def install_figures(notebook: Path, staged: Path, target: Path, written_before: set[str] | None = None) -> list[Path]:
    """Move the notebook's staged figures (``NN_*.png``) into ``target``; delete those it no longer draws.

    Only figures that an earlier run wrote (``written_before``; every ``NN_*.png`` when None) are deleted:
    never a file this command did not make. Returns the deleted paths.
    """
    prefix = Path(notebook).name.split("_", 1)[0]
    target.mkdir(parents=True, exist_ok=True)
    produced = {p.name: p for p in staged.glob(f"{prefix}_*.png")} if staged.exists() else {}
    stale = [p for p in sorted(target.glob(f"{prefix}_*.png")) if p.name not in produced
             and (written_before is None or p.name in written_before)]
    for name, path in produced.items():
        os.replace(path, target / name)
    for path in stale:
        path.unlink()
    return stale


def written_before(figures_dir: Path, record: WrittenRecord) -> set[str]:
    """Figures an earlier regeneration wrote into ``figures_dir``: its record, and the committed ones in figures/."""
    names = record.read()
    if Path(figures_dir).resolve() == FIGURES_DIR.resolve():
        import subprocess

        try:
            listed = subprocess.run(["git", "ls-files", "-z", "--", "."], cwd=FIGURES_DIR, capture_output=True,
                                    text=True, timeout=30, check=True).stdout
            names |= {Path(name).name for name in listed.split("\0") if name}
        except (OSError, subprocess.SubprocessError):
            pass
    return names


def regenerate(notebooks: list[Path], parameters: dict[Path, dict], output_dir: Path | None = None,
               cell_timeout: float | None = CELL_TIMEOUT_S, figures_dir: Path | None = None) -> int:
    """Execute ``notebooks`` into a staging folder; move notebooks and figures into place only if all succeed."""
    target = Path(output_dir) if output_dir is not None else notebooks[0].parent
    if figures_dir is None:
        figures_dir = target / "figures" if output_dir is not None else _figures_for(target)
    target.mkdir(parents=True, exist_ok=True)
    with run_lock(target, f"the notebooks folder {display(target)}"):
        staging = Path(tempfile.mkdtemp(prefix=".regenerate-", dir=target))
        try:
            total = _execute_all(notebooks, parameters, staging, cell_timeout)
            if total is None:
                print(f"Nothing was changed: no notebook or figure in {target} or {figures_dir} was written.",
                      file=sys.stderr)
                return 1
            _install(notebooks, staging, target, figures_dir)
            print(f"All {len(notebooks)} notebook(s) executed in {total:.0f} s -> {target} (figures: {figures_dir}).")
            return 0
        except KeyboardInterrupt:
            raise KeyboardInterrupt(f"no notebook or figure in {display(target)} or {display(figures_dir)} was "
                                    f"changed") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _execute_all(notebooks: list[Path], parameters: dict[Path, dict], staging: Path, cell_timeout) -> float | None:
    """Run every notebook into ``staging``; the seconds they took, or None after the first failure (reported)."""
    total = 0.0
    for i, path in enumerate(notebooks, 1):
        print(f"[{i}/{len(notebooks)}] {path.name} ...", flush=True)
        try:
            total += run_notebook(path, staging / path.name, parameters.get(path, {}), cell_timeout=cell_timeout,
                                  figures_dir=staging / "figures")
        except Exception as err:  # papermill raises PapermillExecutionError with the cell's details
            print(f"error: {_failure_message(path, err)}", file=sys.stderr)
            return None
        print(f"[{i}/{len(notebooks)}] {path.name} done", flush=True)
    return total


def _install(notebooks: list[Path], staging: Path, target: Path, figures_dir: Path) -> None:
    """Move the staged notebooks and figures into place; remove figures an earlier run wrote and this one did not."""
    record = WrittenRecord(figures_dir, "helpers.regenerate")
    before = written_before(figures_dir, record)
    drawn = {p.name for p in (staging / "figures").glob("*.png")} if (staging / "figures").exists() else set()
    removed = set()
    for path in notebooks:
        for stale in install_figures(path, staging / "figures", figures_dir, before):
            print(f"{stale.name} is no longer drawn by {path.name}: removed", flush=True)
            removed.add(stale.name)
        os.replace(staging / path.name, target / path.name)
    record.update(drawn, removed)


def _figures_for(notebooks_dir: Path) -> Path:
    """The figures folder beside a notebooks folder (the repository's ``figures/`` for ``notebooks/``)."""
    if Path(notebooks_dir).resolve() == NOTEBOOKS_DIR.resolve():
        return FIGURES_DIR
    return Path(notebooks_dir).parent / "figures"


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
    parser.add_argument("--cell-timeout", type=_positive_seconds, default=CELL_TIMEOUT_S, metavar="SECONDS",
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
    try:
        parameters = check_parameters(notebooks, dict(args.parameter))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.list:
        for path in notebooks:
            defaults = parameter_defaults(path)
            print(f"{path.name}: " + ", ".join(f"{k}={'...' if v is UNCHECKED else repr(v)}" for k, v in defaults.items()))
        return 0
    if args.output_dir is not None:
        try:
            refuse_tracked(args.output_dir)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        if args.output_dir.exists() and not args.output_dir.is_dir():
            print(f"error: --output-dir {args.output_dir} is a file; choose a folder.", file=sys.stderr)
            return 2
    return regenerate(notebooks, parameters, args.output_dir, args.cell_timeout)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}") from None
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


if __name__ == "__main__":
    from helpers.core import cli

    sys.exit(cli.guard(main, interrupted="Run the same command again when you are ready."))
