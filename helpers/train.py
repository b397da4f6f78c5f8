"""Command line: train (or resume) one zoo model into ``runs/`` (never into the shipped ``data/models/``).

    python -m helpers.train classify gru_1x32                 # into runs/classify/
    python -m helpers.train pixel gru_1x128 --from-shipped --epochs 40   # extend the shipped model, in runs/
    python -m helpers.promote pixel gru_1x128 --replace-shipped          # then ship it, on purpose

Re-running the same command after an interruption continues from the last completed epoch; ``--fresh``
discards the run's progress. Every manifest records the full command that reproduces its run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from helpers.core import zoo
from helpers.core.config import POSITIVE_INT, POSITIVE_NUMBER, POSITIVE_OR_NONE, Rule, command_options


def _option_type(rule: Rule):
    """An argparse type for a config field: ``rule.parse`` then ``rule.test``; ``none`` stays the word ``"none"``
    (an option left out is None: :func:`config_options` turns the word into None)."""

    def parse(text: str):
        if rule is POSITIVE_OR_NONE and text.lower() == "none":
            return "none"
        try:
            value = rule.parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {rule.what}, got {text!r}") from None
        if not rule.test(value):
            raise argparse.ArgumentTypeError(f"expected {rule.what}, got {text!r}")
        return value

    return parse


#: The options of the training command that set a config field: ``(flag, config key, argparse type, help)``, read
#: from :class:`helpers.core.config.TrainConfig` (where each is declared, with its range). The option's name is
#: its :func:`helpers.core.training.make_config` keyword: ``--epochs``, ``--batch-size``, ``--lr``, ``--seed``,
#: then the recipe's own fields, all of which ``reproduce_command`` writes.
RECIPE_OPTIONS = tuple((flag, flag[2:].replace("-", "_"), _option_type(rule), text)
                       for flag, _, rule, text in command_options())


def _model_name(text: str) -> str:
    try:
        zoo.parse_name(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.train",
        description="Train or resume one model of the zoo (resumable: re-run the same command after a stop).",
        epilog="Zoo: " + ", ".join(zoo.ZOO) + ". Example: python -m helpers.train classify gru_1x32",
    )
    parser.add_argument("task", choices=zoo.TASKS, help="classify (digit from 784 pixels) or pixel (next pixel)")
    parser.add_argument("name", type=_model_name, help="zoo model name, e.g. gru_1x32")
    recipe = parser.add_argument_group("recipe", "training recipe (default: the model's config, default_config in helpers/core/config.py)")
    for flag, key, kind, text in RECIPE_OPTIONS:  # --epochs, --batch-size, --lr, --seed first, with the others
        group = parser if key in ("epochs", "batch_size", "lr", "seed") else recipe
        group.add_argument(flag, dest=key, type=kind, help=text)
    parser.add_argument("--quick", action="store_true",
                        help="tiny subset, 2 epochs: a smoke test (into runs/quick/ by default; never shipped)")
    parser.add_argument("--out", help="output folder (default: runs/); the shipped data/models is refused")
    parser.add_argument("--fresh", action="store_true", help="discard this run's progress in --out and start over")
    parser.add_argument("--extend", action="store_true",
                        help="continue a finished run in --out up to a larger --epochs (never done implicitly)")
    parser.add_argument("--from-shipped", action="store_true",
                        help="start from the shipped model's last checkpoint and its recipe, to extend it to a "
                             "larger --epochs in --out; ship the result with python -m helpers.promote")
    parser.add_argument("--max-epochs-now", type=_option_type(POSITIVE_INT), dest="stop_after_epochs",
                        help="stop (resumably) after this many epochs in this run")
    parser.add_argument("--max-minutes-now", type=_option_type(POSITIVE_NUMBER), dest="stop_after_minutes",
                        help="time box for this run: stop (resumably) before an epoch that would not end within "
                             "this many minutes")
    return parser


def config_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of :func:`helpers.core.training.make_config` given on the command line."""
    options = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
               "quick": args.quick}
    options.update({key: getattr(args, key) for _, key, _, _ in RECIPE_OPTIONS if getattr(args, key) is not None})
    if options.get("clipnorm") == "none":
        options["clipnorm"] = None
    return options


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from helpers.core.workspace import (
        QUICK_RUNS_DIR,
        RUNS_DIR,
        WorkspaceError,
        check_writable,
        display,
        refuse_shipped,
        run_lock,
    )

    if args.fresh and args.from_shipped:
        parser.error("--fresh and --from-shipped together are ambiguous: pass one of them")
    try:  # before TensorFlow is imported, so that a bad --out fails at once
        out = args.out if args.out is not None else (QUICK_RUNS_DIR if args.quick else RUNS_DIR)
        refuse_shipped(out)
        check_writable(out)
        with run_lock(Path(out) / args.task / args.name, f"the run {args.task}/{args.name} in {display(out)}"):
            pass  # a run already in this folder is refused now, not after TensorFlow has loaded
    except WorkspaceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from helpers.core.quiet import import_backend_quietly

    import_backend_quietly()  # KERAS_BACKEND=torch or jax trains without TensorFlow
    from helpers.core.data import MnistFileError
    from helpers.core.training import train

    try:
        train(args.task, args.name, **config_options(args), out=args.out, fresh=args.fresh, extend=args.extend,
              from_shipped=args.from_shipped, stop_after_epochs=args.stop_after_epochs,
              stop_after_seconds=None if args.stop_after_minutes is None else 60 * args.stop_after_minutes)
    except (ValueError, MnistFileError, FloatingPointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a disk that fills up or goes read-only during the run
        print(f"error: {getattr(err, 'filename', None) or args.out or 'runs/'}: {err.strerror or err}. The last "
              f"completed epoch is kept: free space or fix the folder, then run the same command to resume.",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted. Run the same command again to resume from the last completed epoch.",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    from helpers.core import cli

    sys.exit(cli.guard(main, interrupted="Run the same command again to resume from the last completed epoch."))
