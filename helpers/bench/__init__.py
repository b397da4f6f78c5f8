"""Benchmarks: the project's code against the obvious baselines, as ratios measured in one run.

    python -m helpers.bench            # everything (about 30-45 minutes on 2 CPU cores)
    python -m helpers.bench --quick    # fewer models and smaller workloads (a few minutes)
    python -m helpers.bench --only sampling inpainting

Writes ``benchmarks/results.json`` (atomically) and prints a table, then the zoo's cost per epoch. Each
timing is the median of at least 3 repetitions after a warm-up; absolute times on a shared machine are
noisy, so every goal is stated as a ratio of two timings taken back to back in the same process. Models
use random weights when the shipped ones are missing: speed does not depend on the weights' values.
The model benchmarks themselves live in :mod:`helpers.bench.cases` (which does not import this module).
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from helpers.bench import cases
from helpers.bench.cases import median_time
from helpers.core.paths import MODELS_DIR, REPO_ROOT
from helpers.core.quiet import import_tensorflow_quietly

RESULTS_PATH = REPO_ROOT / "benchmarks" / "results.json"
SECTIONS = ("training", "formulations", "zoo_cost", "sampling", "inpainting", "notebooks")


# --------------------------------------------------------------------------------------------------
# 1. Training throughput and the physical limit
# --------------------------------------------------------------------------------------------------


def matmul_peak_gflops(sizes=(512, 1024, 2048), repeats: int = 3) -> dict:
    """Dense float32 matmul speed through TensorFlow at several sizes: this machine's practical peak."""
    tf = import_tensorflow_quietly()
    results = {}
    for n in sizes:
        a = tf.random.normal((n, n))
        b = tf.random.normal((n, n))
        inner = max(1, int(2e9 // (2 * n**3)))  # about 2 GFLOP per timed call

        @tf.function
        def run(a=a, b=b, inner=inner):
            c = a
            for _ in range(inner):
                c = tf.matmul(b, c) * 1e-3
            return c

        seconds = median_time(lambda: run().numpy(), repeats)
        results[n] = 2 * n**3 * inner / seconds / 1e9
    return results


def recurrent_flops_per_step(cell: str, units: int, batch: int, layers: int = 1) -> float:
    """FLOPs of the recurrent matmuls in one optimizer step per time step (forward + backward ~ 3x forward).

    Forward: a GRU multiplies h (B x H) by a H x 3H matrix (2 * 3 * B * H^2 FLOPs), an LSTM by H x 4H.
    """
    gates = 4 if cell == "lstm" else 3
    return 3 * 2 * gates * batch * units**2 * layers


def training_throughput(name: str, project_batch: int = 256, baseline_batch: int = 32, repeats: int = 3) -> dict:
    """Sequences per second of one optimizer step: project recipe vs a plain ``model.fit`` set-up.

    Project: the engine's compiled model (XLA, its batch size). Baseline: the same Keras model compiled with
    Keras defaults (``optimizer="adam"``, default ``jit_compile``) at ``model.fit``'s default batch of 32.
    """
    import keras

    from helpers.core import zoo
    from helpers.core.training import compile_model, make_config

    rng = np.random.default_rng(0)

    def batch(size):
        x = (rng.random((size, 784, 1)) > 0.8).astype(np.float32)
        y = rng.integers(0, 10, size)
        return x, y

    config = make_config("classify", name, batch_size=project_batch)
    project = compile_model(config, steps_per_epoch=100)
    x, y = batch(project_batch)
    project_seconds = median_time(lambda: project.train_on_batch(x, y), repeats, warmup=2)

    plain = zoo.build("classify", name, fused=False)
    plain.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    xb, yb = batch(baseline_batch)
    baseline_seconds = median_time(lambda: plain.train_on_batch(xb, yb), repeats, warmup=2)
    # The same plain model at the project's batch size: what the engine adds beyond the batch size.
    same_batch_seconds = median_time(lambda: plain.train_on_batch(x, y), repeats, warmup=2)

    cell, layers, units = zoo.parse_name(name)
    flops = recurrent_flops_per_step(cell, units, project_batch, layers) * 784
    return {
        "model": name,
        "project_batch": project_batch,
        "baseline_batch": baseline_batch,
        "project_step_s": project_seconds,
        "baseline_step_s": baseline_seconds,
        "project_seq_per_s": project_batch / project_seconds,
        "baseline_seq_per_s": baseline_batch / baseline_seconds,
        "speedup": (project_batch / project_seconds) / (baseline_batch / baseline_seconds),
        "same_batch_seq_per_s": project_batch / same_batch_seconds,
        "same_batch_speedup": same_batch_seconds / project_seconds,
        "recurrent_gflops": flops / project_seconds / 1e9,
    }


def bench_training(quick: bool) -> dict:
    names = ("gru_1x32",) if quick else ("gru_1x32", "gru_1x128", "lstm_1x128")
    peak = matmul_peak_gflops((512, 1024) if quick else (512, 1024, 2048))
    rows = [training_throughput(name) for name in names]
    best_peak = max(peak.values())
    for row in rows:
        row["fraction_of_peak"] = row["recurrent_gflops"] / best_peak
    return {"matmul_gflops": {str(k): v for k, v in peak.items()}, "peak_gflops": best_peak, "models": rows}


# --------------------------------------------------------------------------------------------------
# 4. Notebook regeneration
# --------------------------------------------------------------------------------------------------


def bench_notebooks(quick: bool) -> dict:
    """Wall time of regenerating every notebook from the shipped weights (into a scratch folder)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        args = [sys.executable, "-m", "helpers.regenerate", "--output-dir", tmp]
        if quick:
            args += ["--only", "01"]
        tick = time.perf_counter()
        completed = subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - tick
    return {"seconds": seconds, "ok": completed.returncode == 0, "notebooks": "01 only" if quick else "all",
            "error": completed.stderr[-2000:] if completed.returncode else None}


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------


def machine_description() -> dict:
    from helpers.core.machine import hardware_description, software_versions

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, **hardware_description(), "versions": software_versions()}


def shipped_budget(task: str, name: str, models_dir: str | Path = MODELS_DIR) -> int | None:
    """The epoch budget (``config.max_epochs``) of a shipped model's manifest; None without one."""
    import json

    path = Path(models_dir) / task / f"{name}.json"
    try:
        return int(json.loads(path.read_text())["config"]["max_epochs"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def zoo_cost_rows(cost: dict, models_dir: str | Path = MODELS_DIR) -> list[dict]:
    """The zoo-cost rows with ``max_epochs``, ``hours`` and ``core_hours`` for the shipped budgets now.

    The seconds per epoch are the measurement; the budget is the shipped manifest's ``config.max_epochs``
    (``budget`` ``"shipped"``), else the one recorded with the measurement (``"recorded"``). Core-hours are
    hours times the measuring machine's cores.
    """
    rows = []
    for row in cost["models"]:
        epochs = shipped_budget(row["task"], row["model"], models_dir)
        source = "recorded" if epochs is None else "shipped"
        epochs = int(row["max_epochs"]) if epochs is None else epochs
        hours = row["epoch_s"] * epochs / 3600
        rows.append({**row, "max_epochs": epochs, "budget": source, "hours": hours,
                     "core_hours": hours * cost["cpu_count"]})
    return rows


def schedule_hours(hours, at_once: int) -> float:
    """Hours until the last of the runs ``hours`` ends with ``at_once`` of them running at a time, the longest
    started first and each next one on the first free slot (an estimate: nothing else running)."""
    slots = [0.0] * max(1, int(at_once))
    for h in sorted(hours, reverse=True):
        slots[slots.index(min(slots))] += h
    return max(slots)


def format_report(results: dict, models_dir: str | Path = MODELS_DIR) -> str:
    """The benchmark table as Markdown (the README shows it), then the zoo's cost per epoch if measured, its
    epochs, hours and core-hours for the budgets of the manifests in ``models_dir`` now (:func:`zoo_cost_rows`)."""
    lines = [f"Machine: {results['machine']['cpu']}, {results['machine']['cpu_count']} cores"
             + (f", GPUs: {results['machine']['gpus']}" if results['machine'].get('gpus') else "")
             + f"; {results['created']}" + (" (quick)" if results.get("quick") else ""), "",
             "| benchmark | project | baseline | ratio | goal |", "|---|---|---|---|---|"]
    training = results.get("training")
    if training:
        for row in training["models"]:
            lines.append(
                f"| training {row['model']} (seq/s per step) | {row['project_seq_per_s']:.0f} (batch {row['project_batch']}) "
                f"| {row['baseline_seq_per_s']:.0f} (model.fit defaults, batch {row['baseline_batch']}) "
                f"| {row['speedup']:.2f}x | >= 1.3x |")
            if "same_batch_speedup" in row:
                lines.append(f"| (same plain model at batch {row['project_batch']}) | | {row['same_batch_seq_per_s']:.0f} "
                             f"| {row['same_batch_speedup']:.2f}x | - |")
        for row in training["models"]:
            if row["model"].endswith("x128"):
                lines.append(f"| {row['model']} recurrent matmuls | {row['recurrent_gflops']:.1f} GFLOP/s "
                             f"| peak {training['peak_gflops']:.1f} GFLOP/s (dense matmul) "
                             f"| {row['fraction_of_peak']:.0%} of peak | >= 50 % |")
    formulations = results.get("formulations")
    if formulations:
        for row in formulations["models"]:
            lines.append(f"| fused {row['task']} {row['model']} (s per training step, batch {row['batch']}) "
                         f"| {row['fused_step_s']:.3f} s | {row['plain_step_s']:.3f} s (plain Keras layers) "
                         f"| {row['speedup']:.2f}x | >= {formulations['goal']}x |")
    for key, label, goal in (("sampling", "continuation sampling", ">= 20x"),
                             ("inpainting", "2x2-hole scoring", ">= 1.8x, < 60 s")):
        section = results.get(key)
        if section:
            lines.append(f"| {label} ({section['workload']}) | {section['project_s']:.2f} s | {section['baseline_s']:.2f} s "
                         f"| {section['speedup']:.1f}x | {goal} |")
    notebooks = results.get("notebooks")
    if notebooks:
        lines.append(f"| regenerate notebooks ({notebooks['notebooks']}) | {notebooks['seconds']:.0f} s | - | - | < 600 s |")
    cost = results.get("zoo_cost")
    if cost:
        rows = zoo_cost_rows(cost, models_dir)
        recorded = [f"{row['task']} {row['model']}" for row in rows if row["budget"] == "recorded"]
        budgets = ("epochs: the shipped manifests' budgets (config.max_epochs) now"
                   + (f", else the one recorded with the measurement ({', '.join(recorded)})" if recorded else "")
                   + "; hours and core-hours: that budget from scratch at the measured s/epoch")
        lines += ["", f"Zoo cost per epoch at each model's recipe ({cost['cpu_count']} cores; training steps at the "
                      f"recipe's batch size, then the validation pass; {budgets}):",
                  "", "| model | formulation | batch | s/step | steps/epoch | validation s | s/epoch | epochs | hours "
                      "| core-hours |", "|---|---|---|---|---|---|---|---|---|---|"]
        for row in rows:
            lines.append(f"| {row['task']} {row['model']} | {row['formulation']} | {row['batch']} | {row['step_s']:.3f} "
                         f"| {row['steps_per_epoch']} | {row['validation_batches'] * row['validation_batch_s']:.1f} "
                         f"| {row['epoch_s']:.0f} | {row['max_epochs']} | {row['hours']:.1f} | {row['core_hours']:.1f} |")
    return "\n".join(lines)


#: Where quick or partial runs go by default: beside the committed results, never over them.
PARTIAL_RESULTS_PATH = REPO_ROOT / "runs" / "bench" / "results.json"
#: Sections that read MNIST (checked before any work, so a missing file is one line, not a lost run).
MNIST_SECTIONS = ("sampling", "inpainting")


def output_for(output: Path | None, quick: bool, only: list[str] | None) -> Path:
    """Where a run writes: ``--output``, else the committed results for a full run, else ``runs/bench/``."""
    if output is not None:
        return output
    if not (quick or only):
        return RESULTS_PATH
    return PARTIAL_RESULTS_PATH.with_name("results-quick.json") if quick else PARTIAL_RESULTS_PATH


def check_output(output: Path, partial: bool) -> dict | None:
    """The earlier result in ``output`` (None if there is none); a ValueError naming ``--output`` if it may not be written.

    Refused: a file that is not an earlier result, a path in the repository's tracked folders (other than the
    committed results), and the committed results for a partial run that has nothing to merge with.
    """
    import json

    from helpers.core.workspace import refuse_tracked

    earlier = None
    if output.exists():
        try:
            earlier = json.loads(output.read_text())
        except (OSError, ValueError):
            earlier = None
        if not (isinstance(earlier, dict) and {"created", "machine"} <= set(earlier)):
            raise ValueError(f"--output {output} exists and is not an earlier benchmark result: it is never "
                             f"overwritten. Choose another file.")
    committed = output.resolve() == RESULTS_PATH.resolve()
    if not committed:
        refuse_tracked(output, "--output")
    if partial and committed and earlier is None:
        raise ValueError(f"--output {output}: the committed results are written only by a full run (no --quick, "
                         f"no --only); a partial run goes to {PARTIAL_RESULTS_PATH.relative_to(REPO_ROOT)}.")
    return earlier


def merged_results(output: Path, earlier: dict | None, results: dict, partial: bool) -> dict:
    """``results`` over an earlier partial run of the same machine and mode; a ValueError if they differ."""
    if earlier is None or not partial:
        return results
    same = earlier.get("machine", {}).get("cpu") == results["machine"]["cpu"] and \
        earlier.get("machine", {}).get("cpu_count") == results["machine"]["cpu_count"] and \
        bool(earlier.get("quick")) == results["quick"]
    if not same:
        raise ValueError(f"--output {output} holds a run of another machine or mode ({earlier['machine'].get('cpu')}"
                         f"{', quick' if earlier.get('quick') else ''}); a partial run merges only with its own kind. "
                         f"Choose another --output, or run every section.")
    return {**earlier, **results}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller workloads, fewer models")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the JSON results (default: benchmarks/results.json for a full run, "
                             "runs/bench/results.json for --only, results-quick.json for --quick)")
    args = parser.parse_args(argv)
    from helpers.core.data import MnistFileError, find_mnist_file
    from helpers.core.files import write_json_atomic
    from helpers.core.machine import utc_now

    sections = args.only or list(SECTIONS)
    output = output_for(args.output, args.quick, args.only)
    partial = bool(args.quick or args.only)
    try:  # before any work, and before TensorFlow is imported
        earlier = check_output(output, partial)
        if set(sections) & set(MNIST_SECTIONS):
            find_mnist_file()
        results = {"created": utc_now(), "quick": args.quick, "machine": machine_description()}
        results = merged_results(output, earlier, results, partial)
    except (ValueError, MnistFileError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    runners = {"training": bench_training, "notebooks": bench_notebooks,
               "formulations": cases.bench_formulations, "zoo_cost": cases.bench_zoo_cost,
               "sampling": cases.bench_sampling, "inpainting": cases.bench_inpainting}
    for section in sections:
        print(f"benchmark: {section} ...", flush=True)
        results[section] = runners[section](args.quick)
    write_json_atomic(output, results)
    print(format_report(results))
    print(f"\nwritten to {output}")
    return 0
