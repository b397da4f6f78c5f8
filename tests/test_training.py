"""Unit tests of the training engine (helpers.core.training) and the manifest helpers (helpers.core.manifest).

The runs are tiny: the pixel task with a GRU of 8 units on 128 training images, no XLA, 2 epochs.
Everything is written under tmp folders, never to data/models.
"""

import json
import shlex

import numpy as np
import pytest
from testkit import TINY

from helpers.core import files, paths, reference, training
from helpers.core import manifest as manifest_lib
from helpers.core import zoo as models
from helpers.core.spread import SeedSpread
from helpers.train import build_parser, config_options


@pytest.fixture(scope="module")
def runs(tiny_splits, tmp_path_factory):
    """One uninterrupted 3-epoch run, and the same run stopped after epoch 1 then resumed."""
    whole = tmp_path_factory.mktemp("whole")
    split = tmp_path_factory.mktemp("split")
    uninterrupted = training.train("pixel", "gru_1x8", out=whole, splits=tiny_splits, **TINY)
    first = training.train("pixel", "gru_1x8", out=split, splits=tiny_splits, stop_after_epochs=1, **TINY)
    state_after_first = json.loads((split / "pixel" / "resume" / "gru_1x8" / "state.json").read_text())
    # What a `kill -9` in the middle of writing files leaves behind; the resumed run must clean it up.
    (split / "pixel" / ".gru_1x8-killed.weights.h5").write_bytes(b"half a file")
    (split / "pixel" / ".gru_1x8-killed.json").write_text('{"task": ')
    (split / "pixel" / "resume" / "gru_1x8" / ".state-killed.json").write_text('{"epochs')
    (split / "pixel" / "resume" / "gru_1x8" / ".tmp-epoch-0002").mkdir()
    resumed = training.train("pixel", "gru_1x8", out=split, splits=tiny_splits, **TINY)
    return dict(whole=whole, split=split, uninterrupted=uninterrupted, first=first,
                state_after_first=state_after_first, resumed=resumed)


@pytest.mark.slow
def test_tiny_training_lowers_the_loss(runs):
    history = runs["uninterrupted"]["history"]
    assert len(history["loss"]) == 2
    assert history["loss"][-1] < history["loss"][0] - 0.03
    assert history["val_loss"][-1] < history["val_loss"][0] - 0.03
    assert history["val_loss"][-1] < np.log(2)  # better than a coin flip per pixel


@pytest.mark.slow
def test_stop_after_epochs_leaves_a_resumable_checkpoint(runs):
    first, state = runs["first"], runs["state_after_first"]
    assert first["status"] == "in_progress"
    assert first["epochs_run"] == 1 and state["epochs_run"] == 1 and not state["finished"]
    assert state["checkpoint"] == "epoch-0001"
    manifest_lib.check_manifest(first)


@pytest.mark.slow
def test_time_box_stops_before_an_epoch_that_would_not_fit(tiny_splits, tmp_path):
    # A fresh model always runs its first epoch; with a box already spent it then stops, resumably.
    first = training.train("pixel", "gru_1x8", out=tmp_path, splits=tiny_splits, stop_after_seconds=1e-6, **TINY)
    assert (first["status"], first["epochs_run"]) == ("in_progress", 1)
    # On a resume the mean epoch time so far is the estimate: no epoch fits, nothing changes.
    again = training.train("pixel", "gru_1x8", out=tmp_path, splits=tiny_splits, stop_after_seconds=1e-6, **TINY)
    assert again == first
    # A generous box lets the run finish.
    done = training.train("pixel", "gru_1x8", out=tmp_path, splits=tiny_splits, stop_after_seconds=3600, **TINY)
    assert (done["status"], done["epochs_run"]) == ("complete", 2)


