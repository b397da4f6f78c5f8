"""Controlled experiments (the 1x32 classifiers, seeds of gru_3x32 and of pixel gru_1x32) and full-budget runs.

    python -m helpers.experiments --status          # which runs are done
    python -m helpers.experiments                   # run (or resume) every unfinished run, in order
    python -m helpers.experiments --only gru_1x32-seed1 lstm_1x32-report
    python -m helpers.experiments --ray HEAD:6379 --out /shared/runs/experiments   # all at once, on a Ray cluster

One protocol: every run trains for the same ``EPOCHS`` with the engine, into ``runs/experiments/RUN/``
(resumable), and is judged at its best validation epoch; the "full budget" runs train the report's rates for
its whole budget instead (issue #28), one of them a pixel model. A finished run's summary (recipe, command,
history, metrics) is written once to ``data/experiments/RUN.json``; an existing summary is never overwritten.
With ``--ray`` each run is one Ray task (:mod:`helpers.cluster`) and this command writes the summaries as runs
finish.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from helpers.core.paths import DATA_DIR
from helpers.core.workspace import RUNS_DIR, WorkspaceError, display, read_json

#: Where the summaries are kept (tracked: notebook 02 reads them).
EXPERIMENTS_DIR = DATA_DIR / "experiments"
#: Where the runs train (git-ignored).
RUNS_SUBDIR = RUNS_DIR / "experiments"
#: Where runs that span sessions keep their committed checkpoints (``--out data/in_progress``).
IN_PROGRESS_DIR = DATA_DIR / "in_progress"
#: The common epoch budget of the controlled runs (the LSTM classifiers' shipped budget).
EPOCHS = 30
#: Patience of the full-budget runs: long enough for a decaying learning rate to pay off.
FULL_PATIENCE = 20


def _report_rates(name: str, epochs: int, task: str = "classify") -> dict:
    """The report's rate, decay and dropout for ``epochs`` (its budget), with the project's chrono init and clipping."""
    from helpers.core import zoo

    ref = zoo.default_config(task, name)["reference_recipe"]
    return {"task": task, "learning_rate": ref["learning_rate"], "decay_rate": ref["decay_rate"],
            "decay_every": ref["decay_every"], "dropout": ref["dropout"], "max_epochs": epochs,
            "patience": FULL_PATIENCE}


def _report_recipe(name: str) -> dict:
    """The report's own recipe for a classifier: its rate, decay and dropout, Keras' gate init, no clipping."""
    from helpers.core import zoo

    ref = zoo.default_config("classify", name)["reference_recipe"]
    return {"learning_rate": ref["learning_rate"], "decay_rate": ref["decay_rate"],
            "decay_every": ref["decay_every"], "dropout": ref["dropout"], "gate_bias_init": "default",
            "clipnorm": None}


#: run id -> (experiment, model, recipe changes from the model's default config, what it tests).
RUNS = {
    "lstm_1x32-seed0": ("seeds", "lstm_1x32", {"seed": 0}, "project recipe"),
    "gru_1x32-seed0": ("seeds", "gru_1x32", {"seed": 0}, "project recipe"),
    "lstm_1x32-keras-init": ("gate init", "lstm_1x32", {"gate_bias_init": "default"},
                             "project recipe with Keras' gate biases instead of chrono"),
    "lstm_1x32-report": ("report recipe", "lstm_1x32", _report_recipe("lstm_1x32"), "the report's recipe"),
    "gru_1x32-report": ("report recipe", "gru_1x32", _report_recipe("gru_1x32"), "the report's recipe"),
    "lstm_1x32-seed1": ("seeds", "lstm_1x32", {"seed": 1}, "project recipe"),
    "gru_1x32-seed1": ("seeds", "gru_1x32", {"seed": 1}, "project recipe"),
    "lstm_1x32-seed2": ("seeds", "lstm_1x32", {"seed": 2}, "project recipe"),
    "gru_1x32-seed2": ("seeds", "gru_1x32", {"seed": 2}, "project recipe"),
    "gru_3x32-seed0": ("seeds", "gru_3x32", {"seed": 0}, "project recipe"),
    "gru_3x32-seed1": ("seeds", "gru_3x32", {"seed": 1}, "project recipe"),
    "gru_3x32-seed2": ("seeds", "gru_3x32", {"seed": 2}, "project recipe"),
    "gru_3x32-report-full": ("full budget", "gru_3x32", _report_rates("gru_3x32", 80),
                             "the report's rates, 80 epochs, chrono, clipping"),
    "gru_1x32-report-full": ("full budget", "gru_1x32", _report_rates("gru_1x32", 100),
                             "the report's rates, 100 epochs, chrono, clipping"),
    "gru_1x128-report-full": ("full budget", "gru_1x128", _report_rates("gru_1x128", 100),
                              "the report's rates, 100 epochs, chrono, clipping"),
    "gru_3x32-longer": ("full budget", "gru_3x32", {**_report_rates("gru_3x32", 120), "continues": "gru_3x32-report-full"},
                        "the report's rates continued to 120 epochs"),
    "gru_1x32-longer": ("full budget", "gru_1x32", {**_report_rates("gru_1x32", 150), "continues": "gru_1x32-report-full"},
                        "the report's rates continued to 150 epochs"),
    "gru_1x128-project": ("project recipe", "gru_1x128", {"max_epochs": 60},
                          "the project recipe, 60 epochs, patience 8 (shipped before)"),
    "gru_1x128-longer": ("full budget", "gru_1x128", {"max_epochs": 100, "patience": FULL_PATIENCE,
                                                      "continues": "gru_1x128-project"},
                         "the project recipe continued to 100 epochs, patience 20"),
    "pixel-gru_1x32-seed0": ("seeds", "gru_1x32", {"task": "pixel", "seed": 0}, "project recipe"),
    "pixel-gru_1x32-seed1": ("seeds", "gru_1x32", {"task": "pixel", "seed": 1}, "project recipe"),
    "pixel-gru_1x32-seed2": ("seeds", "gru_1x32", {"task": "pixel", "seed": 2}, "project recipe"),
    "pixel-gru_3x32-seed0": ("seeds", "gru_3x32", {"task": "pixel", "seed": 0}, "project recipe"),
    "pixel-gru_3x32-seed1": ("seeds", "gru_3x32", {"task": "pixel", "seed": 1}, "project recipe"),
    "pixel-gru_3x32-seed2": ("seeds", "gru_3x32", {"task": "pixel", "seed": 2}, "project recipe"),
    "pixel-gru_1x128-report-full": ("full budget", "gru_1x128", _report_rates("gru_1x128", 100, "pixel"),
                                    "the report's pixel rates, 100 epochs, chrono, clipping"),
}


def task_of(run_id: str) -> str:
    """``"classify"`` or ``"pixel"``: the task of a run's model."""
    return RUNS[run_id][2].get("task", "classify")


