"""Tests of helpers.bench and helpers.bench.cases without running the real (slow) benchmarks.

The sampler and in-painting benchmarks run on a tiny scale: a gru_1x8 with random weights, synthetic digits,
and their workloads cut down by monkeypatching.
"""

import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from helpers import bench
from helpers.bench import cases as bench_cases
from helpers.core import data
from helpers.core.paths import REPO_ROOT
from helpers.core.zoo import build
from helpers.inference import exact_fill, sampling


def synthetic_digits(n, seed=0):
    images = (np.random.default_rng(seed).random((n, 28, 28)) < 0.3).astype(np.float32)
    images[:, :4], images[:, -4:], images[:, :, :4], images[:, :, -4:] = 0, 0, 0, 0
    return images


def test_median_time_semantics(monkeypatch):
    durations = iter([5.0, 2.0, 1.0])
    clock = SimpleNamespace(now=0.0, started=False)

    def perf_counter():
        if clock.started:  # end of a timed call: advance by its duration
            clock.now += next(durations)
        clock.started = not clock.started
        return clock.now

    calls = []
    monkeypatch.setattr(bench_cases, "time", SimpleNamespace(perf_counter=perf_counter))
    assert bench.median_time is bench_cases.median_time  # re-exported
    assert bench.median_time(lambda: calls.append(1), repeats=3, warmup=2) == 2.0  # median of 5, 2, 1
    assert len(calls) == 5  # warm-up calls run but are not timed
    durations = iter([10.0, 1.0, 3.0, 2.0])
    assert bench.median_time(lambda: None, repeats=4, warmup=0) == 2.5  # even count: mean of the middle two


def test_recurrent_flops_per_step():
    # GRU: h (B x H) times H x 3H, 2 FLOPs per multiply-add, x3 for forward + backward.
    assert bench.recurrent_flops_per_step("gru", 128, 256) == 3 * 2 * 256 * 128 * 384 == 75_497_472
    assert bench.recurrent_flops_per_step("lstm", 32, 10, layers=3) == 3 * 2 * 10 * 32 * 128 * 3
    assert bench.recurrent_flops_per_step("lstm", 64, 1) / bench.recurrent_flops_per_step("gru", 64, 1) == 4 / 3


def synthetic_results():
    return {
        "created": "2026-01-01T00:00:00+00:00", "quick": True,
        "machine": {"cpu": "Test CPU", "cpu_count": 2, "gpus": ["H100"]},
        "training": {"peak_gflops": 50.0, "matmul_gflops": {"512": 50.0}, "models": [
            {"model": "gru_1x32", "project_seq_per_s": 1000.0, "project_batch": 256, "baseline_seq_per_s": 400.0,
             "baseline_batch": 32, "speedup": 2.5, "recurrent_gflops": 5.0, "fraction_of_peak": 0.1},
            {"model": "gru_1x128", "project_seq_per_s": 300.0, "project_batch": 256, "baseline_seq_per_s": 200.0,
             "baseline_batch": 32, "speedup": 1.5, "recurrent_gflops": 30.0, "fraction_of_peak": 0.6}]},
        "sampling": {"workload": "20 images", "project_s": 1.234, "baseline_s": 40.0, "speedup": 32.4},
        "inpainting": {"workload": "200 images", "project_s": 2.0, "baseline_s": 5.0, "speedup": 2.5},
        "notebooks": {"seconds": 123.4, "notebooks": "01 only", "ok": True},
    }


def synthetic_model_results():
    return {
        "formulations": {"goal": 1.5, "models": [
            {"task": "pixel", "model": "gru_1x32", "batch": 256, "steps": 783, "plain_step_s": 0.4,
             "fused_step_s": 0.2, "speedup": 2.0, "jit_compile": False}]},
        "zoo_cost": {"cpu_count": 2, "models": [
            {"task": "classify", "model": "gru_1x32", "recipe": "shipped recipe", "batch": 256, "steps_per_epoch": 215,
             "step_s": 0.2, "validation_batches": 10, "validation_batch_s": 0.15, "epoch_s": 44.5, "max_epochs": 100,
             "hours": 1.236, "core_hours": 2.472, "formulation": "plain", "jit_compile": True}]},
    }


