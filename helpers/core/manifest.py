"""Manifests, the record of a trained model: their schema, the runs a model trained in, the notes written from
them, and ``python -m helpers.manifest`` (refresh the notes; the README's results table)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from helpers.core import reference
from helpers.core.files import write_json_atomic
from helpers.core.paths import MODELS_DIR
from helpers.core.workspace import display, restore_advice, ships

#: Keys every manifest has (see :func:`check_manifest`).
MANIFEST_KEYS = (
    "task", "name", "status", "config", "command", "epochs_run", "best_epoch", "history", "metrics",
    "train_seconds", "hardware", "versions", "created",
)
HISTORY_KEYS = {"classify": ("loss", "val_loss", "accuracy", "val_accuracy"), "pixel": ("loss", "val_loss")}
METRIC_KEYS = {
    "classify": ("train_loss", "val_loss", "test_loss", "train_accuracy", "val_accuracy", "test_accuracy"),
    "pixel": ("train_loss", "val_loss", "test_loss"),
}


def run_entry(first_epoch: int, last_epoch: int, seconds: float, hardware: dict, backend: str) -> dict:
    """One entry of a manifest's ``runs``: a span of epochs trained on one machine with one Keras backend."""
    return {"epochs": [int(first_epoch), int(last_epoch)], "seconds": round(float(seconds), 1), "backend": backend,
            "cpu_count": hardware.get("cpu_count"), "gpus": list(hardware.get("gpus") or [])}


def earlier_runs(previous_manifest: dict, epochs_run: int, train_seconds: float) -> list[dict]:
    """The ``runs`` of a model trained before runs were recorded: one run on its manifest's hardware."""
    if not epochs_run:
        return []
    backend = previous_manifest.get("versions", {}).get("keras_backend", "tensorflow")
    return [run_entry(1, epochs_run, train_seconds, previous_manifest.get("hardware", {}), backend)]


def describe_runs(manifest: dict) -> str:
    """Where a model trained, e.g. ``"2 CPU"`` or ``"2 CPU (epochs 1-45), then 16 CPU + NVIDIA H200 (46-60)"``."""
    def machine(entry: dict) -> str:
        gpus = entry.get("gpus")
        return f"{entry.get('cpu_count')} CPU" + (f" + {', '.join(gpus)}" if gpus else "")

    runs = manifest.get("runs") or earlier_runs(manifest, manifest.get("epochs_run", 0), manifest.get("train_seconds", 0))
    if not runs:
        return machine(manifest.get("hardware", {}))
    names = [machine(run) for run in runs]
    if len(set(names)) == 1:
        return names[0]
    parts = []
    for i, (run, name) in enumerate(zip(runs, names)):
        first, last = run["epochs"]
        span = f"{first}-{last}" if first != last else f"{first}"
        parts.append(f"{name} ({'epochs ' if i == 0 else ''}{span})")
    return ", then ".join(parts)


def check_manifest(manifest: dict) -> None:
    """Raise ValueError listing what a manifest lacks (keys, history series, metrics)."""
    problems = [f"missing key {key!r}" for key in MANIFEST_KEYS if key not in manifest]
    task = manifest.get("task")
    if task not in HISTORY_KEYS:
        problems.append(f"task is {task!r}, expected 'classify' or 'pixel'")
    else:
        history = manifest.get("history", {})
        lengths = set()
        for key in HISTORY_KEYS[task]:
            if key not in history:
                problems.append(f"history lacks {key!r}")
            else:
                lengths.add(len(history[key]))
        if len(lengths) > 1:
            problems.append(f"history series differ in length: {sorted(lengths)}")
        if lengths and manifest.get("epochs_run") not in lengths:
            problems.append("epochs_run does not match the history length")
        if manifest.get("status") == "complete":
            metrics = manifest.get("metrics", {})
            problems += [f"metrics lack {key!r}" for key in METRIC_KEYS[task] if key not in metrics]
    if problems:
        raise ValueError("Invalid manifest: " + "; ".join(problems) + ".")


def still_improving(manifest: dict) -> bool:
    """True when the best validation loss came in one of the last two epochs run."""
    return manifest["best_epoch"] >= manifest["epochs_run"] - 1


def completion_note(manifest: dict) -> str:
    """The ``notes`` of a finished model: its test result beside the reference's, and the budget it took.

    Pixel models also state nats per image and bits per pixel; a model whose best epoch is at or next to the
    end of its epoch budget is said to be still improving. Models that are not in the reference report
    (custom sizes) get the sentences after the comparison alone.
    """
    hours = manifest["train_seconds"] / 3600
    epochs, best = manifest["epochs_run"], manifest["best_epoch"]
    budget = f"Best validation loss at epoch {best} of {epochs} run, {hours:.2f} h of training."
    max_epochs = manifest.get("config", {}).get("max_epochs")
    if max_epochs is not None and epochs >= max_epochs and still_improving(manifest):
        budget += (f" It was still improving when its {epochs}-epoch budget ran out, so more epochs would likely "
                   "improve it.")
    metrics = manifest.get("metrics", {})
    if "test_nats_per_image" in metrics and "test_bits_per_pixel" in metrics:
        budget = (f"Per test image: {metrics['test_nats_per_image']:.1f} nats; "
                  f"{metrics['test_bits_per_pixel']:.4f} bits per pixel. {budget}")
    try:
        return f"{reference.compare(manifest['task'], manifest['name'], metrics)} {budget}"
    except ValueError:
        return budget



