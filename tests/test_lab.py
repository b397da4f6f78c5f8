"""helpers.lab: the git-ignored working copy JupyterLab opens, refreshed without losing a reader's edits."""

import json
import os
import subprocess
import sys

import nbformat
import pytest

from helpers import lab
from helpers.analysis import plots
from helpers.core.paths import REPO_ROOT


def _write(path, code="x = 1", output="1"):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(code, execution_count=1,
                                     outputs=[nbformat.v4.new_output("execute_result", {"text/plain": output},
                                                                     execution_count=1)])
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), cell]
    nbformat.write(nb, path)
    return path


@pytest.fixture
def repo(tmp_path):
    """A committed notebooks folder and an empty working-copy folder."""
    notebooks, work = tmp_path / "notebooks", tmp_path / "lab"
    notebooks.mkdir()
    _write(notebooks / "01_a.ipynb")
    _write(notebooks / "02_b.ipynb", code="y = 2")
    return notebooks, work


def _never(question):
    raise AssertionError(f"asked without need: {question}")


def test_first_start_copies_every_notebook(repo):
    notebooks, work = repo
    lines = lab.sync(work, lab.committed_notebooks(notebooks), ask=_never)
    assert lines == ["01_a.ipynb: copied", "02_b.ipynb: copied"]
    for name in ("01_a.ipynb", "02_b.ipynb"):
        assert (work / name).read_bytes() == (notebooks / name).read_bytes()
    assert set(json.loads((work / lab.STATE_FILE).read_text())) == {"01_a.ipynb", "02_b.ipynb"}


def test_a_copy_only_run_is_refreshed_and_a_new_commit_reaches_it(repo):
    notebooks, work = repo
    lab.sync(work, lab.committed_notebooks(notebooks), ask=_never)
    _write(work / "01_a.ipynb", output="a run's output")  # ran and autosaved, code unchanged
    _write(notebooks / "02_b.ipynb", code="y = 2", output="regenerated")  # a new commit
    lines = lab.sync(work, lab.committed_notebooks(notebooks), ask=_never)
    assert lines == ["01_a.ipynb: up to date", "02_b.ipynb: up to date"]
    for name in ("01_a.ipynb", "02_b.ipynb"):
        assert (work / name).read_bytes() == (notebooks / name).read_bytes()


def test_an_edited_copy_is_kept_while_its_notebook_is_unchanged(repo):
    notebooks, work = repo
    lab.sync(work, lab.committed_notebooks(notebooks), ask=_never)
    edited = _write(work / "01_a.ipynb", code="x = 'mine'").read_bytes()
    lines = lab.sync(work, lab.committed_notebooks(notebooks), ask=_never)
    assert lines[0] == "01_a.ipynb: your edited copy is kept"
    assert (work / "01_a.ipynb").read_bytes() == edited


@pytest.mark.parametrize("answer", [False, True])
def test_an_edited_copy_is_replaced_only_if_the_reader_says_so(repo, answer):
    notebooks, work = repo
    lab.sync(work, lab.committed_notebooks(notebooks), ask=_never)
    edited = _write(work / "01_a.ipynb", code="x = 'mine'").read_bytes()
    _write(notebooks / "01_a.ipynb", code="x = 'new upstream'")
    questions = []
    lines = lab.sync(work, lab.committed_notebooks(notebooks), ask=lambda q: questions.append(q) or answer)
    assert len(questions) == 1 and "01_a.ipynb has your edits" in questions[0]
    kept_aside = sorted(work.glob("01_a-edited-*.ipynb"))
    if answer:
        assert (work / "01_a.ipynb").read_bytes() == (notebooks / "01_a.ipynb").read_bytes()
        assert len(kept_aside) == 1 and kept_aside[0].read_bytes() == edited, "the edited copy is never lost"
        assert kept_aside[0].name in lines[0]
    else:
        assert (work / "01_a.ipynb").read_bytes() == edited and not kept_aside
        assert "--refresh 01" in lines[0]
        lines = lab.sync(work, lab.committed_notebooks(notebooks), ask=lambda q: False)
        assert "--refresh 01" in lines[0], "still behind the committed notebook: said again"


def test_refresh_replaces_an_edited_copy_and_keeps_it_aside(repo):
    notebooks, work = repo
    lab.sync(work, lab.committed_notebooks(notebooks), ask=_never)
    edited = _write(work / "02_b.ipynb", code="mine").read_bytes()
    lines = lab.sync(work, lab.committed_notebooks(notebooks), ask=_never, refresh=["02"])
    assert "replaced by the committed notebook" in lines[1]
    assert (work / "02_b.ipynb").read_bytes() == (notebooks / "02_b.ipynb").read_bytes()
    assert [p.read_bytes() for p in work.glob("02_b-edited-*.ipynb")] == [edited]
    with pytest.raises(ValueError, match="--refresh 07: no such notebook; the notebooks are 01_a, 02_b"):
        lab.sync(work, lab.committed_notebooks(notebooks), ask=_never, refresh=["07"])


def test_a_copy_without_state_is_adopted_not_overwritten(repo):
    notebooks, work = repo
    work.mkdir()
    edited = _write(work / "01_a.ipynb", code="x = 'mine'").read_bytes()
    lines = lab.sync(work, lab.committed_notebooks(notebooks), ask=lambda q: False)
    assert (work / "01_a.ipynb").read_bytes() == edited and "kept" in lines[0]


def test_the_working_copy_sits_beside_notebooks_and_is_ignored():
    """The notebooks' sys.path.insert(0, os.path.abspath("..")) must find helpers/ from lab/ as from notebooks/."""
    assert lab.LAB_DIR.parent == REPO_ROOT and (lab.LAB_DIR.parent / "helpers").is_dir()
    assert plots.SCRATCH_FIGURES_DIR.parent == lab.LAB_DIR
    ignored = subprocess.run(["git", "check-ignore", "-q", str(lab.LAB_DIR / "05_inpainting.ipynb")], cwd=REPO_ROOT,
                             check=False)
    assert ignored.returncode == 0, "lab/ must be listed in .gitignore"


def test_jupyterlab_serves_the_copy_and_its_figures_stay_there(tmp_path, monkeypatch):
    monkeypatch.setenv(plots.FIGURES_ENV_VAR, str(REPO_ROOT / "figures"))  # whatever the shell had
    command, env = lab.lab_command(tmp_path, ["--no-browser"])
    assert command[1:4] == ["-m", "jupyterlab", f"--ServerApp.root_dir={tmp_path}"] and command[-1] == "--no-browser"
    assert env[plots.FIGURES_ENV_VAR] == str(tmp_path / "figures")
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(REPO_ROOT)


def test_command_line_errors_are_one_line():
    result = subprocess.run([sys.executable, "-m", "helpers.lab", "--copy-only", "--refresh", "99"], cwd=REPO_ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("error: --refresh 99: no such notebook") and result.stderr.count("\n") == 1