def test_format_report_renders_every_section(tmp_path):
    text = bench.format_report(synthetic_results(), tmp_path)
    lines = text.split("\n")
    assert lines[0] == "Machine: Test CPU, 2 cores, GPUs: ['H100']; 2026-01-01T00:00:00+00:00 (quick)"
    assert lines[2] == "| benchmark | project | baseline | ratio | goal |"
    table = lines[4:]
    assert all(line.startswith("| ") and line.endswith(" |") and line.count("|") == 6 for line in table)
    assert ("| training gru_1x32 (seq/s per step) | 1000 (batch 256) | 400 (model.fit defaults, batch 32) | 2.50x |"
            in text)
    assert sum("recurrent matmuls" in line for line in table) == 1  # only the x128 models
    assert "| gru_1x128 recurrent matmuls | 30.0 GFLOP/s | peak 50.0 GFLOP/s (dense matmul) | 60% of peak |" in text
    assert "| continuation sampling (20 images) | 1.23 s | 40.00 s | 32.4x | >= 20x |" in text
    assert "| 2x2-hole scoring (200 images) | 2.00 s | 5.00 s | 2.5x |" in text
    assert "| regenerate notebooks (01 only) | 123 s |" in text
    assert len(table) == 6
    with_models = bench.format_report({**synthetic_results(), **synthetic_model_results()}, tmp_path)
    assert ("| fused pixel gru_1x32 (s per training step, batch 256) | 0.200 s | 0.400 s (plain Keras layers) "
            "| 2.00x | >= 1.5x |" in with_models)
    zoo_table = with_models.split("\n\n")[-1].split("\n")
    assert zoo_table[0].startswith("| model | formulation | batch |")
    assert zoo_table[2] == "| classify gru_1x32 | plain | 256 | 0.200 | 215 | 1.5 | 44 | 100 | 1.2 | 2.5 |"
    assert all(line.count("|") == 11 for line in zoo_table)
    # No manifest in tmp_path: the budget recorded with the measurement, and the caption says for which model.
    assert "else the one recorded with the measurement (classify gru_1x32)" in with_models
    only_machine = {k: v for k, v in synthetic_results().items() if k in ("created", "machine")}
    only_machine["machine"] = {"cpu": "c", "cpu_count": 1}
    assert len(bench.format_report(only_machine).split("\n")) == 4


def test_the_zoo_cost_table_uses_the_shipped_budgets_now(tmp_path):
    """Seconds per epoch are the measurement; epochs, hours and core-hours follow the manifests' budgets today."""
    (tmp_path / "classify").mkdir()
    (tmp_path / "classify" / "gru_1x32.json").write_text(json.dumps({"config": {"max_epochs": 50}}))
    cost = synthetic_model_results()["zoo_cost"]
    cost = {**cost, "models": cost["models"] + [{**cost["models"][0], "task": "pixel"}]}
    shipped, recorded = bench.zoo_cost_rows(cost, tmp_path)
    assert (shipped["max_epochs"], shipped["budget"], recorded["max_epochs"], recorded["budget"]) == (
        50, "shipped", 100, "recorded")
    assert shipped["hours"] == pytest.approx(44.5 * 50 / 3600)
    assert shipped["core_hours"] == pytest.approx(2 * shipped["hours"])
    text = bench.format_report({**synthetic_results(), "zoo_cost": cost}, tmp_path)
    assert "| classify gru_1x32 | plain | 256 | 0.200 | 215 | 1.5 | 44 | 50 | 0.6 | 1.2 |" in text
    assert "recorded with the measurement (pixel gru_1x32)" in text
    (tmp_path / "pixel").mkdir()
    (tmp_path / "pixel" / "gru_1x32.json").write_text(json.dumps({"config": {"max_epochs": 30}}))
    assert "recorded with the measurement" not in bench.format_report({**synthetic_results(), "zoo_cost": cost},
                                                                      tmp_path)


def test_schedule_hours_starts_the_longest_first():
    hours = [3.0, 1.0, 1.0, 1.0, 2.0]
    assert bench.schedule_hours(hours, 1) == pytest.approx(8.0)
    assert bench.schedule_hours(hours, 2) == pytest.approx(4.0)  # 3+1 | 2+1+1
    assert bench.schedule_hours(hours, 3) == pytest.approx(3.0)
    assert bench.schedule_hours(hours, 10) == pytest.approx(3.0)
    assert bench.schedule_hours([], 2) == 0.0


def test_readme_shows_the_printed_benchmark_tables():
    """README.md's benchmark and zoo-cost tables are format_report's output on the committed results, now."""
    report = bench.format_report(json.loads((REPO_ROOT / "benchmarks" / "results.json").read_text()))
    assert report in (REPO_ROOT / "README.md").read_text(), (
        "README.md's benchmark tables are stale: replace them with the output of python -c 'import json; from "
        "helpers import bench; print(bench.format_report(json.load(open(\"benchmarks/results.json\"))))'")


