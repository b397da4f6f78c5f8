"""helpers.experiments: the runs' recipes, the one protocol, summaries written once, in tmp folders."""

import json

import pytest

from helpers import experiments
from helpers.core import training
from helpers.core import zoo as models


def test_every_run_trains_its_budget_and_differs_from_the_project_recipe_only_as_stated():
    for run_id, (experiment, model, changes, _) in experiments.RUNS.items():
        config = experiments.run_config(run_id)
        full = experiment == "full budget"
        assert config["max_epochs"] == experiments.budget(run_id) == changes.get("max_epochs", experiments.EPOCHS)
        assert "max_epochs" in changes or not full, run_id  # a full-budget run states its budget
        default = training.make_config(experiments.task_of(run_id), model, epochs=experiments.EPOCHS)
        changed = {k for k in config if config[k] != default[k]}
        assert changed <= set(changes), (run_id, changed)


def test_full_budget_runs_use_the_reports_rates_and_budget_with_a_long_patience():
    for run_id, epochs in (("gru_3x32-report-full", 80), ("gru_1x32-report-full", 100), ("gru_1x128-report-full", 100),
                           ("pixel-gru_1x128-report-full", 100)):
        config = experiments.run_config(run_id)
        ref = config["reference_recipe"]
        assert (config["learning_rate"], config["decay_rate"], config["decay_every"], config["dropout"]) == \
            (ref["learning_rate"], ref["decay_rate"], ref["decay_every"], ref["dropout"])
        assert config["max_epochs"] == epochs and config["patience"] == experiments.FULL_PATIENCE >= 20
        assert config["gate_bias_init"] == "chrono" and config["clipnorm"] == 1.0
        assert experiments.train_kwargs(run_id)["epochs"] == epochs


def test_a_longer_run_continues_the_shipped_full_budget_run_from_its_checkpoint(tmp_path, monkeypatch):
    for run_id, earlier, epochs, changed in (("gru_3x32-longer", "gru_3x32-report-full", 120, set()),
                                             ("gru_1x32-longer", "gru_1x32-report-full", 150, set()),
                                             ("gru_1x128-longer", "gru_1x128-project", 100, {"patience"})):
        assert experiments.continues(run_id) == earlier
        config, before = experiments.run_config(run_id), experiments.run_config(earlier)
        assert config["max_epochs"] == epochs > before["max_epochs"]
        assert {k for k in config if k != "max_epochs" and config[k] != before[k]} == changed
        assert config["patience"] == experiments.FULL_PATIENCE >= before["patience"]
    shipped = {"config": experiments.run_config("gru_3x32-report-full")}
    monkeypatch.setattr(models, "read_manifest", lambda task, name: shipped)
    first = experiments.train_kwargs("gru_3x32-longer", out=tmp_path)
    assert first["from_shipped"] is True and first["extend"] is True
    state = tmp_path / "gru_3x32-longer" / "classify" / "resume" / "gru_3x32" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text("{}")  # killed after the checkpoint was seeded, before the manifest was copied
    later = experiments.train_kwargs("gru_3x32-longer", out=tmp_path)
    assert later["from_shipped"] is False and later["extend"] is True  # resumes its own, past the first budget
    assert "from_shipped" not in experiments.train_kwargs("gru_3x32-report-full", out=tmp_path)
    assert "from_shipped" not in experiments.train_kwargs("gru_1x32-longer", out=tmp_path, quick=True)


def test_a_longer_run_refuses_to_continue_a_shipped_model_of_another_recipe(tmp_path, monkeypatch):
    other = {"config": {**experiments.run_config("gru_3x32-report-full"), "dropout": 0.1}}
    monkeypatch.setattr(models, "read_manifest", lambda task, name: other)
    with pytest.raises(experiments.WorkspaceError, match="data/models/classify/gru_3x32 was trained with another"):
        experiments.train_kwargs("gru_3x32-longer", out=tmp_path)

    def missing(task, name):
        raise models.ModelNotTrainedError(name)

    monkeypatch.setattr(models, "read_manifest", missing)
    with pytest.raises(experiments.WorkspaceError, match="which is missing: restore it with git checkout"):
        experiments.train_kwargs("gru_3x32-longer", out=tmp_path)


def test_a_continued_runs_copy_of_the_shipped_manifest_writes_no_summary(tmp_path, monkeypatch):
    monkeypatch.setattr(experiments, "summary_path", lambda run_id, folder=tmp_path: tmp_path / f"{run_id}.json")
    copied = {"status": "complete", "config": experiments.run_config("gru_3x32-report-full"), "epochs_run": 80}
    assert experiments.finish("gru_3x32-longer", copied) is None  # stopped before its first continued epoch
    continued = {**copied, "config": experiments.run_config("gru_3x32-longer"), "epochs_run": 92, "best_epoch": 72}
    assert experiments.finish("gru_3x32-longer", continued) == tmp_path / "gru_3x32-longer.json"


