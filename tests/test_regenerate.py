"""helpers.regenerate (the papermill runner) on small synthetic notebooks in a tmp folder."""

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from helpers import regenerate
from helpers.core.paths import REPO_ROOT


def write_notebook(path, *sources, parameters=None):
    """A notebook with an optional `parameters`-tagged cell followed by code cells."""
    cells = [new_markdown_cell("# synthetic")]
    if parameters is not None:
        cells.append(new_code_cell(parameters, metadata={"tags": ["parameters"]}))
    cells += [new_code_cell(source) for source in sources]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                      "language": "python"}}), path)
    return path


@pytest.fixture
def folder(tmp_path):
    nb = tmp_path / "notebooks"
    nb.mkdir()
    write_notebook(nb / "02_beta.ipynb", "y = 2", parameters="quick = False\nmodels: list = ['gru_1x32']")
    write_notebook(nb / "01_alpha.ipynb", "x = epochs", parameters="epochs = 3\nseed = 0")
    write_notebook(nb / "10_gamma.ipynb", "pass")
    write_notebook(nb / "scratch.ipynb", "pass")      # not NN_*: never run
    write_notebook(nb / "3_short.ipynb", "pass")      # one digit: not a course notebook
    return nb


def test_list_notebooks_in_order(folder):
    assert [p.name for p in regenerate.list_notebooks(folder)] == [
        "01_alpha.ipynb", "02_beta.ipynb", "10_gamma.ipynb"]


@pytest.mark.parametrize(
    "only, expected",
    [(None, ["01_alpha", "02_beta", "10_gamma"]), (["02"], ["02_beta"]), (["10", "01"], ["01_alpha", "10_gamma"]),
     (["01_alpha.ipynb", "01"], ["01_alpha"]), (["02_beta"], ["02_beta"])],
)
def test_select_notebooks(folder, only, expected):
    assert [p.stem for p in regenerate.select_notebooks(only, folder)] == expected


def test_select_unknown_notebook_lists_the_choices(folder):
    with pytest.raises(ValueError, match="07") as info:
        regenerate.select_notebooks(["07"], folder)
    assert "01_alpha, 02_beta, 10_gamma" in str(info.value)


@pytest.mark.parametrize(
    "text, value",
    [("True", True), ("3", 3), ("0.5", 0.5), ("1e-3", 0.001), ("[1, 2]", [1, 2]), ('["gru_1x32"]', ["gru_1x32"]),
     ("'quoted'", "quoted"), ("gru_1x32", "gru_1x32"), ("some text", "some text"), ("None", None)],
)
def test_parse_value(text, value):
    assert regenerate.parse_value(text) == value


def test_declared_parameters(folder):
    assert regenerate.declared_parameters(folder / "02_beta.ipynb") == {"quick", "models"}
    assert regenerate.declared_parameters(folder / "01_alpha.ipynb") == {"epochs", "seed"}
    assert regenerate.declared_parameters(folder / "10_gamma.ipynb") == set()


def test_main_list_and_argument_errors(folder, capsys):
    assert regenerate.main(["--notebooks-dir", str(folder), "--list"]) == 0
    listing = capsys.readouterr().out
    assert "01_alpha.ipynb: epochs=3, seed=0" in listing and "scratch" not in listing
    assert regenerate.main(["--notebooks-dir", str(folder), "--only", "07", "--list"]) == 2
    assert "07" in capsys.readouterr().err
    assert regenerate.main(["--notebooks-dir", str(folder), "-p", "nonsense", "1", "--list"]) == 2
    assert "nonsense" in capsys.readouterr().err
    assert regenerate.main(["--notebooks-dir", str(folder / "empty"), "--list"]) == 2


def test_main_uses_notebooks_dir_by_default(folder, monkeypatch, capsys):
    monkeypatch.setattr(regenerate, "NOTEBOOKS_DIR", folder)
    assert regenerate.main(["--list", "--only", "10"]) == 0
    assert capsys.readouterr().out.startswith("10_gamma.ipynb")


