"""Tests of helpers.train_zoo (the zoo's status table and queue) and helpers.analysis.notebook_models.retrain_models, in tmp folders only."""

import json

import pytest

from helpers import train_zoo
from helpers.analysis import notebook_models
from helpers.core import training
from helpers.core import zoo as models
from helpers.core.manifest import check_manifest


def fake_manifest(task, name, val_losses, best_epoch, status="complete"):
    history = {"loss": [v + 0.1 for v in val_losses], "val_loss": list(val_losses)}
    if task == "classify":
        history.update(accuracy=[0.5] * len(val_losses), val_accuracy=[0.5 + 0.1 * i for i in range(len(val_losses))])
    metric_keys = ("train_loss", "val_loss", "test_loss")
    if task == "classify":
        metric_keys += ("train_accuracy", "val_accuracy", "test_accuracy")
    config = {**models.default_config(task, name), "max_epochs": 30}
    manifest = {"task": task, "name": name, "status": status, "config": config,
                "command": f"python -m helpers.train {task} {name}", "epochs_run": len(val_losses),
                "best_epoch": best_epoch, "history": history, "metrics": {k: 0.1 for k in metric_keys},
                "train_seconds": 5400.0, "hardware": {"cpu_count": 2, "gpus": []}, "versions": {}, "created": "now"}
    check_manifest(manifest)
    return manifest


def fake_weights(path):
    """A small file in the Keras ``.weights.h5`` layout (a 'layers' group holding arrays)."""
    import h5py

    with h5py.File(path, "w") as f:
        f.create_dataset("layers/rnn_0/cell/vars/0", data=[[1.0, 2.0]])


@pytest.fixture
def models_dir(tmp_path):
    weights, path = models.model_paths("classify", "gru_1x32", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(fake_manifest("classify", "gru_1x32", [0.9, 0.4, 0.6], 2)))
    fake_weights(weights)
    weights, path = models.model_paths("pixel", "gru_1x128", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(fake_manifest("pixel", "gru_1x128", [0.2, 0.15], 2, status="in_progress")))
    fake_weights(weights)
    state = path.parent / "resume" / "gru_1x64" / "state.json"  # a run killed before its first manifest
    state.parent.mkdir(parents=True)
    state.write_text("{}")
    return tmp_path


def test_zoo_status_rows(models_dir):
    rows = train_zoo.zoo_status(models_dir)
    expected = [(task, name) for task in models.TASKS for name in models.TASK_MODELS[task]]
    assert [(r["task"], r["model"]) for r in rows] == expected and len(rows) == 12
    by_key = {(r["task"], r["model"]): r for r in rows}
    done = by_key[("classify", "gru_1x32")]
    assert (done["status"], done["epochs"], done["best_epoch"], done["max_epochs"]) == ("complete", 3, 2, 30)
    assert done["val_loss"] == 0.4 and done["val_accuracy"] == pytest.approx(0.6)  # at the best epoch
    assert done["hours"] == 1.5
    running = by_key[("pixel", "gru_1x128")]
    assert (running["status"], running["epochs"], running["val_loss"]) == ("in_progress", 2, 0.15)
    assert "val_accuracy" not in running
    assert by_key[("pixel", "gru_1x64")]["status"] == "checkpoint only"
    fresh = by_key[("classify", "lstm_1x128")]
    assert (fresh["status"], fresh["epochs"], fresh["best_epoch"], fresh["val_loss"]) == ("not started", 0, None, None)
    assert train_zoo.zoo_status(str(models_dir)) == rows  # a string path works too


@pytest.mark.parametrize("damage", ["delete-weights", "truncate-weights", "bad-json", "delete-manifest"])
def test_status_checks_the_files_not_only_the_manifest(models_dir, damage, capsys):
    weights, manifest = models.model_paths("classify", "gru_1x32", models_dir)
    if damage == "delete-weights":
        weights.unlink()
    elif damage == "truncate-weights":
        weights.write_bytes(weights.read_bytes()[:100])
    elif damage == "bad-json":
        manifest.write_text('{"task": "classify", ')
    else:
        manifest.unlink()
    row = next(r for r in train_zoo.zoo_status(models_dir) if r["model"] == "gru_1x32" and r["task"] == "classify")
    assert row["status"].startswith("damaged")
    assert train_zoo.main(["--status", "--models-dir", str(models_dir), "--out", str(models_dir / "runs")]) == 0
    out = capsys.readouterr().out
    assert "damaged" in out
    if damage != "delete-manifest":
        assert "gru_1x32" in out and ("weights file" in out or "manifest" in out)


