"""Ship a finished run: copy it from ``runs/`` into ``data/models/``, after checking it.

    python -m helpers.promote classify gru_1x128                      # a model not shipped yet
    python -m helpers.promote classify gru_1x128 --replace-shipped    # replace the shipped one, on purpose

The only command that writes the shipped models. It refuses quick runs, unfinished runs, damaged files, and
weights that do not reproduce the test-slice metrics their manifest records.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from helpers.core import zoo
from helpers.core.files import atomic_path
from helpers.core.paths import MODELS_DIR
from helpers.core.records import check_manifest
from helpers.core.workspace import (
    RUNS_DIR,
    WorkspaceError,
    check_weights_file,
    display,
    read_json,
    resume_folder,
    resume_state,
)

#: Largest difference allowed between the manifest's test-slice metrics and a re-evaluation.
TOLERANCE = 1e-4


def check_run(task: str, name: str, source: Path, evaluate: bool = True) -> dict:
    """The manifest of a finished, real run in ``source``; a :class:`WorkspaceError` says what is wrong."""
    weights, manifest_path = zoo.model_paths(task, name, source)
    if not manifest_path.exists():
        raise WorkspaceError(f"no run of {task}/{name} in {display(manifest_path.parent)}: train it with "
                             f"`python -m helpers.train {task} {name}` first.")
    manifest = read_json(manifest_path, "manifest")
    try:
        check_manifest(manifest)
    except ValueError as err:
        raise WorkspaceError(f"{display(manifest_path)}: {err}") from None
    if manifest.get("config", {}).get("quick"):
        raise WorkspaceError(f"{display(manifest_path)} is a --quick smoke run: it is never shipped.")
    if manifest["status"] != "complete":
        raise WorkspaceError(f"{display(manifest_path)} is not finished ({manifest['epochs_run']} of "
                             f"{manifest['config']['max_epochs']} epochs): finish it with `{manifest['command']}`.")
    check_weights_file(weights)
    state_file = resume_state(task, name, source)
    if not state_file.exists():
        raise WorkspaceError(f"{display(state_file)} is missing: a shipped model keeps its last checkpoint.")
    if evaluate:
        _check_metrics(task, name, source, manifest)
    return manifest


def _check_metrics(task: str, name: str, source: Path, manifest: dict) -> None:
    """Re-evaluate the fixed test slice and compare with the manifest's ``test_slice_*`` metrics."""
    from helpers.core import data
    from helpers.core.quiet import import_tensorflow_quietly
    from helpers.core.training import compile_for_evaluation, evaluate, load_task_data

    import_tensorflow_quietly()
    metrics = manifest["metrics"]
    size = metrics.get("test_slice_size")
    if size is None:
        return
    model = zoo.load(task, name, source)
    compile_for_evaluation(model, task)
    inputs, targets = load_task_data(task, splits=data.load_mnist())["test"]
    measured = evaluate(model, inputs[:size], targets[:size])
    for key, value in measured.items():
        recorded = metrics.get(f"test_slice_{key}")
        if recorded is not None and abs(recorded - value) > TOLERANCE:
            raise WorkspaceError(f"{task}/{name}: the weights give test-slice {key} {value:.5f}, the manifest "
                                 f"records {recorded:.5f}; the files do not belong together.")


def promote(task: str, name: str, source: str | Path = RUNS_DIR, replace_shipped: bool = False,
            models_dir: str | Path = MODELS_DIR, evaluate: bool = True) -> Path:
    """Copy a checked, finished run into the shipped models; return the shipped manifest's path."""
    source = Path(source)
    manifest = check_run(task, name, source, evaluate=evaluate)
    weights, manifest_path = zoo.model_paths(task, name, source)
    target_weights, target_manifest = zoo.model_paths(task, name, models_dir)
    if target_manifest.exists() and not replace_shipped:
        raise WorkspaceError(
            f"{display(target_manifest)} is already shipped; add --replace-shipped to replace it with the run in "
            f"{display(source)} ({manifest['notes'] if 'notes' in manifest else manifest['command']}).")
    resume_source = resume_folder(task, name, source)
    resume_target = resume_folder(task, name, models_dir)
    staging = resume_target.parent / f".promote-{name}"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(resume_source, staging)
    for src, dst in ((weights, target_weights), (manifest_path, target_manifest)):
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)
    old = resume_target.parent / f".old-{name}"
    shutil.rmtree(old, ignore_errors=True)
    if resume_target.exists():
        resume_target.rename(old)
    staging.rename(resume_target)
    shutil.rmtree(old, ignore_errors=True)
    return target_manifest


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
    sys.exit(main())
