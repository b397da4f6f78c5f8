"""--ray of train_zoo and experiments (helpers.cluster): Ray tasks on a test cluster on this machine, in tmp folders.

The slow tests share one Ray cluster (a head node with 2 CPUs: two runs of 1 CPU at a time) and one set of quick runs
made without Ray, which the runs made through Ray must reproduce exactly.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import cluster, train_zoo
from helpers.core import training
from helpers.core import zoo as models

ROOT = Path(__file__).resolve().parents[1]
#: Two quick runs (tiny subsets), three epochs each: long enough to kill a worker between two checkpoints.
QUICK = ["--quick", "--epochs", "3", "--task", "classify", "--only", "gru_1x32", "lstm_1x32"]
#: Manifest fields that depend on when and where a run ran, not on what it computed.
VOLATILE = ("train_seconds", "hardware", "runs", "created")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _comparable(manifest: dict, out: Path) -> dict:
    """A manifest without its time and machine fields, its command without its --out."""
    kept = {k: v for k, v in manifest.items() if k not in VOLATILE}
    kept["command"] = kept["command"].replace(str(out), "OUT")
    return kept


def _manifests(out: Path) -> dict:
    return {name: json.loads(models.model_paths("classify", name, out)[1].read_text())
            for name in ("gru_1x32", "lstm_1x32")}


def _no_training(*args, **kwargs):
    raise AssertionError("no run may start")


# --------------------------------------------------------------------------------------------------
# Without a cluster
# --------------------------------------------------------------------------------------------------


def test_without_ray_nothing_imports_ray(tmp_path):
    """--status, and a queue trained here, never import Ray (checked in a fresh interpreter)."""
    script = f"""
import sys
from helpers import experiments, train_zoo
from helpers.core import training
training.train = lambda task, name, **kw: {{}}
assert train_zoo.main(["--status", "--out", {str(tmp_path)!r}]) == 0
assert experiments.main(["--status"]) == 0
assert train_zoo.main(["--quick", "--task", "pixel", "--only", "gru_1x32", "--out", {str(tmp_path)!r}]) == 0
print("ray imported" if "ray" in sys.modules else "ray not imported")
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ray not imported")


