"""Tests of where a model trained: the manifest's ``runs`` list, the Keras backend, and backend-neutral batches.

Covers :mod:`helpers.core.manifest` (``keras_backend``, ``visible_gpus``, ``software_versions``, ``run_entry``,
``earlier_runs``, ``describe_runs``), the run bookkeeping of :mod:`helpers.core.training` (``_record_run``,
``_epoch_estimate``; other machines are simulated by monkeypatching ``hardware_description`` and
``keras_backend`` there), :func:`helpers.data.make_dataset` / :func:`helpers.data.ArrayBatches`, and one tiny
training run that is resumed on the same machine and then on a simulated other one.
"""

import json
import os
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import testkit

from helpers.core import data, training
from helpers.core import machine as machine_lib
from helpers.core import manifest as manifest_lib

TINY = {"batch_size": 32, "lr": 0.01, "verbose": 0, "jit_compile": False}
LAPTOP = {"machine": "x86_64", "processor": "x86_64", "cpu_count": 2, "system": "Linux", "gpus": []}
SERVER = {"machine": "x86_64", "processor": "x86_64", "cpu_count": 16, "system": "Linux", "gpus": ["NVIDIA H200"]}


def entry(first, last, seconds, cpu_count=2, gpus=(), backend="tensorflow"):
    """A ``runs`` entry written out by hand (independent of ``run_entry``)."""
    return {"epochs": [first, last], "seconds": seconds, "backend": backend, "cpu_count": cpu_count,
            "gpus": list(gpus)}


@pytest.fixture
def machine(monkeypatch):
    """Set the machine and backend that helpers.core.training sees: ``machine(SERVER, "torch")``."""
    def use(hardware=LAPTOP, backend="tensorflow"):
        monkeypatch.setattr(training, "hardware_description", lambda: dict(hardware))
        monkeypatch.setattr(training, "keras_backend", lambda: backend)

    use()
    return use


# --------------------------------------------------------------------------------------------------
# helpers.core.machine and helpers.core.manifest
# --------------------------------------------------------------------------------------------------


def test_keras_backend_asks_keras_once_it_is_imported(monkeypatch):
    import keras

    monkeypatch.setenv("KERAS_BACKEND", "jax")  # ignored: the imported Keras decides
    assert machine_lib.keras_backend() == keras.backend.backend() == "tensorflow"


def test_keras_backend_reads_the_environment_before_keras_is_imported(monkeypatch):
    monkeypatch.delitem(sys.modules, "keras")
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert machine_lib.keras_backend() == "torch"
    monkeypatch.delenv("KERAS_BACKEND")
    assert machine_lib.keras_backend() == "tensorflow"
    assert "keras" not in sys.modules  # it did not import Keras to find out


def test_visible_gpus_asks_the_backend(monkeypatch):
    cuda = types.SimpleNamespace(device_count=lambda: 2, get_device_name=lambda i: f"NVIDIA H100 #{i}")
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=cuda))
    assert machine_lib.visible_gpus("torch") == ["NVIDIA H100 #0", "NVIDIA H100 #1"]

    devices = [types.SimpleNamespace(platform="cpu", device_kind="cpu"),
               types.SimpleNamespace(platform="gpu", device_kind="NVIDIA H200")]
    monkeypatch.setitem(sys.modules, "jax", types.SimpleNamespace(devices=lambda: devices))
    assert machine_lib.visible_gpus("jax") == ["NVIDIA H200"]

    import tensorflow as tf

    fake = [types.SimpleNamespace(name="/physical_device:GPU:0"), types.SimpleNamespace(name="/physical_device:GPU:1")]
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind: fake if kind == "GPU" else [])
    details = {"/physical_device:GPU:0": {"device_name": "NVIDIA A100"}, "/physical_device:GPU:1": {}}
    monkeypatch.setattr(tf.config.experimental, "get_device_details", lambda g: details[g.name])
    assert machine_lib.visible_gpus("tensorflow") == ["NVIDIA A100", "/physical_device:GPU:1"]
    monkeypatch.setattr(machine_lib, "keras_backend", lambda: "tensorflow")
    assert machine_lib.visible_gpus() == ["NVIDIA A100", "/physical_device:GPU:1"]  # default: this backend


