"""The command line `python -m helpers.train`: the quick acceptance run, errors, and a real `kill -9` + resume.

Every run writes to a tmp folder (--out), never to data/models.
"""

import json
import os
import shlex
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers.core import data, training
from helpers.core import manifest as manifest_lib
from helpers.core import zoo as models
from helpers.core.paths import REPO_ROOT
from helpers.train import build_parser, config_options

CLASSIFY_HISTORY = ("loss", "val_loss", "accuracy", "val_accuracy")
CLASSIFY_METRICS = ("train_loss", "val_loss", "test_loss", "train_accuracy", "val_accuracy", "test_accuracy")


def cli(*args, timeout=300):
    """Run `python -m helpers.train ARGS` from the repository root; return the CompletedProcess."""
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "helpers.train", *map(str, args)], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def assert_clean_error(result, *fragments):
    """Non-zero exit, no traceback, and one `error:` line on stderr that names the problem."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def folder_listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """The acceptance run: `python -m helpers.train classify gru_1x32 --quick --out DIR`."""
    out = tmp_path_factory.mktemp("quick")
    result = cli("classify", "gru_1x32", "--quick", "--out", out)
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result


# --------------------------------------------------------------------------------------------------
# Argument errors (fast: they fail before TensorFlow is imported)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, fragments",
    [(["classify", "gru_9"], ["gru_9", "gru_1x32"]),
     (["generate", "gru_1x32"], ["generate", "classify"]),
     (["classify", "gru_1x32", "--epochs", "0"], ["--epochs", "'0'"]),
     (["classify", "gru_1x32", "--lr", "-1"], ["--lr", "'-1'"]),
     (["classify", "gru_1x32", "--batch-size", "x"], ["--batch-size", "'x'"]),
     (["classify", "gru_1x32", "--max-minutes-now", "0"], ["--max-minutes-now", "'0'"]),
     (["classify", "gru_1x32", "--dropout", "1"], ["--dropout", "'1'", "[0, 1)"]),
     (["classify", "gru_1x32", "--decay-rate", "0"], ["--decay-rate", "'0'", "(0, 1]"]),
     (["classify", "gru_1x32", "--reset-after", "maybe"], ["--reset-after", "true or false"]),
     (["classify", "gru_1x32", "--gate-bias-init", "ones"], ["--gate-bias-init", "chrono"])],
    ids=["unknown-model", "unknown-task", "epochs-0", "negative-lr", "batch-size-x", "minutes-0", "dropout-1",
         "decay-rate-0", "reset-after-maybe", "gate-bias-ones"],
)
def test_bad_arguments_give_a_one_line_error(args, fragments, tmp_path):
    result = cli(*args, "--out", tmp_path)
    assert result.returncode == 2
    assert_clean_error(result, *fragments)
    assert list(tmp_path.iterdir()) == []  # nothing written


# --------------------------------------------------------------------------------------------------
# The acceptance run
# --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_quick_run_writes_weights_and_manifest(quick_run):
    out, _ = quick_run
    assert folder_listing(out / "classify") == [
        "gru_1x32.json", "gru_1x32.weights.h5", "resume", "resume/gru_1x32", "resume/gru_1x32/epoch-0002",
        "resume/gru_1x32/epoch-0002/best.weights.h5", "resume/gru_1x32/epoch-0002/last.weights.h5",
        "resume/gru_1x32/epoch-0002/optimizer.npz", "resume/gru_1x32/state.json"]
    manifest = json.loads((out / "classify" / "gru_1x32.json").read_text())
    manifest_lib.check_manifest(manifest)
    for key in ("task", "name", "config", "command", "epochs_run", "best_epoch", "history", "metrics",
                "train_seconds", "hardware", "versions", "created"):
        assert key in manifest, key
    assert (manifest["task"], manifest["name"], manifest["status"]) == ("classify", "gru_1x32", "complete")
    assert manifest["epochs_run"] == training.QUICK_EPOCHS == 2
    assert 1 <= manifest["best_epoch"] <= 2
    assert sorted(manifest["history"]) == sorted(CLASSIFY_HISTORY)
    assert all(len(manifest["history"][k]) == 2 for k in CLASSIFY_HISTORY)
    for key in CLASSIFY_METRICS:
        assert np.isfinite(manifest["metrics"][key]), key
    assert 0.0 <= manifest["metrics"]["test_accuracy"] <= 1.0
    assert manifest["config"]["quick"] is True and "never ship" in manifest["notes"]
    assert manifest["train_seconds"] > 0 and manifest["versions"]["tensorflow"]


@pytest.mark.slow
def test_quick_run_command_reproduces_the_config(quick_run):
    out, _ = quick_run
    manifest = json.loads((out / "classify" / "gru_1x32.json").read_text())
    command = manifest["command"]
    assert command.startswith("python -m helpers.train classify gru_1x32 ")
    args = build_parser().parse_args(shlex.split(command)[3:])
    assert args.quick and args.out == str(out)
    config = training.make_config(args.task, args.name, **config_options(args))
    assert config == manifest["config"]


@pytest.mark.slow
def test_quick_run_weights_are_the_ones_measured(quick_run):
    """The shipped weights reproduce the manifest's test metrics (quick test set: first 256 test images)."""
    out, _ = quick_run
    manifest = json.loads((out / "classify" / "gru_1x32.json").read_text())
    import keras

    model = models.load("classify", "gru_1x32", models_dir=out)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    with np.load(data.find_mnist_file(download=False)) as f:
        test = data.Split(f["x_test"][:256] / np.float32(255), f["y_test"][:256].astype(np.int64))
    measured = training.evaluate(model, *data.task_arrays("classify", test))
    assert measured["accuracy"] == pytest.approx(manifest["metrics"]["test_accuracy"], abs=1.5 / 256)
    assert measured["loss"] == pytest.approx(manifest["metrics"]["test_loss"], rel=1e-4)


