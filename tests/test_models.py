"""Unit tests of helpers.models: names, parameter counts, build options, loading, per-step classifier."""

import json

import numpy as np
import pytest

from helpers.core import zoo as models
from helpers.core.zoo import ModelNotTrainedError

LOG_T = np.log(models.T_MAX - 1)  # largest chrono gate bias


def _gru_names():
    return [name for name in models.ZOO if name.startswith("gru")]


# --------------------------------------------------------------------------------------------------
# Parameter counts
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("task", models.TASKS)
@pytest.mark.parametrize("name", models.ZOO)
def test_param_count_matches_closed_form(task, name):
    model = models.build(task, name)
    assert model.count_params() == models.count_params(task, name)
    cell, layers, units = models.parse_name(name)
    for i, layer in enumerate(models.recurrent_layers(model)):
        assert layer.count_params() == models.count_recurrent_params(cell, units, 1 if i == 0 else units)


@pytest.mark.parametrize("task", models.TASKS)
@pytest.mark.parametrize("name", _gru_names())
def test_param_count_gru_reset_before(task, name):
    model = models.build(task, name, reset_after=False)
    assert model.count_params() == models.count_params(task, name, reset_after=False)
    assert models.count_params(task, name, reset_after=False) < models.count_params(task, name)


def test_param_counts_by_hand():
    """Independent arithmetic: LSTM 4(n(d+n)+n), GRU 3(n(d+n)+n) [+3n with reset_after], then the head."""
    head_classify_32 = (32 * 100 + 100) + (100 * 10 + 10)  # 4310
    assert models.count_params("classify", "lstm_1x32") == 4 * (32 * 33 + 32) + head_classify_32 == 8662
    assert models.build("classify", "lstm_1x32").count_params() == 8662
    # lstm_3x32: layer 1 sees 1 input, layers 2-3 see 32.
    lstm_3x32 = 4 * (32 * 33 + 32) + 2 * 4 * (32 * 64 + 32) + head_classify_32
    assert models.build("classify", "lstm_3x32").count_params() == lstm_3x32 == 25302
    # GRU, Keras default (two bias vectors) and the course's variant (one), pixel head Dense(1).
    assert models.build("pixel", "gru_1x64").count_params() == 3 * (64 * 65 + 64) + 3 * 64 + 65 == 12929
    assert models.build("pixel", "gru_1x64", reset_after=False).count_params() == 3 * (64 * 65 + 64) + 65 == 12737
    assert models.build("classify", "gru_1x128").count_params() == (3 * (128 * 129 + 128) + 3 * 128
                                                                   + 128 * 100 + 100 + 1010) == 64214


# --------------------------------------------------------------------------------------------------
# Names, tasks, build options
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gru32", "rnn_1x32", "gru_0x32", "gru_1x0", "GRU_1x32", ""])
def test_unknown_name_lists_the_zoo(name):
    with pytest.raises(ValueError, match="gru_1x32") as info:
        models.build("classify", name)
    for zoo_name in models.ZOO:
        assert zoo_name in str(info.value)


def test_unknown_task_lists_the_tasks():
    with pytest.raises(ValueError, match="classify.*pixel"):
        models.build("generate", "gru_1x32")
    with pytest.raises(ValueError, match="classify.*pixel"):
        models.count_params("generate", "gru_1x32")


def test_name_parsing_builds_any_size():
    assert models.parse_name("lstm_2x8") == ("lstm", 2, 8)
    model = models.build("pixel", "lstm_2x8")
    assert [layer.name for layer in models.recurrent_layers(model)] == ["rnn_0", "rnn_1"]
    assert model.count_params() == models.count_params("pixel", "lstm_2x8")


def test_output_shapes():
    x = np.zeros((2, 30, 1), np.float32)
    assert models.build("classify", "gru_1x8")(x).shape == (2, 10)
    assert models.build("pixel", "gru_2x8")(x).shape == (2, 30, 1)