def test_visible_gpus_is_empty_when_the_backend_cannot_be_asked(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    assert machine_lib.visible_gpus("torch") == []


def test_hardware_description_lists_the_backends_gpus(monkeypatch):
    monkeypatch.setattr(machine_lib, "visible_gpus", lambda backend=None: ["NVIDIA H200"])
    hardware = machine_lib.hardware_description()
    assert hardware["gpus"] == ["NVIDIA H200"]
    assert {"machine", "processor", "cpu_count", "system"} <= set(hardware)


def test_software_versions_with_tensorflow():
    import keras
    import tensorflow as tf

    versions = machine_lib.software_versions()
    assert versions["keras_backend"] == "tensorflow"
    assert versions["tensorflow"] == tf.__version__
    assert versions["keras"] == keras.__version__ and versions["numpy"] == np.__version__
    assert versions["python"] == sys.version.split()[0]


def test_software_versions_with_another_backend_records_that_library(monkeypatch):
    monkeypatch.setattr(machine_lib, "keras_backend", lambda: "torch")
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(__version__="2.9.1+cu128"))
    versions = machine_lib.software_versions()
    assert versions["keras_backend"] == "torch"
    assert versions["torch"] == "2.9.1+cu128"
    assert "tensorflow" not in versions
    assert {"python", "keras", "numpy"} <= set(versions)


def test_run_entry():
    assert manifest_lib.run_entry(np.int64(3), 7, 12.3456, SERVER, "torch") == entry(
        3, 7, 12.3, cpu_count=16, gpus=["NVIDIA H200"], backend="torch")
    assert manifest_lib.run_entry(1, 1, 2, {"cpu_count": 4, "gpus": None}, "jax") == entry(
        1, 1, 2.0, cpu_count=4, backend="jax")
    gpus = ["A"]
    made = manifest_lib.run_entry(1, 2, 0.0, {"cpu_count": 1, "gpus": gpus}, "tensorflow")
    gpus.append("B")
    assert made["gpus"] == ["A"]  # a copy, not the hardware's list


def test_earlier_runs_makes_one_run_on_the_manifests_hardware():
    old = {"hardware": dict(LAPTOP), "versions": {"python": "3.11.9"}}  # written before backends were recorded
    assert manifest_lib.earlier_runs(old, 12, 300.04) == [entry(1, 12, 300.0)]
    assert manifest_lib.earlier_runs({"hardware": SERVER, "versions": {"keras_backend": "jax"}}, 3, 9) == [
        entry(1, 3, 9.0, cpu_count=16, gpus=["NVIDIA H200"], backend="jax")]
    assert manifest_lib.earlier_runs(old, 0, 0.0) == []
    assert manifest_lib.earlier_runs({}, 2, 1.0) == [entry(1, 2, 1.0, cpu_count=None)]


@pytest.mark.parametrize("manifest, expected", [
    ({"runs": [entry(1, 30, 60.0), entry(31, 40, 20.0)]}, "2 CPU"),
    ({"runs": [entry(1, 45, 900.0), entry(46, 60, 30.0, cpu_count=16, gpus=["NVIDIA H200"])]},
     "2 CPU (epochs 1-45), then 16 CPU + NVIDIA H200 (46-60)"),
    ({"runs": [entry(1, 1, 5.0), entry(2, 9, 8.0, cpu_count=16, gpus=["A", "B"]), entry(10, 10, 1.0)]},
     "2 CPU (epochs 1), then 16 CPU + A, B (2-9), then 2 CPU (10)"),
    ({"hardware": {"cpu_count": 16, "gpus": ["H100", "H100"]}, "epochs_run": 20, "train_seconds": 50.0},
     "16 CPU + H100, H100"),
    ({"hardware": {"cpu_count": 16, "gpus": ["H100", "H100"]}}, "16 CPU + H100, H100"),
    ({"hardware": {"cpu_count": 8, "gpus": []}, "runs": [], "epochs_run": 0}, "8 CPU"),
])
def test_describe_runs(manifest, expected):
    assert manifest_lib.describe_runs(manifest) == expected


