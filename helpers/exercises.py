"""The course's exercises: a student edition to hand out, and automatic grading of what comes back.

    python -m helpers.exercises release --out DIR           # the student edition, written to DIR only
    python -m helpers.exercises check NOTEBOOK.ipynb [...]  # one line per exercise, then "score: P/T"

The exercises live in the notebook sources (``notebooks/src/``), marked as nbgrader expects: answer cells
with ``### BEGIN SOLUTION`` / ``### END SOLUTION``, locked check cells (``helpers.analysis.checks``) with
``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``, and locked setup cells. nbgrader's own preprocessors
(ClearSolutions, ClearHiddenTests, ClearOutput) make the student edition and its grade rule
(``nbgrader.utils.determine_grade``) scores the checks, in-process, without a course database.

Grading runs, in a fresh kernel, only the setup, answer and check cells (the teacher's setup and checks,
the student's answers, matched by nbgrader's ``grade_id``), with a time limit per cell.
"""

from __future__ import annotations

import argparse
import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from helpers import notebook_sources as ns
from helpers.core.paths import DATA_DIR, NOTEBOOKS_DIR, REPO_ROOT

#: The file that marks a folder as a student edition (``release`` replaces only such a folder).
MARKER = ".student-edition"
#: Seconds one cell may run while grading before it is interrupted.
DEFAULT_TIMEOUT = 120
#: Seconds a setup cell (the teacher's, not graded) may run.
SETUP_TIMEOUT = 600
#: What a student edition needs besides its notebooks, relative to the repository root.
SHIPPED = ["helpers", "data/models", "data/experiments", "requirements.txt"]
#: The student's README of the edition.
STUDENT_README = """\
# RNN on binarized MNIST: student edition

Install the requirements (`pip install -r requirements.txt`), then `jupyter lab notebooks/`. Each exercise is
a function to write in the cell marked `# YOUR CODE HERE`; the cell after it checks your answer and says
what is wrong. Open questions ask for a few sentences in the cell marked `YOUR ANSWER HERE`.

MNIST is not included: the notebooks download it on first use (from the Keras URL, checked by its SHA-256)
to `data/mnist.npz`. Offline, copy `mnist.npz` (Keras format) there, or point `MNIST_NPZ` to it.
"""


class CannotGrade(Exception):
    """A notebook that cannot be graded at all; the message is the one line to show."""


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {}) if isinstance(cell.metadata.get("nbgrader"), dict) else {}


