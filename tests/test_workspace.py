"""The workspace guard: runs go to runs/, data/models changes only through helpers.promote; clean errors."""

import json
import shutil

import pytest
from testkit import TINY

from helpers import promote
from helpers.core import training, workspace
from helpers.core import zoo as models
from helpers.core.paths import MODELS_DIR, REPO_ROOT
from helpers.core.workspace import WorkspaceError


@pytest.fixture(scope="module")
def finished_run(tiny_splits, tmp_path_factory):
    """A finished 2-epoch run of classify/gru_1x32 (a zoo name, tiny data) in a runs folder."""
    runs = tmp_path_factory.mktemp("runs")
    training.train("classify", "gru_1x32", out=runs, splits=tiny_splits, **TINY)
    return runs


def copy_of(folder, tmp_path, name="copy"):
    target = tmp_path / name
    shutil.copytree(folder, target)
    return target


# --------------------------------------------------------------------------------------------------
# Folders and files
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [MODELS_DIR, MODELS_DIR / "classify", MODELS_DIR / "x" / ".." / "pixel"])
def test_the_shipped_models_are_refused_as_an_output(path):
    with pytest.raises(WorkspaceError, match="never writes into the shipped models"):
        workspace.refuse_shipped(path)


def test_other_folders_are_accepted(tmp_path):
    workspace.refuse_shipped(tmp_path)
    workspace.refuse_shipped(REPO_ROOT / "runs")
    assert workspace.check_writable(tmp_path / "new" / "folder", "--out").is_dir()


def test_a_file_or_a_folder_under_a_file_is_refused(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out in (afile, afile / "below"):
        with pytest.raises(WorkspaceError, match="is a file") as info:
            workspace.check_writable(out, "--out")
        assert str(info.value).startswith("--out ")


def test_an_unwritable_folder_is_refused():
    with pytest.raises(WorkspaceError, match="not writable"):
        workspace.check_writable("/proc/no-such-folder/runs", "--out")


def test_a_full_disk_is_refused(tmp_path, monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=10 * 2**20))
    with pytest.raises(WorkspaceError, match="MiB free"):
        workspace.check_writable(tmp_path, "--out")


def test_invalid_json_names_the_file_and_the_remedy(tmp_path):
    path = tmp_path / "state.json"
    path.write_text('{"epochs')
    with pytest.raises(WorkspaceError) as info:
        workspace.read_json(path, "resume state")
    assert str(path) in str(info.value) and "--fresh" in str(info.value)
    shipped = MODELS_DIR / "classify" / "gru_1x32.json"
    assert "git checkout -- data/models/classify/gru_1x32.json" in workspace.restore_advice(shipped)
    assert "--fresh" not in workspace.restore_advice(shipped)


def test_a_truncated_weights_file_is_named(tmp_path, finished_run):
    weights, _ = models.model_paths("classify", "gru_1x32", finished_run)
    workspace.check_weights_file(weights)
    broken = tmp_path / "broken.weights.h5"
    broken.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(WorkspaceError, match="damaged or truncated") as info:
        workspace.check_weights_file(broken)
    assert str(broken) in str(info.value)


def test_load_of_a_damaged_shipped_file_advises_git_checkout_never_a_retrain(tmp_path, monkeypatch):
    message = models._not_trained_message("classify", "gru_1x32", MODELS_DIR / "classify" / "gru_1x32.weights.h5")
    assert "git checkout -- data/models/classify/gru_1x32.weights.h5" in message
    assert "--fresh" not in message and "helpers.train" not in message


# --------------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------------


def test_the_engine_refuses_to_train_into_the_shipped_models(tiny_splits):
    with pytest.raises(WorkspaceError, match="never writes into the shipped models"):
        training.train("classify", "gru_1x32", out=MODELS_DIR, splits=tiny_splits, **TINY)


def test_quick_runs_default_to_runs_quick():
    assert workspace.QUICK_RUNS_DIR == workspace.RUNS_DIR / "quick"
    assert workspace.RUNS_DIR == REPO_ROOT / "runs"


def test_a_finished_run_is_never_extended_implicitly(finished_run, tiny_splits, tmp_path):
    runs = copy_of(finished_run, tmp_path)
    again = training.train("classify", "gru_1x32", out=runs, splits=tiny_splits, **TINY)  # same budget: no-op
    assert again["epochs_run"] == 2
    options = dict(TINY, epochs=3)
    with pytest.raises(WorkspaceError, match="--extend"):
        training.train("classify", "gru_1x32", out=runs, splits=tiny_splits, **options)
    extended = training.train("classify", "gru_1x32", out=runs, splits=tiny_splits, extend=True, **options)
    assert extended["epochs_run"] == 3 and extended["status"] == "complete"