# --------------------------------------------------------------------------------------------------
# helpers.core.training: _record_run and _epoch_estimate
# --------------------------------------------------------------------------------------------------


def test_record_run_starts_the_first_entry(machine):
    assert training._record_run([], 1, 4.04, new_run=True) == [entry(1, 1, 4.0)]


def test_record_run_extends_the_last_entry_within_a_call(machine):
    runs = training._record_run([entry(1, 1, 4.0)], 2, 3.0, new_run=False)
    assert runs == [entry(1, 2, 7.0)]


def test_record_run_extends_a_contiguous_run_on_the_same_machine(machine):
    before = [entry(1, 3, 10.0, cpu_count=16, gpus=["NVIDIA H200"]), entry(4, 5, 2.5)]
    runs = training._record_run(before, 6, 1.26, new_run=True)
    assert runs == [entry(1, 3, 10.0, cpu_count=16, gpus=["NVIDIA H200"]), entry(4, 6, 3.8)]
    assert before[-1] == entry(4, 5, 2.5)  # the caller's list is left alone


def test_record_run_seconds_add_up_over_a_call(machine):
    runs = []
    for epoch, seconds in enumerate([1.25, 2.5, 0.75], start=1):
        runs = training._record_run(runs, epoch, seconds, new_run=epoch == 1)
    assert runs == [entry(1, 3, 4.5)]


@pytest.mark.parametrize("hardware, backend", [(SERVER, "tensorflow"), (LAPTOP, "torch"),
                                               (dict(LAPTOP, cpu_count=4), "tensorflow")])
def test_record_run_starts_a_new_entry_on_another_machine_or_backend(machine, hardware, backend):
    machine(hardware, backend)
    runs = training._record_run([entry(1, 45, 900.0)], 46, 2.0, new_run=True)
    assert runs == [entry(1, 45, 900.0),
                    entry(46, 46, 2.0, cpu_count=hardware["cpu_count"], gpus=hardware["gpus"], backend=backend)]
    runs = training._record_run(runs, 47, 2.0, new_run=False)
    assert runs[-1]["epochs"] == [46, 47] and runs[-1]["seconds"] == 4.0 and len(runs) == 2


def test_record_run_does_not_bridge_a_gap(machine):
    runs = training._record_run([entry(1, 3, 9.0)], 6, 2.0, new_run=True)
    assert runs == [entry(1, 3, 9.0), entry(6, 6, 2.0)]


def test_epoch_estimate_without_runs_is_unknown(machine):
    assert training._epoch_estimate([]) is None


def test_epoch_estimate_is_the_mean_epoch_of_the_last_run(machine):
    assert training._epoch_estimate([entry(1, 4, 10.0)]) == 2.5
    runs = [entry(1, 45, 900.0, cpu_count=16, gpus=["NVIDIA H200"]), entry(46, 50, 30.0)]
    assert training._epoch_estimate(runs) == 6.0


@pytest.mark.parametrize("hardware, backend", [(SERVER, "tensorflow"), (LAPTOP, "jax")])
def test_epoch_estimate_is_unknown_after_a_run_elsewhere(machine, hardware, backend):
    machine(hardware, backend)
    assert training._epoch_estimate([entry(1, 4, 10.0)]) is None
    # Only the last run counts, even if an earlier one ran here.
    here = entry(1, 4, 10.0, cpu_count=hardware["cpu_count"], gpus=hardware["gpus"], backend=backend)
    assert training._epoch_estimate([here, entry(5, 6, 4.0)]) is None
    assert training._epoch_estimate([entry(5, 6, 4.0), here]) == 2.5


