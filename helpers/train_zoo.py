"""Train the zoo's unfinished models one after another (into ``runs/``), and report where the zoo stands.

    python -m helpers.train_zoo --status                 # shipped models (files checked) and runs in runs/
    python -m helpers.train_zoo                          # train every model that is neither shipped nor finished
    python -m helpers.train_zoo --task pixel --only gru_1x128 --include-shipped --epochs 40
    python -m helpers.train_zoo --ray HEAD:6379 --out /shared/runs   # every model at once, on a Ray cluster

Each model is trained by :func:`helpers.core.training.train` as ``python -m helpers.train`` would, so the queue is
resumable: run the same command again after an interruption. Shipped models are never touched; trained again
(``--include-shipped``), each follows its manifest's recipe and epoch budget, so the run reproduces it. With ``--ray``
each model is one Ray task (:mod:`helpers.cluster`); without it Ray is not imported.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from helpers import cluster
from helpers.core import zoo
from helpers.core.paths import MODELS_DIR
from helpers.core.workspace import (
    QUICK_RUNS_DIR,
    RUNS_DIR,
    WorkspaceError,
    check_weights_file,
    read_json,
    resume_state,
)

#: Training order: cheapest first, so finished models land early.
ORDER = ("gru_1x32", "lstm_1x32", "gru_3x32", "lstm_3x32", "gru_1x64", "lstm_1x64", "gru_1x128", "lstm_1x128")


def model_state(task: str, name: str, folder: str | Path) -> dict:
    """Status of one model in a models folder, its files checked: complete, in_progress, damaged, ..."""
    weights, manifest_path = zoo.model_paths(task, name, folder)
    state_file = resume_state(task, name, folder)
    row = {"status": "not started", "epochs": 0, "best_epoch": None, "val_loss": None, "hours": 0.0}
    if not manifest_path.exists():
        if state_file.exists():
            row["status"] = "checkpoint only"
        elif weights.exists():
            row["status"] = "damaged: manifest missing"
        return row
    try:
        manifest = read_json(manifest_path, "manifest")
        zoo_check = manifest["history"]["val_loss"], manifest["epochs_run"], manifest["best_epoch"]
        check_weights_file(weights)
    except (WorkspaceError, KeyError, TypeError) as err:
        reason = str(err) if isinstance(err, WorkspaceError) else f"manifest {manifest_path} lacks {err}"
        return dict(row, status="damaged", problem=reason)
    val_losses, epochs, best = zoo_check
    row.update(status=manifest.get("status", "?"), epochs=epochs, best_epoch=best,
               val_loss=min(val_losses) if val_losses else None, hours=manifest.get("train_seconds", 0) / 3600,
               max_epochs=manifest.get("config", {}).get("max_epochs"))
    if task == "classify" and best:
        row["val_accuracy"] = manifest["history"]["val_accuracy"][best - 1]
    if manifest.get("config", {}).get("quick"):
        row["status"] += " (quick)"
    return row


def zoo_status(models_dir=None, runs_dir=None) -> list[dict]:
    """One row per (task, model) of the course's zoo: the shipped model's state, and its run in ``runs_dir``."""
    rows = []
    for task in zoo.TASKS:
        for name in zoo.TASK_MODELS[task]:
            row = {"task": task, "model": name, **model_state(task, name, models_dir or MODELS_DIR)}
            if runs_dir is not None:
                run = model_state(task, name, runs_dir)
                row["run"] = "-" if run["status"] == "not started" else f"{run['status']} {run['epochs']} ep"
            rows.append(row)
    return rows


def _print_status(models_dir, runs_dir) -> None:
    from helpers.analysis.plots import format_table

    rows = zoo_status(models_dir, runs_dir)
    print(format_table(rows, ["task", "model", "status", "epochs", "best_epoch", "val_loss", "val_accuracy", "hours",
                              "run"],
                       headers=["task", "model", "shipped", "epochs", "best_epoch", "val_loss", "val_accuracy",
                                "hours", "in runs/"],
                       formats={"val_accuracy": "{:.2%}", "hours": "{:.2f}"}))
    for row in rows:
        if "problem" in row:
            print(f"{row['task']}/{row['model']}: {row['problem']}")


def queue(tasks, only, include_shipped: bool, models_dir, runs_dir, quick: bool = False) -> list[tuple[str, str]]:
    """The (task, name) pairs to train, cheapest first: not finished in ``runs_dir`` and (unless asked) not shipped.

    A ``quick`` queue trains smoke runs, whatever is shipped; a quick run counts as finished only for it.
    """
    finished = "complete (quick)" if quick else "complete"
    chosen = []
    for task in tasks:
        for name in ORDER:
            if name not in zoo.TASK_MODELS[task] or (only and name not in only):
                continue
            if not (include_shipped or quick) and model_state(task, name, models_dir)["status"] == "complete":
                continue
            if model_state(task, name, runs_dir)["status"] == finished:
                continue
            chosen.append((task, name))
    return chosen


def train_options(task: str, name: str, models_dir, epochs: int | None, quick: bool = False) -> dict:
    """``training.train`` keywords of one queued model: a shipped one keeps its manifest's recipe and budget."""
    from helpers.core.training import shipped_recipe

    recipe = shipped_recipe(task, name, models_dir)
    budget = recipe.pop("max_epochs", None)
    options = {"epochs": epochs if epochs is not None or quick else budget}
    for key, keyword in (("batch_size", "batch_size"), ("learning_rate", "lr"), ("seed", "seed")):
        if key in recipe:
            options[keyword] = recipe.pop(key)
    return {**options, **recipe}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m helpers.train_zoo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--status", action="store_true", help="print where every model stands and exit")
    parser.add_argument("--task", choices=zoo.TASKS, action="append", help="only this task (repeatable)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only these zoo models")
    parser.add_argument("--epochs", type=int, help="maximum epochs per model (default: each config's)")
    parser.add_argument("--out", help="runs folder (default runs/, runs/quick/ with --quick); never data/models")
    parser.add_argument("--quick", action="store_true",
                        help="tiny subsets, 2 epochs per model: a smoke test of the queue (never shipped)")
    parser.add_argument("--models-dir", default=str(MODELS_DIR), help=argparse.SUPPRESS)
    parser.add_argument("--include-shipped", action="store_true",
                        help="also train models that are shipped (from scratch at their manifests' recipes, into "
                             "--out; data/models is untouched)")
    parser.add_argument("--max-minutes-now", type=float, dest="minutes",
                        help="time box for the whole queue: stop (resumably) before an epoch that would not end "
                             "within it; the queue ends at the first model left unfinished (with --ray: every run "
                             "stops within it)")
    cluster.add_arguments(parser)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.minutes is not None and not args.minutes > 0:
        parser.error(f"--max-minutes-now must be a positive number of minutes, got {args.minutes}")
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be a positive integer, got {args.epochs}")
    tasks = args.task or list(zoo.TASKS)
    allowed = sorted({name for task in tasks for name in zoo.TASK_MODELS[task]})
    unknown = [name for name in args.only or [] if name not in allowed]
    if unknown:
        parser.error(f"--only {' '.join(unknown)}: not a zoo model of {'/'.join(tasks)}; choose from {', '.join(allowed)}")
    out = args.out if args.out is not None else str(QUICK_RUNS_DIR if args.quick else RUNS_DIR)
    if args.status:
        _print_status(args.models_dir, out)
        return 0
    from helpers.core.workspace import check_writable, display, refuse_shipped

    try:
        refuse_shipped(out)
        check_writable(out)
        todo = queue(tasks, args.only, args.include_shipped, args.models_dir, out, quick=args.quick)
    except WorkspaceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not todo:
        print(f"Nothing to train: every selected model is shipped and finished, or finished in {display(out)}. "
              f"--include-shipped trains shipped models again (into {display(out)}).")
        return 0
    if args.ray is not None:
        return _train_on_ray(args, todo, out)
    return _train_here(args, todo, out)