def continues(run_id: str) -> str | None:
    """The run that ``run_id`` continues from its shipped checkpoint (a longer schedule), or None."""
    return RUNS[run_id][2].get("continues")


def shipped_source(run_id: str) -> str:
    """The summary's ``source`` when the shipped model is exactly the run."""
    return f"the shipped model (same recipe and budget): data/models/{task_of(run_id)}/{RUNS[run_id][1]}"


def summary_path(run_id: str, folder: Path = EXPERIMENTS_DIR) -> Path:
    return Path(folder) / f"{run_id}.json"


def budget(run_id: str) -> int:
    """A run's epoch budget: ``EPOCHS``, or a full-budget run's own."""
    return RUNS[run_id][2].get("max_epochs", EPOCHS)


def run_config(run_id: str, epochs: int | None = None) -> dict:
    """The engine config of a run (at its own budget unless ``epochs`` is given)."""
    from helpers.core.training import make_config

    _, model, changes, _ = RUNS[run_id]
    changes = dict(changes)
    changes.pop("continues", None)
    changes.pop("task", None)
    lr = changes.pop("learning_rate", None)
    seed = changes.pop("seed", None)
    own_budget = changes.pop("max_epochs", EPOCHS)
    epochs = own_budget if epochs is None else epochs
    return make_config(task_of(run_id), model, epochs=epochs, lr=lr, seed=seed, **changes)


