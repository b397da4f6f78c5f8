"""The model zoo: 8 recurrent architectures (``{cell}_{layers}x{units}``) for 2 tasks, built and loaded by name.

>>> model = build("classify", "gru_1x32")            # fresh weights, default config
>>> model = load("pixel", "gru_1x128")               # shipped weights from data/models/pixel/
Details (tasks, fused formulation, GRU conventions, why the default recipe): docs/internals.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from helpers.core.config import (  # noqa: F401 (the names and default recipes are part of this module's API too)
    ARCHITECTURE_KEYS,
    CELLS,
    REFERENCE_RECIPES,
    TASK_MODELS,
    TASKS,
    ZOO,
    TrainConfig,
    check_task,
    default_config,
    parse_name,
)
from helpers.core.machine import execution
from helpers.core.paths import MODELS_DIR

if TYPE_CHECKING:
    import keras

N_CLASSES = 10
HIDDEN_DENSE = 100
#: Sequence length the gate-bias ("chrono") initialisation is tuned for.
T_MAX = 784

class ModelNotTrainedError(FileNotFoundError):
    """The weights of a zoo model are not on disk yet."""


def _chrono_bias(cell: str, units: int, reset_after: bool, rng: np.random.Generator, bias: np.ndarray) -> np.ndarray:
    """Gate biases that make a fresh cell remember for ~U(1, T_MAX) steps (Tallec & Ollivier, 2018).

    LSTM (Keras gate order i, f, c, o): b_f = log U(1, T-1), b_i = -b_f.
    GRU (Keras order z, r, h; Keras keeps h_{t-1} when z = 1): b_z = log U(1, T-1).
    """
    bias = bias.copy()
    memory = np.log(rng.uniform(1.0, T_MAX - 1, size=units)).astype(np.float32)
    if cell == "lstm":
        bias[units : 2 * units] = memory
        bias[:units] = -memory
    else:
        row = bias[0] if reset_after else bias  # reset_after=True: bias has shape (2, 3 * units)
        row[:units] = memory
    return bias


def build(task: str, name: str, fused: bool | None = None, **overrides) -> keras.Model:
    """Build a fresh zoo model.

    Args:
        task: ``"classify"`` or ``"pixel"``.
        name: a zoo name such as ``"gru_1x32"``.
        fused: which formulation computes the model (both compute the same function, from the same
            variables, and read and write the same weights files): ``False`` plain Keras layers, ``True``
            the fused recurrence (:mod:`helpers.core.fused`), ``None`` (default) the faster one for this
            machine (:func:`helpers.core.machine.execution`).
        **overrides: architecture keys of :func:`default_config` (``reset_after``, ``dropout``,
            ``gate_bias_init``, ``units``, ``layers``, ``seed``) to change; anything else is an error.

    Layers are named ``rnn_0``, ``rnn_1``, ... (recurrent), ``dropout``, then ``dense_100`` and ``logits``
    (classify) or ``logits`` (pixel), so that helpers can find them.
    """
    import keras

    config = _build_config(task, name, overrides)
    fused = execution(task, config, fused).fused
    seed = int(config["seed"])
    inputs = keras.Input(shape=(None, 1), name="pixels")
    x = _recurrent_layers(config, task, inputs)
    x = keras.layers.Dropout(float(config["dropout"]), seed=seed, name="dropout")(x)
    for layer in _head(task, seed):
        x = layer(x)
    model = keras.Model(inputs, x, name=f"{task}_{name}")
    if fused:
        from helpers.core.fused import fused_model

        model = fused_model(task, model)
    model.zoo_config = {k: config[k] for k in ("task", "name", *ARCHITECTURE_KEYS, "seed")}
    model.zoo_fused = bool(fused)
    return model


def _build_config(task: str, name: str, overrides: dict) -> dict:
    """The default config of ``task/name`` with architecture ``overrides`` (or ``seed``), validated."""
    config = default_config(task, name)
    allowed = set(ARCHITECTURE_KEYS) | {"seed"}
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise ValueError(f"Unknown build option(s) {unknown}; allowed: {sorted(allowed)}.")
    config.update(overrides)
    TrainConfig(**config)  # validated once, there
    return config


def _recurrent_layers(config: dict, task: str, inputs):
    """The recurrent layers ``rnn_0``, ``rnn_1``, ... applied in turn to ``inputs`` (gate biases initialised): the
    top one's output."""
    cell, layers, units = config["cell"], int(config["layers"]), int(config["units"])
    rng = np.random.default_rng(int(config["seed"]))
    x = inputs
    for i in range(layers):
        layer = _recurrent_layer(config, i, return_sequences=task == "pixel" or i < layers - 1)
        x = layer(x)
        if config["gate_bias_init"] == "chrono":
            bias = layer.cell.bias
            bias.assign(_chrono_bias(cell, units, bool(config.get("reset_after", True)), rng, bias.numpy()))
    return x