def _train_on_ray(args, todo: list[tuple[str, str]], out: str) -> int:
    """Every model of the queue as one Ray task, the most expensive first (they bound the total time)."""
    out = Path(out).resolve()
    jobs = []
    for task, name in reversed(todo):
        options = {"task": task, "name": name, **train_options(task, name, args.models_dir, args.epochs, args.quick),
                   "quick": args.quick, "out": out}
        jobs.append(cluster.Job(f"{task}/{name}", options, zoo.model_paths(task, name, out)[1].with_suffix(".log")))
    return cluster.dispatch(args, jobs, out)


def _train_here(args, todo: list[tuple[str, str]], out: str) -> int:
    """The queue, one model after another in this process."""
    from helpers.core import training
    from helpers.core.data import MnistFileError, load_mnist
    from helpers.core.quiet import import_backend_quietly

    try:
        splits = load_mnist()
    except MnistFileError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    import_backend_quietly()
    start = time.perf_counter()
    for task, name in todo:
        box = None
        if args.minutes is not None:
            box = 60 * args.minutes - (time.perf_counter() - start)
            if box <= 0:
                print("The time box is spent; run the same command to go on.")
                return 0
        try:
            manifest = training.train(task, name, **train_options(task, name, args.models_dir, args.epochs, args.quick),
                                      out=out, splits=splits, stop_after_seconds=box, quick=args.quick)
        except (ValueError, FloatingPointError, MnistFileError) as err:
            print(f"error: {task}/{name}: {err}", file=sys.stderr)
            return 2
        if box is not None and manifest.get("status") != "complete":
            return 0  # stopped by the time box: the next model would not fit either
    return 0


if __name__ == "__main__":
    from helpers.core import cli

    sys.exit(cli.guard(main, interrupted="Each model keeps its last completed epoch: run the same command again to go on."))