# --------------------------------------------------------------------------------------------------
# helpers.data: make_dataset and ArrayBatches
# --------------------------------------------------------------------------------------------------


def _arrays(n=10):
    return np.arange(n * 3, dtype=np.float32).reshape(n, 3), np.arange(n, dtype=np.int64) * 10


def _batches(dataset):
    """(inputs, targets) numpy pairs of a tf.data.Dataset or a PyDataset, in order."""
    import keras

    if isinstance(dataset, keras.utils.PyDataset):
        return [tuple(np.asarray(a) for a in dataset[i]) for i in range(len(dataset))]
    return [(x.numpy(), t.numpy()) for x, t in dataset]


def test_make_dataset_with_tensorflow_is_a_tf_dataset():
    import tensorflow as tf

    inputs, targets = _arrays()
    assert isinstance(data.make_dataset(inputs, targets, 4), tf.data.Dataset)


def test_array_batches_match_the_tf_dataset():
    import keras

    inputs, targets = _arrays(10)
    batches = data.ArrayBatches(inputs, targets, 4)
    assert isinstance(batches, keras.utils.PyDataset)
    assert len(batches) == 3
    ours, theirs = _batches(batches), _batches(data.make_dataset(inputs, targets, 4))
    assert [len(t) for _, t in ours] == [len(t) for _, t in theirs] == [4, 4, 2]
    for (x, t), (x_tf, t_tf) in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(x, x_tf)
        np.testing.assert_array_equal(t, t_tf)
    np.testing.assert_array_equal(ours[-1][1], [80, 90])


@pytest.mark.parametrize("n, batch_size, expected", [(10, 4, 3), (8, 4, 2), (1, 4, 1), (9, 1, 9), (0, 4, 0)])
def test_array_batches_length(n, batch_size, expected):
    assert len(data.ArrayBatches(*_arrays(n), batch_size)) == expected


@pytest.mark.parametrize("index", [3, 4, -1])
def test_array_batches_out_of_range(index):
    batches = data.ArrayBatches(*_arrays(10), 4)
    with pytest.raises(IndexError, match="out of range: there are 3 batches"):
        batches[index]


@pytest.fixture
def other_backend(monkeypatch):
    """Make make_dataset believe Keras runs on PyTorch (it then returns ArrayBatches)."""
    import keras

    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")


def test_make_dataset_on_another_backend_gives_the_same_batches(other_backend):
    import keras

    inputs, targets = _arrays(10)
    batches = data.make_dataset(inputs, targets, 4)
    assert isinstance(batches, keras.utils.PyDataset) and len(batches) == 3
    np.testing.assert_array_equal(np.concatenate([t for _, t in _batches(batches)]), targets)


def test_make_dataset_shuffles_the_same_way_on_every_backend(monkeypatch):
    import keras

    inputs, targets = _arrays(23)

    def order(seed):
        return np.concatenate([t for _, t in _batches(data.make_dataset(inputs, targets, 5, shuffle=True,
                                                                          seed=seed))])

    on_tf_a, on_tf_b, on_tf_other = order(7), order(7), order(8)
    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    on_torch_a, on_torch_b = order(7), order(7)
    expected = targets[np.random.default_rng(7).permutation(23)]
    for got in (on_tf_a, on_tf_b, on_torch_a, on_torch_b):
        np.testing.assert_array_equal(got, expected)
    assert not np.array_equal(on_tf_other, expected)
    # Inputs stay with their targets after the shuffle.
    for x, t in _batches(data.make_dataset(inputs, targets, 5, shuffle=True, seed=7)):
        np.testing.assert_array_equal(x[:, 0] / 3 * 10, t)


# --------------------------------------------------------------------------------------------------
# A tiny training run, resumed on the same machine and on another one
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_splits():
    """64 / 32 / 32 real MNIST images: two batches an epoch."""
    return testkit.tiny_mnist_splits(64, 32, 32)