def _recurrent_layer(config: dict, i: int, return_sequences: bool):
    """Recurrent layer ``rnn_{i}`` of a zoo model, its initialisers seeded from the model's seed."""
    import keras

    seed, units = int(config["seed"]), int(config["units"])
    kwargs = dict(return_sequences=return_sequences, name=f"rnn_{i}", seed=seed + i,
                  kernel_initializer=keras.initializers.GlorotUniform(seed=seed * 100 + 2 * i),
                  recurrent_initializer=keras.initializers.Orthogonal(seed=seed * 100 + 2 * i + 1))
    if config["cell"] == "lstm":
        return keras.layers.LSTM(units, **kwargs)
    return keras.layers.GRU(units, reset_after=bool(config["reset_after"]), **kwargs)


def _head(task: str, seed: int) -> list:
    """The dense read-out after the dropout: ``dense_100`` (ReLU) and ``logits`` (classify), or ``logits``."""
    import keras

    def dense(units, name, k, **kwargs):
        return keras.layers.Dense(units, name=name, kernel_initializer=keras.initializers.GlorotUniform(
            seed=seed * 100 + 50 + k), **kwargs)

    if task == "classify":
        return [dense(HIDDEN_DENSE, "dense_100", 0, activation="relu"), dense(N_CLASSES, "logits", 1)]
    return [dense(1, "logits", 1)]


def recurrent_layers(model) -> list:
    """The recurrent layers of a zoo model, in order (``rnn_0``, ``rnn_1``, ...)."""
    return [layer for layer in model.layers if layer.name.startswith("rnn_")]


def count_recurrent_params(cell: str, units: int, input_dim: int, reset_after: bool = True) -> int:
    """Closed-form parameter count of one LSTM/GRU layer.

    LSTM: 4 gates x (input weights + recurrent weights + bias) = 4 (n (d + n) + n).
    GRU: 3 x (n (d + n) + n), plus another 3n recurrent bias when ``reset_after`` (Keras default).
    """
    per_gate = units * (input_dim + units) + units
    if cell == "lstm":
        return 4 * per_gate
    if cell == "gru":
        return 3 * per_gate + (3 * units if reset_after else 0)
    raise ValueError(f"Unknown cell {cell!r}; choose one of {CELLS}.")


def count_params(task: str, name: str, reset_after: bool = True) -> int:
    """Closed-form parameter count of a whole zoo model (recurrent layers + head)."""
    check_task(task)
    cell, layers, units = parse_name(name)
    total, input_dim = 0, 1
    for _ in range(layers):
        total += count_recurrent_params(cell, units, input_dim, reset_after)
        input_dim = units
    if task == "classify":
        total += units * HIDDEN_DENSE + HIDDEN_DENSE + HIDDEN_DENSE * N_CLASSES + N_CLASSES
    else:
        total += units + 1
    return total


def model_paths(task: str, name: str, models_dir: str | Path | None = None) -> tuple[Path, Path]:
    """``(weights_path, manifest_path)`` of a zoo model: ``{models_dir}/{task}/{name}.weights.h5|.json``."""
    check_task(task)
    parse_name(name)
    folder = Path(models_dir) if models_dir is not None else MODELS_DIR
    folder = folder / task if folder.name != task else folder
    return folder / f"{name}.weights.h5", folder / f"{name}.json"


def read_manifest(task: str, name: str, models_dir: str | Path | None = None) -> dict:
    """The manifest (JSON) of a trained model; raises :class:`ModelNotTrainedError` when absent."""
    _, manifest_path = model_paths(task, name, models_dir)
    if not manifest_path.exists():
        raise ModelNotTrainedError(_not_trained_message(task, name, manifest_path))
    from helpers.core.workspace import read_json

    return read_json(manifest_path, "manifest")