@pytest.mark.slow
def test_resume_gives_the_same_history_as_an_uninterrupted_run(runs):
    """Stop after epoch 1 + resume == one uninterrupted run (same seed): history, metrics and weights."""
    a, b = runs["resumed"], runs["uninterrupted"]
    assert a["epochs_run"] == b["epochs_run"] == 2
    assert a["best_epoch"] == b["best_epoch"]
    assert a["history"]["loss"][:1] == runs["first"]["history"]["loss"]
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(a["history"][key], b["history"][key], rtol=1e-6, atol=0)
    for key in ("train_loss", "val_loss", "test_loss"):
        np.testing.assert_allclose(a["metrics"][key], b["metrics"][key], rtol=1e-6, atol=0)
    weights_a = models.load("pixel", "gru_1x8", models_dir=runs["split"]).get_weights()
    weights_b = models.load("pixel", "gru_1x8", models_dir=runs["whole"]).get_weights()
    for wa, wb in zip(weights_a, weights_b):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)


@pytest.mark.slow
def test_manifest_of_a_run(runs):
    manifest = runs["uninterrupted"]
    manifest_lib.check_manifest(manifest)
    on_disk = json.loads((runs["whole"] / "pixel" / "gru_1x8.json").read_text())
    assert on_disk["history"] == manifest["history"] and on_disk["status"] == "complete"
    for key in ("task", "name", "config", "command", "epochs_run", "best_epoch", "history", "metrics",
                "train_seconds", "hardware", "versions", "created"):
        assert key in manifest, key
    assert (manifest["task"], manifest["name"]) == ("pixel", "gru_1x8")
    assert set(manifest["history"]) == {"loss", "val_loss"}
    assert manifest["best_epoch"] == int(np.argmin(manifest["history"]["val_loss"])) + 1
    np.testing.assert_allclose(manifest["metrics"]["val_loss"],
                               manifest["history"]["val_loss"][manifest["best_epoch"] - 1], rtol=1e-4)
    for key in ("train_loss", "val_loss", "test_loss", "test_bits_per_pixel"):
        assert np.isfinite(manifest["metrics"][key]), key
    assert manifest["train_seconds"] > 0
    assert {"python", "tensorflow", "keras", "numpy"} <= set(manifest["versions"])
    assert "cpu_count" in manifest["hardware"]
    assert manifest["notes"].startswith("Per test image: ")  # a custom size: no reference to compare with
    assert f"Best validation loss at epoch {manifest['best_epoch']} of " in manifest["notes"]


@pytest.mark.slow
def test_manifest_command_reproduces_the_run(runs):
    """The recorded command, parsed by the CLI, gives the recorded config (bar the API-only jit_compile)."""
    manifest = runs["uninterrupted"]
    command = manifest["command"]
    assert command.startswith("python -m helpers.train pixel gru_1x8 ")
    args = build_parser().parse_args(shlex.split(command)[3:])
    assert args.out == str(runs["whole"])
    config = training.make_config(args.task, args.name, **config_options(args), jit_compile=False)
    assert config == manifest["config"]


@pytest.mark.slow
def test_another_recipe_over_a_finished_model_is_refused(runs, tiny_splits):
    with pytest.raises(ValueError, match="--fresh") as info:
        training.train("pixel", "gru_1x8", out=runs["split"], splits=tiny_splits, **dict(TINY, lr=0.02))
    assert "already trained, with another recipe" in str(info.value) and "learning_rate" in str(info.value)
    assert "python -m helpers.train pixel gru_1x8 " in str(info.value)  # the command that made it


@pytest.mark.slow
def test_resume_with_another_config_is_refused(tiny_splits, tmp_path):
    training.train("pixel", "gru_1x8", out=tmp_path, splits=tiny_splits, stop_after_epochs=1, **TINY)
    with pytest.raises(ValueError, match="--fresh") as info:
        training.train("pixel", "gru_1x8", out=tmp_path, splits=tiny_splits, **dict(TINY, decay_rate=0.5))
    assert "A checkpoint of a different run" in str(info.value) and "decay_rate" in str(info.value)
    assert "python -m helpers.train pixel gru_1x8 " in str(info.value)  # the command that resumes it