def test_a_retried_ray_task_resumes_the_run_its_first_try_seeded_from_the_shipped_model(tmp_path):
    from helpers import cluster

    kwargs = {"task": "classify", "name": "gru_3x32", "out": tmp_path / "run", "from_shipped": True, "extend": True}
    assert cluster.retry_kwargs(kwargs) == kwargs
    manifest = models.model_paths("classify", "gru_3x32", tmp_path / "run")[1]
    manifest.parent.mkdir(parents=True)
    manifest.write_text("{}")
    assert cluster.retry_kwargs(kwargs) == {**kwargs, "from_shipped": False}
    assert cluster.retry_kwargs({**kwargs, "from_shipped": False}) == {**kwargs, "from_shipped": False}


def test_the_pixel_run_trains_the_pixel_model_at_the_reports_pixel_rates(tmp_path):
    config = experiments.run_config("pixel-gru_1x128-report-full")
    assert experiments.task_of("pixel-gru_1x128-report-full") == config["task"] == "pixel"
    assert (config["learning_rate"], config["decay_rate"], config["decay_every"]) == (1e-2, 0.9, 5)
    kwargs = experiments.train_kwargs("pixel-gru_1x128-report-full", out=tmp_path)
    assert kwargs["task"] == "pixel" and kwargs["out"] == tmp_path / "pixel-gru_1x128-report-full"
    assert experiments.shipped_source("pixel-gru_1x128-report-full").endswith("data/models/pixel/gru_1x128")


def test_summaries_and_unfinished_runs_are_kept_apart_by_task(tmp_path):
    for run_id in ("gru_3x32-seed0", "pixel-gru_1x128-report-full"):
        experiments.summary_path(run_id, tmp_path).write_text(json.dumps({"run": run_id}))
    assert list(experiments.load_summaries(tmp_path)) == ["gru_3x32-seed0"]
    assert set(experiments.load_summaries(tmp_path, task=None)) == {"gru_3x32-seed0", "pixel-gru_1x128-report-full"}
    assert "pixel-gru_1x128-report-full" not in experiments.unfinished("classify", tmp_path)
    pixel_runs = [run_id for run_id in experiments.RUNS if experiments.task_of(run_id) == "pixel"]
    assert experiments.unfinished("pixel", tmp_path) == [r for r in pixel_runs if r != "pixel-gru_1x128-report-full"]
    assert "gru_3x32-seed1" in experiments.unfinished("classify", tmp_path)


def test_status_shows_accuracies_for_classifiers_and_nats_for_pixel_models():
    assert experiments._metric({"val_accuracy": 0.98604, "test_accuracy": 0.9811}, "test") == "98.11%"
    assert experiments._metric({"val_loss": 0.08312, "test_loss": 0.08449}, "val") == "0.0831 nats"
    assert experiments._metric({}, "test") == "-"


def test_the_report_recipe_is_the_reports():
    config = experiments.run_config("lstm_1x32-report")
    ref = models.default_config("classify", "lstm_1x32")["reference_recipe"]
    assert (config["learning_rate"], config["decay_rate"], config["decay_every"], config["dropout"]) == \
        (ref["learning_rate"], ref["decay_rate"], ref["decay_every"], ref["dropout"]) == (1e-3, 0.87, 10, 0.25)
    assert config["clipnorm"] is None and config["gate_bias_init"] == "default"


def test_a_finished_run_writes_its_summary_once(tmp_path, monkeypatch):
    calls = []

    def fake_train(task, name, **kwargs):
        calls.append(kwargs)
        history = {"loss": [1.0], "val_loss": [0.9], "accuracy": [0.5], "val_accuracy": [0.6]}
        return {"status": "complete", "config": {"max_epochs": experiments.EPOCHS}, "command": "cmd", "epochs_run": 1, "best_epoch": 1,
                "history": history, "metrics": {"val_accuracy": 0.6, "test_accuracy": 0.55}, "train_seconds": 3.0}

    monkeypatch.setattr(training, "train", fake_train)
    monkeypatch.setattr(experiments, "EXPERIMENTS_DIR", tmp_path)
    monkeypatch.setattr(experiments, "shipped_equivalent", lambda run_id, epochs=30: None)
    monkeypatch.setattr(experiments, "summary_path", lambda run_id, folder=tmp_path: tmp_path / f"{run_id}.json")
    path = experiments.run("gru_1x32-report")
    summary = json.loads(path.read_text())
    assert summary["run"] == "gru_1x32-report" and summary["metrics"]["test_accuracy"] == 0.55
    assert calls[0]["epochs"] == experiments.EPOCHS and calls[0]["clipnorm"] is None
    assert "experiments" in str(calls[0]["out"]) and "data/models" not in str(calls[0]["out"])
    experiments.run("gru_1x32-report")
    assert len(calls) == 1  # never overwritten, never retrained


def test_unfinished_runs_write_no_summary(tmp_path, monkeypatch):
    monkeypatch.setattr(training, "train", lambda *a, **k: {"status": "in_progress"})
    monkeypatch.setattr(experiments, "shipped_equivalent", lambda run_id, epochs=30: None)
    monkeypatch.setattr(experiments, "summary_path", lambda run_id, folder=tmp_path: tmp_path / f"{run_id}.json")
    assert not experiments.run("gru_1x32-seed1").exists()