def is_trained(task: str, name: str, models_dir: str | Path | None = None) -> bool:
    """Whether weights and manifest of a model are on disk."""
    weights, manifest = model_paths(task, name, models_dir)
    return weights.exists() and manifest.exists()


def _not_trained_message(task: str, name: str, path: Path) -> str:
    from helpers.core.workspace import display, restore_advice, ships

    if ships(path):
        return f"No trained {task} model {name!r} at {display(path)}. It is a shipped file: {restore_advice(path)}."
    return (f"No trained {task} model {name!r} at {display(path)}. Train it with "
            f"`python -m helpers.train {task} {name} --out {display(Path(path).parent.parent)}` (resumable).")


def _check_weight_shapes(model, weights_path: Path) -> None:
    """Raise ValueError unless the layer weights in a Keras ``.weights.h5`` file have the model's shapes.

    Keras matches layers by position and silently ignores extra ones (a 2-layer file loads into a 1-layer
    model without error), so the shapes are compared first.
    """
    import h5py

    with h5py.File(weights_path, "r") as f:
        if "layers" not in f:  # not the Keras 3 layout: let load_weights judge it
            return
        saved = []
        f["layers"].visititems(lambda _, obj: saved.append(tuple(obj.shape)) if isinstance(obj, h5py.Dataset) else None)
    expected = [tuple(w.shape) for w in model.weights]
    if sorted(saved) != sorted(expected):
        raise ValueError(f"the file holds {len(saved)} weight arrays of shapes {sorted(saved)}, "
                         f"the model has {len(expected)} of shapes {sorted(expected)}")


def load(task: str, name: str, models_dir: str | Path | None = None) -> keras.Model:
    """Build a zoo model with the architecture recorded in its manifest and load its trained weights.

    Raises:
        ModelNotTrainedError: the weights are not there yet (the message gives the train command).
        ValueError: the weights file does not match the architecture.
    """
    weights_path, manifest_path = model_paths(task, name, models_dir)
    if not weights_path.exists():
        raise ModelNotTrainedError(_not_trained_message(task, name, weights_path))
    overrides = {}
    if manifest_path.exists():
        from helpers.core.workspace import read_json

        config = read_json(manifest_path, "manifest").get("config", {})
        overrides = {k: config[k] for k in ARCHITECTURE_KEYS if k in config}
    model = build(task, name, **overrides)
    try:
        _check_weight_shapes(model, weights_path)
        model.load_weights(weights_path)
    except Exception as err:
        from helpers.core.workspace import restore_advice

        raise ValueError(
            f"{weights_path} does not match the {task} model {name!r} "
            f"({type(err).__name__}: {err}): {restore_advice(weights_path)}."
        ) from err
    return model


def per_step_classifier(model) -> keras.Model:
    """A classifier that outputs class logits after *every* pixel, sharing ``model``'s trained weights.

    The last recurrent layer is rebuilt with ``return_sequences=True`` and the dense head applied at every
    step (dropout is inactive at inference). ``output[:, t]`` is the prediction after reading t + 1 pixels;
    the last step equals ``model``'s own output.
    """
    import keras

    config = getattr(model, "zoo_config", None)
    if config is None or config["task"] != "classify":
        raise ValueError("per_step_classifier needs a classify model built by helpers.models.build or load.")
    overrides = {k: config[k] for k in ARCHITECTURE_KEYS}
    sequence_model = build("pixel", config["name"], fused=False, **overrides)  # every layer returns sequences
    x = sequence_model.get_layer(f"rnn_{config['layers'] - 1}").output
    x = keras.layers.Dense(HIDDEN_DENSE, activation="relu", name="dense_100")(x)
    outputs = keras.layers.Dense(N_CLASSES, name="logits")(x)
    stepwise = keras.Model(sequence_model.input, outputs, name=f"per_step_{config['name']}")
    for layer in stepwise.layers:
        if layer.name.startswith("rnn_") or layer.name in ("dense_100", "logits"):
            layer.set_weights(model.get_layer(layer.name).get_weights())
    return stepwise
