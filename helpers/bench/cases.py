"""The benchmark cases of the models themselves, run by ``python -m helpers.bench``: plain against fused formulation,
the zoo's cost per epoch, and the sampler and in-painting scorer against their naive baselines.
"""

from __future__ import annotations

import math
import os
import statistics
import time

import numpy as np

#: Models whose fused formulation is compared with the plain layers: (task, name).
FORMULATION_MODELS = (("pixel", "gru_1x32"), ("pixel", "gru_1x64"), ("pixel", "gru_1x128"), ("pixel", "gru_3x32"),
                      ("classify", "lstm_3x32"), ("classify", "gru_3x32"))
#: The training step's batch size in the formulation rows (the zoo's default).
FORMULATION_BATCH = 256
#: Goal of the fused formulation: at least this many times faster per training step than the plain layers.
FORMULATION_GOAL = 1.5
#: Batch size of the training engine's validation pass (``helpers.core.training``).
VALIDATION_BATCH = 500


def median_time(fn, repeats: int = 3, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        tick = time.perf_counter()
        fn()
        times.append(time.perf_counter() - tick)
    return statistics.median(times)


def alternating_median_times(fns: dict, repeats: int = 3, warmup: int = 1) -> dict:
    """Median wall time of each ``fns[key]()``, the functions called in turn (A, B, A, B, ...) after warm-ups.

    Alternating spreads any change of the machine's load over all of them: the ratios stay fair.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {key: [] for key in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            tick = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - tick)
    return {key: statistics.median(values) for key, values in times.items()}


# --------------------------------------------------------------------------------------------------
# Training steps: plain layers against the fused formulation; the zoo's cost per epoch
# --------------------------------------------------------------------------------------------------


def _random_batch(task: str, batch: int, steps: int, seed: int = 0):
    """Binary pixel sequences (batch, steps, 1) and targets of the task (next pixels or class labels)."""
    rng = np.random.default_rng(seed)
    x = (rng.random((batch, steps + 1, 1)) < 0.2).astype(np.float32)
    if task == "pixel":
        return x[:, :-1], x[:, 1:]
    return x[:, :-1], rng.integers(0, 10, batch)


def _compile_like_engine(model, config: dict):
    """Compile ``model`` as :func:`helpers.core.training.compile_model` does (Adam with clipping, the task's loss
    and metrics, XLA where :func:`helpers.core.machine.execution` says), with a constant learning rate (speed is
    the same)."""
    import keras

    from helpers.core.machine import execution
    from helpers.core.training import loss_and_metrics

    loss, metrics = loss_and_metrics(config["task"])
    model.compile(optimizer=keras.optimizers.Adam(config["learning_rate"], clipnorm=config["clipnorm"]),
                  loss=loss, metrics=metrics, jit_compile=execution(config["task"], config).xla)
    return model


def formulation_step_times(task: str, name: str, batch: int = FORMULATION_BATCH, steps: int = 784,
                           repeats: int = 5, warmup: int = 2) -> dict:
    """Seconds per training step of the plain layers and of the fused formulation of one model (same weights,
    same batch), timed alternately; ``speedup`` is plain / fused."""
    from helpers.core import zoo

    config = zoo.default_config(task, name)
    plain = _compile_like_engine(zoo.build(task, name, fused=False), config)
    fused = _compile_like_engine(zoo.build(task, name, fused=True), config)
    x, y = _random_batch(task, batch, steps if task == "classify" else steps - 1)
    times = alternating_median_times({"plain": lambda: plain.train_on_batch(x, y),
                                      "fused": lambda: fused.train_on_batch(x, y)}, repeats, warmup)
    return {"task": task, "model": name, "batch": batch, "steps": int(x.shape[1]),
            "plain_step_s": times["plain"], "fused_step_s": times["fused"],
            "speedup": times["plain"] / times["fused"], "jit_compile": bool(config["jit_compile"])}


def bench_formulations(quick: bool, models=FORMULATION_MODELS) -> dict:
    """One training step (batch 256, full-length sequences) of each model: plain Keras layers against the fused
    formulation. ``quick``: three models, fewer repetitions."""
    if quick:
        models = [m for m in models if m[1] in ("gru_1x32", "gru_3x32")][:3]
    repeats = 3 if quick else 5
    rows = [formulation_step_times(task, name, repeats=repeats) for task, name in models]
    return {"goal": FORMULATION_GOAL, "models": rows}


def _shipped_config(task: str, name: str) -> tuple[dict, str]:
    from helpers.core import zoo
    from helpers.core.training import make_config

    try:
        return zoo.read_manifest(task, name)["config"], "shipped recipe"
    except (zoo.ModelNotTrainedError, KeyError):
        return make_config(task, name), "default recipe"


def epoch_cost(task: str, name: str, config: dict | None = None, train_size: int | None = None,
               validation_size: int | None = None, length: int | None = None, repeats: int = 3,
               warmup: int = 2) -> dict:
    """Seconds per epoch of one model as the training engine runs it, from a few timed steps.

    The engine's model (:func:`helpers.core.training.compile_model`) at the recipe's batch size: the median time of
    a training step times the steps of an epoch, plus the median time of a validation batch (500) times the
    validation batches. ``hours`` is what the recipe's epoch budget (``max_epochs``) costs from scratch on this
    machine, ``core_hours`` the same times its CPU count, both as recorded at measurement; the printed table
    recomputes them for the shipped budgets of the day (:func:`helpers.bench.zoo_cost_rows`). ``train_size``, ``validation_size`` and the sequence
    ``length`` default to MNIST's (55,000, 5,000, 784 pixels).
    """
    from helpers.core import data as data_lib
    from helpers.core.training import compile_model

    source = "given recipe"
    if config is None:
        config, source = _shipped_config(task, name)
    train_size = data_lib.N_TRAIN if train_size is None else train_size
    validation_size = data_lib.N_VALIDATION if validation_size is None else validation_size
    batch = int(config["batch_size"])
    steps = math.ceil(train_size / batch)
    model = compile_model(config, steps_per_epoch=steps)
    length = (data_lib.SEQUENCE_LENGTH if length is None else length) - (1 if task == "pixel" else 0)
    x, y = _random_batch(task, batch, length)
    xv, yv = _random_batch(task, min(VALIDATION_BATCH, validation_size), length, seed=1)
    step_s = median_time(lambda: model.train_on_batch(x, y), repeats, warmup)
    validation_s = median_time(lambda: model.test_on_batch(xv, yv), repeats, warmup)
    validation_batches = math.ceil(validation_size / VALIDATION_BATCH)
    epoch_s = steps * step_s + validation_batches * validation_s
    hours = epoch_s * int(config["max_epochs"]) / 3600
    return {"task": task, "model": name, "recipe": source, "batch": batch, "steps_per_epoch": steps,
            "step_s": step_s, "validation_batches": validation_batches, "validation_batch_s": validation_s,
            "epoch_s": epoch_s, "max_epochs": int(config["max_epochs"]), "hours": hours,
            "core_hours": hours * (os.cpu_count() or 1),
            "formulation": "fused" if getattr(model, "zoo_fused", False) else "plain",
            "jit_compile": bool(config["jit_compile"])}


def bench_zoo_cost(quick: bool, models=None) -> dict:
    """:func:`epoch_cost` of the 12 zoo models (``quick``: one per task and depth, fewer repetitions)."""
    from helpers.core import zoo

    if models is None:
        models = [(task, name) for task in zoo.TASKS for name in zoo.TASK_MODELS[task]]
        if quick:
            models = [("classify", "gru_1x32"), ("classify", "lstm_3x32"), ("pixel", "gru_1x32")]
    repeats, warmup = (2, 1) if quick else (3, 2)
    rows = [epoch_cost(task, name, repeats=repeats, warmup=warmup) for task, name in models]
    return {"cpu_count": os.cpu_count(), "models": rows}


# --------------------------------------------------------------------------------------------------
# Sampling and in-painting
# --------------------------------------------------------------------------------------------------


def _model(name: str = "gru_1x128"):
    from helpers.core import zoo

    try:
        return zoo.load("pixel", name), "shipped weights"
    except zoo.ModelNotTrainedError:
        return zoo.build("pixel", name), "random weights"


def _test_digits(n: int) -> np.ndarray:
    from helpers.core.data import binarize, load_mnist

    return binarize(load_mnist().test.images[:n]).reshape(n, 784)


def bench_sampling(quick: bool) -> dict:
    """Stateful sampler vs recomputing the whole prefix for each new pixel, on the same workload.

    The naive baseline costs minutes per repetition on the full task (100 images x 10 samples x 300 px), so
    both methods are timed on ``ratio_images`` images x 10 samples x 300 px, and the ratio is theirs; the
    fast sampler is also timed alone on the full task (``full_workload_project_s``).
    """
    from helpers.inference.sampling import naive_sample_continuations, sample_continuations

    model, weights = _model()
    images, samples, n = (20, 10, 300) if quick else (100, 10, 300)
    ratio_images = 2 if quick else 5
    prefix = _test_digits(images)[:, : 784 - n]
    full = median_time(lambda: sample_continuations(model, prefix, n, samples, seed=0), repeats=3)
    small = prefix[:ratio_images]
    fast_small = median_time(lambda: sample_continuations(model, small, n, samples, seed=0), repeats=3)
    naive_small = median_time(lambda: naive_sample_continuations(model, small, n, samples, seed=0), repeats=3,
                              warmup=0)
    return {
        "workload": f"{ratio_images} images x {samples} samples x {n} px, gru_1x128",
        "weights": weights,
        "project_s": fast_small,
        "baseline_s": naive_small,
        "speedup": naive_small / fast_small,
        "full_workload": f"{images} images x {samples} samples x {n} px",
        "full_workload_project_s": full,
    }


def bench_inpainting(quick: bool) -> dict:
    """1,000 images with a 2x2 hole: prefix-sharing batched scorer vs 16 independent full sequences."""
    from helpers.core.data import binary_test_images
    from helpers.inference.exact_fill import candidate_loglik, make_missing_block_set, naive_candidate_loglik

    model, weights = _model()
    n = 200 if quick else 1000
    iset = make_missing_block_set(binary_test_images(), n=n, seed=0)
    fast = median_time(lambda: candidate_loglik(model, iset.masked), repeats=3)
    naive = median_time(lambda: naive_candidate_loglik(model, iset.masked), repeats=3)
    difference = float(np.abs(candidate_loglik(model, iset.masked) - naive_candidate_loglik(model, iset.masked)).max())
    return {
        "workload": f"{n} images, 2x2 hole, 16 candidates, gru_1x128",
        "weights": weights,
        "project_s": fast,
        "baseline_s": naive,
        "speedup": naive / fast,
        "max_abs_loglik_difference": difference,
    }
