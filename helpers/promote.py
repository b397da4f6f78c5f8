"""Ship a finished run: copy it from ``runs/`` into ``data/models/``, after checking it.

    python -m helpers.promote classify gru_1x128                      # a model not shipped yet
    python -m helpers.promote classify gru_1x128 --replace-shipped    # replace the shipped one, on purpose

The only command that writes the shipped models. It refuses quick runs, unfinished runs, damaged files, and
weights that do not reproduce the test-slice metrics their manifest records.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from helpers.core import zoo
from helpers.core.files import write_json_atomic
from helpers.core.manifest import check_manifest
from helpers.core.paths import MODELS_DIR
from helpers.core.workspace import (
    RESUME_STATE,
    RUNS_DIR,
    WorkspaceError,
    check_weights_file,
    display,
    read_json,
    resume_folder,
    resume_state,
    run_lock,
)

#: Largest difference allowed between the manifest's test-slice metrics and a re-evaluation.
TOLERANCE = 1e-4


def check_run(task: str, name: str, source: Path, evaluate: bool = True) -> dict:
    """The manifest of a finished, real run of ``task/name`` in ``source``; a :class:`WorkspaceError` says what is wrong.

    With ``evaluate``, the weights are loaded into the zoo's ``name`` architecture and the test slice is
    re-evaluated; a manifest without slice metrics gets them (in the returned manifest).
    """
    weights, manifest_path = zoo.model_paths(task, name, source)
    if not manifest_path.exists():
        raise WorkspaceError(f"no run of {task}/{name} in {display(manifest_path.parent)}: train it with "
                             f"`python -m helpers.train {task} {name}` first.")
    manifest = read_json(manifest_path, "manifest")
    try:
        check_manifest(manifest)
    except ValueError as err:
        raise WorkspaceError(f"{display(manifest_path)}: {err}") from None
    _check_identity(manifest, task, name, display(manifest_path))
    if manifest.get("config", {}).get("quick"):
        raise WorkspaceError(f"{display(manifest_path)} is a --quick smoke run: it is never shipped.")
    if manifest["status"] != "complete":
        raise WorkspaceError(f"{display(manifest_path)} is not finished ({manifest['epochs_run']} of "
                             f"{manifest['config']['max_epochs']} epochs): finish it with `{manifest['command']}`.")
    check_weights_file(weights)
    check_checkpoint(task, name, source)
    if evaluate:
        manifest = _check_metrics(task, name, source, manifest)
    return manifest


def _check_identity(record: dict, task: str, name: str, where: str) -> None:
    """Raise unless ``record`` (a manifest or resume state) says it is ``task/name``, in its config too."""
    config = record.get("config", {})
    found = {"task": record.get("task", config.get("task")), "name": record.get("name", config.get("name")),
             "config task": config.get("task", task), "config name": config.get("name", name)}
    for key, value in found.items():
        wanted = task if key.endswith("task") else name
        if value != wanted:
            raise WorkspaceError(f"{where} records {key} {value!r}, not {wanted!r}: it is another model's file, "
                                 f"never shipped as {task}/{name}.")


def check_checkpoint(task: str, name: str, source: Path) -> Path:
    """The checkpoint folder that ``resume/NAME/state.json`` names, checked complete and loadable."""
    import numpy as np

    state_file = resume_state(task, name, source)
    if not state_file.exists():
        raise WorkspaceError(f"{display(state_file)} is missing: a shipped model keeps its last checkpoint.")
    state = read_json(state_file, "resume state")
    _check_identity(state, task, name, display(state_file))
    folder = state_file.parent / str(state.get("checkpoint", ""))
    if not state.get("checkpoint") or not folder.is_dir():
        raise WorkspaceError(f"{display(state_file)} names checkpoint {state.get('checkpoint')!r}, which is not in "
                             f"{display(state_file.parent)}: the run's last checkpoint is incomplete, never shipped.")
    for part in CHECKPOINT_FILES:
        if part.endswith(".h5"):
            check_weights_file(folder / part)
            continue
        try:
            with np.load(folder / part) as arrays:
                arrays.files  # noqa: B018 (reading the index proves the archive is whole)
        except (OSError, ValueError) as err:
            raise WorkspaceError(f"{display(folder / part)} is missing or damaged ({err}): the run's last "
                                 f"checkpoint is incomplete, never shipped.") from None
    return folder


#: The files of a checkpoint folder ``epoch-NNNN/``.
CHECKPOINT_FILES = ("last.weights.h5", "best.weights.h5", "optimizer.npz")


def _check_metrics(task: str, name: str, source: Path, manifest: dict) -> dict:
    """Load the weights into the zoo architecture, re-evaluate the test slice and compare with the manifest.

    Returns the manifest, with the slice metrics recorded when it had none.
    """
    from helpers.core import data
    from helpers.core.quiet import import_tensorflow_quietly
    from helpers.core.training import TEST_SLICE, compile_for_evaluation, evaluate, load_task_data

    import_tensorflow_quietly()
    metrics = dict(manifest["metrics"])
    size = int(metrics.get("test_slice_size") or TEST_SLICE[task])
    try:
        model = zoo.load(task, name, source)
    except (ValueError, OSError) as err:
        raise WorkspaceError(f"{task}/{name}: the weights in {display(source)} do not load into the zoo's {name} "
                             f"({err}); they are another model's.") from None
    compile_for_evaluation(model, task)
    inputs, targets = load_task_data(task, splits=data.load_mnist())["test"]
    measured = evaluate(model, inputs[:size], targets[:size])
    for key, value in measured.items():
        recorded = metrics.get(f"test_slice_{key}")
        if recorded is not None and abs(recorded - value) > TOLERANCE:
            raise WorkspaceError(f"{task}/{name}: the weights give test-slice {key} {value:.5f}, the manifest "
                                 f"records {recorded:.5f}; the files do not belong together.")
        metrics[f"test_slice_{key}"] = recorded if recorded is not None else value
    metrics["test_slice_size"] = size
    return {**manifest, "metrics": metrics}


def promote(task: str, name: str, source: str | Path = RUNS_DIR, replace_shipped: bool = False,
            models_dir: str | Path = MODELS_DIR, evaluate: bool = True) -> Path:
    """Copy a checked, finished run into the shipped models as one unit; return the shipped manifest's path.

    Weights, manifest and ``resume/NAME/`` are staged beside the target, checked complete, then swapped in;
    on any failure (a full disk included) the shipped files are as before and no staging folder is left.
    """
    source = Path(source)
    with run_lock(Path(models_dir) / task / name, f"the shipped {task}/{name}"), \
            run_lock(source / task / name, f"the run {task}/{name} in {display(source)}"):
        manifest = check_run(task, name, source, evaluate=evaluate)
        target_weights, target_manifest = zoo.model_paths(task, name, models_dir)
        if target_manifest.exists() and not replace_shipped:
            raise WorkspaceError(
                f"{display(target_manifest)} is already shipped; add --replace-shipped to replace it with the run in "
                f"{display(source)} ({manifest['notes'] if 'notes' in manifest else manifest['command']}).")
        staging = Path(tempfile.mkdtemp(prefix=f".promote-{name}-", dir=_mkdir(target_manifest.parent)))
        try:
            _stage(task, name, source, manifest, staging)
            check_checkpoint(task, name, staging)
            _swap(staging, task, name, models_dir)
        except OSError as err:
            raise WorkspaceError(f"promote {task}/{name}: {err.filename or display(staging)}: {err.strerror or err}. "
                                 f"Nothing was shipped: {display(models_dir)} is as it was. Free some space and "
                                 f"run the command again.") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target_manifest


def _mkdir(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _stage(task: str, name: str, source: Path, manifest: dict, staging: Path) -> None:
    """Copy the run's weights, its (checked) manifest and its last checkpoint into ``staging``."""
    weights, _ = zoo.model_paths(task, name, source)
    staged_weights, staged_manifest = zoo.model_paths(task, name, staging)
    staged_weights.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(weights, staged_weights)
    write_json_atomic(staged_manifest, manifest)
    state = read_json(resume_state(task, name, source), "resume state")
    staged_resume = resume_folder(task, name, staging)
    staged_resume.mkdir(parents=True)
    checkpoint = resume_folder(task, name, source) / state["checkpoint"]
    for part in sorted(checkpoint.rglob("*")):  # file by file: a full disk is one plain OSError naming the file
        copy = staged_resume / state["checkpoint"] / part.relative_to(checkpoint)
        if part.is_dir():
            copy.mkdir(parents=True, exist_ok=True)
        else:
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(part, copy)
    shutil.copyfile(resume_state(task, name, source), staged_resume / RESUME_STATE)