def test_status_cli_prints_a_table(models_dir, capsys):
    assert train_zoo.main(["--status", "--models-dir", str(models_dir), "--out", str(models_dir / "runs")]) == 0
    lines = capsys.readouterr().out.strip().split("\n")
    assert lines[0].split() == ["task", "model", "shipped", "epochs", "best_epoch", "val_loss", "val_accuracy",
                                "hours", "in", "runs/"]
    assert len(lines) == 2 + 12
    row = next(line for line in lines if "classify" in line and "gru_1x32" in line)
    assert row.split() == ["classify", "gru_1x32", "complete", "3", "2", "0.4000", "60.00%", "1.50", "-"]
    assert any("checkpoint only" in line for line in lines)
    assert sum("not started" in line for line in lines) == 9
    assert max(len(line) for line in lines) <= 110


def test_queue_skips_shipped_and_finished_models(models_dir, tmp_path, monkeypatch, capsys):
    """The default queue never touches a model that is shipped and finished, nor one finished in runs/."""
    calls = []
    monkeypatch.setattr(training, "train", lambda task, name, **kw: calls.append((task, name, kw)) or {})
    runs = tmp_path / "runs"
    weights, manifest = models.model_paths("classify", "lstm_1x32", runs)
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps(fake_manifest("classify", "lstm_1x32", [0.5], 1)))
    fake_weights(weights)
    argv = ["--task", "classify", "--only", "gru_1x32", "lstm_1x32", "gru_3x32", "--out", str(runs),
            "--models-dir", str(models_dir)]
    assert train_zoo.main(argv) == 0
    assert [(t, n) for t, n, _ in calls] == [("classify", "gru_3x32")]
    assert calls[0][2]["out"] == str(runs)
    calls.clear()
    assert train_zoo.main(argv + ["--include-shipped"]) == 0
    assert [n for _, n, _ in calls] == ["gru_1x32", "gru_3x32"]


def test_a_shipped_model_is_trained_again_at_its_manifests_recipe_and_budget(models_dir, tmp_path, monkeypatch):
    """--include-shipped reproduces a shipped model whose recipe is not the default one; --epochs still wins."""
    calls = []
    monkeypatch.setattr(training, "train", lambda task, name, **kw: calls.append((task, name, kw)) or {})
    _, path = models.model_paths("classify", "gru_1x32", models_dir)
    manifest = json.loads(path.read_text())
    manifest["config"].update(max_epochs=100, learning_rate=5e-3, decay_every=10, patience=20, seed=3)
    path.write_text(json.dumps(manifest))
    argv = ["--task", "classify", "--only", "gru_1x32", "gru_3x32", "--include-shipped", "--out",
            str(tmp_path / "runs"), "--models-dir", str(models_dir)]
    assert train_zoo.main(argv) == 0
    shipped, unshipped = (kw for _, _, kw in calls)
    assert (shipped["epochs"], shipped["lr"], shipped["seed"]) == (100, 5e-3, 3)
    assert (shipped["decay_every"], shipped["patience"]) == (10, 20)
    assert unshipped["epochs"] is None and "lr" not in unshipped  # not shipped: the default recipe
    calls.clear()
    assert train_zoo.main(argv + ["--epochs", "4"]) == 0
    assert calls[0][2]["epochs"] == 4 and calls[0][2]["lr"] == 5e-3


