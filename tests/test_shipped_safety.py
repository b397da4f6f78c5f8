"""End to end, in a copy of the repository: the commands a new user runs leave the shipped results as they were.

Each command of the tables of issues #20 and #32 runs in a git copy of this working tree; afterwards
``git status --porcelain`` must be empty (or, for the older rows, of data/models, figures and notebooks), and
a user's file placed beforehand survives.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from helpers.core import data, workspace
from helpers.core.paths import REPO_ROOT

pytestmark = pytest.mark.slow
PROTECTED = ("data/models", "figures", "notebooks")


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A committed copy of the working tree (tracked and new files), with MNIST pointed at by MNIST_NPZ."""
    copy = tmp_path_factory.mktemp("repo")
    files = git(REPO_ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
    for name in filter(None, files):
        source = REPO_ROOT / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    git(copy, "init", "-q")
    git(copy, "add", "-A")
    git(copy, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "copy")
    return copy


def environment(repo, **extra):
    return {**os.environ, "PYTHONPATH": str(repo), "MNIST_NPZ": str(data.find_mnist_file(download=False)), **extra}


def run(repo, *args, timeout=600, **env):
    return subprocess.run([sys.executable, *args], cwd=repo, env=environment(repo, **env), capture_output=True,
                          text=True, timeout=timeout)


def assert_untouched(repo):
    assert git(repo, "status", "--porcelain", *PROTECTED) == ""


def test_smoke_training_never_lands_in_the_shipped_models(repo):
    fresh = run(repo, "-m", "helpers.train", "classify", "gru_1x32", "--quick", "--fresh")
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert (repo / "runs" / "quick" / "classify" / "gru_1x32.json").exists()
    again = run(repo, "-m", "helpers.train", "classify", "gru_1x32", "--quick")
    assert again.returncode == 0 and "already trained" in again.stdout
    refused = run(repo, "-m", "helpers.promote", "classify", "gru_1x32", "--from", "runs/quick")
    assert refused.returncode == 2 and "never shipped" in refused.stderr
    assert_untouched(repo)


def test_the_zoo_queue_leaves_finished_shipped_models_alone(repo):
    result = run(repo, "-m", "helpers.train_zoo")
    assert result.returncode == 0 and "Nothing to train" in result.stdout
    assert_untouched(repo)


def test_training_into_the_shipped_folder_is_refused_before_any_work(repo):
    result = run(repo, "-m", "helpers.train", "classify", "lstm_1x32", "--out", "data/models", timeout=60)
    assert result.returncode == 2 and "helpers.promote" in result.stderr and "Traceback" not in result.stderr
    assert_untouched(repo)


def test_a_missing_shipped_file_is_restored_with_the_advised_command(repo):
    weights = repo / "data" / "models" / "classify" / "lstm_1x32.weights.h5"
    weights.unlink()
    result = run(repo, "-c", "from helpers import models; models.load('classify', 'lstm_1x32')")
    advice = "git checkout -- data/models/classify/lstm_1x32.weights.h5"
    assert advice in result.stderr and "--fresh" not in result.stderr
    status = run(repo, "-m", "helpers.train_zoo", "--status")
    assert "damaged" in status.stdout
    subprocess.run(advice.split(), cwd=repo, check=True)
    assert_untouched(repo)


def test_a_regenerate_that_fails_late_changes_no_notebook_and_no_figure(repo, tmp_path):
    damaged = tmp_path / "mnist.npz"
    damaged.write_bytes(b"not MNIST")  # the notebook's kernel fails when it loads MNIST
    result = run(repo, "-m", "helpers.regenerate", "--only", "02", "-p", "retrain", "false", "-p", "models",
                 '["gru_1x32"]', MNIST_NPZ=str(damaged))
    assert result.returncode == 1 and "Nothing was changed" in result.stderr
    assert_untouched(repo)
    assert git(repo, "status", "--porcelain", "--ignored", "notebooks", "figures") == ""


def test_a_bad_parameter_is_refused_before_anything_runs(repo):
    result = run(repo, "-m", "helpers.regenerate", "-p", "quick", "maybe", timeout=60)
    assert result.returncode == 2 and "-p quick 'maybe'" in result.stderr
    assert_untouched(repo)


def test_output_dir_keeps_figures_under_it_and_the_users_own_files(repo, tmp_path):
    out = tmp_path / "gates"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "01_my_plot.png").write_bytes(b"the user's own figure")
    result = run(repo, "-m", "helpers.regenerate", "--only", "01", "-p", "steps", "60", "--output-dir", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    assert (out / "01_gates.ipynb").exists() and list((out / "figures").glob("01_*.png"))
    assert (out / "figures" / "01_my_plot.png").read_bytes() == b"the user's own figure"
    assert_untouched(repo)


# --------------------------------------------------------------------------------------------------
# The table of issue #32: what a user does, and nothing shipped or user-owned is harmed
# --------------------------------------------------------------------------------------------------


def assert_clean(repo):
    """Nothing tracked changed and nothing new appeared outside the git-ignored folders."""
    assert git(repo, "status", "--porcelain") == ""


def one_line_error(result, *fragments):
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    assert all(fragment in lines[0] for fragment in fragments), lines[0]


def fake_run(repo, weights_of, manifest_of, drop_slice=False, drop_checkpoint=False):
    """runs/classify/gru_1x32 made of shipped files: another model's weights or manifest, or no checkpoint."""
    shipped, runs = repo / "data" / "models" / "classify", repo / "runs" / "classify"
    shutil.rmtree(runs, ignore_errors=True)
    shutil.copytree(shipped / "resume" / "gru_1x32", runs / "resume" / "gru_1x32")
    shutil.copyfile(shipped / f"{weights_of}.weights.h5", runs / "gru_1x32.weights.h5")
    manifest = json.loads((shipped / f"{manifest_of}.json").read_text())
    if drop_slice:
        manifest["metrics"] = {k: v for k, v in manifest["metrics"].items() if not k.startswith("test_slice")}
    (runs / "gru_1x32.json").write_text(json.dumps(manifest))
    if drop_checkpoint:
        for folder in (runs / "resume" / "gru_1x32").glob("epoch-*"):
            shutil.rmtree(folder)


def test_promote_refuses_another_models_files(repo):
    fake_run(repo, weights_of="lstm_1x32", manifest_of="gru_3x32", drop_slice=True)
    result = run(repo, "-m", "helpers.promote", "classify", "gru_1x32", "--replace-shipped")
    one_line_error(result, "another model's")
    fake_run(repo, weights_of="lstm_1x32", manifest_of="gru_1x32")
    result = run(repo, "-m", "helpers.promote", "classify", "gru_1x32", "--replace-shipped")
    one_line_error(result, "do not load into the zoo's gru_1x32")
    assert_clean(repo)


def test_promote_refuses_a_run_without_its_checkpoint(repo):
    fake_run(repo, weights_of="gru_1x32", manifest_of="gru_1x32", drop_checkpoint=True)
    result = run(repo, "-m", "helpers.promote", "classify", "gru_1x32", "--replace-shipped")
    one_line_error(result, "names checkpoint")
    shipped_resume = repo / "data" / "models" / "classify" / "resume" / "gru_1x32"
    checkpoint = json.loads((shipped_resume / "state.json").read_text())["checkpoint"]
    assert (shipped_resume / checkpoint).is_dir()
    assert not list((repo / "data" / "models" / "classify").glob(".promote-*"))
    assert_clean(repo)


@pytest.mark.parametrize("args, fragment", [
    (["--only", "04", "-p", "models", '["gru_1x99"]'], "'gru_1x99' is not a model"),
    (["--only", "02", "-p", "epochs", "2.5"], "an integer or None"),
    (["--only", "01", "--output-dir", "."], "the repository itself"),
    (["--only", "01", "--output-dir", "notebooks"], "notebooks/, a folder of the repository"),
    (["--only", "01", "--output-dir", "figures/../data"], "data/, a folder of the repository"),
])
def test_regenerate_refuses_before_any_work(repo, args, fragment):
    result = run(repo, "-m", "helpers.regenerate", *args, timeout=120)
    one_line_error(result, fragment)
    assert_clean(repo)


def test_bench_never_loses_the_committed_results(repo, tmp_path):
    committed = (repo / "benchmarks" / "results.json").read_bytes()
    readme = (repo / "README.md").read_bytes()
    one_line_error(run(repo, "-m", "helpers.bench", "--quick", "--output", "README.md", timeout=120),
                   "not an earlier benchmark result")
    one_line_error(run(repo, "-m", "helpers.bench", "--quick", "--only", "sampling", timeout=120,
                       MNIST_NPZ=str(tmp_path / "absent.npz")), "mnist")
    quick = run(repo, "-m", "helpers.bench", "--quick", "--only", "sampling")
    assert quick.returncode == 0, quick.stderr[-2000:]
    assert "runs/bench/results-quick.json" in quick.stdout
    assert (repo / "benchmarks" / "results.json").read_bytes() == committed
    assert (repo / "README.md").read_bytes() == readme
    assert_clean(repo)


def _ctrl_c_as_in_a_terminal():
    """Ctrl-C's default action, also where these tests run in the background (which ignores SIGINT)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt(repo, args, after_line, seconds=2.0):
    """Start ``python -m args`` as from a terminal, press Ctrl-C once ``after_line`` is printed; (status, stderr)."""
    process = subprocess.Popen([sys.executable, "-m", *args], cwd=repo, env=environment(repo),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                               preexec_fn=_ctrl_c_as_in_a_terminal)
    for line in process.stdout:
        if after_line in line:
            break
    time.sleep(seconds)
    assert process.poll() is None, f"{args[0]} ended before Ctrl-C was pressed: give it more to do"
    os.killpg(process.pid, signal.SIGINT)  # the whole foreground group, as a terminal does
    _, err = process.communicate(timeout=120)
    return process.returncode, err


def test_ctrl_c_during_regenerate_ends_in_one_line(repo, tmp_path):
    status, err = interrupt(repo, ["helpers.regenerate", "--only", "01", "--output-dir", str(tmp_path / "o")],
                            "01_gates.ipynb ...", seconds=8)
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 130 and len(lines) == 1 and "Interrupted" in lines[0] and "was changed" in lines[0], err
    assert not (tmp_path / "o" / "01_gates.ipynb").exists()
    assert_clean(repo)


def test_two_runs_in_one_folder_the_second_is_refused_naming_the_first(repo, tmp_path):
    out = tmp_path / "X"
    first = subprocess.Popen([sys.executable, "-m", "helpers.train", "classify", "gru_1x32", "--quick", "--epochs", "30", "--out",
                              str(out)], cwd=repo, env=environment(repo), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    owner = workspace.lock_path(out / "classify" / "gru_1x32").with_suffix(".lock.owner")
    try:
        for _ in range(600):
            if owner.exists() or first.poll() is not None:
                break
            time.sleep(0.1)
        assert owner.exists(), "the first run never took its lock"
        second = run(repo, "-m", "helpers.train", "classify", "gru_1x32", "--quick", "--out", str(out), timeout=120)
        one_line_error(second, f"(process {first.pid})", "python -m helpers.train classify gru_1x32 --quick")
    finally:
        first.kill()
        first.wait()
    assert_clean(repo)
