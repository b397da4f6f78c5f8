"""End to end, in a copy of the repository: the commands a new user runs leave the shipped results as they were.

Each command of the issue's table runs in a git copy of this working tree; afterwards
``git status --porcelain data/models figures notebooks`` must be empty.
"""

import os
import shutil
import subprocess
import sys

import pytest

from helpers.core import data
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


def run(repo, *args, timeout=600):
    env = dict(os.environ, PYTHONPATH=str(repo), MNIST_NPZ=str(data.find_mnist_file(download=False)))
    return subprocess.run([sys.executable, *args], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=timeout)


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


def test_a_regenerate_that_fails_late_changes_no_notebook_and_no_figure(repo):
    result = run(repo, "-m", "helpers.regenerate", "--only", "02", "-p", "retrain", "false", "-p", "models",
                 '["gru_1x32"]', "-p", "curve_images", "0")
    assert result.returncode == 1 and "Nothing was changed" in result.stderr
    assert_untouched(repo)
    assert git(repo, "status", "--porcelain", "--ignored", "notebooks", "figures") == ""


def test_a_bad_parameter_is_refused_before_anything_runs(repo):
    result = run(repo, "-m", "helpers.regenerate", "-p", "quick", "maybe", timeout=60)
    assert result.returncode == 2 and "-p quick 'maybe'" in result.stderr
    assert_untouched(repo)


def test_output_dir_keeps_figures_under_it(repo, tmp_path):
    out = tmp_path / "gates"
    result = run(repo, "-m", "helpers.regenerate", "--only", "01", "-p", "steps", "60", "--output-dir", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    assert (out / "01_gates.ipynb").exists() and list((out / "figures").glob("01_*.png"))
    assert_untouched(repo)