def test_cli_rejects_unknown_runs(capsys):
    with pytest.raises(SystemExit):
        experiments.main(["--only", "gru_1x33-seed9"])
    assert "no such run" in capsys.readouterr().err


def test_status_lists_every_run(capsys):
    assert experiments.main(["--status"]) == 0
    out = capsys.readouterr().out
    assert all(run_id in out for run_id in experiments.RUNS)


def test_status_shows_how_far_a_run_in_out_has_got(tmp_path, capsys):
    manifest = models.model_paths("classify", "gru_3x32", tmp_path / "gru_3x32-seed1")[1]
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"status": "in_progress", "epochs_run": 12}))
    assert experiments.main(["--status", "--out", str(tmp_path)]) == 0
    assert "gru_3x32-seed1" in capsys.readouterr().out
    no_summaries = tmp_path / "summaries"  # whatever data/experiments holds today
    row = list(experiments.RUNS).index("gru_3x32-seed1")
    assert experiments.status_rows(no_summaries, out=tmp_path)[row]["state"] == "epoch 12/30"
    manifest.write_text(json.dumps({"status": "complete", "epochs_run": 30}))
    assert experiments.status_rows(no_summaries, out=tmp_path)[row]["state"] == "trained, no summary yet"
    assert experiments.status_rows(no_summaries, out=tmp_path / "elsewhere")[row]["state"] == "to run"


def test_a_quick_run_trains_a_smoke_run_into_out_and_writes_no_summary(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(training, "train", lambda task, name, **kw: calls.append(kw) or {"status": "complete"})
    monkeypatch.setattr(experiments, "summary_path", lambda run_id, folder=tmp_path: tmp_path / f"{run_id}.json")
    monkeypatch.setattr(experiments, "shipped_equivalent", lambda *a, **k: pytest.fail("a quick run is never shipped"))
    path = experiments.run("gru_1x32-seed1", out=tmp_path / "runs", quick=True)
    assert path == models.model_paths("classify", "gru_1x32", tmp_path / "runs" / "gru_1x32-seed1")[1]
    assert calls[0]["quick"] is True and calls[0]["epochs"] is None and calls[0]["seed"] == 1
    assert calls[0]["out"] == tmp_path / "runs" / "gru_1x32-seed1"
    assert not list(tmp_path.glob("*.json"))
    full = experiments.train_kwargs("gru_1x32-seed1", out=tmp_path)
    assert full["epochs"] == experiments.EPOCHS and full["quick"] is False
    assert {k: v for k, v in full.items() if k not in ("epochs", "quick", "task", "name")} == \
        {k: v for k, v in calls[0].items() if k not in ("epochs", "quick", "out", "splits", "verbose",
                                                          "stop_after_seconds")} | {"out": tmp_path / "gru_1x32-seed1"}


def test_device_script_sends_back_the_named_runs_and_their_summaries(tmp_path):
    """data/in_progress/device.sh train: one time-boxed process per run, then one archive in $OUT (here on a CPU)."""
    import os
    import subprocess
    import tarfile
    from pathlib import Path

    script = Path(__file__).parents[1] / "data" / "in_progress" / "device.sh"
    usage = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=30)
    assert usage.returncode == 2 and "device.sh train" in usage.stdout
    env = {**os.environ, "OUT": str(tmp_path), "KERAS_BACKEND": "tensorflow"}
    done = subprocess.run(["bash", str(script), "train", "1", "gru_1x32-seed0"], env=env, capture_output=True,
                          text=True, timeout=300)  # finished already: its summary is written, nothing trains
    assert done.returncode == 0, done.stderr
    assert "gru_1x32-seed0: summary in data/experiments/gru_1x32-seed0.json" in (tmp_path / "gru_1x32-seed0.log").read_text()
    with tarfile.open(tmp_path / "runs.tgz") as archive:
        assert "data/experiments/gru_1x32-seed0.json" in archive.getnames()


def test_a_run_with_a_committed_checkpoint_elsewhere_gets_a_note_before_it_starts_over(tmp_path, monkeypatch):
    committed, out = tmp_path / "in_progress", tmp_path / "runs"
    monkeypatch.setattr(experiments, "IN_PROGRESS_DIR", committed)
    monkeypatch.setattr(experiments, "summary_path", lambda run_id, folder=tmp_path: tmp_path / f"{run_id}.json")
    manifest = models.model_paths("pixel", "gru_1x128", committed / "pixel-gru_1x128-report-full")[1]
    manifest.parent.mkdir(parents=True)
    manifest.write_text("{}")
    runs = ["pixel-gru_1x128-report-full", "gru_1x128-report-full"]
    [note] = experiments.committed_elsewhere(runs, out)
    assert note.startswith("note: ") and "pixel-gru_1x128-report-full" in note and f"--out {committed}" in note
    assert experiments.committed_elsewhere(runs, committed) == []
    assert experiments.committed_elsewhere(runs, out, quick=True) == []
