"""The resumable training engine behind ``python -m helpers.train``: one zoo model per call.

Writes the best weights, a manifest and a resume checkpoint under ``runs/{task}/``; killed at any moment and
run again, it continues exactly where it stopped. Details: docs/internals.md.
"""

from __future__ import annotations

import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from helpers.core import data as data_lib
from helpers.core import spread, zoo
from helpers.core.config import RECIPE_KEYS, TrainConfig, command_options
from helpers.core.files import atomic_path, write_json_atomic
from helpers.core.machine import (
    execution,
    hardware_description,
    keras_backend,
    software_versions,
    utc_now,
)
from helpers.core.manifest import (
    HISTORY_KEYS,
    check_manifest,
    completion_note,
    earlier_runs,
    run_entry,
)
from helpers.core.paths import MODELS_DIR
from helpers.core.workspace import (
    QUICK_RUNS_DIR,
    RESUME_STATE,
    RUNS_DIR,
    WorkspaceError,
    check_writable,
    display,
    locked_run,
    read_json,
    refuse_shipped,
    restore_advice,
    resume_folder,
    ships,
)

#: Config keys that may change between a run and its resumption (everything else must match).
RESUMABLE_CHANGES = ("max_epochs", "patience", "jit_compile")
#: Sizes of the ``quick`` subsets (smoke tests and CI; never shipped).
QUICK_SIZES = {"train": 512, "validation": 256, "test": 256}
QUICK_EPOCHS = 2
#: Fixed test slice whose metrics the manifest records, so tests can check shipped weights quickly.
TEST_SLICE = {"classify": 1000, "pixel": 500}


def make_config(task: str, name: str, *, epochs=None, batch_size=None, lr=None, seed=None, quick=False,
                **overrides) -> dict:
    """The full config of a run: the model's defaults with the given values changed, validated by TrainConfig."""
    changes = dict(overrides)
    if epochs is not None:
        changes["max_epochs"] = epochs
    elif quick:
        changes["max_epochs"] = QUICK_EPOCHS
    changes.update({key: value for key, value in (("batch_size", batch_size), ("learning_rate", lr), ("seed", seed))
                    if value is not None})
    changes["quick"] = bool(quick)
    return TrainConfig(**zoo.default_config(task, name)).replace(**changes).as_dict()


def reproduce_command(config: dict, out: Path | None) -> str:
    """The exact CLI command that reproduces a run with this config: every option of
    :func:`helpers.core.config.command_options` spelled out, so that it survives a change of the defaults."""
    parts = ["python -m helpers.train", config["task"], config["name"]]
    for flag, key, rule, _ in command_options():
        if key == "reset_after" and config["cell"] != "gru" and config[key] is True:
            continue  # a GRU-only option: left out of LSTM commands unless it was changed
        parts.append(f"{flag} {rule.show(config[key])}")
    if config.get("quick"):
        parts.append("--quick")
    if out is not None:
        parts.append(f"--out {shlex.quote(display(out))}")
    return " ".join(parts)


def shipped_recipe(task: str, name: str, models_dir: str | Path | None = None) -> dict:
    """The training recipe in the shipped manifest of ``task/name`` as ``train`` keywords (``{}`` if none)."""
    _, manifest_path = zoo.model_paths(task, name, models_dir)
    if not manifest_path.exists():
        return {}
    config = read_json(manifest_path, "manifest").get("config", {})
    return {key: value for key, value in config.items() if key in RECIPE_KEYS}


# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------


def load_task_data(task: str, quick: bool = False, splits: data_lib.MnistSplits | None = None) -> dict:
    """Inputs and targets for ``train``, ``validation`` and ``test`` (small subsets when ``quick``)."""
    splits = splits if splits is not None else data_lib.load_mnist()
    arrays = {}
    for split in ("train", "validation", "test"):
        part = splits[split].head(QUICK_SIZES[split] if quick else None)
        arrays[split] = data_lib.task_arrays(task, part)
    return arrays


# --------------------------------------------------------------------------------------------------
# Model, optimizer and checkpoints
# --------------------------------------------------------------------------------------------------