@pytest.fixture(scope="module")
def trained(tiny_splits, tmp_path_factory):
    """A 2-epoch run, then the same run continued to 3 epochs on the same machine."""
    out = tmp_path_factory.mktemp("runs")
    first = training.train("pixel", "gru_1x8", out=out, splits=tiny_splits, epochs=2, **TINY)
    resumed = training.train("pixel", "gru_1x8", out=out, splits=tiny_splits, epochs=3, extend=True, **TINY)
    return {"out": out, "first": first, "resumed": resumed}


def _here(backend="tensorflow"):
    """This machine as a ``runs`` entry."""
    return manifest_lib.run_entry(0, 0, 0.0, machine_lib.hardware_description(), backend)


def _name(run):
    """How describe_runs names the machine of a run, written out independently."""
    return f"{run['cpu_count']} CPU" + (f" + {', '.join(run['gpus'])}" if run["gpus"] else "")


@pytest.mark.slow
def test_a_run_records_one_entry_for_all_its_epochs(trained):
    first, here = trained["first"], _here()
    assert first["status"] == "complete" and first["epochs_run"] == 2
    assert len(first["runs"]) == 1
    run = first["runs"][0]
    assert run["epochs"] == [1, 2] and run["backend"] == "tensorflow" == first["versions"]["keras_backend"]
    assert (run["cpu_count"], run["gpus"]) == (here["cpu_count"], here["gpus"])
    assert run["seconds"] == pytest.approx(first["train_seconds"], abs=0.2) and run["seconds"] > 0
    assert manifest_lib.describe_runs(first) == _name(here)


@pytest.mark.slow
def test_resuming_on_the_same_machine_extends_the_run(trained):
    first, resumed, out = trained["first"], trained["resumed"], trained["out"]
    assert resumed["status"] == "complete" and resumed["epochs_run"] == 3
    assert len(resumed["runs"]) == 1
    run = resumed["runs"][0]
    assert run["epochs"] == [1, 3] and run["backend"] == "tensorflow"
    assert run["seconds"] > first["runs"][0]["seconds"]
    assert run["seconds"] == pytest.approx(resumed["train_seconds"], abs=0.3)
    on_disk = json.loads((out / "pixel" / "gru_1x8.json").read_text())
    state = json.loads((out / "pixel" / "resume" / "gru_1x8" / "state.json").read_text())
    assert on_disk["runs"] == state["runs"] == resumed["runs"]


@pytest.mark.slow
def test_resuming_on_another_machine_starts_a_new_run(trained, tiny_splits, tmp_path, machine):
    out = tmp_path / "copy"
    shutil.copytree(trained["out"], out)
    here = _here()
    machine(SERVER, "tensorflow")
    # The last run's epoch time says nothing about this machine: its first epoch runs despite the time box.
    moved = training.train("pixel", "gru_1x8", out=out, splits=tiny_splits, epochs=5, stop_after_seconds=1e-6,
                           extend=True, **TINY)
    assert (moved["status"], moved["epochs_run"]) == ("in_progress", 4)
    old = trained["resumed"]["runs"][0]
    assert moved["runs"][0] == old
    assert moved["runs"][1]["epochs"] == [4, 4]
    assert (moved["runs"][1]["cpu_count"], moved["runs"][1]["gpus"]) == (16, ["NVIDIA H200"])
    assert manifest_lib.describe_runs(moved) == f"{_name(here)} (epochs 1-3), then 16 CPU + NVIDIA H200 (4)"


def test_commands_on_another_backend_never_load_tensorflow():
    """A GPU machine with PyTorch and no TensorFlow runs train, train_zoo and experiments (KERAS_BACKEND=torch)."""
    import subprocess

    code = ("import sys; sys.modules['tensorflow'] = None\n"  # `import tensorflow` would raise ImportError
            "from helpers.core.quiet import import_backend_quietly\nimport_backend_quietly()\nprint('ok')")
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    for module in ("train", "train_zoo", "experiments", "cluster"):
        source = (Path(__file__).parents[1] / "helpers" / f"{module}.py").read_text()
        assert "import_tensorflow_quietly()" not in source, module
