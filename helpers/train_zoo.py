"""Train (or resume) the whole zoo, one model after another, and report where it stands.

    python -m helpers.train_zoo --status                 # a table: status, epochs, best validation loss
    python -m helpers.train_zoo                          # train every unfinished model, smallest first
    python -m helpers.train_zoo --task pixel --only gru_1x128 --epochs 40
    python -m helpers.train_zoo --max-minutes-now 50      # a time box: stop resumably before it runs out

Each model is trained by :func:`helpers.training.train` exactly as ``python -m helpers.train`` would, so the
queue is resumable at any point: run the same command again after an interruption.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from helpers import models as zoo  # noqa: E402
from helpers.paths import MODELS_DIR  # noqa: E402

#: Training order: cheapest first, so finished models land early.
ORDER = ("gru_1x32", "lstm_1x32", "gru_3x32", "lstm_3x32", "gru_1x64", "lstm_1x64", "gru_1x128", "lstm_1x128")


def zoo_status(models_dir=None) -> list[dict]:
    """One row per (task, model) of the course's zoo: status, epochs run, best epoch, best validation loss."""
    rows = []
    for task in zoo.TASKS:
        for name in zoo.TASK_MODELS[task]:
            weights, manifest_path = zoo.model_paths(task, name, models_dir or MODELS_DIR)
            row = {"task": task, "model": name, "status": "not started", "epochs": 0, "best_epoch": None,
                   "val_loss": None, "hours": 0.0}
            resume_state = weights.parent / "resume" / name / "state.json"
            if manifest_path.exists():
                manifest = json.loads(manifest_path.read_text())
                row.update(status=manifest["status"], epochs=manifest["epochs_run"], best_epoch=manifest["best_epoch"],
                           val_loss=min(manifest["history"]["val_loss"]), hours=manifest["train_seconds"] / 3600,
                           max_epochs=manifest["config"]["max_epochs"])
                if manifest["task"] == "classify":
                    row["val_accuracy"] = manifest["history"]["val_accuracy"][manifest["best_epoch"] - 1]
            elif resume_state.exists():
                row["status"] = "checkpoint only"
            rows.append(row)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.train_zoo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--status", action="store_true", help="print where every model stands and exit")
    parser.add_argument("--task", choices=zoo.TASKS, action="append", help="only this task (repeatable)")
    parser.add_argument("--only", nargs="+", help="only these model names")
    parser.add_argument("--epochs", type=int, help="maximum epochs per model (default: each config's)")
    parser.add_argument("--out", help="models folder (default data/models)")
    parser.add_argument("--max-minutes-now", type=float, dest="minutes",
                        help="time box for the whole queue: stop (resumably) before an epoch that would not end "
                             "within it; the queue ends at the first model left unfinished")
    args = parser.parse_args(argv)
    if args.minutes is not None and not args.minutes > 0:
        parser.error(f"--max-minutes-now must be a positive number of minutes, got {args.minutes}")
    if args.status:
        from helpers.plots import format_table

        print(format_table(zoo_status(args.out), ["task", "model", "status", "epochs", "best_epoch", "val_loss",
                                                  "val_accuracy", "hours"],
                           formats={"val_accuracy": "{:.2%}", "hours": "{:.2f}"}))
        return 0
    from helpers.paths import import_tensorflow_quietly
    from helpers.training import train

    import_tensorflow_quietly()
    start = time.perf_counter()
    tasks = args.task or list(zoo.TASKS)
    for name in args.only or []:
        zoo.parse_name(name)
    for task in tasks:
        for name in ORDER:
            if name not in zoo.TASK_MODELS[task] or (args.only and name not in args.only):
                continue
            box = None
            if args.minutes is not None:
                box = 60 * args.minutes - (time.perf_counter() - start)
                if box <= 0:
                    print("The time box is spent; run the same command to go on.")
                    return 0
            try:
                manifest = train(task, name, epochs=args.epochs, out=args.out, stop_after_seconds=box)
            except (ValueError, FloatingPointError) as err:
                print(f"error: {task}/{name}: {err}", file=sys.stderr)
                return 2
            if box is not None and manifest.get("status") != "complete":
                return 0  # stopped by the time box: the next model would not fit either
    return 0


if __name__ == "__main__":
    sys.exit(main())