@pytest.mark.slow
def test_run_notebook_injects_declared_parameters(tmp_path):
    """Declared parameters are injected (and used); undeclared ones are left out."""
    source = write_notebook(tmp_path / "01_params.ipynb", "print('answer', x * 2)", parameters="x = 1")
    output = tmp_path / "out" / "01_params.ipynb"
    seconds = regenerate.run_notebook(source, output, {"x": 21, "undeclared": 5}, progress=False)
    assert seconds > 0
    executed = nbformat.read(output, as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "x = 21" in injected[0].source and "undeclared" not in injected[0].source
    printed = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert "answer 42" in printed
    assert [p.name for p in output.parent.iterdir()] == ["01_params.ipynb"]  # no temporary file left


@pytest.mark.slow
def test_failing_notebook_returns_1_and_writes_nothing(tmp_path, capsys):
    """A cell that raises: exit status 1, the output is neither created nor overwritten, the source unchanged."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    ok = write_notebook(notebooks / "01_ok.ipynb", "print('fine')")
    bad = write_notebook(notebooks / "02_bad.ipynb", "x = 1", "raise RuntimeError('boom')")
    out = tmp_path / "out"
    out.mkdir()
    (out / "02_bad.ipynb").write_text("previous good version")
    source_before = bad.read_bytes()

    assert regenerate.main(["--notebooks-dir", str(notebooks), "--output-dir", str(out), "--only", "02"]) == 1
    err = capsys.readouterr().err
    assert "02_bad.ipynb failed" in err and "RuntimeError" in err and "boom" in err
    assert (out / "02_bad.ipynb").read_text() == "previous good version"
    assert bad.read_bytes() == source_before
    assert sorted(p.name for p in out.iterdir()) == ["02_bad.ipynb"]

    # In place, two notebooks: 01 runs, 02 fails, so neither is written (all or nothing).
    ok_before = ok.read_bytes()
    assert regenerate.main(["--notebooks-dir", str(notebooks)]) == 1
    assert bad.read_bytes() == source_before and ok.read_bytes() == ok_before
    assert "Nothing was changed" in capsys.readouterr().err
    assert sorted(p.name for p in notebooks.iterdir()) == ["01_ok.ipynb", "02_bad.ipynb"]


@pytest.mark.slow
def test_hung_widget_cell_is_retried_then_succeeds(tmp_path, monkeypatch, capsys):
    """A widget-tagged cell that hangs on the first execution makes the runner execute the notebook again."""
    marker = tmp_path / "first-attempt-done"
    source = write_notebook(tmp_path / "01_widget.ipynb", "print('before')")
    notebook = nbformat.read(source, as_version=4)
    hang_once = (f"import pathlib, time\nmarker = pathlib.Path({str(marker)!r})\n"
                 "if not marker.exists():\n    marker.touch()\n    time.sleep(60)\nprint('widget shown')")
    cell = nbformat.v4.new_code_cell(hang_once)
    cell.metadata["tags"] = [regenerate.WIDGET_TAG]
    notebook.cells.append(cell)
    nbformat.write(notebook, source)
    monkeypatch.setattr(regenerate, "WIDGET_CELL_TIMEOUT_S", 3.0)
    output = tmp_path / "out" / "01_widget.ipynb"
    regenerate.run_notebook(source, output, progress=False)
    assert "widget shown" in output.read_text()
    assert "executing the notebook again (2 of 3)" in capsys.readouterr().err


def test_cell_timeout_function_only_limits_widget_cells():
    timeout_for = regenerate.cell_timeout_function(None)
    assert timeout_for({"metadata": {"tags": ["widget"]}}) == regenerate.WIDGET_CELL_TIMEOUT_S
    assert timeout_for({"metadata": {"tags": ["parameters"]}}) is None
    assert timeout_for({"metadata": {}}) is None
    assert regenerate.cell_timeout_function(10.0)({"metadata": {"tags": ["widget"]}}) == 10.0



def test_every_explorer_cell_of_the_notebooks_is_tagged_widget():
    """The runner's hang watchdog only applies to cells tagged `widget`: every explorer cell must carry it."""
    for path in regenerate.list_notebooks():
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and "_explorer(" in cell.source:
                assert regenerate.WIDGET_TAG in cell.metadata.get("tags", []), (path.name, cell.source[:80])


SAVE_FIGURE = ("import matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\n"
               "from helpers.analysis.plots import save_figure\nfig = plt.figure()\n_ = save_figure(fig, NAME)")


@pytest.mark.slow
def test_figures_are_replaced_only_when_every_notebook_succeeds(tmp_path, capsys):
    """A late failure leaves the figures as they were; a success installs new ones and removes those an earlier
    run wrote and this one no longer draws, never a file it did not make."""
    notebooks, figures = tmp_path / "notebooks", tmp_path / "figures"
    notebooks.mkdir()
    figures.mkdir()
    (figures / "01_mine.png").write_bytes(b"the user's own")
    draw = SAVE_FIGURE.replace("NAME", "'01_kept'") + "\nif both:\n    save_figure(plt.figure(), '01_gone')"
    write_notebook(notebooks / "01_draws.ipynb", draw, "assert ok", parameters="ok = True\nboth = True")
    assert regenerate.main(["--notebooks-dir", str(notebooks), "-p", "ok", "false"]) == 1
    assert sorted(p.name for p in figures.iterdir()) == ["01_mine.png"]
    assert [p.name for p in notebooks.iterdir()] == ["01_draws.ipynb"]  # no staging folder left

    assert regenerate.main(["--notebooks-dir", str(notebooks)]) == 0
    assert sorted(p.name for p in figures.glob("*.png")) == ["01_gone.png", "01_kept.png", "01_mine.png"]
    assert regenerate.main(["--notebooks-dir", str(notebooks), "-p", "both", "false"]) == 0
    assert sorted(p.name for p in figures.glob("*.png")) == ["01_kept.png", "01_mine.png"]
    assert (figures / "01_kept.png").read_bytes().startswith(b"\x89PNG")
    assert (figures / "01_mine.png").read_bytes() == b"the user's own"
    out = capsys.readouterr().out
    assert "01_gone.png is no longer drawn" in out and "01_mine.png is no longer" not in out


@pytest.mark.slow
def test_output_dir_keeps_every_output_under_it(tmp_path):
    notebooks, figures = tmp_path / "notebooks", tmp_path / "figures"
    notebooks.mkdir()
    source = write_notebook(notebooks / "01_draws.ipynb", SAVE_FIGURE.replace("NAME", "'01_fig'"))
    before = source.read_bytes()
    out = tmp_path / "out"
    assert regenerate.main(["--notebooks-dir", str(notebooks), "--output-dir", str(out)]) == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["01_draws.ipynb", "figures",
                                                                       "figures/.written.json", "figures/01_fig.png"]
    assert not figures.exists() and source.read_bytes() == before
    executed = json.loads((out / "01_draws.ipynb").read_text())
    assert "papermill" not in executed["metadata"]  # no run metadata: an unchanged output is an unchanged file
    assert not any({"papermill", "execution"} & set(cell["metadata"]) for cell in executed["cells"])
    first = (out / "01_draws.ipynb").read_bytes()
    assert regenerate.main(["--notebooks-dir", str(notebooks), "--output-dir", str(out)]) == 0
    assert (out / "01_draws.ipynb").read_bytes() == first


@pytest.mark.parametrize("folder_name", [".", "notebooks", "figures", "data", "data/models", "benchmarks"])
def test_output_dir_in_a_tracked_folder_is_refused_before_work(folder_name, folder, capsys, monkeypatch):
    monkeypatch.setattr(regenerate, "run_notebook", lambda *a, **k: pytest.fail("must not run"))
    assert regenerate.main(["--notebooks-dir", str(folder), "--output-dir", str(REPO_ROOT / folder_name)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--output-dir" in err and "never write over committed files" in err


@pytest.mark.parametrize("args, fragment", [
    (["-p", "models", '["gru_1x99"]'], "'gru_1x99' is not a model"),
    (["-p", "epochs", "2.5"], "an integer or None"),
    (["-p", "epochs", "0"], "positive"),
    (["-p", "eval_subset", "'x'"], "an integer or None"),
])
def test_parameters_are_checked_for_meaning(args, fragment, capsys, monkeypatch):
    monkeypatch.setattr(regenerate, "run_notebook", lambda *a, **k: pytest.fail("must not run"))
    assert regenerate.main(["--only", "02", *args]) == 2
    assert fragment in capsys.readouterr().err


def test_annotations_declare_the_type_of_a_none_default():
    assert regenerate.typed_value("n", "5", None, "x.ipynb", "int | None") == 5
    assert regenerate.typed_value("n", "None", None, "x.ipynb", "int | None") is None
    assert regenerate.typed_value("f", "2", None, "x.ipynb", "float") == 2.0
    for text in ("2.5", "'5'", "True", "[5]"):
        with pytest.raises(ValueError, match=r"-p n .*n in x.ipynb is int \| None"):
            regenerate.typed_value("n", text, None, "x.ipynb", "int | None")


@pytest.mark.parametrize("text, default, expected", [
    ("True", False, True), ("true", False, True), ("false", True, False), ("False", True, False),
    ("3", 1, 3), ("3", 1.5, 3), ("2.5", 1.0, 2.5), ("['a']", ["b"], ["a"]), ("hello", "x", "hello"),
    ("'hello'", "x", "hello"), ("None", None, None), ("7", None, 7),
])
def test_typed_value_accepts(text, default, expected):
    value = regenerate.typed_value("p", text, default, "01_x.ipynb")
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("text, default, fragment", [
    ("maybe", False, "True or False"), ("1", False, "True or False"), ("yes", True, "True or False"),
    ("1.5", 1, "an integer"), ("True", 1, "an integer"), ("x", 1.0, "a number"), ("3", ["a"], "a list"),
    ("[1]", ["a"], "list of str"), ("not a literal", None, "None or a Python literal"),
])
def test_typed_value_rejects_with_the_parameter_named(text, default, fragment):
    with pytest.raises(ValueError) as info:
        regenerate.typed_value("retrain", text, default, "02_x.ipynb")
    message = str(info.value)
    assert "-p retrain" in message and "02_x.ipynb" in message and fragment in message


def test_bad_parameter_is_refused_before_anything_runs(folder, capsys, monkeypatch):
    monkeypatch.setattr(regenerate, "run_notebook", lambda *a, **k: pytest.fail("must not run"))
    assert regenerate.main(["--notebooks-dir", str(folder), "-p", "quick", "maybe"]) == 2
    assert "-p quick 'maybe'" in capsys.readouterr().err
    assert regenerate.main(["--notebooks-dir", str(folder), "-p", "epochs", "2.5"]) == 2


@pytest.mark.parametrize("value", ["0", "-5", "nan", "x"])
def test_cell_timeout_must_be_positive(value, folder, capsys):
    with pytest.raises(SystemExit):
        regenerate.main(["--notebooks-dir", str(folder), "--cell-timeout", value])
    assert "--cell-timeout" in capsys.readouterr().err


def test_an_in_place_run_is_refused_while_another_holds_the_folder(folder, monkeypatch):
    from helpers.core import workspace

    monkeypatch.setattr(regenerate, "run_notebook", lambda *a, **k: pytest.fail("must not run"))
    notebooks = regenerate.select_notebooks(["01"], folder)
    with workspace.run_lock(folder), pytest.raises(workspace.WorkspaceError, match="in use by .*one run per folder"):
        regenerate.regenerate(notebooks, {})
    assert sorted(p.name for p in folder.iterdir()) == sorted(["01_alpha.ipynb", "02_beta.ipynb", "10_gamma.ipynb",
                                                               "scratch.ipynb", "3_short.ipynb"])


def _widget_notebook(ids: list[str]) -> nbformat.NotebookNode:
    """A notebook whose one output shows a box (ids[0]) holding a slider (ids[1]) with a layout (ids[2])."""
    box, slider, layout = ids
    state = {
        layout: {"model_name": "LayoutModel", "state": {"width": "330px"}},
        slider: {"model_name": "FloatSliderModel", "state": {"layout": f"IPY_MODEL_{layout}", "value": 8.0}},
        box: {"model_name": "VBoxModel", "state": {"children": [f"IPY_MODEL_{slider}"]}},
    }
    nb = new_notebook(cells=[new_code_cell("explorer()", id="explorer", outputs=[nbformat.v4.new_output(
        "display_data", data={regenerate.WIDGET_VIEW: {"model_id": box, "version_major": 2, "version_minor": 0},
                              "text/plain": "VBox(...)"})])])
    nb.metadata["widgets"] = {regenerate.WIDGET_STATE: {"state": state, "version_major": 2, "version_minor": 0}}
    return nb


def test_widget_ids_do_not_change_from_run_to_run():
    """ipywidgets draws fresh random model ids each run; the runner writes the same ids for the same widgets."""
    first = regenerate.strip_run_metadata(_widget_notebook(["a" * 32, "b" * 32, "c" * 32]))
    second = regenerate.strip_run_metadata(_widget_notebook(["9" * 32, "1" * 32, "5" * 32]))
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    state = first.metadata["widgets"][regenerate.WIDGET_STATE]["state"]
    view = first.cells[0].outputs[0]["data"][regenerate.WIDGET_VIEW]["model_id"]
    slider = state[view]["state"]["children"][0].removeprefix("IPY_MODEL_")
    assert state[slider]["state"]["value"] == 8.0  # the references still point at the right models
    assert state[state[slider]["state"]["layout"].removeprefix("IPY_MODEL_")]["state"] == {"width": "330px"}
    assert json.dumps(regenerate.stable_widget_ids(first)) == json.dumps(first)  # idempotent