@pytest.mark.slow
def test_finished_run_leaves_one_checkpoint_and_no_temporary_files(runs):
    """Also after resuming over the temporary files of a killed run (planted by the fixture)."""
    folder = runs["split"] / "pixel"
    assert sorted(p.name for p in folder.iterdir()) == ["gru_1x8.json", "gru_1x8.weights.h5", "resume"]
    resume = folder / "resume" / "gru_1x8"
    assert sorted(p.name for p in resume.iterdir()) == ["epoch-0002", "state.json"]
    assert sorted(p.name for p in (resume / "epoch-0002").iterdir()) == [
        "best.weights.h5", "last.weights.h5", "optimizer.npz"]


# --------------------------------------------------------------------------------------------------
# Config validation
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [({"epochs": 0}, "max_epochs"), ({"batch_size": "x"}, "batch_size"), ({"lr": -1.0}, "learning_rate"),
     ({"lr": float("nan")}, "learning_rate"), ({"seed": -1}, "seed"), ({"decay_rate": 0.0}, "decay_rate"),
     ({"dropout": 1.0}, "dropout"), ({"reset_after": "no"}, "reset_after"), ({"gate_bias_init": "ones"}, "chrono"),
     ({"optimizer": "sgd"}, "Unknown config key")],
)
def test_make_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        training.make_config("classify", "gru_1x32", **kwargs)


def test_make_config_quick_and_overrides():
    config = training.make_config("classify", "gru_1x32", quick=True)
    assert config["quick"] is True and config["max_epochs"] == training.QUICK_EPOCHS
    config = training.make_config("classify", "gru_1x32", quick=True, epochs=3, dropout=0.1, seed=7)
    assert (config["max_epochs"], config["dropout"], config["seed"]) == (3, 0.1, 7)


def test_reproduce_command_round_trips_odd_values(tmp_path):
    out = tmp_path / "with space"
    config = training.make_config("pixel", "lstm_1x64", lr=0.0012345678, epochs=4, batch_size=17, seed=3)
    args = build_parser().parse_args(shlex.split(training.reproduce_command(config, out))[3:])
    assert (args.lr, args.epochs, args.batch_size, args.seed, args.out) == (0.0012345678, 4, 17, 3, str(out))


def test_reproduce_command_names_a_folder_in_the_repository_relative_to_it():
    from helpers.core.paths import REPO_ROOT

    config = training.make_config("pixel", "gru_1x8", epochs=2)
    command = training.reproduce_command(config, REPO_ROOT / "runs" / "experiments" / "x")
    assert command.endswith("--out runs/experiments/x"), command  # the same command in any clone


def test_reproduce_command_spells_out_the_whole_recipe():
    """A non-default recipe survives the round trip, and so does a default one (flags written even then)."""
    for overrides in ({}, {"decay_rate": 0.87, "decay_every": 10, "dropout": 0.5, "clipnorm": 0.5, "patience": 3,
                           "reset_after": False, "gate_bias_init": "default"}):
        config = training.make_config("classify", "gru_1x32", **overrides)
        command = training.reproduce_command(config, None)
        assert "--decay-rate" in command and "--reset-after" in command
        args = build_parser().parse_args(shlex.split(command)[3:])
        assert training.make_config(args.task, args.name, **config_options(args)) == config


# --------------------------------------------------------------------------------------------------
# Manifest helpers
# --------------------------------------------------------------------------------------------------


def _valid_manifest(task="classify"):
    keys = manifest_lib.HISTORY_KEYS[task]
    return {
        "task": task, "name": "gru_1x32", "status": "complete", "config": {}, "command": "python -m helpers.train",
        "epochs_run": 2, "best_epoch": 2, "history": {k: [1.0, 0.5] for k in keys},
        "metrics": {k: 0.5 for k in manifest_lib.METRIC_KEYS[task]}, "train_seconds": 1.0, "hardware": {},
        "versions": {}, "created": "2024-01-01T00:00:00+00:00",
    }


