"""The training config: each zoo model's default recipe (:func:`default_config`) beside the typed record of
every hyper-parameter of a run (:class:`TrainConfig`), validated once, here. Manifests store it as a dict.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

TASKS = ("classify", "pixel")
CELLS = ("lstm", "gru")


def check_task(task: str) -> str:
    """``task`` if it is one of :data:`TASKS`, else a ValueError listing them."""
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}; choose one of: {', '.join(TASKS)}.")
    return task


ZOO = ("lstm_1x32", "lstm_1x64", "lstm_1x128", "lstm_3x32", "gru_1x32", "gru_1x64", "gru_1x128", "gru_3x32")
#: Models the course trained for each task (any zoo name can be built for either task).
TASK_MODELS = {"classify": ZOO, "pixel": ("gru_1x32", "gru_1x64", "gru_1x128", "gru_3x32")}

_NAME_RE = re.compile(r"^(lstm|gru)_(\d+)x(\d+)$")

# Reference recipes (initial lr, decay rate, decay every k epochs, output dropout), from the 2017 report.
REFERENCE_RECIPES = {
    "classify": {
        "lstm_1x32": (1e-3, 0.87, 10, 0.25),
        "lstm_1x64": (3e-3, 0.9, 10, 0.25),
        "lstm_1x128": (7.5e-4, 0.9, 10, 0.25),
        "lstm_3x32": (2e-3, 0.9, 7, 0.25),
        "gru_1x32": (5e-3, 0.87, 10, 0.25),
        "gru_1x64": (5e-3, 0.9, 10, 0.5),
        "gru_1x128": (1e-3, 0.9, 10, 0.25),
        "gru_3x32": (5e-3, 0.9, 7, 0.5),
    },
    "pixel": {name: (1e-2, 0.9, 5, 0.25) for name in ZOO},
}


def parse_name(name: str) -> tuple[str, int, int]:
    """``"gru_3x32"`` -> ``("gru", 3, 32)``; a clear ValueError for anything else."""
    match = _NAME_RE.match(str(name))
    if not match or int(match.group(2)) < 1 or int(match.group(3)) < 1:
        raise ValueError(
            f"Unknown model name {name!r}. Names look like 'gru_1x32' (cell_LAYERSxUNITS); the zoo is: "
            + ", ".join(ZOO)
            + "."
        )
    return match.group(1), int(match.group(2)), int(match.group(3))


def default_config(task: str, name: str) -> dict:
    """Every hyper-parameter of a zoo model: architecture and training recipe.

    The recipe keeps the report's structure (Adam, exponential staircase decay, output dropout, early
    stopping) with the changes that made training converge in far fewer epochs on a CPU: gate biases
    initialised for long memory ("chrono": update/forget gates open for ~U(1, 783) steps), gradient
    clipping, larger batches, a faster decay (slower for the GRU classifiers), and XLA compilation (one-layer
    classifiers). ``reference_recipe`` records the report's own values for comparison. The measurements behind
    these choices: docs/internals.md, 'Why the default recipe is what it is'.
    """
    check_task(task)
    cell, layers, units = parse_name(name)
    ref_lr, ref_decay, ref_every, ref_dropout = REFERENCE_RECIPES[task].get(name, (1e-3, 0.9, 10, 0.25))
    small = units <= 64
    gru_classifier = task == "classify" and cell == "gru"
    if task == "classify":
        # learning rates measured: see docs/internals.md, 'Why the default recipe'
        lr = 3e-3
        dropout = ref_dropout
    else:
        lr = 5e-3 if small else 2e-3
        dropout = 0.25
    return {
        "task": task,
        "name": name,
        "cell": cell,
        "layers": layers,
        "units": units,
        "reset_after": True,
        "dropout": dropout,
        # chrono beats Keras' zero gate biases: see docs/internals.md, 'Why the default recipe'
        "gate_bias_init": "chrono",
        "learning_rate": lr,
        # staircase decay, slower for the GRU classifiers: see docs/internals.md, 'Why the default recipe'
        "decay_rate": 0.9 if gru_classifier else 0.8,
        "decay_every": 5 if gru_classifier else 3,
        "clipnorm": 1.0,
        "batch_size": 256,
        "max_epochs": 100,
        "patience": 8,
        # one-layer classifiers only (the others are fused): see docs/internals.md, 'Why the default recipe'
        "jit_compile": task == "classify" and layers == 1,
        "seed": 0,
        "reference_recipe": {
            "learning_rate": ref_lr,
            "decay_rate": ref_decay,
            "decay_every": ref_every,
            "dropout": ref_dropout,
        },
    }


ARCHITECTURE_KEYS = ("cell", "layers", "units", "reset_after", "dropout", "gate_bias_init")


def _is_int(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer))


def _is_number(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating)) and bool(
        np.isfinite(value))


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise ValueError(text)


@dataclass(frozen=True)
class Rule:
    """The values a config field accepts: ``what`` they are (for messages), a ``test``, how a command-line text
    ``parse``s into one, and the ``choices`` where there are a few."""

    what: str
    test: Callable[[Any], bool]
    parse: Callable[[str], Any]
    choices: tuple = ()

    def check(self, key: str, value) -> None:
        """A ValueError naming ``key`` unless ``value`` passes."""
        if not self.test(value):
            raise ValueError(f"{key} must be {self.what}, got {value!r}.")

    @staticmethod
    def show(value) -> str:
        """``value`` as a command-line text that :attr:`parse` reads back exactly."""
        if isinstance(value, bool) or value is None:
            return str(value).lower()
        if isinstance(value, str):
            return shlex.quote(value)
        return str(int(value)) if _is_int(value) else repr(float(value))


POSITIVE_INT = Rule("a positive integer", lambda v: _is_int(v) and v >= 1, int)
NON_NEGATIVE_INT = Rule("a non-negative integer", lambda v: _is_int(v) and v >= 0, int)
POSITIVE_NUMBER = Rule("a positive number", lambda v: _is_number(v) and v > 0, float)
#: ``None`` (written ``none`` on a command line) or a positive number.
POSITIVE_OR_NONE = Rule("a positive number or none", lambda v: v is None or (_is_number(v) and v > 0),
                        lambda text: None if text.lower() == "none" else float(text))
RATE = Rule("a number in (0, 1]", lambda v: _is_number(v) and 0 < v <= 1, float)
PROBABILITY = Rule("a number in [0, 1)", lambda v: _is_number(v) and 0 <= v < 1, float)
BOOLEAN = Rule("true or false", lambda v: isinstance(v, bool), _boolean)
GATE_INITS = Rule("'chrono' or 'default'", lambda v: v in ("chrono", "default"), str, ("chrono", "default"))
CELL = Rule(f"one of {CELLS}", lambda v: v in CELLS, str, CELLS)


def _field(role: str, rule: Rule | None = None, flag: str | None = None, help: str | None = None,
           column: str | None = None, **kwargs):
    """A :class:`TrainConfig` field and everything said about it once: its ``role`` (``model``: the model's
    identity; ``recipe``: how it trains; ``run``/``reference``: neither), its :class:`Rule`, its ``helpers.train``
    option (``flag``, ``help``) and its column in recipe tables."""
    return field(metadata={"role": role, "rule": rule, "flag": flag, "help": help, "column": column}, **kwargs)


@dataclass(frozen=True)
class TrainConfig:
    """Every hyper-parameter of one run, validated once, here (manifests store it as a plain dict).

    Each field declares its range, command-line option and table column (:func:`_field`): ``helpers.train``'s
    options, their checks, the reproducing command and the recipe tables all read them from here.
    """

    task: str = _field("model")
    name: str = _field("model")
    cell: str = _field("model", CELL)
    layers: int = _field("model", POSITIVE_INT)
    units: int = _field("model", POSITIVE_INT)
    max_epochs: int = _field("recipe", POSITIVE_INT, "--epochs", "maximum number of epochs (early stopping may end sooner)")
    batch_size: int = _field("recipe", POSITIVE_INT, "--batch-size", "training batch size", column="batch")
    learning_rate: float = _field("recipe", POSITIVE_NUMBER, "--lr", "initial learning rate", column="lr")
    seed: int = _field("recipe", NON_NEGATIVE_INT, "--seed", "random seed (data order, init, dropout)")
    decay_rate: float = _field("recipe", RATE, "--decay-rate", "learning-rate decay factor, applied every "
                               "--decay-every epochs (1 = constant)", column="decay")
    decay_every: int = _field("recipe", POSITIVE_INT, "--decay-every", "epochs between two learning-rate decays "
                              "(staircase)")
    dropout: float = _field("recipe", PROBABILITY, "--dropout", "dropout rate on the recurrent output (the report's "
                            "keep probability 0.75 is a rate of 0.25)", column="dropout")
    clipnorm: float | None = _field("recipe", POSITIVE_OR_NONE, "--clipnorm", "gradient clipping: maximum global "
                                    "norm, or none (no clipping)")
    patience: int = _field("recipe", POSITIVE_INT, "--patience", "early stopping: epochs without a better "
                           "validation loss")
    reset_after: bool = _field("recipe", BOOLEAN, "--reset-after", "GRU only: true = Keras/cuDNN variant (reset gate "
                               "after the matmul), false = the original GRU")
    gate_bias_init: str = _field("recipe", GATE_INITS, "--gate-bias-init", "chrono = gates initialised for long "
                                 "memory (Tallec & Ollivier 2018), default = Keras' zeros")
    jit_compile: bool = _field("recipe")
    reference_recipe: dict = _field("reference", default_factory=dict)
    quick: bool = _field("run", default=False)

    def __post_init__(self):
        check_task(self.task)
        for spec in dataclasses.fields(self):
            if spec.metadata["rule"] is not None:
                spec.metadata["rule"].check(spec.name, getattr(self, spec.name))

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> TrainConfig:
        """A copy with ``changes`` (validated); unknown keys are a ValueError that lists the known ones."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"Unknown config key(s) {unknown}; known: {sorted(f.name for f in dataclasses.fields(self))}.")
        return dataclasses.replace(self, **changes)


#: The keys of a training recipe (what :func:`helpers.core.training.shipped_recipe` carries over).
RECIPE_KEYS = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.metadata["role"] == "recipe")


def command_options() -> list[tuple[str, str, Rule, str]]:
    """``(flag, key, rule, help)`` of every field ``python -m helpers.train`` sets, in the order a command spells
    them: ``--epochs``, ``--batch-size``, ``--lr``, ``--seed``, then the rest of the recipe."""
    return [(f.metadata["flag"], f.name, f.metadata["rule"], f.metadata["help"])
            for f in dataclasses.fields(TrainConfig) if f.metadata["flag"]]


def recipe_columns(config: dict) -> dict:
    """The recipe of ``config`` as table columns: ``batch``, ``lr``, ``decay`` (``rate/every``), ``dropout``."""
    columns = {}
    for spec in dataclasses.fields(TrainConfig):
        column = spec.metadata["column"]
        if column == "decay":
            columns[column] = f"{config['decay_rate']:g}/{config['decay_every']}ep"
        elif column:
            columns[column] = config[spec.name]
    return columns
