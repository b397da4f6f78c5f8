"""The training config: each zoo model's default recipe (:func:`default_config`) beside the typed record of
every hyper-parameter of a run (:class:`TrainConfig`), validated once, here. Manifests store it as a dict.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class TrainConfig:
    """Every hyper-parameter of one run, validated once, here (manifests store it as a plain dict)."""

    task: str
    name: str
    cell: str
    layers: int
    units: int
    reset_after: bool
    dropout: float
    gate_bias_init: str
    learning_rate: float
    decay_rate: float
    decay_every: int
    clipnorm: float | None
    batch_size: int
    max_epochs: int
    patience: int
    jit_compile: bool
    seed: int
    reference_recipe: dict = field(default_factory=dict)
    quick: bool = False

    def __post_init__(self):
        check_task(self.task)
        for key in ("max_epochs", "batch_size", "decay_every", "patience", "layers", "units"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{key} must be a positive integer, got {value!r}.")
        for key in ("learning_rate", "clipnorm"):
            value = getattr(self, key)
            if key == "clipnorm" and value is None:
                continue  # no gradient clipping (the report's recipe)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value > 0 and np.isfinite(value)):
                raise ValueError(f"{key} must be a positive number, got {value!r}.")
        if not 0 < self.decay_rate <= 1:
            raise ValueError(f"decay_rate must be in (0, 1], got {self.decay_rate!r}.")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}.")
        if not isinstance(self.reset_after, bool):
            raise ValueError(f"reset_after must be True or False, got {self.reset_after!r}.")
        if self.gate_bias_init not in ("chrono", "default"):
            raise ValueError(f"gate_bias_init must be 'chrono' or 'default', got {self.gate_bias_init!r}.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}.")
        if self.cell not in CELLS:
            raise ValueError(f"Unknown cell {self.cell!r}; choose one of {CELLS}.")

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> TrainConfig:
        """A copy with ``changes`` (validated); unknown keys are a ValueError that lists the known ones."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"Unknown config key(s) {unknown}; known: {sorted(f.name for f in dataclasses.fields(self))}.")
        return dataclasses.replace(self, **changes)