def summarize(run_id: str, manifest: dict, source: str) -> dict:
    """The small record notebook 02 reads: recipe, command, per-epoch history and final metrics."""
    experiment, model, _, tests = RUNS[run_id]
    keep = ("config", "command", "epochs_run", "best_epoch", "history", "metrics", "train_seconds", "runs",
            "hardware", "versions", "created")
    return {"run": run_id, "experiment": experiment, "task": task_of(run_id), "model": model, "tests": tests,
            "source": source,
            "protocol": f"{budget(run_id)} epochs, best validation loss", **{k: manifest.get(k) for k in keep}}


def shipped_equivalent(run_id: str, epochs: int | None = None) -> dict | None:
    """The shipped manifest when it is exactly this run (same config, same budget), else None."""
    from helpers.core import zoo

    _, model, _, _ = RUNS[run_id]
    try:
        manifest = zoo.read_manifest(task_of(run_id), model)
    except zoo.ModelNotTrainedError:
        return None
    same = manifest.get("status") == "complete" and manifest.get("config") == run_config(run_id, epochs)
    return manifest if same else None


def train_kwargs(run_id: str, epochs: int | None = None, out: str | Path = RUNS_SUBDIR, quick: bool = False) -> dict:
    """The keywords of :func:`helpers.core.training.train` for a run, into ``out/RUN``; ``quick``: a smoke run.

    A run that continues another starts from the shipped checkpoint (``from_shipped``) until its folder holds a
    run, and continues that run past its first budget (``extend``) from then on.
    """
    config = run_config(run_id, epochs)
    overrides = {k: config[k] for k in ("decay_rate", "decay_every", "dropout", "clipnorm", "gate_bias_init",
                                        "reset_after", "patience")}
    kwargs = {"task": config["task"], "name": config["name"], "epochs": None if quick else config["max_epochs"],
              "quick": quick, "lr": config["learning_rate"], "seed": config["seed"], "batch_size": config["batch_size"],
              "out": Path(out) / run_id, **overrides}
    if continues(run_id) and not quick:
        from helpers.core.training import holds_run

        started = holds_run(config["task"], config["name"], kwargs["out"])
        if not started:
            _check_shipped_is(continues(run_id), run_id)
        kwargs.update(from_shipped=not started, extend=True)
    return kwargs


def _check_shipped_is(earlier: str, run_id: str) -> None:
    """Refuse to continue the shipped model unless it is the run ``earlier`` (same recipe)."""
    from helpers.core import zoo

    model = RUNS[earlier][1]
    where = f"data/models/{task_of(earlier)}/{model}"
    try:
        shipped = zoo.read_manifest(task_of(earlier), model)["config"]
    except zoo.ModelNotTrainedError:
        raise WorkspaceError(f"{run_id} continues {earlier} from the shipped checkpoint in {where}, which is "
                             f"missing: restore it with git checkout -- {where}.json {where}.weights.h5 "
                             f"data/models/{task_of(earlier)}/resume/{model}") from None
    if shipped != run_config(earlier):
        raise WorkspaceError(f"{run_id} continues {earlier} from the shipped {model}, but {where} was trained with "
                             f"another recipe, so there is nothing to continue: run the other experiments with "
                             f"--only (see --status).")


def run(run_id: str, epochs: int | None = None, splits=None, verbose: int = 1,
        stop_after_seconds: float | None = None, out: str | Path = RUNS_SUBDIR, quick: bool = False) -> Path:
    """Train (or resume) one run and write its summary once it is finished; return the summary's path.

    A ``quick`` run (tiny subsets, 2 epochs) writes no summary: its manifest's path is returned instead.
    """
    from helpers.core import training

    target = summary_path(run_id)
    if target.exists() and not quick:
        return target
    shipped = None if quick else shipped_equivalent(run_id, epochs)
    if shipped is not None:
        source = shipped_source(run_id)
        return _write(target, summarize(run_id, shipped, source))
    options = train_kwargs(run_id, epochs, out, quick)
    manifest = training.train(**options, splits=splits, verbose=verbose, stop_after_seconds=stop_after_seconds)
    if quick:
        from helpers.core import zoo

        return zoo.model_paths(options["task"], options["name"], options["out"])[1]
    return finish(run_id, manifest, epochs) or target