def _swap(staging: Path, task: str, name: str, models_dir: str | Path) -> None:
    """Move the staged files onto the shipped ones; if any move fails, put every old file back."""
    staged = [*zoo.model_paths(task, name, staging), resume_folder(task, name, staging)]
    targets = [*zoo.model_paths(task, name, models_dir), resume_folder(task, name, models_dir)]
    old = staging / "old"
    old.mkdir()
    moved = []  # (target, backup or None)
    try:
        for new, target in zip(staged, targets):
            backup = old / target.name if target.exists() else None
            if backup is not None:
                os.replace(target, backup)
            moved.append((target, backup))
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(new, target)
    except BaseException:  # a full disk, Ctrl-C: the old files go back
        for target, backup in reversed(moved):
            if target.is_dir():
                shutil.rmtree(target, ignore_errors=True)
            elif target.exists():
                target.unlink()
            if backup is not None:
                os.replace(backup, target)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.promote", description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=zoo.TASKS)
    parser.add_argument("name", choices=zoo.ZOO, metavar="name", help="zoo model, e.g. gru_1x32")
    parser.add_argument("--from", dest="source", default=str(RUNS_DIR), metavar="DIR",
                        help="the runs folder that holds the finished run (default: runs/)")
    parser.add_argument("--replace-shipped", action="store_true",
                        help="replace a model that is already shipped (git can restore the old one)")
    args = parser.parse_args(argv)
    from helpers.core.data import MnistFileError

    try:
        path = promote(args.task, args.name, args.source, replace_shipped=args.replace_shipped)
    except (ValueError, zoo.ModelNotTrainedError, MnistFileError) as err:  # WorkspaceError is a ValueError
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"Shipped {args.task}/{args.name} from {display(args.source)} to {display(path.parent)}. Regenerate the "
          f"notebooks that use it (python -m helpers.regenerate), paste the README's results table from "
          f"python -m helpers.manifest --table data/models, and commit them together.")
    return 0


if __name__ == "__main__":
    from helpers.core import cli

    sys.exit(cli.guard(main, interrupted="Nothing was shipped unless the closing line said so: data/models/ is "
                                         "either as it was or holds the whole new model."))