def test_bench_help_exits_zero():
    completed = subprocess.run([sys.executable, "-m", "helpers.bench", "--help"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert "--quick" in completed.stdout and "--only" in completed.stdout


def test_main_writes_results_and_report(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "bench_notebooks", lambda quick: {"seconds": 3.0, "ok": True, "notebooks": "01 only",
                                                                 "error": None, "quick_flag": quick})
    output = tmp_path / "out" / "results.json"
    assert bench.main(["--quick", "--only", "notebooks", "--output", str(output)]) == 0
    results = json.loads(output.read_text())
    assert results["quick"] is True and results["notebooks"]["quick_flag"] is True
    assert "training" not in results and "cpu_count" in results["machine"]
    out = capsys.readouterr().out
    assert "| regenerate notebooks (01 only) | 3 s |" in out and str(output) in out


@pytest.fixture
def tiny_bench(monkeypatch):
    """bench_cases on a tiny scale: gru_1x8, synthetic digits, 5 sampled pixels, 4 holes."""
    model = build("pixel", "gru_1x8", gate_bias_init="default", seed=1)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0.0, 0.8, w.shape).astype(np.float32) for w in model.get_weights()])
    monkeypatch.setattr(bench_cases, "_model", lambda name="gru_1x128": (model, "random weights"))
    monkeypatch.setattr(bench_cases, "_test_digits", lambda n: synthetic_digits(n).reshape(n, 784))
    fast, naive = sampling.sample_continuations, sampling.naive_sample_continuations
    monkeypatch.setattr(sampling, "sample_continuations", lambda m, p, n, s, seed=0: fast(m, p, 5, s, seed=seed))
    monkeypatch.setattr(sampling, "naive_sample_continuations", lambda m, p, n, s, seed=0: naive(m, p, 5, s, seed=seed))
    split = data.Split(synthetic_digits(30, seed=1), np.zeros(30, np.int64))
    monkeypatch.setattr(data, "load_mnist", lambda *a, **k: data.MnistSplits(split, split, split))
    make = exact_fill.make_missing_block_set
    monkeypatch.setattr(exact_fill, "make_missing_block_set", lambda images, n, seed: make(images, n=4, seed=seed))
    return model


def test_bench_sampling_tiny(tiny_bench):
    result = bench_cases.bench_sampling(quick=True)
    assert result["weights"] == "random weights"
    assert result["full_workload"].startswith("20 images x 10 samples x 300 px")
    assert result["workload"].startswith("2 images x 10 samples x 300 px")
    for key in ("project_s", "baseline_s", "full_workload_project_s", "speedup"):
        assert result[key] > 0, key
    assert result["speedup"] == pytest.approx(result["baseline_s"] / result["project_s"])


def test_bench_inpainting_tiny(tiny_bench):
    result = bench_cases.bench_inpainting(quick=True)
    assert result["project_s"] > 0 and result["baseline_s"] > 0
    assert result["speedup"] == pytest.approx(result["baseline_s"] / result["project_s"])
    assert result["max_abs_loglik_difference"] < 1e-3  # the fast scorer agrees with the naive one
    assert "2x2 hole, 16 candidates" in result["workload"]


def test_bench_modules_do_not_import_each_other():
    """helpers.bench runs the benchmark cases of helpers.bench.cases, which does not import the command (no cycle)."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(bench_cases))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {f"{node.module}.{alias.name}" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                 and node.module for alias in node.names}
    assert not any(name in ("helpers.bench", "bench") for name in imported), imported
    completed = subprocess.run([sys.executable, "-c", "import helpers.bench.cases, helpers.bench"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr


def test_alternating_median_times_alternates():
    order = []
    times = bench_cases.alternating_median_times({"a": lambda: order.append("a"), "b": lambda: order.append("b")},
                                                  repeats=3, warmup=1)
    assert order == ["a", "b"] + ["a", "b"] * 3
    assert set(times) == {"a", "b"} and all(t >= 0 for t in times.values())


def test_formulation_step_times_tiny():
    """The plain and fused formulations of a tiny model, timed on short sequences."""
    row = bench_cases.formulation_step_times("pixel", "gru_2x8", batch=8, steps=12, repeats=1, warmup=1)
    assert (row["task"], row["model"], row["batch"], row["steps"]) == ("pixel", "gru_2x8", 8, 11)
    assert row["plain_step_s"] > 0 and row["fused_step_s"] > 0
    assert row["speedup"] == pytest.approx(row["plain_step_s"] / row["fused_step_s"])


def test_epoch_cost_tiny():
    """Seconds per epoch scale the timed steps by the epoch's steps (and validation batches)."""
    from helpers.core.training import make_config

    config = make_config("classify", "gru_2x8", batch_size=16, epochs=3)
    row = bench_cases.epoch_cost("classify", "gru_2x8", config=config, train_size=100, validation_size=700,
                                  length=12, repeats=1, warmup=1)
    assert (row["batch"], row["steps_per_epoch"], row["validation_batches"], row["max_epochs"]) == (16, 7, 2, 3)
    assert row["epoch_s"] == pytest.approx(7 * row["step_s"] + 2 * row["validation_batch_s"])
    assert row["hours"] == pytest.approx(row["epoch_s"] * 3 / 3600)
    assert row["formulation"] in ("fused", "plain") and row["recipe"] == "given recipe"