def test_build_overrides():
    model = models.build("classify", "gru_1x8", reset_after=False, dropout=0.5, layers=2, units=4)
    rnn = models.recurrent_layers(model)
    assert len(rnn) == 2
    assert all(not layer.cell.reset_after and layer.cell.units == 4 for layer in rnn)
    assert model.get_layer("dropout").rate == 0.5
    assert model.zoo_config["reset_after"] is False and model.zoo_config["units"] == 4


def test_build_rejects_bad_overrides():
    with pytest.raises(ValueError, match="learning_rate"):
        models.build("classify", "gru_1x8", learning_rate=0.1)
    with pytest.raises(ValueError, match="dropout"):
        models.build("classify", "gru_1x8", dropout=1.0)
    with pytest.raises(ValueError, match="gate_bias_init"):
        models.build("classify", "gru_1x8", gate_bias_init="zeros")


def test_build_is_seeded():
    same = [models.build("classify", "lstm_1x8", seed=5).get_weights() for _ in range(2)]
    other = models.build("classify", "lstm_1x8", seed=6).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(*same))
    assert not np.array_equal(same[0][0], other[0])


# --------------------------------------------------------------------------------------------------
# Chrono gate-bias initialisation
# --------------------------------------------------------------------------------------------------


def _assert_memory_biases(b):
    assert np.all(b >= 0) and np.all(b <= LOG_T + 1e-6)
    assert b.std() > 0.1  # spread over U(1, T-1), not a constant


def test_chrono_lstm_biases():
    units = 16
    bias = models.build("classify", "lstm_1x16").get_layer("rnn_0").cell.bias.numpy()
    b_i, b_f, b_c, b_o = np.split(bias, 4)  # Keras order i, f, c, o
    _assert_memory_biases(b_f)
    np.testing.assert_allclose(b_i, -b_f)
    assert np.all(b_c == 0) and np.all(b_o == 0)
    assert bias.shape == (4 * units,)


@pytest.mark.parametrize("reset_after", [True, False])
def test_chrono_gru_biases(reset_after):
    bias = models.build("pixel", "gru_1x16", reset_after=reset_after).get_layer("rnn_0").cell.bias.numpy()
    row = bias[0] if reset_after else bias
    _assert_memory_biases(row[:16])  # update gate z: Keras keeps h_{t-1} when z = 1
    assert np.all(row[16:] == 0)
    if reset_after:
        assert np.all(bias[1] == 0)


def test_default_gate_bias_init_is_keras_default():
    bias = models.build("classify", "lstm_1x8", gate_bias_init="default").get_layer("rnn_0").cell.bias.numpy()
    np.testing.assert_array_equal(bias[8:16], 1.0)  # unit_forget_bias
    np.testing.assert_array_equal(np.delete(bias, np.s_[8:16]), 0.0)


def test_chrono_initialisation_depends_on_layer():
    model = models.build("classify", "gru_3x8")
    biases = [layer.cell.bias.numpy()[0, :8] for layer in models.recurrent_layers(model)]
    for b in biases:
        _assert_memory_biases(b)
    assert not np.array_equal(biases[0], biases[1])


# --------------------------------------------------------------------------------------------------
# Files: paths, load, manifests
# --------------------------------------------------------------------------------------------------


def test_model_paths(tmp_path):
    weights, manifest = models.model_paths("pixel", "gru_1x32", tmp_path)
    assert weights == tmp_path / "pixel" / "gru_1x32.weights.h5"
    assert manifest == tmp_path / "pixel" / "gru_1x32.json"
    assert models.model_paths("pixel", "gru_1x32", tmp_path / "pixel")[0] == weights