@pytest.mark.parametrize("task", ["classify", "pixel"])
def test_check_manifest_accepts_a_valid_manifest(task):
    manifest_lib.check_manifest(_valid_manifest(task))


POOLED = SeedSpread(0.65, "pooled", 1, 4, ("gru_1x32", "lstm_1x32"))


@pytest.mark.parametrize(
    "task, name, metrics, expected",
    [("classify", "gru_1x32", {"test_accuracy": 0.8983}, "Test accuracy 89.83 % against the reference report's "
      "97.47 %: short of it, -7.64 ± 1.94 pp (± 2 SE: binomial error on 10,000 test images and a seed SD pooled "
      "over the seeds of gru_1x32 and lstm_1x32 (0.65 pp, 4 degrees of freedom), as it rests on one run)."),
     ("classify", "gru_1x32", {"test_accuracy": 0.9689}, "Test accuracy 96.89 % against the reference report's "
      "97.47 %: within noise, -0.58 ± 1.87 pp (± 2 SE: binomial error on 10,000 test images and a seed SD pooled "
      "over the seeds of gru_1x32 and lstm_1x32 (0.65 pp, 4 degrees of freedom), as it rests on one run)."),
     ("pixel", "gru_1x64", {"test_loss": 0.0868, "test_se": 0.0003}, "Test cross-entropy 0.0868 nats per pixel "
      "against the reference report's 0.0963: beats it, -0.0095 ± 0.0006 nats/pixel (± 2 SE: per-image error on "
      "10,000 test images alone, as it rests on one run and no seed spread is measured for this task)."),
     ("pixel", "gru_3x32", {"test_loss": 0.0904, "test_se": 0.0003}, "Test cross-entropy 0.0904 nats per pixel "
      "against the reference report's 0.0906: within noise, -0.0002 ± 0.0006 nats/pixel (± 2 SE: per-image error "
      "on 10,000 test images alone, as it rests on one run and no seed spread is measured for this task)."),
     ("pixel", "gru_1x128", {"test_loss": 0.09}, "Test cross-entropy 0.0900 nats per pixel against the "
      "reference report's 0.0819: not judged, +0.0081 nats/pixel (not judged: no per-image standard error).")],
)
def test_reference_compare(task, name, metrics, expected):
    spread = POOLED if task == "classify" else SeedSpread(0.0, "none")
    assert reference.compare(task, name, metrics, spread) == expected


@pytest.mark.parametrize(
    "args, message",
    [(("generate", "gru_1x32", {"test_loss": 1.0}), "Unknown task"),
     (("pixel", "lstm_1x32", {"test_loss": 1.0}), "no pixel model 'lstm_1x32'"),
     (("classify", "gru_1x32", {"test_loss": 1.0}), "test_accuracy")],
)
def test_reference_compare_rejects_what_it_cannot_compare(args, message):
    with pytest.raises(ValueError, match=message):
        reference.compare(*args)


def test_completion_note_states_the_comparison_and_the_budget():
    manifest = dict(_valid_manifest("classify"), train_seconds=5400.0, epochs_run=30, best_epoch=29,
                    metrics={"test_accuracy": 0.99})
    assert manifest_lib.completion_note(manifest) == (
        f"{reference.compare('classify', 'gru_1x32', manifest['metrics'])} "
        "Best validation loss at epoch 29 of 30 run, 1.50 h of training.")
    custom = dict(manifest, name="gru_1x8")
    assert manifest_lib.completion_note(custom) == "Best validation loss at epoch 29 of 30 run, 1.50 h of training."
    # Its best epoch is next to the end of its whole budget: still improving.
    budget_spent = dict(manifest, config={**manifest["config"], "max_epochs": 30})
    assert manifest_lib.completion_note(budget_spent).endswith(
        "It was still improving when its 30-epoch budget ran out, so more epochs would likely improve it.")
    early = dict(budget_spent, epochs_run=20, best_epoch=12)  # stopped early: converged, nothing to add
    assert manifest_lib.completion_note(early).endswith("epoch 12 of 20 run, 1.50 h of training.")