@pytest.fixture
def bench_paths(tmp_path, monkeypatch):
    """The committed and partial results paths moved to tmp_path; a notebooks section that takes no time."""
    committed, partial = tmp_path / "benchmarks" / "results.json", tmp_path / "runs" / "bench" / "results.json"
    monkeypatch.setattr(bench, "RESULTS_PATH", committed)
    monkeypatch.setattr(bench, "PARTIAL_RESULTS_PATH", partial)
    monkeypatch.setattr(bench, "bench_notebooks", lambda quick: {"seconds": 1.0, "ok": True, "notebooks": "all",
                                                                 "error": None})
    monkeypatch.setattr(bench, "machine_description", lambda: {"cpu": "this cpu", "cpu_count": 2})
    committed.parent.mkdir(parents=True)
    full = {"created": "2026-01-01", "quick": False, "machine": {"cpu": "this cpu", "cpu_count": 2},
            "training": {"models": []}, "formulations": None}
    committed.write_text(json.dumps(full))
    return committed, partial, full


def test_a_quick_or_partial_run_never_replaces_the_committed_results(bench_paths):
    committed, partial, full = bench_paths
    assert bench.main(["--quick", "--only", "notebooks"]) == 0
    assert json.loads(committed.read_text()) == full
    assert json.loads(partial.with_name("results-quick.json").read_text())["quick"] is True
    assert bench.main(["--only", "notebooks"]) == 0  # not quick: goes beside the committed file too
    assert json.loads(committed.read_text()) == full and json.loads(partial.read_text())["quick"] is False


def test_a_partial_run_merges_only_with_a_run_of_the_same_machine_and_mode(bench_paths, capsys):
    committed, _, full = bench_paths
    assert bench.main(["--only", "notebooks", "--output", str(committed)]) == 0
    merged = json.loads(committed.read_text())
    assert merged["training"] == full["training"] and merged["notebooks"]["seconds"] == 1.0
    for change in ({"quick": True}, {"machine": {"cpu": "another cpu", "cpu_count": 2}}):
        committed.write_text(json.dumps({**full, **change}))
        assert bench.main(["--only", "notebooks", "--output", str(committed)]) == 2
        assert "another machine or mode" in capsys.readouterr().err
        assert json.loads(committed.read_text()) == {**full, **change}


@pytest.mark.parametrize("name", ["README.md", "notes.json"])
def test_output_refuses_a_file_that_is_not_an_earlier_result(bench_paths, tmp_path, capsys, name):
    target = tmp_path / name
    target.write_text("# my notes\n")
    assert bench.main(["--quick", "--only", "notebooks", "--output", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not an earlier benchmark result" in err
    assert target.read_text() == "# my notes\n"


def test_output_in_a_tracked_folder_is_refused(bench_paths, capsys):
    assert bench.main(["--quick", "--only", "notebooks", "--output", str(REPO_ROOT / "notebooks" / "b.json")]) == 2
    assert "never write over committed files" in capsys.readouterr().err
    assert not (REPO_ROOT / "notebooks" / "b.json").exists()


def test_without_mnist_the_error_is_one_line_before_any_work(bench_paths, monkeypatch, capsys):
    def missing(*args, **kwargs):
        raise data.MnistFileError("data/mnist.npz is missing; put a copy there or set MNIST_NPZ.")

    monkeypatch.setattr(data, "find_mnist_file", missing)
    monkeypatch.setattr(bench_cases, "bench_sampling", lambda quick: pytest.fail("must not run"))
    assert bench.main(["--quick", "--only", "sampling"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mnist.npz is missing" in err