def test_load_without_weights_says_how_to_train(tmp_path):
    with pytest.raises(ModelNotTrainedError, match="python -m helpers.train classify gru_1x8"):
        models.load("classify", "gru_1x8", models_dir=tmp_path)
    with pytest.raises(FileNotFoundError):  # ModelNotTrainedError is a FileNotFoundError
        models.read_manifest("pixel", "gru_1x8", models_dir=tmp_path)
    assert not models.is_trained("classify", "gru_1x8", models_dir=tmp_path)


def _save(model, tmp_path, task, name, config=None):
    weights, manifest = models.model_paths(task, name, tmp_path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(weights)
    if config is not None:
        manifest.write_text(json.dumps({"config": config}))
    return weights


def test_load_round_trip_uses_manifest_architecture(tmp_path):
    original = models.build("classify", "gru_1x8", reset_after=False, seed=3)
    _save(original, tmp_path, "classify", "gru_1x8", config=dict(original.zoo_config))
    loaded = models.load("classify", "gru_1x8", models_dir=tmp_path)
    assert loaded.zoo_config["reset_after"] is False
    for a, b in zip(original.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert models.is_trained("classify", "gru_1x8", models_dir=tmp_path)


@pytest.mark.parametrize(
    "source",
    [("classify", "gru_1x16", {}), ("classify", "lstm_1x8", {}), ("classify", "gru_2x8", {}),
     ("pixel", "gru_1x8", {}), ("classify", "gru_1x8", {"reset_after": False})],
    ids=["units", "cell", "layers", "task", "reset_after"],
)
def test_load_mismatched_weights_is_a_clear_error(source, tmp_path):
    """Weights of another architecture saved under gru_1x8 are refused, never half-loaded."""
    task, name, overrides = source
    weights = _save(models.build(task, name, **overrides), tmp_path, "classify", "gru_1x8")
    with pytest.raises(ValueError, match="does not match") as info:
        models.load("classify", "gru_1x8", models_dir=tmp_path)
    assert str(weights) in str(info.value) and "--fresh" in str(info.value)


def test_load_garbage_weights_is_a_clear_error(tmp_path):
    weights, _ = models.model_paths("classify", "gru_1x8", tmp_path)
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="does not match"):
        models.load("classify", "gru_1x8", models_dir=tmp_path)


# --------------------------------------------------------------------------------------------------
# Per-step classifier
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gru_1x8", "lstm_2x8"])
def test_per_step_classifier_last_step_equals_model(name):
    model = models.build("classify", name, seed=1, gate_bias_init="default")
    stepwise = models.per_step_classifier(model)
    x = (np.random.default_rng(0).uniform(size=(3, 40, 1)) > 0.5).astype(np.float32)
    steps = np.asarray(stepwise(x, training=False))
    assert steps.shape == (3, 40, 10)
    np.testing.assert_allclose(steps[:, -1], np.asarray(model(x, training=False)), atol=1e-5)
    # Step t is the prediction after t + 1 pixels.
    np.testing.assert_allclose(steps[:, 9], np.asarray(model(x[:, :10], training=False)), atol=1e-5)
    assert not np.allclose(steps[:, 9], steps[:, -1], atol=1e-3)


def test_per_step_classifier_needs_a_classifier():
    with pytest.raises(ValueError, match="classify"):
        models.per_step_classifier(models.build("pixel", "gru_1x8"))


# --------------------------------------------------------------------------------------------------
# Configs
# --------------------------------------------------------------------------------------------------


def test_default_config_covers_every_zoo_model():
    for task in models.TASKS:
        for name in models.TASK_MODELS[task]:
            config = models.default_config(task, name)
            assert (config["task"], config["name"]) == (task, name)
            assert (config["cell"], config["layers"], config["units"]) == models.parse_name(name)
            assert set(models.ARCHITECTURE_KEYS) <= set(config)


def test_gru_classifiers_decay_slowly():
    """The 0.8-every-3-epochs decay starved gru_1x32 (91.2 % validation after 30 epochs): GRUs get 0.9 every 5."""
    for name in ("gru_1x32", "gru_1x64", "gru_1x128", "gru_3x32"):
        config = models.default_config("classify", name)
        assert (config["decay_rate"], config["decay_every"]) == (0.9, 5)
    for task, name in (("classify", "lstm_1x32"), ("pixel", "gru_1x32")):
        config = models.default_config(task, name)
        assert (config["decay_rate"], config["decay_every"]) == (0.8, 3)


def test_xla_only_for_one_layer_classifiers():
    """XLA made every model with a sequence-returning layer several times slower on a CPU (measured)."""
    assert models.default_config("classify", "lstm_1x32")["jit_compile"] is True
    assert models.default_config("classify", "gru_1x128")["jit_compile"] is True
    assert models.default_config("classify", "lstm_3x32")["jit_compile"] is False
    assert models.default_config("classify", "gru_3x32")["jit_compile"] is False
    assert models.default_config("pixel", "gru_1x32")["jit_compile"] is False


# --------------------------------------------------------------------------------------------------
# The fused formulation: same function, same variables, same files as the plain Keras layers
# --------------------------------------------------------------------------------------------------

FUSED_ZOO = [("pixel", name) for name in models.TASK_MODELS["pixel"]] + [("classify", "lstm_3x32"),
                                                                         ("classify", "gru_3x32")]


def _twins(task, name, **overrides):
    """The plain and the fused formulation of one model, with the same (default, seeded) weights."""
    plain = models.build(task, name, fused=False, **overrides)
    fused = models.build(task, name, fused=True, **overrides)
    for a, b in zip(plain.get_weights(), fused.get_weights()):
        np.testing.assert_array_equal(a, b)  # the same seeded initialisation
    return plain, fused


def _batch(task, n=6, steps=60, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.random((n, steps, 1)) < 0.3).astype(np.float32)
    y = x[:, 1:] if task == "pixel" else rng.integers(0, 10, n)
    return x, y


def _loss_and_gradients(model, task, x, y, training):
    import keras
    import tensorflow as tf

    with tf.GradientTape() as tape:
        out = model(x, training=training)
        if task == "pixel":
            loss = keras.losses.BinaryCrossentropy(from_logits=True)(y, out[:, :-1])
        else:
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, out)
    return np.asarray(out), [np.asarray(g) for g in tape.gradient(loss, model.trainable_variables)]