def finish(run_id: str, manifest: dict, epochs: int | None = None) -> Path | None:
    """Write the summary of a finished run's manifest (never over an existing one); its path, or None if unfinished.

    A manifest of another budget is unfinished here: a continued run's copy of the shipped one, before its first epoch.
    """
    target = summary_path(run_id)
    budget_now = run_config(run_id, epochs)["max_epochs"]
    if manifest.get("status") != "complete" or (manifest.get("config") or {}).get("max_epochs") != budget_now:
        return None
    if target.exists():
        return target
    return _write(target, summarize(run_id, manifest, f"python -m helpers.experiments --only {run_id}"))


def _write(path: Path, summary: dict) -> Path:
    from helpers.core.files import write_json_atomic

    return write_json_atomic(path, summary)


def load_summaries(folder: Path = EXPERIMENTS_DIR, task: str | None = "classify") -> dict[str, dict]:
    """Every finished summary of ``task``'s runs (every task's with None), by run id; unfinished runs are absent."""
    return {run_id: read_json(summary_path(run_id, folder), "experiment summary")
            for run_id in RUNS if task in (None, task_of(run_id)) and summary_path(run_id, folder).exists()}


def unfinished(task: str = "classify", folder: Path = EXPERIMENTS_DIR) -> list[str]:
    """The runs of ``task`` without a summary yet."""
    done = load_summaries(folder, task)
    return [run_id for run_id in RUNS if task_of(run_id) == task and run_id not in done]


def status_rows(folder: Path = EXPERIMENTS_DIR, out: Path = RUNS_SUBDIR) -> list[dict]:
    """One row per run: done (its summary), in progress in ``out`` (epochs so far) or to run."""
    rows = []
    done = load_summaries(folder, task=None)
    for run_id, (experiment, *_) in RUNS.items():
        summary = done.get(run_id)
        metrics = summary["metrics"] if summary else {}
        rows.append({"run": run_id, "experiment": experiment, "state": "done" if summary else _progress(run_id, out),
                     "val": _metric(metrics, "val"), "test": _metric(metrics, "test")})
    return rows


def _metric(metrics: dict, split: str) -> str:
    """A summary's accuracy (classifiers) or cross-entropy in nats/pixel (pixel models) on ``split``; "-" if none."""
    if f"{split}_accuracy" in metrics:
        return f"{metrics[f'{split}_accuracy']:.2%}"
    return f"{metrics[f'{split}_loss']:.4f} nats" if f"{split}_loss" in metrics else "-"


def _progress(run_id: str, out: Path) -> str:
    """``"to run"``, or how far the run's checkpoint in ``out`` has got, e.g. ``"epoch 12/30"``."""
    from helpers.core import zoo

    manifest = zoo.model_paths(task_of(run_id), RUNS[run_id][1], Path(out) / run_id)[1]
    if not manifest.exists():
        return "to run"
    progress = read_json(manifest, "manifest")
    if progress.get("status") == "complete":
        return "trained, no summary yet"
    return f"epoch {progress.get('epochs_run', 0)}/{budget(run_id)}"


def build_parser() -> argparse.ArgumentParser:
    from helpers import cluster

    parser = argparse.ArgumentParser(prog="python -m helpers.experiments", description=__doc__.split("\n\n")[0])
    parser.add_argument("--status", action="store_true",
                        help="list the runs: done, in progress in --out (epochs so far) or to run; then exit")
    parser.add_argument("--only", nargs="+", metavar="RUN", help="only these runs (see --status)")
    parser.add_argument("--max-minutes-now", type=float, dest="minutes",
                        help="stop (resumably) before an epoch that would not end within this many minutes")
    parser.add_argument("--out", help="where the runs train, one folder per run (default runs/experiments/, "
                                      "runs/quick/experiments/ with --quick); the summaries stay in data/experiments/")
    parser.add_argument("--quick", action="store_true",
                        help="tiny subsets, 2 epochs per run: a smoke test that writes no summary")
    cluster.add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    unknown = [r for r in args.only or [] if r not in RUNS]
    if unknown:
        parser.error(f"--only {' '.join(unknown)}: no such run; choose from {', '.join(RUNS)}")
    if args.minutes is not None and not args.minutes > 0:
        parser.error(f"--max-minutes-now must be a positive number of minutes, got {args.minutes}")
    if args.status:
        from helpers.analysis.plots import format_table

        out = Path(args.out) if args.out is not None else RUNS_SUBDIR
        print(format_table(status_rows(out=out), ["run", "experiment", "state", "val", "test"],
                           ["run", "experiment", "state", "validation", "test"]))
        return 0
    from helpers.core.workspace import QUICK_RUNS_DIR, check_writable, refuse_shipped

    out = Path(args.out) if args.out is not None else (QUICK_RUNS_DIR / "experiments" if args.quick else RUNS_SUBDIR)
    try:
        refuse_shipped(out)
        check_writable(out)
    except WorkspaceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for line in committed_elsewhere(args.only or list(RUNS), out, args.quick):
        print(line)
    if args.ray is not None:
        return _run_on_ray(args, args.only or list(RUNS), out)
    return _run_here(args, args.only or list(RUNS), out)