def _repair_advice(path: str | os.PathLike) -> str:
    """``git checkout`` for the shipped manifests, else what to do about a manifest of one's own."""
    if Path(path).resolve() == MODELS_DIR.resolve():
        return f"restore them with `git checkout -- {display(path)}`"
    return restore_advice(path) if ships(path) else "fix or delete the damaged manifest"


def results_table(models_dir: str | os.PathLike) -> str:
    """A Markdown table of the finished models under ``models_dir`` against the report, and the paragraph
    that reads it (the README's results block; every verdict from :func:`reference.judge`).

    Empty (``""``) when no model has finished.
    """
    lines = ["| task | model | ours (test) | report | Δ ± 2 SE | verdict | epochs (best) | trained on |",
             "|---|---|---|---|---|---|---|---|"]
    judgements, shown = [], []
    for task, table in (("classify", reference.CLASSIFY), ("pixel", reference.PIXEL)):
        for name in table:
            path = Path(models_dir) / task / f"{name}.json"
            manifest = json.loads(path.read_text()) if path.exists() else {}
            if manifest.get("status") != "complete":
                continue
            j = reference.judge_metrics(task, name, manifest["metrics"])
            judgements.append(j)
            shown.append(manifest)
            ours, ref = (f"{j.ours:.2%}", f"{j.ref:.2%}") if task == "classify" else (f"{j.ours:.4f}", f"{j.ref:.4f}")
            epochs = f"{manifest['epochs_run']} ({manifest['best_epoch']})"
            cells = [ours, ref, j.delta_text(), j.verdict, epochs, describe_runs(manifest)]
            lines.append(f"| {task} | {name} | " + " | ".join(cells) + " |")
    if not judgements:
        return ""
    return "\n".join(lines) + "\n\n" + reference.results_prose(shown, judgements)


def refresh_notes(models_dir: str | os.PathLike) -> list[Path]:
    """Rewrite the ``notes`` of every finished, real manifest under ``models_dir`` with :func:`completion_note`.

    For when the wording of the notes improves after models were shipped: nothing but ``notes`` changes (except
    that a pixel model without ``metrics.test_se``, its per-image test error, gets it measured once from its
    weights: its verdict needs it), and each file is rewritten atomically. Manifests still in progress, quick
    smoke runs and files whose notes are already current are left alone. Returns the paths rewritten.
    """
    rewritten = []
    for path in sorted(Path(models_dir).glob("*/*.json")):
        try:
            manifest = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON ({error.msg}, line {error.lineno}); "
                             f"{_repair_advice(path)}") from None
        if not isinstance(manifest, dict) or manifest.get("status") != "complete":
            continue
        if manifest.get("config", {}).get("quick"):
            continue
        metrics = manifest.get("metrics", {})
        weights = path.with_suffix(".weights.h5")
        if manifest.get("task") == "pixel" and "test_se" not in metrics and weights.exists():
            # The pixel verdicts need the per-image error, which training did not record before: measure it once.
            from helpers.core.spread import pixel_test_se

            manifest["metrics"] = {**metrics, "test_se": pixel_test_se(models_dir, manifest["name"])}
        note = completion_note(manifest)
        if manifest.get("notes") != note or manifest.get("metrics") is not metrics:
            write_json_atomic(path, {**manifest, "notes": note})
            rewritten.append(path)
    return rewritten


def main(argv=None) -> int:
    """``python -m helpers.manifest --refresh-notes MODELS_DIR`` or ``--table MODELS_DIR``."""
    import argparse

    parser = argparse.ArgumentParser(description="Rewrite the notes of the finished manifests in a models folder, "
                                                 "or print their results against the report.")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--refresh-notes", metavar="MODELS_DIR",
                        help="folder holding classify/ and pixel/ (e.g. data/models)")
    action.add_argument("--table", metavar="MODELS_DIR",
                        help="print the README's results table for the models in this folder (e.g. data/models)")
    args = parser.parse_args(argv)
    flag, folder = ("--table", args.table) if args.table else ("--refresh-notes", args.refresh_notes)
    if not sorted(Path(folder).glob("*/*.json")):
        parser.error(f"{flag}: no manifests (TASK/NAME.json) under {folder}; "
                     "pass the folder that holds classify/ and pixel/, e.g. data/models.")
    if args.table:
        try:
            table = results_table(folder)
        except (ValueError, KeyError) as error:
            parser.error(f"--table: a manifest under {folder} is damaged ({error}); restore it with "
                         f"{_repair_advice(folder)}")
        if not table:
            parser.error(f"--table: no finished zoo model under {folder}; train one (python -m helpers.train) "
                         "or pass data/models.")
        print(table)
        return 0
    try:
        changed = refresh_notes(args.refresh_notes)
    except ValueError as error:
        parser.error(f"--refresh-notes: {error}")
    for path in changed:
        print(f"rewrote the notes of {path}")
    if not changed:
        print(f"the notes under {args.refresh_notes} are already current")
    return 0