def test_completion_note_of_a_pixel_model_states_nats_per_image_and_bits_per_pixel(no_seed_runs):
    manifest = dict(_valid_manifest("pixel"), name="gru_1x128", train_seconds=3600.0, epochs_run=30, best_epoch=20,
                    metrics={"test_loss": 0.0864, "test_nats_per_image": 67.65, "test_bits_per_pixel": 0.12468})
    assert manifest_lib.completion_note(manifest) == (
        "Test cross-entropy 0.0864 nats per pixel against the reference report's 0.0819: not judged, +0.0045 "
        "nats/pixel (not judged: no per-image standard error). Per test image: 67.7 nats; 0.1247 bits per pixel. "
        "Best validation loss at epoch 20 of 30 run, 1.00 h of training.")
    judged = dict(manifest, metrics={**manifest["metrics"], "test_se": 0.0003})
    assert manifest_lib.completion_note(judged).startswith(
        "Test cross-entropy 0.0864 nats per pixel against the reference report's 0.0819: short of it, "
        "+0.0045 ± 0.0006 nats/pixel (± 2 SE: per-image error on 10,000 test images alone")


@pytest.mark.parametrize(
    "breakage, message",
    [(lambda m: m.pop("command"), "command"),
     (lambda m: m["history"].pop("val_accuracy"), "val_accuracy"),
     (lambda m: m["history"]["loss"].append(0.1), "differ in length"),
     (lambda m: m.update(epochs_run=5), "epochs_run"),
     (lambda m: m["metrics"].pop("test_accuracy"), "test_accuracy"),
     (lambda m: m.update(task="generate"), "task")],
    ids=["no-command", "no-val_accuracy", "ragged-history", "epochs_run", "no-test_accuracy", "bad-task"],
)
def test_check_manifest_names_the_problem(breakage, message):
    manifest = _valid_manifest()
    breakage(manifest)
    with pytest.raises(ValueError, match=message):
        manifest_lib.check_manifest(manifest)


def test_in_progress_manifest_needs_no_final_metrics():
    manifest = dict(_valid_manifest(), status="in_progress", metrics={})
    manifest_lib.check_manifest(manifest)


def test_atomic_path_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "model.weights.h5"
    target.write_text("old")
    with pytest.raises(RuntimeError), files.atomic_path(target) as tmp:
        assert tmp.name.endswith(".weights.h5") and tmp.parent == tmp_path
        tmp.write_text("half-written")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.weights.h5"]


def test_write_json_atomic_round_trip(tmp_path):
    path = files.write_json_atomic(tmp_path / "sub" / "m.json", {"a": [1, 2.5], "b": "x"})
    assert json.loads(path.read_text()) == {"a": [1, 2.5], "b": "x"}
    assert [p.name for p in path.parent.iterdir()] == ["m.json"]


def test_refresh_notes_rewrites_only_the_notes_of_finished_real_models(tmp_path):
    folder = tmp_path / "classify"
    folder.mkdir()
    done = dict(_valid_manifest("classify"), notes="old wording", train_seconds=3600.0)
    running = dict(done, name="gru_1x64", status="in_progress")
    quick = dict(done, name="lstm_1x32", config={"quick": True})
    for manifest in (done, running, quick):
        (folder / f"{manifest['name']}.json").write_text(json.dumps(manifest))
    assert manifest_lib.refresh_notes(tmp_path) == [folder / "gru_1x32.json"]
    refreshed = json.loads((folder / "gru_1x32.json").read_text())
    assert refreshed == dict(done, notes=manifest_lib.completion_note(done))
    assert json.loads((folder / "gru_1x64.json").read_text())["notes"] == "old wording"
    assert json.loads((folder / "lstm_1x32.json").read_text())["notes"] == "old wording"
    assert manifest_lib.refresh_notes(tmp_path) == []  # already current