def compile_model(config: dict, steps_per_epoch: int):
    """Build and compile the model of ``config`` (loss, metrics, Adam with decay and clipping)."""
    import keras

    if keras.backend.backend() == "torch":
        import torch

        # Keep float32 arithmetic on Ampere and later GPUs, as on a CPU (cuDNN would otherwise use TF32).
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    plan = execution(config["task"], config)
    with plan.scope():
        overrides = {k: config[k] for k in zoo.ARCHITECTURE_KEYS}
        model = zoo.build(config["task"], config["name"], fused=plan.fused, seed=config["seed"], **overrides)
        schedule = keras.optimizers.schedules.ExponentialDecay(
            config["learning_rate"], decay_steps=config["decay_every"] * steps_per_epoch,
            decay_rate=config["decay_rate"], staircase=True)
        optimizer = keras.optimizers.Adam(schedule, clipnorm=config["clipnorm"])
        loss, metrics = loss_and_metrics(config["task"])
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics, jit_compile=plan.xla)
        optimizer.build(model.trainable_variables)
    return model


def loss_and_metrics(task: str):
    """The training loss and metrics of a task (from logits): cross-entropy, and accuracy for classifiers."""
    import keras

    if task == "classify":
        return (keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                [keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    return keras.losses.BinaryCrossentropy(from_logits=True), []


def compile_for_evaluation(model, task: str):
    """Compile a loaded model with the training loss and metrics, so that :func:`evaluate` works."""
    loss, metrics = loss_and_metrics(task)
    model.compile(loss=loss, metrics=metrics)
    return model


def _set_dropout_seed(model, seed: int, epoch: int) -> None:
    """Make the dropout masks of an epoch a function of (seed, epoch) only."""
    for layer in model.layers:
        generator = getattr(layer, "seed_generator", None)
        if generator is not None:
            generator.state.assign(np.array([seed, epoch + 1], dtype=generator.state.dtype.name
                                            if hasattr(generator.state.dtype, "name") else "int64"))


def _save_checkpoint(model, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    model.save_weights(folder / "last.weights.h5")
    np.savez(folder / "optimizer.npz", *[np.asarray(v.numpy()) for v in model.optimizer.variables])


def _load_checkpoint(model, folder: Path) -> None:
    try:
        model.load_weights(folder / "last.weights.h5")
        with np.load(folder / "optimizer.npz") as saved:
            values = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    except Exception as err:  # truncated or missing files: h5py, zipfile and numpy raise many kinds
        raise WorkspaceError(
            f"the checkpoint {display(folder)} is damaged ({type(err).__name__}: {err}); "
            f"{_restart_advice(folder)}.") from None
    variables = model.optimizer.variables
    if len(values) != len(variables):
        raise WorkspaceError(f"the optimizer checkpoint in {display(folder)} has {len(values)} variables, "
                             f"expected {len(variables)}; {_restart_advice(folder)}.")
    for variable, value in zip(variables, values):
        variable.assign(value)


class ResumeState:
    """The ``resume/{name}/state.json`` pointer and the checkpoint folder it names.

    A checkpoint folder ``epoch-NNNN`` holds ``last.weights.h5`` (the model after that epoch),
    ``optimizer.npz`` (Adam's step count and moments) and ``best.weights.h5`` (the best epoch so far).
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / RESUME_STATE

    def read(self) -> dict | None:
        if not self.path.exists():
            return None
        state = read_json(self.path, "resume state")
        if not {"checkpoint", "config", "epochs_run", "history", "best"} <= set(state):
            raise WorkspaceError(f"resume state {display(self.path)} is incomplete; {_restart_advice(self.folder)}.")
        return state

    def checkpoint(self) -> Path:
        return self.folder / self.read()["checkpoint"]

    def best_weights(self) -> Path:
        return self.checkpoint() / "best.weights.h5"

    def commit(self, model, state: dict, improved: bool) -> None:
        """Write a new checkpoint folder, then atomically point ``state.json`` at it; drop older ones."""
        previous = self.read()
        name = f"epoch-{state['epochs_run']:04d}"
        tmp = self.folder / f".tmp-{name}"
        shutil.rmtree(tmp, ignore_errors=True)
        _save_checkpoint(model, tmp)
        best_source = tmp / "last.weights.h5" if improved else self.folder / previous["checkpoint"] / "best.weights.h5"
        shutil.copyfile(best_source, tmp / "best.weights.h5")
        shutil.rmtree(self.folder / name, ignore_errors=True)
        tmp.rename(self.folder / name)
        write_json_atomic(self.path, dict(state, checkpoint=name))
        for old in list(self.folder.glob("epoch-*")) + list(self.folder.glob(".tmp-*")):
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)
        _remove_stale_temp_files(self.folder, "state")  # left by a run killed while writing state.json

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


# --------------------------------------------------------------------------------------------------
# Evaluation and the manifest
# --------------------------------------------------------------------------------------------------


def evaluate(model, inputs, targets, batch_size: int = 500) -> dict:
    """Loss (and accuracy for classifiers) of ``model`` on arrays, as plain floats."""
    results = model.evaluate(inputs, targets, batch_size=batch_size, verbose=0, return_dict=True)
    return {key: float(value) for key, value in results.items()}


def _final_metrics(model, arrays: dict, task: str) -> dict:
    """Loss (and accuracy) on the full train, validation and test sets, plus the fixed test slice."""
    metrics = {}
    for split, prefix in (("train", "train"), ("validation", "val"), ("test", "test")):
        for key, value in evaluate(model, *arrays[split]).items():
            metrics[f"{prefix}_{key}"] = value
    metrics.update(_slice_metrics(model, arrays, task))
    if task == "pixel":  # the pixel verdicts judge against the per-image error of the test mean
        metrics["test_se"] = spread.per_image_se(model, *arrays["test"])
    return metrics


def _slice_metrics(model, arrays: dict, task: str) -> dict:
    n = TEST_SLICE[task]
    inputs, targets = arrays["test"]
    results = evaluate(model, inputs[:n], targets[:n])
    return {f"test_slice_{key}": value for key, value in results.items()} | {"test_slice_size": int(min(n, len(inputs)))}


def _pixel_notes(metrics: dict) -> dict:
    """Per-image nats and bits per pixel, derived from the mean nats per predicted pixel."""
    notes = {}
    for prefix in ("train", "val", "test"):
        if f"{prefix}_loss" in metrics:
            nats = metrics[f"{prefix}_loss"]
            notes[f"{prefix}_nats_per_image"] = nats * (data_lib.SEQUENCE_LENGTH - 1)
            notes[f"{prefix}_bits_per_pixel"] = nats / np.log(2.0)
    return notes


def _log(message: str, verbose: int) -> None:
    if verbose:
        print(message, flush=True)


def _format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


# --------------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------------


@dataclass
class _Run:
    """Where one run lives and what it trains: config, command, files and resume folder."""

    config: dict
    command: str
    out_dir: Path
    weights_path: Path
    manifest_path: Path
    resume: ResumeState


@dataclass
class _Progress:
    """How far a run has come: per-epoch history, best epoch so far, time, and where each epoch ran."""

    history: dict
    best: dict
    train_seconds: float = 0.0
    epochs_run: int = 0
    runs: list = field(default_factory=list)

    def finished(self, config: dict) -> bool:
        return self.best["wait"] >= config["patience"] or self.epochs_run >= config["max_epochs"]


def _already_finished(run, state, previous: dict, config: dict, may_continue: bool, verbose: int) -> bool:
    """Whether a finished run has nothing left to do; a finished run is continued only with ``may_continue``."""
    task, name = config["task"], config["name"]
    complete = previous.get("status") == "complete"
    if state is not None:
        _check_same_run(state["config"], config, run.resume.folder, state.get("command"), complete=complete)
    if complete and (state is None or _Progress(state["history"], state["best"], epochs_run=state["epochs_run"])
                     .finished(config)):  # nothing left to do: never retrain or re-measure
        _log(f"{task}/{name} is already trained ({display(run.manifest_path)}); nothing to do. To continue it, "
             f"give a larger --epochs with --extend; to train it again from scratch, --fresh.", verbose)
        return True
    if complete and not may_continue:
        raise WorkspaceError(
            f"{task}/{name} in {display(run.out_dir)} is finished ({previous['epochs_run']} epochs); it is never "
            f"continued implicitly. Add --extend to continue it up to {config['max_epochs']} epochs, or --fresh to "
            f"train it again from scratch.")
    return False


@locked_run  # one run per model folder: a second one is refused at once
def train(task: str, name: str, *, epochs: int | None = None, batch_size: int | None = None,
          lr: float | None = None, seed: int | None = None, quick: bool = False,
          out: str | Path | None = None, fresh: bool = False, extend: bool = False, from_shipped: bool = False,
          verbose: int | None = None, splits: data_lib.MnistSplits | None = None,
          stop_after_epochs: int | None = None, stop_after_seconds: float | None = None, **overrides) -> dict:
    """Train (or resume training) one zoo model and return its manifest.

    Args:
        task: ``"classify"`` or ``"pixel"``.
        name: zoo name, e.g. ``"gru_1x32"``.
        epochs: maximum number of epochs (default: the config's ``max_epochs``; 2 with ``quick``).
        batch_size, lr, seed: override the config's values.
        quick: train and evaluate on small subsets (512/256/256 images): a smoke run, never shipped.
        out: output folder (default ``runs/``, or ``runs/quick/`` with ``quick``); files go to ``{out}/{task}/``.
            Never ``data/models`` (refused): :mod:`helpers.promote` ships a finished run.
        fresh: discard any previous checkpoint and manifest of this model in ``out`` and start from scratch.
        extend: allow continuing a *finished* run up to a larger ``epochs`` (never done implicitly).
        from_shipped: start from the shipped model's last checkpoint (copied into ``out``) and continue it up to
            ``epochs``: how a shipped model is extended on purpose.
        verbose: 0 silent, 1 one line per epoch, 2 Keras progress bar too (default: 2 in a terminal, else 1).
        splits: pre-loaded MNIST (default: :func:`helpers.core.data.load_mnist`).
        stop_after_epochs: stop (resumably) after this many epochs in *this call*; for tests and time-boxed runs.
        stop_after_seconds: a time box for *this call*: stop (resumably) before an epoch that would not end
            within it, judged by the duration of the previous epoch (or, right after a resume, the mean epoch
            time of the last run, if it ran on the same kind of machine). The first epoch of a fresh model, or
            of a run resumed on another machine or backend, always runs.
        **overrides: any other key of :func:`helpers.core.config.default_config` (``dropout``, ``decay_rate``, ...).
    """
    call_start = time.perf_counter()
    if verbose is None:
        verbose = 2 if sys.stdout.isatty() else 1
    if from_shipped:  # continue with the shipped model's recipe; options given now still win
        batch_size, lr, seed, overrides = _with_shipped_recipe(task, name, batch_size, lr, seed, overrides)
    config = make_config(task, name, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, quick=quick,
                         **overrides)
    if name not in zoo.ZOO:
        _log(f"Note: {name} is not one of the zoo's models ({', '.join(zoo.ZOO)}); training it anyway.", verbose)
    run = _prepare_run(config, out, fresh=fresh, from_shipped=from_shipped)
    state = run.resume.read()
    previous = read_json(run.manifest_path, "manifest") if run.manifest_path.exists() else {}
    if _already_finished(run, state, previous, config, extend or from_shipped, verbose):
        return previous
    arrays = load_task_data(task, quick=config["quick"], splits=splits)
    steps_per_epoch = int(np.ceil(len(arrays["train"][0]) / config["batch_size"]))
    model = compile_model(config, steps_per_epoch)
    progress = _start_or_resume(model, run, state, previous, len(arrays["train"][0]), verbose)
    stopped = _run_epochs(model, run, progress, arrays, verbose, call_start, stop_after_epochs, stop_after_seconds)
    if stopped:
        return read_json(run.manifest_path, "manifest") if run.manifest_path.exists() else {}
    return _finish(model, run, progress, arrays, verbose)


def _with_shipped_recipe(task: str, name: str, batch_size, lr, seed, overrides: dict):
    """The shipped model's recipe under the options given now (which win)."""
    recipe = shipped_recipe(task, name, MODELS_DIR)  # where the checkpoint comes from, too
    batch_size = batch_size if batch_size is not None else recipe.get("batch_size")
    lr = lr if lr is not None else recipe.get("learning_rate")
    seed = seed if seed is not None else recipe.get("seed")
    recipe = {k: v for k, v in recipe.items() if k not in ("batch_size", "learning_rate", "seed", "max_epochs")}
    return batch_size, lr, seed, {**recipe, **overrides}


def _prepare_run(config: dict, out, fresh: bool, from_shipped: bool) -> _Run:
    """Check the output folder, then clear (``fresh``) or seed (``from_shipped``) the run's files."""
    out_dir = Path(out) if out is not None else (QUICK_RUNS_DIR if config["quick"] else RUNS_DIR)
    refuse_shipped(out_dir)
    check_writable(out_dir)
    task, name = config["task"], config["name"]
    weights_path, manifest_path = zoo.model_paths(task, name, out_dir)
    run = _Run(config, reproduce_command(config, None if out is None else out_dir), out_dir, weights_path,
               manifest_path, ResumeState(resume_folder(task, name, out_dir)))
    if fresh:
        run.resume.clear()
        for path in (weights_path, manifest_path):
            path.unlink(missing_ok=True)
    if from_shipped:
        _copy_shipped_run(task, name, out_dir)
    _remove_stale_temp_files(weights_path.parent, name)
    return run


def _start_or_resume(model, run: _Run, state: dict | None, previous: dict, n_train: int, verbose: int) -> _Progress:
    """The progress to continue from: a fresh start, or the checkpoint ``state`` points at (loaded into ``model``)."""
    config = run.config
    if state is None:
        history = {key: [] for key in HISTORY_KEYS[config["task"]]}
        _log(f"Training {config['task']}/{config['name']} from scratch into {display(run.out_dir)}/: "
             f"{model.count_params():,} parameters, {n_train:,} training sequences, batch {config['batch_size']}.",
             verbose)
        return _Progress(history, {"epoch": 0, "val_loss": float("inf"), "wait": 0})
    _load_checkpoint(model, run.resume.folder / state["checkpoint"])
    runs = state.get("runs") or earlier_runs(previous, state["epochs_run"], state["train_seconds"])
    _log(f"Resuming {config['task']}/{config['name']} in {display(run.out_dir)}/ after epoch {state['epochs_run']} "
         f"(best epoch {state['best']['epoch']}, val_loss {state['best']['val_loss']:.4f}).", verbose)
    return _Progress(state["history"], state["best"], state["train_seconds"], state["epochs_run"], runs)


def _run_epochs(model, run: _Run, progress: _Progress, arrays: dict, verbose: int, call_start: float,
                stop_after_epochs: int | None, stop_after_seconds: float | None) -> bool:
    """Train epoch after epoch, committing a checkpoint after each; True when stopped before the end."""
    config = run.config
    val_dataset = data_lib.make_dataset(*arrays["validation"], batch_size=500)
    epochs_this_call = 0
    estimate = _epoch_estimate(progress.runs)
    while not progress.finished(config):
        if (stop_after_seconds is not None and estimate is not None
                and time.perf_counter() - call_start + estimate > stop_after_seconds):
            _log(f"Stopped after {epochs_this_call} epoch(s): another epoch (about {_format_seconds(estimate)}) "
                 f"would not end within the time box of {_format_seconds(stop_after_seconds)}; run the same "
                 f"command to resume.", verbose)
            return True
        estimate = _one_epoch(model, run, progress, arrays, val_dataset, verbose, first=epochs_this_call == 0)
        epochs_this_call += 1
        if stop_after_epochs is not None and epochs_this_call >= stop_after_epochs and not progress.finished(config):
            _log(f"Stopped after {epochs_this_call} epoch(s) as asked; run the same command to resume.", verbose)
            return True
    return False


def _one_epoch(model, run: _Run, progress: _Progress, arrays: dict, val_dataset, verbose: int, first: bool) -> float:
    """Train one epoch, update the progress, commit the checkpoint and the shipped-so-far files; its seconds."""
    config, task, epoch = run.config, run.config["task"], progress.epochs_run
    _set_dropout_seed(model, config["seed"], epoch)
    dataset = data_lib.make_dataset(*arrays["train"], config["batch_size"], shuffle=True,
                                    seed=config["seed"] * 100_003 + epoch)
    tick = time.perf_counter()
    result = model.fit(dataset, validation_data=val_dataset, epochs=epoch + 1, initial_epoch=epoch, shuffle=False,
                       verbose=1 if verbose >= 2 else 0)
    seconds = time.perf_counter() - tick
    for key in progress.history:
        progress.history[key].append(float(result.history[key][-1]))
    progress.train_seconds += seconds
    progress.epochs_run = epoch + 1
    progress.runs = _record_run(progress.runs, progress.epochs_run, seconds, new_run=first)
    loss, val_loss = progress.history["loss"][-1], progress.history["val_loss"][-1]
    if not (np.isfinite(loss) and np.isfinite(val_loss)):
        raise FloatingPointError(
            f"{task}/{config['name']}: the loss became {loss} (validation {val_loss}) at epoch {progress.epochs_run}. "
            f"Lower the learning rate (--lr) and run with --fresh.")
    improved = val_loss < progress.best["val_loss"]
    if improved:
        progress.best = {"epoch": progress.epochs_run, "val_loss": val_loss, "wait": 0,
                         "slice_metrics": _slice_metrics(model, arrays, task)}
    else:
        progress.best = dict(progress.best, wait=progress.best["wait"] + 1)
    state = {"config": config, "command": run.command, "epochs_run": progress.epochs_run, "history": progress.history,
             "best": progress.best, "train_seconds": progress.train_seconds, "finished": progress.finished(config),
             "runs": progress.runs}
    run.resume.commit(model, state, improved)
    with atomic_path(run.weights_path) as tmp:  # the run's files always hold the best weights so far
        shutil.copyfile(run.resume.best_weights(), tmp)
    _write_manifest(run.manifest_path, config, run.command, progress.history, progress.best, progress.train_seconds,
                    status="in_progress", metrics={"val_loss": progress.best["val_loss"],
                                                   **progress.best["slice_metrics"]}, runs=progress.runs)
    _log(_epoch_line(config, progress, seconds, improved), verbose)
    return seconds


def _epoch_line(config: dict, progress: _Progress, seconds: float, improved: bool) -> str:
    history, done = progress.history, progress.epochs_run
    line = (f"{config['task']}/{config['name']} epoch {done}/{config['max_epochs']}: loss {history['loss'][-1]:.4f}, "
            f"val_loss {history['val_loss'][-1]:.4f}")
    if config["task"] == "classify":
        line += f", val_accuracy {history['val_accuracy'][-1]:.2%}"
    left = progress.train_seconds / done * (config["max_epochs"] - done)
    return line + f" ({_format_seconds(seconds)}; at most {_format_seconds(left)} left)" + (" *best" if improved else "")


def _finish(model, run: _Run, progress: _Progress, arrays: dict, verbose: int) -> dict:
    """Restore the best weights, measure everything and write the final manifest."""
    task = run.config["task"]
    model.load_weights(run.resume.best_weights())
    metrics = _final_metrics(model, arrays, task)
    if task == "pixel":
        metrics.update(_pixel_notes(metrics))
    with atomic_path(run.weights_path) as tmp:
        model.save_weights(tmp)
    manifest = _write_manifest(run.manifest_path, run.config, run.command, progress.history, progress.best,
                               progress.train_seconds, status="complete", metrics=metrics, runs=progress.runs)
    _log(f"{task}/{run.config['name']} done: best epoch {progress.best['epoch']} of {progress.epochs_run}; "
         + ", ".join(f"{k} {v:.2%}" if k.endswith("accuracy") else f"{k} {v:.4f}"
                     for k, v in metrics.items() if k.startswith("test_") and "slice" not in k)
         + f". Written to {display(run.weights_path.parent)}/: {run.weights_path.name} and {run.manifest_path.name}.",
         verbose)
    return manifest


def _restart_advice(folder: Path) -> str:
    """How to get past a damaged checkpoint folder (never a command that touches the shipped models)."""
    from helpers.core.workspace import is_shipped

    if is_shipped(folder):
        return restore_advice(folder)
    return f"delete {display(folder)} (or pass --fresh) to start the run over"


def holds_run(task: str, name: str, out: str | Path) -> bool:
    """Whether ``out`` already holds a run of ``task/name`` (its manifest or its resume state)."""
    manifest = zoo.model_paths(task, name, Path(out))[1]
    return manifest.exists() or (resume_folder(task, name, Path(out)) / RESUME_STATE).exists()


def _copy_shipped_run(task: str, name: str, out_dir: Path) -> None:
    """Seed a run folder with the shipped model's files and last checkpoint (``--from-shipped``)."""
    weights_path, manifest_path = zoo.model_paths(task, name, out_dir)
    run_resume = resume_folder(task, name, out_dir)
    shipped_weights, shipped_manifest = zoo.model_paths(task, name, MODELS_DIR)
    shipped_resume = resume_folder(task, name, MODELS_DIR)
    if not (shipped_manifest.exists() and (shipped_resume / RESUME_STATE).exists()):
        raise WorkspaceError(f"--from-shipped: no shipped checkpoint of {task}/{name} in "
                             f"{display(shipped_resume)}; " + (restore_advice(shipped_resume) if ships(shipped_resume) else
                                                   f"{task}/{name} is not a shipped model") + ".")
    if holds_run(task, name, out_dir):
        raise WorkspaceError(
            f"--from-shipped: {display(manifest_path.parent)} already holds a run of {name}. Continue it with the "
            f"same command without --from-shipped, or add --fresh to replace it with the shipped model's.")
    read_json(shipped_manifest, "manifest")  # a clean error for a damaged shipped file
    read_json(shipped_resume / RESUME_STATE, "resume state")
    tmp = run_resume.parent / f".tmp-{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(shipped_resume, tmp)
    tmp.rename(run_resume)
    for source, target in ((shipped_weights, weights_path), (shipped_manifest, manifest_path)):
        with atomic_path(target) as part:
            shutil.copyfile(source, part)


def _remove_stale_temp_files(folder: Path, stem: str) -> None:
    """Delete the ``.{stem}-*`` temporary files that :func:`atomic_path` leaves behind when a run is killed."""
    for stale in folder.glob(f".{stem}-*"):
        if stale.is_file():
            stale.unlink(missing_ok=True)


def _check_same_run(saved: dict, requested: dict, folder: Path, saved_command: str | None = None,
                    complete: bool = False) -> None:
    differences = {k: (saved.get(k), requested.get(k)) for k in set(saved) | set(requested)
                   if k not in RESUMABLE_CHANGES and saved.get(k) != requested.get(k)}
    if differences:
        listing = ", ".join(f"{k}: checkpoint {a!r} vs now {b!r}" for k, (a, b) in sorted(differences.items()))
        if complete:
            raise ValueError(
                f"{requested['task']}/{requested['name']} is already trained, with another recipe ({listing}). "
                f"Add --fresh to train it again with the options given now"
                f"{f'; {saved_command} is the command that made it' if saved_command else ''}.")
        raise ValueError(
            f"A checkpoint of a different run exists in {folder} ({listing}). Re-run with the same options "
            f"to resume it{f' ({saved_command})' if saved_command else ''}, or add --fresh to discard it and "
            f"start over.")


def _same_machine(run: dict, other: dict) -> bool:
    return all(run.get(key) == other.get(key) for key in ("backend", "cpu_count", "gpus"))


def _epoch_estimate(runs: list[dict]) -> float | None:
    """Seconds per epoch of the last run, if it ran on the same kind of machine as this one (else unknown)."""
    if not runs:
        return None
    last = runs[-1]
    here = run_entry(0, 0, 0.0, hardware_description(), keras_backend())
    epochs = last["epochs"][1] - last["epochs"][0] + 1
    return last["seconds"] / epochs if _same_machine(last, here) and epochs > 0 else None


def _record_run(runs: list[dict], epochs_run: int, seconds: float, new_run: bool) -> list[dict]:
    """``runs`` with the epoch just finished added: to a new entry for the first epoch of a call, else to the last.

    Consecutive calls on the same kind of machine and backend are merged into one entry.
    """
    runs = [dict(run) for run in runs]
    here = run_entry(epochs_run, epochs_run, seconds, hardware_description(), keras_backend())
    last = runs[-1] if runs else None
    same_machine = last is not None and _same_machine(last, here)
    if last is not None and (same_machine or not new_run) and last["epochs"][1] == epochs_run - 1:
        last["epochs"] = [last["epochs"][0], epochs_run]
        last["seconds"] = round(last["seconds"] + float(seconds), 1)
    else:
        runs.append(here)
    return runs


def _write_manifest(path: Path, config: dict, command: str, history: dict, best: dict, train_seconds: float,
                    status: str, metrics: dict, runs: list[dict] | None = None) -> dict:
    manifest = {
        "task": config["task"],
        "name": config["name"],
        "status": status,
        "config": config,
        "command": command,
        "epochs_run": len(history["loss"]),
        "best_epoch": best["epoch"],
        "history": history,
        "metrics": metrics,
        "train_seconds": round(train_seconds, 1),
        "hardware": hardware_description(),
        "runs": runs or [],
        "versions": software_versions(),
        "created": utc_now(),
    }
    if config.get("quick"):
        manifest["notes"] = "quick smoke run on a small subset: not a real model, never ship it."
    elif status == "complete":
        manifest["notes"] = completion_note(manifest)
    check_manifest(manifest)
    write_json_atomic(path, manifest)
    return manifest