@pytest.mark.parametrize("address, fragment", [
    (None, "no Ray cluster answers there"),
    ("nonsense", "expected HOST:PORT"),
])
def test_an_unreachable_or_malformed_address_is_one_line(address, fragment, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(training, "train", _no_training)
    address = address or f"127.0.0.1:{_closed_port()}"
    start = time.perf_counter()
    assert train_zoo.main(["--ray", address, *QUICK, "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: --ray {address}: ") and fragment in err
    assert "Traceback" not in err and time.perf_counter() - start < 30
    assert not list((tmp_path / "runs").rglob("*.json"))


def test_each_run_asks_for_cpus_and_a_gpu_where_the_cluster_has_one():
    cpu_node = {"Alive": True, "Resources": {"CPU": 16.0}}
    gpu_node = {"Alive": True, "Resources": {"CPU": 8.0, "GPU": 2.0}}
    dead_gpu_node = {"Alive": False, "Resources": {"CPU": 64.0, "GPU": 8.0}}
    assert cluster.resources_per_run([cpu_node, dead_gpu_node], 2, None) == (2, 0.0)
    assert cluster.resources_per_run([cpu_node, gpu_node], 2, None) == (2, 1.0)
    assert cluster.resources_per_run([cpu_node, gpu_node], 4, 0.25) == (4, 0.25)
    assert cluster.resources_per_run([cpu_node, gpu_node], 16, 0.0) == (16, 0.0)
    with pytest.raises(cluster.ClusterError, match=r"--cpus-per-run 16 --gpus-per-run 1: .* 16 CPUs and 2 GPUs"):
        cluster.resources_per_run([cpu_node, gpu_node], 16, None)  # no node has both
    with pytest.raises(cluster.ClusterError, match="--gpus-per-run 1: .* 0 GPUs"):
        cluster.resources_per_run([cpu_node, dead_gpu_node], 2, 1.0)


@pytest.mark.parametrize("argv, fragment", [
    (["--cpus-per-run", "0"], "--cpus-per-run"),
    (["--gpus-per-run", "-1"], "--gpus-per-run"),
    (["--cpus-per-run", "two"], "--cpus-per-run"),
])
def test_resource_options_are_checked(argv, fragment, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_zoo.main(["--ray", *argv, "--out", str(tmp_path)])
    assert exit_info.value.code == 2 and fragment in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------
# On a local Ray cluster
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_cluster():
    """The address of a Ray cluster on this machine whose head node has 2 CPUs; every process stopped after."""
    import psutil
    from ray.cluster_utils import Cluster

    before = {child.pid for child in psutil.Process().children(recursive=True)}
    for attempt in range(3):  # a busy machine can miss Ray's start-up deadline
        try:
            test_cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False})
            break
        except Exception:
            for child in psutil.Process().children(recursive=True):  # what the failed start left behind
                if child.pid not in before:
                    child.kill()
            if attempt == 2:
                raise
    yield test_cluster.address
    import ray

    ray.shutdown()
    test_cluster.shutdown()


def _node(address: str) -> str:
    """The IP address of the test cluster's one node (this machine's)."""
    return address.rsplit(":", 1)[0]


@pytest.fixture(scope="module")
def local_runs(tmp_path_factory):
    """The two quick runs made here, without Ray: what the runs made through Ray must reproduce."""
    out = tmp_path_factory.mktemp("without-ray")
    assert train_zoo.main([*QUICK, "--out", str(out)]) == 0
    return {name: _comparable(manifest, out) for name, manifest in _manifests(out).items()}


@pytest.mark.slow
def test_two_runs_in_parallel_on_a_cluster_equal_the_runs_made_without_ray(ray_cluster, local_runs, tmp_path,
                                                                           monkeypatch, capsys):
    monkeypatch.setattr(training, "train", _no_training)  # the driver trains nothing itself
    out = tmp_path / "shared"
    assert train_zoo.main(["--ray", ray_cluster, "--cpus-per-run", "1", *QUICK, "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    events = [line.split("] ", 1)[1] for line in lines if line.startswith("[")]
    started = [i for i, e in enumerate(events) if f": started on {_node(ray_cluster)}" in e]
    finished = [i for i, e in enumerate(events) if ": finished, 3 epochs" in e]
    assert len(started) == 2 and len(finished) == 2 and max(started) < min(finished)  # both ran at once
    assert {name: _comparable(m, out) for name, m in _manifests(out).items()} == local_runs
    table = lines[lines.index(next(line for line in lines if line.startswith("run "))):]
    assert len(table) == 4 and all("finished" in row and _node(ray_cluster) in row for row in table[2:])
    assert "classify/lstm_1x32.log" in table[2]  # the larger model first
    log = (out / "classify" / "gru_1x32.log").read_text()
    assert "epoch 3/3" in log and "done: best epoch" in log


@pytest.mark.slow
def test_a_failed_run_names_its_log_and_does_not_stop_the_others(ray_cluster, tmp_path, capsys):
    out = tmp_path / "shared"
    state = out / "classify" / "resume" / "lstm_1x32" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"epochs_run": ')  # a damaged checkpoint: that run fails at once
    assert train_zoo.main(["--ray", ray_cluster, "--cpus-per-run", "1", *QUICK, "--out", str(out)]) == 1
    captured = capsys.readouterr()
    failed = [line for line in captured.out.splitlines() if "classify/lstm_1x32: FAILED" in line]
    assert len(failed) == 1 and "WorkspaceError" in failed[0] and failed[0].endswith("classify/lstm_1x32.log")
    assert "classify/gru_1x32: finished, 3 epochs" in captured.out
    assert "1 of 2 runs failed: classify/lstm_1x32" in captured.err
    assert "is not valid JSON" in (out / "classify" / "lstm_1x32.log").read_text()  # the traceback is in the log
    assert _manifests_present(out) == ["gru_1x32"]


def _manifests_present(out: Path) -> list[str]:
    return sorted(path.stem for path in (out / "classify").glob("*.json"))


def _wait_for(condition, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _epochs_checkpointed(state: Path) -> int:
    try:
        return json.loads(state.read_text())["epochs_run"]
    except (OSError, ValueError, KeyError):
        return 0


@pytest.mark.slow
def test_a_run_whose_worker_is_killed_is_retried_and_resumes_from_its_checkpoint(ray_cluster, local_runs,
                                                                                  tmp_path):
    out = tmp_path / "shared"
    argv = ["--ray", ray_cluster, "--cpus-per-run", "1", *QUICK[:-1], "--out", str(out)]  # gru_1x32 alone
    driver = subprocess.Popen([sys.executable, "-m", "helpers.train_zoo", *argv], cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        state = out / "classify" / "resume" / "gru_1x32" / "state.json"
        _wait_for(lambda: _epochs_checkpointed(state) >= 1, 300, "the first checkpoint")
        header = [line for line in (out / "classify" / "gru_1x32.log").read_text().splitlines()
                  if line.startswith("== ")][-1]
        os.kill(int(header.split(", pid ")[1].split(",")[0]), signal.SIGKILL)  # the worker, mid-run
        assert _epochs_checkpointed(state) < 3, "the run ended before its worker was killed"
        stdout, stderr = driver.communicate(timeout=300)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 0, stderr
    assert f"classify/gru_1x32: restarted on {_node(ray_cluster)} (its worker was lost); resuming" in stdout
    assert stderr == ""  # nothing of Ray's own logging on the user's terminal
    log = (out / "classify" / "gru_1x32.log").read_text()
    assert log.count("== classify/gru_1x32 on ") == 2 and re.search(r"Resuming classify/gru_1x32 .*after epoch [12]", log)
    manifest = json.loads(models.model_paths("classify", "gru_1x32", out)[1].read_text())
    assert _comparable(manifest, out) == local_runs["gru_1x32"]  # bit-identical to the uninterrupted run


@pytest.mark.slow
def test_a_cluster_without_the_resources_asked_for_is_one_line(ray_cluster, tmp_path, monkeypatch, capsys):
    for option in (["--cpus-per-run", "3"], ["--gpus-per-run", "1"]):
        assert train_zoo.main(["--ray", ray_cluster, *option, *QUICK, "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "no node of the cluster has that much" in err and option[0] in err
    assert not list(tmp_path.rglob("*.json"))


@pytest.mark.slow
def test_an_out_that_a_node_does_not_share_is_one_line(ray_cluster, tmp_path, monkeypatch, capsys):
    """The nodes look for a file this command writes into --out; a node that cannot see it refuses the runs."""
    monkeypatch.setattr(cluster, "_write_marker", lambda path: None)  # as if --out were a different disk there
    assert train_zoo.main(["--ray", ray_cluster, "--cpus-per-run", "1", *QUICK, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: node {_node(ray_cluster)}: does not see the file")
    assert "storage that every node shares" in err and not list(tmp_path.rglob("*.json"))


@pytest.mark.slow
def test_experiments_on_a_local_ray_instance_leave_no_process_behind(tmp_path):
    from helpers import experiments

    summary = experiments.summary_path("gru_1x32-seed1")
    before = summary.stat().st_mtime_ns if summary.exists() else None
    out = tmp_path / "experiments"
    driver = subprocess.Popen([sys.executable, "-m", "helpers.experiments", "--ray", "--cpus-per-run", "1", "--quick",
                               "--only", "gru_1x32-seed1", "--out", str(out)], cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = driver.communicate(timeout=600)
    assert driver.returncode == 0, stderr
    assert "gru_1x32-seed1: finished, 2 epochs" in stdout and stderr == ""
    manifest = json.loads((out / "gru_1x32-seed1" / "classify" / "gru_1x32.json").read_text())
    assert manifest["config"]["seed"] == 1 and manifest["config"]["quick"] is True
    assert (summary.stat().st_mtime_ns if summary.exists() else None) == before  # a quick run writes no summary
    sessions = [path.name for path in Path("/tmp/ray").glob(f"session_*_{driver.pid}")]
    assert sessions  # Ray names its session after the driver's process id
    left = [p for p in Path("/proc").iterdir() if p.name.isdigit() and sessions[0] in _cmdline(p)]
    assert not left, [_cmdline(p) for p in left]


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