def test_refresh_notes_command_errors_are_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit):
        manifest_lib.main(["--refresh-notes", str(tmp_path / "absent")])
    assert "no manifests (TASK/NAME.json)" in capsys.readouterr().err
    (tmp_path / "classify").mkdir()
    (tmp_path / "classify" / "gru_1x32.json").write_text("{ truncated")
    with pytest.raises(SystemExit):
        manifest_lib.main(["--refresh-notes", str(tmp_path)])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "gru_1x32.json is not valid JSON" in error and "fix or delete" in error
    assert "git checkout" not in error  # git never had a file of this temporary folder


def test_results_table_judges_each_finished_model_against_the_report(tmp_path, capsys, no_seed_runs):
    for task in ("classify", "pixel"):
        (tmp_path / task).mkdir()
    short = dict(_valid_manifest("classify"), metrics={"test_accuracy": 0.9613}, epochs_run=120, best_epoch=118)
    level = dict(short, name="gru_1x64", metrics={"test_accuracy": 0.9668}, epochs_run=47, best_epoch=39)
    running = dict(short, name="gru_1x128", status="in_progress")
    pixel = dict(_valid_manifest("pixel"), name="gru_1x128", metrics={"test_loss": 0.0845})
    for manifest in (short, level, running, pixel):
        (tmp_path / manifest["task"] / f"{manifest['name']}.json").write_text(json.dumps(manifest))
    block = manifest_lib.results_table(tmp_path)
    rows = block.split("\n\n")[0].splitlines()[2:]
    short_j = reference.judge("classify", "gru_1x32", 0.9613)  # no seed runs recorded (no_seed_runs)
    assert rows[0].startswith(f"| classify | gru_1x32 | 96.13% | 97.47% | {short_j.delta_text()} | {short_j.verdict} "
                              "| 120 (118) |")
    no_seeds = SeedSpread(0.0, "none")
    assert reference.judge("classify", "gru_1x32", 0.9613, spread=no_seeds).delta_text() == "-1.34 ± 0.39 pp"
    assert rows[1].startswith("| classify | gru_1x64 | 96.68% | 96.47% | +0.21 ± ")
    assert rows[2].startswith("| pixel | gru_1x128 | 0.0845 | 0.0819 | +0.0026 nats/pixel | not judged |")
    assert len(rows) == 3  # the run still in progress is left out
    assert "Read together as one family of 2 comparisons with the report" in block
    assert "measures it): pixel gru_1x128." in block
    pixel["metrics"]["test_se"] = 0.0003
    (tmp_path / "pixel" / "gru_1x128.json").write_text(json.dumps(pixel))
    assert "| +0.0026 ± 0.0006 nats/pixel | short of |" in manifest_lib.results_table(tmp_path)
    assert manifest_lib.main(["--table", str(tmp_path)]) == 0
    assert "| classify | gru_1x32 |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        manifest_lib.main(["--table", str(tmp_path / "absent")])
    assert "--table: no manifests" in capsys.readouterr().err


def test_readme_results_table_matches_the_shipped_manifests():
    readme = (paths.REPO_ROOT / "README.md").read_text()
    start = readme.index("<!-- results-table: python -m helpers.manifest --table data/models -->\n")
    body = readme[start:readme.index("\n<!-- end of results-table -->")].split("\n", 1)[1]
    assert body == manifest_lib.results_table(paths.MODELS_DIR), (
        "README.md's results table is stale: replace it with the output of python -m helpers.manifest --table data/models")