@pytest.mark.parametrize("task,name", FUSED_ZOO, ids=[f"{t}-{n}" for t, n in FUSED_ZOO])
def test_fused_equals_plain_without_dropout(task, name):
    """Outputs within 1e-5 and gradients within 1e-4 of the plain layers, in the training path (dropout 0)."""
    plain, fused = _twins(task, name, dropout=0.0)
    assert fused.zoo_fused and not plain.zoo_fused
    assert fused.count_params() == plain.count_params() == models.count_params(task, name)
    x, y = _batch(task)
    for training in (True, False):
        out_plain, grads_plain = _loss_and_gradients(plain, task, x, y, training)
        out_fused, grads_fused = _loss_and_gradients(fused, task, x, y, training)
        np.testing.assert_allclose(out_fused, out_plain, atol=1e-5, rtol=0)
        for g_plain, g_fused in zip(grads_plain, grads_fused):
            np.testing.assert_allclose(g_fused, g_plain, atol=1e-4, rtol=0)
        assert max(np.abs(g).max() for g in grads_plain) > 1e-3  # the comparison is not between zeros


@pytest.mark.parametrize("task,name", [("pixel", "gru_3x8"), ("pixel", "lstm_2x8"), ("classify", "lstm_3x8")])
def test_fused_training_draws_the_dropout_layers_masks(task, name):
    """In training, the fused model applies exactly the mask the plain model's Dropout layer draws (same seed
    generator, one draw per call): outputs and gradients agree with dropout active, step after step."""
    plain, fused = _twins(task, name, gate_bias_init="default")
    rng = np.random.default_rng(1)
    weights = [rng.normal(0.0, 0.5, w.shape).astype(np.float32) for w in plain.get_weights()]
    plain.set_weights(weights)
    fused.set_weights(weights)
    x, y = _batch(task, seed=2)
    generators = [m.get_layer("dropout").seed_generator for m in (plain, fused)]
    outputs = []
    for _ in range(2):
        assert np.array_equal(generators[0].state.numpy(), generators[1].state.numpy())
        out_plain, grads_plain = _loss_and_gradients(plain, task, x, y, training=True)
        out_fused, grads_fused = _loss_and_gradients(fused, task, x, y, training=True)
        np.testing.assert_allclose(out_fused, out_plain, atol=1e-5, rtol=0)
        for g_plain, g_fused in zip(grads_plain, grads_fused):
            np.testing.assert_allclose(g_fused, g_plain, atol=1e-4, rtol=0)
        outputs.append(out_fused)
    assert not np.allclose(outputs[0], outputs[1], atol=1e-3)  # a new mask at every call
    assert not np.allclose(outputs[0], np.asarray(fused(x, training=False)), atol=1e-3)  # dropout was active


