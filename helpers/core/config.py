"""The training config: one typed record of every hyper-parameter of a run, validated once, here.

Manifests store it as a plain dict (:meth:`TrainConfig.as_dict`); the zoo's defaults come from
:func:`helpers.core.zoo.default_config`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

TASKS = ("classify", "pixel")
CELLS = ("lstm", "gru")


def check_task(task: str) -> str:
    """``task`` if it is one of :data:`TASKS`, else a ValueError listing them."""
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}; choose one of: {', '.join(TASKS)}.")
    return task


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