def test_from_shipped_continues_the_shipped_checkpoint_in_the_runs_folder(finished_run, tiny_splits, tmp_path,
                                                                           monkeypatch):
    shipped = copy_of(finished_run, tmp_path, "shipped")
    before = {p: p.read_bytes() for p in shipped.rglob("*") if p.is_file()}
    monkeypatch.setattr(training, "MODELS_DIR", shipped)
    runs = tmp_path / "runs"
    manifest = training.train("classify", "gru_1x32", out=runs, splits=tiny_splits, from_shipped=True,
                              **dict(TINY, epochs=3))
    assert manifest["epochs_run"] == 3 and manifest["history"]["loss"][:2] == \
        json.loads((shipped / "classify" / "gru_1x32.json").read_text())["history"]["loss"]
    assert {p: p.read_bytes() for p in shipped.rglob("*") if p.is_file()} == before  # the shipped copy untouched
    with pytest.raises(WorkspaceError, match="already holds a run"):
        training.train("classify", "gru_1x32", out=runs, splits=tiny_splits, from_shipped=True, **TINY)


@pytest.mark.parametrize("damage", ["state-json", "checkpoint-weights", "optimizer", "manifest"])
def test_damaged_run_files_give_one_clean_error(finished_run, tiny_splits, tmp_path, damage):
    runs = copy_of(finished_run, tmp_path)
    folder = runs / "classify" / "resume" / "gru_1x32"
    checkpoint = folder / json.loads((folder / "state.json").read_text())["checkpoint"]
    if damage == "state-json":
        (folder / "state.json").write_text('{"check')
    elif damage == "checkpoint-weights":
        path = checkpoint / "last.weights.h5"
        path.write_bytes(path.read_bytes()[:500])
    elif damage == "optimizer":
        (checkpoint / "optimizer.npz").write_bytes(b"PK\x03\x04 truncated")
    else:
        (runs / "classify" / "gru_1x32.json").write_text("{")
    with pytest.raises(WorkspaceError) as info:
        training.train("classify", "gru_1x32", out=runs, splits=tiny_splits, extend=True, **dict(TINY, epochs=3))
    message = str(info.value)
    assert "--fresh" in message and ("gru_1x32" in message)


# --------------------------------------------------------------------------------------------------
# Promotion
# --------------------------------------------------------------------------------------------------


def test_promote_checks_and_copies_a_finished_run(finished_run, tmp_path, capsys):
    shipped = tmp_path / "shipped"
    path = promote.promote("classify", "gru_1x32", finished_run, models_dir=shipped)
    assert path == shipped / "classify" / "gru_1x32.json"
    assert (shipped / "classify" / "gru_1x32.weights.h5").read_bytes() == \
        (finished_run / "classify" / "gru_1x32.weights.h5").read_bytes()
    assert (shipped / "classify" / "resume" / "gru_1x32" / "state.json").exists()
    with pytest.raises(WorkspaceError, match="--replace-shipped"):
        promote.promote("classify", "gru_1x32", finished_run, models_dir=shipped, evaluate=False)
    promote.promote("classify", "gru_1x32", finished_run, models_dir=shipped, replace_shipped=True, evaluate=False)
    assert sorted(p.name for p in (shipped / "classify" / "resume").iterdir()) == ["gru_1x32"]


def test_promote_refuses_quick_unfinished_and_mismatched_runs(finished_run, tmp_path):
    runs = copy_of(finished_run, tmp_path)
    manifest_path = runs / "classify" / "gru_1x32.json"
    manifest = json.loads(manifest_path.read_text())
    for change, fragment in (({"config": {**manifest["config"], "quick": True}}, "never shipped"),
                             ({"status": "in_progress"}, "not finished"),
                             ({"metrics": {**manifest["metrics"], "test_slice_loss": 99.0}}, "do not belong")):
        manifest_path.write_text(json.dumps({**manifest, **change}))
        with pytest.raises(WorkspaceError, match=fragment):
            promote.promote("classify", "gru_1x32", runs, models_dir=tmp_path / "shipped")
    assert not (tmp_path / "shipped").exists()
    with pytest.raises(WorkspaceError, match="no run of"):
        promote.promote("classify", "lstm_1x32", runs, models_dir=tmp_path / "shipped")


