"""The course's exercises: the student edition (release) and the grader (check) of helpers/exercises.py.

The tests that start kernels are marked slow: each grading run starts a fresh kernel per notebook.
"""

import hashlib
import re
import subprocess
import sys

import nbformat
import pytest

from helpers import exercises
from helpers import notebook_sources as ns
from helpers.analysis import checks
from helpers.core.paths import REPO_ROOT

STEMS = [p.stem for p in ns.list_sources()]


def run_cli(*args, timeout=900):
    """``python -m helpers.exercises ARGS`` from the repository root: (exit status, stdout, stderr)."""
    done = subprocess.run([sys.executable, "-m", "helpers.exercises", *map(str, args)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout, done.stderr


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def exercise_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if " exercise " in line and not line.startswith("error")]


@pytest.fixture(scope="module")
def masters():
    return exercises.masters()


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    return exercises.release(tmp_path_factory.mktemp("release") / "student")


def solve(path, grade_id, source):
    """Put ``source`` into the answer cell ``grade_id`` of the notebook at ``path``."""
    nb = nbformat.read(path, as_version=4)
    [cell] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    cell.source = source
    nbformat.write(nb, path)


def master_answer(masters, grade_id):
    return next(c.source for nb in masters.values() for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def test_enough_exercises_and_open_questions(masters):
    checks_per_notebook = {stem: sum(exercises.is_check(c) for c in nb.cells) for stem, nb in masters.items()}
    assert sum(checks_per_notebook.values()) >= 12 and checks_per_notebook["01_gates"] >= 5, checks_per_notebook
    assert all(checks_per_notebook.values()), f"a notebook without exercises: {checks_per_notebook}"
    questions = [c for nb in masters.values() for c in nb.cells
                 if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("solution")]
    assert len(questions) >= 2 and all(c.source.startswith("*Model answer.*") for c in questions)


def test_every_answer_is_followed_by_its_check(masters):
    for stem, nb in masters.items():
        cells = [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader")]
        for answer, following in zip(cells, cells[1:]):
            meta = answer.metadata.nbgrader
            if meta.get("solution"):
                assert following.metadata.nbgrader["grade_id"] == meta["grade_id"] + "_check", stem
                assert "### BEGIN SOLUTION" in answer.source and "checks.exercise(" in following.source, stem
                assert "assert " not in following.source, f"{stem}: a bare assert in {meta['grade_id']}'s check"


def test_notebook_01_words_before_the_appendix(masters):
    words = 0
    for cell in masters["01_gates"].cells:
        if cell.cell_type == "markdown":
            if cell.source.startswith("## Appendix"):
                break
            words += len(cell.source.split())
    assert words <= 1500, f"notebook 01 has {words} markdown words before its appendix (at most 1,500)"


def test_student_edition_holds_no_solution_and_no_hidden_check(edition, masters):
    assert (edition / exercises.MARKER).is_file() and not (edition / "data" / "mnist.npz").exists()
    assert (edition / "data" / "models").is_dir() and (edition / "helpers" / "analysis" / "checks.py").is_file()
    assert not (edition / "notebooks" / "src").exists() and not (edition / "helpers" / "exercises.py").exists()
    for stem, master in masters.items():
        text = (edition / "notebooks" / f"{stem}.ipynb").read_text()
        student = nbformat.reads(text, as_version=4)
        assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text, stem
        for cell in master.cells:
            pattern = r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1"
            visible = re.sub(pattern, "", cell.source, flags=re.S)  # lines also outside the blocks may stay
            for block in re.findall(pattern, cell.source, re.S):
                for line in block[1].splitlines():
                    if len(line.strip()) > 12 and line.strip() not in visible:
                        assert all(line.strip() not in c.source for c in student.cells), f"{stem}: {line.strip()}"
            if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("solution"):
                assert cell.source not in text, f"{stem}: a model answer"
        for cell in student.cells:
            if cell.metadata.get("nbgrader"):
                assert not cell.get("outputs"), f"{stem}: an exercise cell kept its outputs"


def test_release_refuses_a_folder_that_is_not_an_edition_and_writes_nothing_else(tmp_path):
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    code, out, err = run_cli("release", "--out", other, timeout=120)
    assert code != 0 and "not a student edition" in err and "Traceback" not in err
    assert [p.name for p in other.iterdir()] == ["notes.txt"]
    code, out, err = run_cli("release", "--out", tmp_path / "edition", timeout=300)
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edition", "mine"]
    (tmp_path / "edition" / "notebooks" / "old.ipynb").write_text("{}")
    assert run_cli("release", "--out", tmp_path / "edition", timeout=300)[0] == 0  # an earlier edition is replaced
    assert not (tmp_path / "edition" / "notebooks" / "old.ipynb").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edition", "mine"]


def test_check_refuses_what_it_cannot_grade_in_one_line(tmp_path):
    text = tmp_path / "notes.ipynb"
    text.write_text("not json")
    other = tmp_path / "other.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    nb.cells[0].metadata["nbgrader"] = {"grade": True, "grade_id": "their_ex", "points": 1, "solution": False}
    nbformat.write(nb, other)
    before = {p: digest(p) for p in (text, other)}
    code, out, err = run_cli("check", tmp_path / "missing.ipynb", text, other, tmp_path, timeout=120)
    assert code == 1 and "Traceback" not in out + err
    errors = [line for line in out.splitlines() if line.startswith("error: ")]
    assert len(errors) == 4 and "no such file" in errors[0] and "not a Jupyter notebook" in errors[1]
    assert "not a notebook of this course" in errors[2] and "not a file" in errors[3]
    assert out.splitlines()[-1] == "score: 0/0"
    assert {p: digest(p) for p in (text, other)} == before


@pytest.mark.slow
def test_solution_edition_passes_every_check(tmp_path, masters):
    paths = []
    for stem, master in masters.items():
        paths.append(ns.write_notebook(master, tmp_path / f"{stem}.ipynb"))
    code, out, err = run_cli("check", *paths)
    total = sum(exercises.is_check(c) for nb in masters.values() for c in nb.cells)
    assert code == 0 and out.splitlines()[-1] == f"score: {total}/{total}", out + err
    assert len(exercise_lines(out)) == total and "Traceback" not in out + err


@pytest.mark.slow
def test_student_edition_fails_every_exercise_without_an_error(edition, masters):
    paths = [edition / "notebooks" / f"{stem}.ipynb" for stem in STEMS]
    before = {p: digest(p) for p in paths}
    code, out, err = run_cli("check", *paths)
    lines = exercise_lines(out)
    total = sum(exercises.is_check(c) for nb in masters.values() for c in nb.cells)
    assert code == 0 and out.splitlines()[-1] == f"score: 0/{total}" and len(lines) == total, out + err
    assert all("FAILED: not answered yet" in line and "Hint: " in line for line in lines), out
    assert {p: digest(p) for p in paths} == before


@pytest.mark.slow
def test_student_notebook_runs_top_to_bottom(edition, tmp_path):
    import papermill

    out = tmp_path / "run.ipynb"
    papermill.execute_notebook(str(edition / "notebooks" / "01_gates.ipynb"), str(out), cwd=str(edition / "notebooks"),
                               parameters={"batch": 4, "steps": 20, "max_scale": 6.0, "grid_step": 1.0,
                                           "table_scales": [1, 2], "keep_scales": [4], "horizons": [5]},
                               progress_bar=False, kernel_name="python3")
    executed = nbformat.read(out, as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    failed = [c for c in executed.cells if exercises.is_check(c)]
    assert failed and all("✗ exercise" in "".join(o.get("text", "") for o in c.outputs) for c in failed)


@pytest.mark.slow
def test_one_exercise_solved_scores_exactly_one(edition, masters, tmp_path):
    path = tmp_path / "02_classification.ipynb"
    path.write_bytes((edition / "notebooks" / path.name).read_bytes())
    solve(path, "ex2_1", master_answer(masters, "ex2_1"))
    code, out, err = run_cli("check", path)
    assert code == 0 and out.splitlines()[-1] == "score: 1/2", out + err
    assert "exercise 2.1: passed" in out and "exercise 2.2: FAILED" in out


@pytest.mark.slow
def test_an_answer_that_raises_or_hangs_fails_with_its_reason(edition, tmp_path):
    path = tmp_path / "03_pixel_prediction.ipynb"
    path.write_bytes((edition / "notebooks" / path.name).read_bytes())
    solve(path, "ex3_1", "raise ValueError('boom')")
    solve(path, "ex3_2", "def bits_per_image(nats):\n    while True:\n        pass")
    before = digest(path)
    code, out, err = run_cli("check", "--timeout", "10", path)
    assert code == 0 and out.splitlines()[-1] == "score: 0/2" and "Traceback" not in out + err, out + err
    assert "exercise 3.1: FAILED: your answer cell failed: ValueError: boom" in out
    assert "exercise 3.2: FAILED: stopped at the time limit of 10 s per cell" in out
    assert digest(path) == before


def test_a_check_explains_expected_got_and_hint(capsys):
    with checks.exercise("9.1", hint="think again") as ex:
        ex.close("f(2)", 5.0, 4.0)
    def unanswered():
        raise NotImplementedError()

    with checks.exercise("9.2", hint="write it") as ex:
        ex.call(unanswered)
    with checks.exercise("9.3", hint="a number") as ex:
        ex.close("g(1)", None, [1.0, 2.0])
    with checks.exercise("9.4", hint="fine") as ex:
        ex.equal("h()", "beats", "beats")
        ex.at_most("error", 1e-4, 1e-3)
    out, err = capsys.readouterr()
    assert out == "✓ exercise 9.4: passed (2 checks)\n"
    assert err.splitlines() == [
        "✗ exercise 9.1: f(2): expected 4, got 5. Hint: think again",
        "✗ exercise 9.2: not answered yet (the function still raises NotImplementedError). Hint: write it",
        "✗ exercise 9.3: g(1): expected [1, 2], got None (does the function return its result?). Hint: a number",
    ]