def test_fused_pixel_dropout_is_per_element():
    """Reading out a single unit shows the mask: each (sequence, step) keeps it (scaled by 1 / (1 - rate)) or
    drops it, independently, at the Dropout layer's rate: not one mask per sequence, as a cell's own dropout."""
    model = models.build("pixel", "gru_1x8", fused=True, dropout=0.25)
    rng = np.random.default_rng(7)
    model.set_weights([rng.normal(0.0, 0.8, w.shape).astype(np.float32) for w in model.get_weights()])
    head = model.get_layer("logits")
    head.kernel.assign(np.eye(8, 1, dtype=np.float32))
    head.bias.assign(np.zeros(1, np.float32))
    x, _ = _batch("pixel", n=40, steps=50, seed=6)
    train, infer = (np.asarray(model(x, training=training))[..., 0] for training in (True, False))
    assert np.abs(infer).min() > 1e-4  # the unit is never near 0: a dropped unit shows
    dropped = train == 0
    assert np.all(dropped | np.isclose(train, infer / 0.75, rtol=1e-5, atol=1e-6))
    assert 0.2 < dropped.mean() < 0.3
    assert 0 < dropped.mean(axis=1).min() and dropped.mean(axis=1).max() < 1  # varies along each sequence
    assert 0 < dropped.mean(axis=0).min() and dropped.mean(axis=0).max() < 1  # and across sequences


def test_fused_model_lists_the_plain_layers():
    """Same layers, weights (order, names, shapes) and optimizer variables: checkpoints line up."""
    import keras

    for task, name in (("pixel", "gru_3x8"), ("classify", "lstm_3x8")):
        plain, fused = _twins(task, name)
        assert [layer.name for layer in fused.layers] == [layer.name for layer in plain.layers]
        assert [type(layer) for layer in fused.layers] == [type(layer) for layer in plain.layers]
        assert [w.path for w in fused.weights] == [w.path for w in plain.weights]
        assert [layer.name for layer in models.recurrent_layers(fused)] == ["rnn_0", "rnn_1", "rnn_2"][: len(
            models.recurrent_layers(plain))]
        optimizers = []
        for model in (plain, fused):
            model.compile(optimizer=keras.optimizers.Adam(), loss="mse")
            model.optimizer.build(model.trainable_variables)
            optimizers.append([tuple(v.shape) for v in model.optimizer.variables])
        assert optimizers[0] == optimizers[1]


def _file_layout(path):
    import h5py

    entries = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda key, obj: entries.append(
            (key, tuple(obj.shape) if isinstance(obj, h5py.Dataset) else dict(obj.attrs))))
    return entries


