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

from helpers.core import zoo


def _number(convert, what: str, minimum: float, strict: bool):
    """An argparse type: ``convert(text)`` that must be above (``strict``) or at least ``minimum``."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value != value or value == float("inf") or value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


_positive_int = _number(int, "a positive integer", 1, strict=False)
_non_negative_int = _number(int, "a non-negative integer", 0, strict=False)
_positive_float = _number(float, "a positive number", 0.0, strict=True)


def _clipnorm(text: str):
    """A positive number, or ``none`` for no clipping."""
    return "none" if text.lower() == "none" else _positive_float(text)


def _fraction(low_open: bool, high_open: bool, what: str):
    """An argparse type: a float in the interval from 0 to 1, each end open or closed as asked."""

    def parse(text: str):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        above = value > 0 if low_open else value >= 0
        below = value < 1 if high_open else value <= 1
        if not (above and below):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


#: Recipe options: (flag, config key, argparse type, help). ``reproduce_command`` writes them all.
RECIPE_OPTIONS = (
    ("--decay-rate", "decay_rate", _fraction(True, False, "a number in (0, 1]"),
     "learning-rate decay factor, applied every --decay-every epochs (1 = constant)"),
    ("--decay-every", "decay_every", _positive_int, "epochs between two learning-rate decays (staircase)"),
    ("--dropout", "dropout", _fraction(False, True, "a number in [0, 1)"),
     "dropout rate on the recurrent output (the report's keep probability 0.75 is a rate of 0.25)"),
    ("--clipnorm", "clipnorm", _clipnorm, "gradient clipping: maximum global norm, or none (no clipping)"),
    ("--patience", "patience", _positive_int, "early stopping: epochs without a better validation loss"),
    ("--reset-after", "reset_after", _boolean,
     "GRU only: true = Keras/cuDNN variant (reset gate after the matmul), false = the original GRU"),
    ("--gate-bias-init", "gate_bias_init", None,
     "chrono = gates initialised for long memory (Tallec & Ollivier 2018), default = Keras' zeros"),
)


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
    parser.add_argument("--epochs", type=_positive_int, help="maximum number of epochs (early stopping may end sooner)")
    parser.add_argument("--batch-size", type=_positive_int, help="training batch size")
    parser.add_argument("--lr", type=_positive_float, help="initial learning rate")
    parser.add_argument("--seed", type=_non_negative_int, help="random seed (data order, init, dropout)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny subset, 2 epochs: a smoke test (into runs/quick/ by default; never shipped)")
    parser.add_argument("--out", help="output folder (default: runs/); the shipped data/models is refused")
    parser.add_argument("--fresh", action="store_true", help="discard this run's progress in --out and start over")
    parser.add_argument("--extend", action="store_true",
                        help="continue a finished run in --out up to a larger --epochs (never done implicitly)")
    parser.add_argument("--from-shipped", action="store_true",
                        help="start from the shipped model's last checkpoint and its recipe, to extend it to a "
                             "larger --epochs in --out; ship the result with python -m helpers.promote")
    parser.add_argument("--max-epochs-now", type=_positive_int, dest="stop_after_epochs",
                        help="stop (resumably) after this many epochs in this run")
    parser.add_argument("--max-minutes-now", type=_positive_float, dest="stop_after_minutes",
                        help="time box for this run: stop (resumably) before an epoch that would not end within "
                             "this many minutes")
    recipe = parser.add_argument_group("recipe", "training recipe (default: the model's config, default_config in helpers/core/config.py)")
    for flag, key, kind, text in RECIPE_OPTIONS:
        if key == "gate_bias_init":
            recipe.add_argument(flag, dest=key, choices=("chrono", "default"), help=text)
        else:
            recipe.add_argument(flag, dest=key, type=kind, help=text)
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
    from helpers.core.workspace import QUICK_RUNS_DIR, RUNS_DIR, WorkspaceError, check_writable, refuse_shipped

    if args.fresh and args.from_shipped:
        parser.error("--fresh and --from-shipped together are ambiguous: pass one of them")
    try:  # before TensorFlow is imported, so that a bad --out fails at once
        out = args.out if args.out is not None else (QUICK_RUNS_DIR if args.quick else RUNS_DIR)
        refuse_shipped(out)
        check_writable(out)
    except WorkspaceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from helpers.core.machine import keras_backend
    from helpers.core.quiet import import_tensorflow_quietly

    if keras_backend() == "tensorflow":  # KERAS_BACKEND=torch or jax trains without TensorFlow
        import_tensorflow_quietly()
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
    sys.exit(main())