@pytest.mark.slow
def test_resume_with_another_lr_is_refused(quick_run):
    out, _ = quick_run
    before = (out / "classify" / "gru_1x32.json").read_bytes()
    result = cli("classify", "gru_1x32", "--quick", "--out", out, "--lr", "0.5")
    assert result.returncode == 2
    assert_clean_error(result, "--fresh", "learning_rate")
    assert (out / "classify" / "gru_1x32.json").read_bytes() == before


# --------------------------------------------------------------------------------------------------
# kill -9 and resume
# --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_kill_9_then_rerun_resumes_to_a_consistent_result(tmp_path, quick_run):
    """Kill the process as soon as epoch 1 is checkpointed; the same command finishes the run."""
    args = ["classify", "gru_1x32", "--quick", "--epochs", "3", "--out", str(tmp_path)]
    state_path = tmp_path / "classify" / "resume" / "gru_1x32" / "state.json"
    env = dict(os.environ)
    with open(tmp_path / "first-run.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "helpers.train", *args], cwd=REPO_ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 240
            while not state_path.exists() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            process.send_signal(signal.SIGKILL)  # no-op if it already ended
        finally:
            process.kill()
            process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    state = json.loads(state_path.read_text())
    assert 1 <= state["epochs_run"] < 3 and not state["finished"]

    result = cli(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"after epoch {state['epochs_run']}" in result.stdout

    manifest = json.loads((tmp_path / "classify" / "gru_1x32.json").read_text())
    manifest_lib.check_manifest(manifest)
    history = manifest["history"]
    assert manifest["status"] == "complete" and manifest["epochs_run"] == 3
    assert all(len(history[k]) == 3 for k in CLASSIFY_HISTORY)
    for key in CLASSIFY_HISTORY:  # the epochs done before the kill are kept as they were
        assert history[key][: state["epochs_run"]] == state["history"][key]
    assert manifest["best_epoch"] == int(np.argmin(history["val_loss"])) + 1
    np.testing.assert_allclose(manifest["metrics"]["val_loss"], history["val_loss"][manifest["best_epoch"] - 1],
                               rtol=1e-4)
    # Same seed and recipe as the (uninterrupted, 2-epoch) acceptance run: the first two epochs agree.
    reference = json.loads((quick_run[0] / "classify" / "gru_1x32.json").read_text())["history"]
    for key in CLASSIFY_HISTORY:
        np.testing.assert_allclose(history[key][:2], reference[key], rtol=1e-5)
    # Only complete files: no temporary files, one checkpoint, loadable weights.
    assert folder_listing(tmp_path / "classify") == [
        "gru_1x32.json", "gru_1x32.weights.h5", "resume", "resume/gru_1x32", "resume/gru_1x32/epoch-0003",
        "resume/gru_1x32/epoch-0003/best.weights.h5", "resume/gru_1x32/epoch-0003/last.weights.h5",
        "resume/gru_1x32/epoch-0003/optimizer.npz", "resume/gru_1x32/state.json"]
    models.load("classify", "gru_1x32", models_dir=tmp_path)


# --------------------------------------------------------------------------------------------------
# The shared entry-point guard (helpers.core.cli): every way a command can end is one line
# --------------------------------------------------------------------------------------------------


def raising(error):
    def main(argv):
        raise error

    return main


@pytest.mark.parametrize("error, status, fragment", [
    (KeyboardInterrupt(), 130, "Interrupted. Kept."),
    (OSError(28, "No space left on device", "runs/x.h5"), 2, "runs/x.h5: No space left on device"),
    (data.MnistFileError("data/mnist.npz is damaged\nsecond line"), 2, "data/mnist.npz is damaged"),
    (models.ModelNotTrainedError("No trained model 'x'"), 2, "No trained model 'x'"),
])
def test_the_guard_ends_each_error_in_one_line(error, status, fragment, capsys, monkeypatch):
    from helpers.core import cli as guard

    monkeypatch.delenv(guard.DEBUG_ENV_VAR, raising=False)
    assert guard.guard(raising(error), [], interrupted="Kept.") == status
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and fragment in err and "Traceback" not in err


def test_the_guard_shows_the_traceback_when_asked(capsys, monkeypatch):
    from helpers.core import cli as guard

    seen = []
    assert guard.guard(lambda argv: seen.append(argv) or 0, ["--debug", "classify"]) == 0
    assert seen == [["classify"]]  # --debug is the guard's, never the command's
    with pytest.raises(OSError):
        guard.guard(raising(OSError(13, "Permission denied")), ["--debug"])
    monkeypatch.setenv(guard.DEBUG_ENV_VAR, "1")
    with pytest.raises(data.MnistFileError):
        guard.guard(raising(data.MnistFileError("damaged")), [])


def test_a_bug_is_never_hidden_by_the_guard():
    from helpers.core import cli as guard

    with pytest.raises(AttributeError):
        guard.guard(raising(AttributeError("a bug")), [])


def test_an_interrupt_hides_the_tracebacks_of_tasks_it_left_pending():
    """Ctrl-C while nbclient executes a cell leaves an asyncio task whose exception nobody retrieves: at exit,
    asyncio would log it with a traceback under the one line."""
    code = """
import asyncio, sys
from helpers.core import cli
def main(args):
    global task
    loop = asyncio.new_event_loop()
    async def cell():
        raise RuntimeError("the cell failed")
    task = loop.create_task(cell())
    loop.run_until_complete(asyncio.sleep(0.01))
    raise KeyboardInterrupt("nothing was changed")
sys.exit(cli.guard(main, []))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert done.returncode == 130
    assert done.stderr.strip() == "Interrupted: nothing was changed. Nothing was kept from this run.", done.stderr