@pytest.mark.parametrize("task,name", [("pixel", "gru_3x8"), ("classify", "gru_2x8")])
def test_fused_and_plain_weights_files_are_interchangeable(task, name, tmp_path):
    plain, fused = _twins(task, name)
    rng = np.random.default_rng(3)
    fused.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in fused.get_weights()])
    fused.save_weights(tmp_path / "fused.weights.h5")
    plain.save_weights(tmp_path / "plain.weights.h5")
    assert _file_layout(tmp_path / "fused.weights.h5") == _file_layout(tmp_path / "plain.weights.h5")
    plain.load_weights(tmp_path / "fused.weights.h5")
    for a, b in zip(plain.get_weights(), fused.get_weights()):
        np.testing.assert_array_equal(a, b)
    other = models.build(task, name, fused=True, seed=7)
    other.load_weights(tmp_path / "fused.weights.h5")
    for a, b in zip(other.get_weights(), fused.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_fused_is_chosen_per_device(monkeypatch):
    """Fused on a CPU for pixel models and stacked classifiers; plain layers (cuDNN) when a GPU is visible, for
    one-layer classifiers, and for the GRU variant without a fused form (reset_after=False)."""
    from helpers.core import machine

    monkeypatch.setattr(machine, "visible_gpus", lambda backend=None: [])
    assert models.build("pixel", "gru_1x8").zoo_fused
    assert models.build("pixel", "lstm_1x8").zoo_fused
    assert models.build("classify", "gru_2x8").zoo_fused
    assert not models.build("classify", "gru_1x8").zoo_fused
    assert not models.build("pixel", "gru_1x8", reset_after=False).zoo_fused
    monkeypatch.setattr(machine, "visible_gpus", lambda backend=None: ["NVIDIA H100"])
    assert not models.build("pixel", "gru_1x8").zoo_fused
    assert not models.build("classify", "lstm_3x8").zoo_fused
    assert models.build("pixel", "gru_1x8", fused=True).zoo_fused  # asked for explicitly
    with pytest.raises(ValueError, match="No fused formulation"):
        models.build("classify", "gru_1x8", fused=True)
    with pytest.raises(ValueError, match="No fused formulation"):
        models.build("pixel", "gru_2x8", fused=True, reset_after=False)


def test_fused_model_trains_and_variable_lengths():
    """A few optimizer steps lower the loss; any sequence length and batch size runs (training and inference)."""
    import keras

    model = models.build("pixel", "gru_2x8", fused=True)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss=keras.losses.BinaryCrossentropy(from_logits=True))
    x, _ = _batch("pixel", n=16, steps=41, seed=4)
    first = model.train_on_batch(x[:, :-1], x[:, 1:])
    for _ in range(15):
        last = model.train_on_batch(x[:, :-1], x[:, 1:])
    assert last < first
    for n, steps in ((3, 5), (1, 1), (7, 30)):
        assert model(np.zeros((n, steps, 1), np.float32), training=True).shape == (n, steps, 1)
        assert model(np.zeros((n, steps, 1), np.float32), training=False).shape == (n, steps, 1)


def test_fused_training_cuts_the_batch_into_parts(monkeypatch):
    """The batch runs in parts (one per core) whose loops are independent: the same outputs and gradients."""
    from helpers.core import fused as fused_lib

    monkeypatch.setattr(fused_lib, "batch_parts", lambda batch: 3)
    for task, name in (("pixel", "gru_2x8"), ("classify", "lstm_2x8")):
        plain, fused = _twins(task, name, dropout=0.0)
        x, y = _batch(task, n=70, steps=20, seed=5)
        out_plain, grads_plain = _loss_and_gradients(plain, task, x, y, training=True)
        out_fused, grads_fused = _loss_and_gradients(fused, task, x, y, training=True)
        np.testing.assert_allclose(out_fused, out_plain, atol=1e-5, rtol=0)
        for g_plain, g_fused in zip(grads_plain, grads_fused):
            np.testing.assert_allclose(g_fused, g_plain, atol=1e-4, rtol=0)