def is_check(cell) -> bool:
    """An autograded check cell: nbgrader grade cell, code, not an answer."""
    meta = _nbgrader(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def masters() -> dict[str, nbformat.NotebookNode]:
    """The solution edition of every notebook, built from its source: {stem: notebook}."""
    return {source.stem: ns.read_source(source) for source in ns.list_sources()}


def _exercise_label(grade_id: str) -> str:
    """``ex1_2_check`` -> ``exercise 1.2``."""
    return "exercise " + grade_id.removeprefix("ex").removesuffix("_check").replace("_", ".")


def student_notebook(master: nbformat.NotebookNode, executed: nbformat.NotebookNode | None = None):
    """The student edition of a notebook: answers stubbed, hidden checks removed, exercise outputs cleared.

    Cells not part of an exercise keep the outputs of ``executed`` (the committed notebook) where their
    content is unchanged (same cell id).
    """
    from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions

    nb = copy.deepcopy(master)
    outputs = {c.get("id"): c for c in executed.cells} if executed is not None else {}
    for cell in nb.cells:
        done = outputs.get(cell.get("id"))
        if cell.cell_type == "code" and done is not None and not _nbgrader(cell):
            cell.outputs, cell.execution_count = copy.deepcopy(done.get("outputs", [])), done.get("execution_count")
    nb, _ = ClearSolutions().preprocess(nb, {})
    nb, _ = ClearHiddenTests().preprocess(nb, {})
    clear = ClearOutput()
    for index, cell in enumerate(nb.cells):
        if _nbgrader(cell):
            clear.preprocess_cell(cell, {}, index)
    return nb


def check_target(out: Path) -> None:
    """Refuse ``out`` unless it is absent, an empty folder or an earlier student edition."""
    if out.exists() and not out.is_dir():
        raise SystemExit(f"error: --out {out} is a file; choose a new folder or an earlier student edition.")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise SystemExit(f"error: --out {out} exists and is not a student edition (no {MARKER} file); "
                         "choose a new folder.")


def release(out: str | Path) -> Path:
    """Write the student edition to ``out`` (replacing an earlier edition there) and return its path."""
    out = Path(out).resolve()
    check_target(out)
    stage = out.parent / f".{out.name}.staging"
    shutil.rmtree(stage, ignore_errors=True)
    try:
        stage.mkdir(parents=True)
        for stem, master in masters().items():
            committed = NOTEBOOKS_DIR / f"{stem}.ipynb"
            executed = nbformat.read(committed, as_version=4) if committed.is_file() else None
            ns.write_notebook(student_notebook(master, executed), stage / "notebooks" / f"{stem}.ipynb")
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*-*.tmp", "exercises.py")
        for name in SHIPPED:
            source, target = REPO_ROOT / name, stage / name
            if source.is_dir():
                shutil.copytree(source, target, ignore=ignore)
            else:
                shutil.copy2(source, target)
        for npz in sorted(DATA_DIR.glob("*.npz")):
            if npz.name != "mnist.npz":
                shutil.copy2(npz, stage / "data" / npz.name)
        (stage / "README.md").write_text(STUDENT_README)
        (stage / MARKER).write_text("rnn-mnist-notebooks student edition (python -m helpers.exercises release)\n")
        if out.exists():
            shutil.rmtree(out)
        stage.rename(out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return out


def read_submission(path: Path) -> nbformat.NotebookNode:
    """The notebook at ``path``, or CannotGrade with one line that says why not."""
    if not path.exists():
        raise CannotGrade(f"{path}: no such file")
    if not path.is_file():
        raise CannotGrade(f"{path}: not a file; give a notebook (.ipynb)")
    try:
        return nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises several kinds for a file that is not a notebook
        raise CannotGrade(f"{path}: not a Jupyter notebook ({type(error).__name__}); give the .ipynb file") from None


def match_master(path: Path, submitted, all_masters: dict) -> tuple[str, nbformat.NotebookNode]:
    """The course notebook that ``submitted`` is an edition of, recognised by its exercises' grade ids."""
    ids = {_nbgrader(c).get("grade_id") for c in submitted.cells} - {None}
    for stem, master in all_masters.items():
        if ids & {_nbgrader(c).get("grade_id") for c in master.cells if _nbgrader(c).get("grade")}:
            return stem, master
    raise CannotGrade(f"{path}: not a notebook of this course (none of its cells is one of our exercises); "
                      "give a notebook of the student edition (python -m helpers.exercises release)")


def assemble(master, submitted) -> nbformat.NotebookNode:
    """The notebook to grade: the master's setup and check cells, with the student's answer cells."""
    from nbgrader.preprocessors import ClearSolutions

    answers = {_nbgrader(c).get("grade_id"): c for c in submitted.cells if _nbgrader(c).get("solution")}
    nb = copy.deepcopy(master)
    cells = []
    for index, cell in enumerate(nb.cells):
        meta = _nbgrader(cell)
        if cell.cell_type != "code" or not meta:
            continue
        if meta.get("solution"):
            answer = answers.get(meta.get("grade_id"))
            if answer is not None and answer.cell_type == "code":
                cell.source = answer.source
            else:  # the student deleted the answer cell: grade it as not answered
                cell, _ = ClearSolutions().preprocess_cell(cell, {"language": "python"}, index)
        cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    nb.cells = cells
    return nb


def execute(nb, timeout: int) -> str | None:
    """Run ``nb`` in a fresh kernel from ``notebooks/``; None, or why it stopped before its end."""
    from nbclient import NotebookClient

    def limit(cell) -> int:  # the teacher's setup (imports TensorFlow) is not held to the answers' limit
        return timeout if _nbgrader(cell).get("grade") or _nbgrader(cell).get("solution") else max(timeout, SETUP_TIMEOUT)

    client = NotebookClient(nb, timeout=timeout, timeout_func=limit, kernel_name="python3", allow_errors=True,
                            interrupt_on_timeout=True, resources={"metadata": {"path": str(NOTEBOOKS_DIR)}})
    try:  # the kernel's own output (e.g. ipykernel's messages at shutdown) is not the grader's
        client.execute(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except Exception as error:  # a kernel that cannot start or dies: grade what ran
        if not any(c.get("execution_count") for c in nb.cells):
            raise CannotGrade(f"could not run a Python kernel: {type(error).__name__}: {error}") from None
        return f"the kernel stopped ({type(error).__name__})"
    return None


#: The start of a check's verdict line ("✓ exercise 1.2: "), left out of the grader's line.
_VERDICT = re.compile(r"^[✓✗] exercise [^:]*: ")


def _stream(cell, name: str) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream"
                   and o.get("name") == name).strip()


def _error(cell, timeout: int) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            if output.get("ename") == "KeyboardInterrupt":
                return f"stopped at the time limit of {timeout} s per cell"
            return f"{output.get('ename')}: {output.get('evalue')}".strip()
    return None


def verdicts(nb, timeout: int, stopped: str | None) -> list[tuple[str, bool, str]]:
    """(exercise, passed, message) for every check cell of an executed, assembled notebook."""
    from nbgrader.utils import determine_grade

    results, answer = [], None
    for cell in nb.cells:
        meta = _nbgrader(cell)
        if meta.get("solution"):
            answer = cell
            continue
        if not is_check(cell):
            continue
        label = _exercise_label(meta["grade_id"])
        if cell.get("execution_count") is None:
            results.append((label, False, f"not run: {stopped or 'an earlier cell stopped the kernel'}"))
            continue
        points, total = determine_grade(cell)
        answer_error = _error(answer, timeout) if answer is not None else None
        if points == total and points:
            lines = _stream(cell, "stdout").splitlines()
            results.append((label, True, _VERDICT.sub("", lines[0]) if lines else "passed"))
        elif answer_error:
            results.append((label, False, f"your answer cell failed: {answer_error}"))
        else:
            lines = _stream(cell, "stderr").splitlines()
            message = _error(cell, timeout) or (lines[-1] if lines else "the check did not pass")
            results.append((label, False, _VERDICT.sub("", message)))
    return results


def grade(path: Path, all_masters: dict, timeout: int = DEFAULT_TIMEOUT) -> tuple[str, list]:
    """Grade one submitted notebook: (its course notebook, [(exercise, passed, message)])."""
    submitted = read_submission(path)
    stem, master = match_master(path, submitted, all_masters)
    nb = assemble(master, submitted)
    stopped = execute(nb, timeout)
    for cell in nb.cells:
        problem = None if _nbgrader(cell).get("grade") or _nbgrader(cell).get("solution") else _error(cell, timeout)
        if problem:
            raise CannotGrade(f"{path}: the notebook's own setup cell failed ({problem}); check this repository's "
                              "installation (pip install -r requirements.txt)")
    return stem, verdicts(nb, timeout, stopped)


def check(paths: list[Path], timeout: int = DEFAULT_TIMEOUT) -> int:
    """Grade each notebook, print one line per exercise and the total score; 1 if one could not be graded."""
    all_masters, passed, total, status = masters(), 0, 0, 0
    for path in paths:
        try:
            stem, results = grade(Path(path), all_masters, timeout)
        except CannotGrade as problem:
            print(f"error: {problem}")
            status = 1
            continue
        for label, ok, message in results:
            print(f"{stem} {label}: {message}" if ok else f"{stem} {label}: FAILED: {message}")
        passed += sum(ok for _, ok, _ in results)
        total += len(results)
    print(f"score: {passed}/{total}")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.exercises", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    rel = commands.add_parser("release", help="write the student edition (answers stubbed, hidden checks removed)")
    rel.add_argument("--out", type=Path, required=True, help="a new folder, or an earlier student edition")
    chk = commands.add_parser("check", help="grade students' notebooks: one line per exercise, then score: P/T")
    chk.add_argument("notebooks", nargs="+", type=Path, metavar="NOTEBOOK.ipynb")
    chk.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT,
                     help=f"seconds a cell may run before it is stopped (default {DEFAULT_TIMEOUT})")
    args = parser.parse_args(argv)
    if args.command == "release":
        print(f"student edition written to {release(args.out)}")
        return 0
    if args.timeout <= 0:
        parser.error(f"--timeout must be a positive number of seconds; got {args.timeout}")
    return check(args.notebooks, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