def test_nothing_to_train_says_so(models_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(training, "train", lambda *a, **k: pytest.fail("nothing should train"))
    argv = ["--task", "classify", "--only", "gru_1x32", "--out", str(tmp_path / "runs"), "--models-dir",
            str(models_dir)]
    assert train_zoo.main(argv) == 0
    assert "Nothing to train" in capsys.readouterr().out


def test_queue_trains_in_order_with_the_options(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(training, "train", lambda task, name, **kw: calls.append((task, name, kw)) or {})
    empty = tmp_path / "shipped"
    argv = ["--task", "pixel", "--only", "gru_1x128", "gru_1x32", "--epochs", "3", "--out", str(tmp_path),
            "--models-dir", str(empty)]
    assert train_zoo.main(argv) == 0
    assert [(t, n) for t, n, _ in calls] == [("pixel", "gru_1x32"), ("pixel", "gru_1x128")]
    assert all(kw["epochs"] == 3 and kw["out"] == str(tmp_path) and kw["stop_after_seconds"] is None
               for _, _, kw in calls)
    calls.clear()
    assert train_zoo.main(["--out", str(tmp_path), "--models-dir", str(empty)]) == 0
    assert [(t, n) for t, n, _ in calls] == [(t, n) for t in models.TASKS for n in train_zoo.ORDER
                                             if n in models.TASK_MODELS[t]]


@pytest.mark.parametrize("argv, fragment", [
    (["--only", "gru_9"], "--only gru_9"),
    (["--only", "gru_1x33"], "gru_1x33"),
    (["--task", "pixel", "--only", "lstm_1x32"], "lstm_1x32"),
    (["--epochs", "0"], "--epochs"),
    (["--out", "data/models"], "never writes into the shipped models"),
])
def test_queue_argument_errors_are_one_line(argv, fragment, tmp_path, capsys):
    try:
        code = train_zoo.main(argv if "--out" in argv else argv + ["--out", str(tmp_path)])
    except SystemExit as exit_info:
        code = exit_info.code
    assert code == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


def test_queue_with_missing_or_corrupt_mnist_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(training, "train", lambda *a, **k: pytest.fail("must not train"))
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(b"garbage")
    monkeypatch.setenv("MNIST_NPZ", str(bad))
    argv = ["--task", "classify", "--only", "gru_1x32", "--out", str(tmp_path / "runs"),
            "--models-dir", str(tmp_path / "none")]
    assert train_zoo.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "mnist.npz" in err
    monkeypatch.setenv("MNIST_NPZ", str(tmp_path / "missing.npz"))
    assert train_zoo.main(argv) == 2
    assert "MNIST_NPZ" in capsys.readouterr().err


def test_queue_time_box_is_shared_and_ends_at_an_unfinished_model(tmp_path, monkeypatch):
    calls = []

    def fake_train(task, name, **kw):
        calls.append((name, kw["stop_after_seconds"]))
        return {"status": "complete" if name == "gru_1x32" else "in_progress"}

    monkeypatch.setattr(training, "train", fake_train)
    argv = ["--task", "classify", "--only", "gru_1x32", "lstm_1x32", "gru_3x32", "--max-minutes-now", "2",
            "--out", str(tmp_path), "--models-dir", str(tmp_path / "shipped")]
    assert train_zoo.main(argv) == 0
    assert [name for name, _ in calls] == ["gru_1x32", "lstm_1x32"]  # gru_3x32 never starts
    first_box, second_box = calls[0][1], calls[1][1]
    assert 100 < first_box <= 120 and second_box <= first_box


def test_queue_refuses_a_time_box_that_is_not_positive(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_zoo.main(["--max-minutes-now", "0", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "--max-minutes-now" in capsys.readouterr().err


def test_queue_stops_with_an_error_code(tmp_path, monkeypatch, capsys):
    def failing(task, name, **kw):
        raise FloatingPointError("the training loss became nan")

    monkeypatch.setattr(training, "train", failing)
    assert train_zoo.main(["--task", "classify", "--out", str(tmp_path), "--models-dir", str(tmp_path / "s")]) == 2
    assert "classify/gru_1x32" in capsys.readouterr().err


def test_retrain_goes_to_runs_never_to_the_shipped_models(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(training, "train", lambda task, name, **kw: calls.append((task, name, kw)))
    monkeypatch.setattr(notebook_models, "QUICK_MODELS_DIR", tmp_path / "quick")
    monkeypatch.setattr(notebook_models, "RETRAINED_MODELS_DIR", tmp_path / "retrained")
    monkeypatch.setattr(notebook_models, "shipped_recipe", lambda task, name: {})
    assert notebook_models.retrain_models("pixel", ["gru_1x32", "gru_1x64"], epochs=2, quick=True, verbose=0) == tmp_path / "quick"
    assert [c[:2] for c in calls] == [("pixel", "gru_1x32"), ("pixel", "gru_1x64")]
    expected = {"epochs": 2, "quick": True, "out": tmp_path / "quick", "fresh": True, "extend": True, "verbose": 0}
    assert all(c[2] == expected for c in calls)
    calls.clear()
    assert notebook_models.retrain_models("classify", ["gru_1x32"]) == tmp_path / "retrained"
    kwargs = calls[0][2]
    assert kwargs["out"] == tmp_path / "retrained" and kwargs["quick"] is False
    assert kwargs["fresh"] is False  # full retraining resumes; shipped weights in data/models are never touched


def _ship(tmp_path, task, name, **recipe):
    """A shipped manifest in ``tmp_path`` whose config is the default one changed by ``recipe``."""
    config = {**models.default_config(task, name), **recipe}
    _, manifest_path = models.model_paths(task, name, tmp_path)
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps({"task": task, "name": name, "config": config}))


def test_shipped_recipe_reads_the_manifest_config(tmp_path):
    _ship(tmp_path, "pixel", "gru_1x128", learning_rate=0.002, max_epochs=30, dropout=0.1)
    recipe = notebook_models.shipped_recipe("pixel", "gru_1x128", tmp_path)
    assert recipe["learning_rate"] == 0.002 and recipe["max_epochs"] == 30 and recipe["dropout"] == 0.1
    assert not {"task", "name", "cell", "layers", "units", "quick", "reference_recipe"} & set(recipe)
    assert notebook_models.shipped_recipe("pixel", "gru_1x64", tmp_path) == {}  # nothing shipped: the defaults apply
    # The recipe is accepted by the engine's config as it is.
    assert training.make_config("pixel", "gru_1x128", **recipe)["max_epochs"] == 30


def test_retrain_reproduces_the_shipped_recipe_unless_told_otherwise(tmp_path, monkeypatch):
    _ship(tmp_path, "classify", "gru_1x64", dropout=0.5, max_epochs=60)
    calls = []
    monkeypatch.setattr(training, "train", lambda task, name, **kw: calls.append(kw))
    monkeypatch.setattr(notebook_models, "RETRAINED_MODELS_DIR", tmp_path / "retrained")
    monkeypatch.setattr(notebook_models, "QUICK_MODELS_DIR", tmp_path / "quick")
    shipped = notebook_models.shipped_recipe
    monkeypatch.setattr(notebook_models, "shipped_recipe", lambda task, name: shipped(task, name, tmp_path))
    notebook_models.retrain_models("classify", ["gru_1x64"])
    assert calls[-1]["dropout"] == 0.5 and calls[-1]["max_epochs"] == 60 and calls[-1]["epochs"] is None
    notebook_models.retrain_models("classify", ["gru_1x64"], epochs=5)
    assert "max_epochs" not in calls[-1] and calls[-1]["epochs"] == 5 and calls[-1]["dropout"] == 0.5
    notebook_models.retrain_models("classify", ["gru_1x64"], quick=True)
    assert "max_epochs" not in calls[-1] and calls[-1]["quick"] is True


def test_a_quick_queue_trains_smoke_runs_into_runs_quick(models_dir, tmp_path, monkeypatch):
    """--quick: every selected model (shipped or not), on tiny subsets; a finished quick run is not trained again."""
    calls = []
    monkeypatch.setattr(training, "train", lambda task, name, **kw: calls.append((task, name, kw)) or {})
    monkeypatch.setattr(train_zoo, "QUICK_RUNS_DIR", tmp_path / "quick")
    argv = ["--quick", "--task", "classify", "--only", "gru_1x32", "lstm_1x32", "--models-dir", str(models_dir)]
    assert train_zoo.main(argv) == 0
    assert [(n, kw["quick"], kw["out"]) for _, n, kw in calls] == [("gru_1x32", True, str(tmp_path / "quick")),
                                                                 ("lstm_1x32", True, str(tmp_path / "quick"))]
    weights, manifest = models.model_paths("classify", "gru_1x32", tmp_path / "quick")
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({**fake_manifest("classify", "gru_1x32", [0.5], 1),
                                    "config": {**models.default_config("classify", "gru_1x32"), "quick": True}}))
    fake_weights(weights)
    calls.clear()
    assert train_zoo.main(argv) == 0
    assert [n for _, n, _ in calls] == ["lstm_1x32"]
    calls.clear()
    assert train_zoo.main(argv[1:] + ["--out", str(tmp_path / "quick")]) == 0  # a full queue: the quick run does not count
    assert [n for _, n, kw in calls] == ["lstm_1x32"] and not any(kw["quick"] for _, _, kw in calls)