def committed_elsewhere(run_ids: list[str], out: Path, quick: bool = False) -> list[str]:
    """A note for each unfinished run that has a committed checkpoint in data/in_progress but none in ``out``."""
    from helpers.core.training import holds_run

    if quick or Path(out).resolve() == IN_PROGRESS_DIR.resolve():
        return []
    return [f"note: {display(IN_PROGRESS_DIR / r)}/ holds a committed checkpoint of {r}; stop this command (Ctrl-C) "
            f"and add --out {display(IN_PROGRESS_DIR)} to continue it instead of starting over in {display(out)}/."
            for r in run_ids if not summary_path(r).exists() and holds_run(task_of(r), RUNS[r][1], IN_PROGRESS_DIR / r)
            and not holds_run(task_of(r), RUNS[r][1], Path(out) / r)]


def _run_here(args, run_ids: list[str], out: Path) -> int:
    """The runs one after another in this process."""
    import time

    from helpers.core.data import MnistFileError, load_mnist
    from helpers.core.quiet import import_backend_quietly

    start = time.perf_counter()
    try:
        splits = load_mnist()
        import_backend_quietly()
        for run_id in run_ids:
            box = None if args.minutes is None else 60 * args.minutes - (time.perf_counter() - start)
            if box is not None and box <= 0:
                print("The time box is spent; run the same command to go on.")
                return 0
            path = run(run_id, splits=splits, stop_after_seconds=box, out=out, quick=args.quick)
            done = path.exists() and (not args.quick or read_json(path, "manifest").get("status") == "complete")
            shown = ("quick run in " if args.quick else "summary in ") + display(path)
            print(f"{run_id}: {shown if done else 'stopped, resumable'}", flush=True)
            if not done:
                return 0
    except (WorkspaceError, ValueError, MnistFileError, FloatingPointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def _run_on_ray(args, run_ids: list[str], out: Path) -> int:
    """Every run without a summary as one Ray task; this command writes the summaries as the runs finish."""
    from helpers import cluster
    from helpers.core import zoo

    out = out.resolve()
    jobs = []
    for run_id in run_ids:
        if not args.quick and summary_path(run_id).exists():
            continue
        shipped = None if args.quick else shipped_equivalent(run_id)
        if shipped is not None:
            source = shipped_source(run_id)
            print(f"{run_id}: summary in {display(_write(summary_path(run_id), summarize(run_id, shipped, source)))}")
            continue
        options = train_kwargs(run_id, out=out, quick=args.quick)
        log = zoo.model_paths(options["task"], options["name"], options["out"])[1].with_suffix(".log")
        jobs.append(cluster.Job(run_id, options, log))
    if not jobs:
        print("Nothing to run: every selected run has its summary (see --status).")
        return 0

    def write_summary(job, manifest) -> str:
        summary = None if args.quick else finish(job.label, manifest)
        return f"; summary in {display(summary)}" if summary else ""

    return cluster.dispatch(args, jobs, out, on_finished=write_summary)


if __name__ == "__main__":
    from helpers.core import cli

    sys.exit(cli.guard(main, interrupted="Each run keeps its last completed epoch: run the same command again to go on."))