def test_promote_cli_errors_are_one_line(tmp_path, capsys):
    assert promote.main(["classify", "gru_1x32", "--from", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "helpers.train classify gru_1x32" in err


def shipped_copy(finished_run, tmp_path):
    """A shipped-models folder holding the finished run, and a snapshot of its bytes."""
    shipped = tmp_path / "shipped"
    promote.promote("classify", "gru_1x32", finished_run, models_dir=shipped, evaluate=False)
    return shipped, snapshot(shipped)


def snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_promote_refuses_another_models_manifest(finished_run, tmp_path):
    shipped, before = shipped_copy(finished_run, tmp_path)
    runs = copy_of(finished_run, tmp_path)
    manifest_path = runs / "classify" / "gru_1x32.json"
    manifest = json.loads(manifest_path.read_text())
    for change in ({"name": "gru_3x32"}, {"task": "pixel"}, {"config": {**manifest["config"], "name": "lstm_1x32"}}):
        manifest_path.write_text(json.dumps({**manifest, **change}))
        with pytest.raises(WorkspaceError, match="another model's"):
            promote.promote("classify", "gru_1x32", runs, models_dir=shipped, replace_shipped=True, evaluate=False)
    assert snapshot(shipped) == before


def test_promote_refuses_weights_of_another_architecture(finished_run, tmp_path):
    shipped, before = shipped_copy(finished_run, tmp_path)
    runs = copy_of(finished_run, tmp_path)
    models.build("classify", "lstm_1x32").save_weights(runs / "classify" / "gru_1x32.weights.h5")
    with pytest.raises(WorkspaceError, match="do not load into the zoo's gru_1x32"):
        promote.promote("classify", "gru_1x32", runs, models_dir=shipped, replace_shipped=True)
    assert snapshot(shipped) == before


def test_promote_records_slice_metrics_a_manifest_lacks(finished_run, tmp_path):
    runs = copy_of(finished_run, tmp_path)
    manifest_path = runs / "classify" / "gru_1x32.json"
    manifest = json.loads(manifest_path.read_text())
    recorded = {k: v for k, v in manifest["metrics"].items() if k.startswith("test_slice")}
    manifest["metrics"] = {k: v for k, v in manifest["metrics"].items() if not k.startswith("test_slice")}
    manifest_path.write_text(json.dumps(manifest))
    path = promote.promote("classify", "gru_1x32", runs, models_dir=tmp_path / "shipped")
    metrics = json.loads(path.read_text())["metrics"]
    assert recorded and metrics["test_slice_size"] == training.TEST_SLICE["classify"]
    assert 0 < metrics["test_slice_loss"] < 10 and 0 <= metrics["test_slice_accuracy"] <= 1
    manifest_path.write_text(path.read_text())  # the recorded slice now checks the weights on every promote
    promote.promote("classify", "gru_1x32", runs, models_dir=tmp_path / "shipped", replace_shipped=True)


def test_promote_refuses_a_checkpoint_that_is_not_there(finished_run, tmp_path):
    shipped, before = shipped_copy(finished_run, tmp_path)
    runs = copy_of(finished_run, tmp_path)
    resume = runs / "classify" / "resume" / "gru_1x32"
    for folder in resume.glob("epoch-*"):
        shutil.rmtree(folder)
    with pytest.raises(WorkspaceError, match="names checkpoint 'epoch-0002', which is not in"):
        promote.promote("classify", "gru_1x32", runs, models_dir=shipped, replace_shipped=True, evaluate=False)
    assert snapshot(shipped) == before


@pytest.mark.parametrize("failing_call", [1, 2, 4])
def test_a_full_disk_leaves_the_shipped_files_as_they_were(finished_run, tmp_path, monkeypatch, failing_call):
    """A copy (staging) or a move (the swap) that fails: the shipped files are as before, no staging is left."""
    shipped, before = shipped_copy(finished_run, tmp_path)
    calls = {"n": 0}
    real = promote.os.replace if failing_call == 4 else shutil.copyfile

    def fail_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == failing_call:
            raise OSError(28, "No space left on device", str(args[-1]))
        return real(*args, **kwargs)

    monkeypatch.setattr(promote.os if failing_call == 4 else shutil, "replace" if failing_call == 4 else "copyfile",
                        fail_once)
    with pytest.raises(WorkspaceError, match="No space left on device. Nothing was shipped"):
        promote.promote("classify", "gru_1x32", finished_run, models_dir=shipped, replace_shipped=True,
                        evaluate=False)
    assert calls["n"] >= failing_call
    assert snapshot(shipped) == before
    assert not list((shipped / "classify").glob(".promote-*"))


def test_a_second_run_on_a_locked_folder_is_refused_naming_the_first(tmp_path):
    import subprocess
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from helpers.core import workspace\n"
         f"with workspace.run_lock({str(tmp_path)!r}):\n print('locked', flush=True); time.sleep(60)"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(WorkspaceError, match=rf"in use by `python -c[^`]*` \(process {holder.pid}\)"), \
                workspace.run_lock(tmp_path):
            pass
    finally:
        holder.kill()
        holder.wait()
    with workspace.run_lock(tmp_path):  # the killed run's lock is recovered at once
        pass


def test_a_non_shipped_name_never_gets_git_checkout_advice():
    assert "git checkout" in workspace.restore_advice(MODELS_DIR / "classify" / "gru_1x32.json")
    for path in (MODELS_DIR / "classify" / "gru_1x99.json", MODELS_DIR / "pixel" / "lstm_1x32.weights.h5"):
        assert "git checkout" not in workspace.restore_advice(path)
