"""Every shipped model loads and still scores what its manifest says on a fixed test slice.

The manifest records the loss (and accuracy) of the saved weights on the first 1,000 (classify) or 500
(pixel) test images; recomputing them here catches weights that do not match their manifest, a changed
architecture, or a changed data pipeline. The cases are listed here, not looked up on disk: a shipped model
that goes missing fails (restore it with ``git checkout -- data/models``), and every machine, a GPU one too,
runs the same cases.
"""

import numpy as np
import pytest

from helpers.analysis import classification
from helpers.analysis import pixel_prediction as pixel
from helpers.core import data, machine, reference
from helpers.core import zoo as models

#: The shipped models: the course's 8 classifiers and 4 pixel models.
SHIPPED = [("classify", "lstm_1x32"), ("classify", "lstm_1x64"), ("classify", "lstm_1x128"), ("classify", "lstm_3x32"),
           ("classify", "gru_1x32"), ("classify", "gru_1x64"), ("classify", "gru_1x128"), ("classify", "gru_3x32"),
           ("pixel", "gru_1x32"), ("pixel", "gru_1x64"), ("pixel", "gru_1x128"), ("pixel", "gru_3x32")]
#: The shipped models with a fused formulation (pixel models and stacked classifiers), on any machine.
FUSED_SHIPPED = [("pixel", "gru_1x32"), ("pixel", "gru_1x64"), ("pixel", "gru_1x128"), ("pixel", "gru_3x32"),
                 ("classify", "lstm_3x32"), ("classify", "gru_3x32")]


@pytest.fixture(scope="module")
def test_split():
    return data.load_mnist().test


def test_the_lists_are_the_zoo():
    """SHIPPED is every model a task trains; FUSED_SHIPPED those with a fused formulation."""
    assert SHIPPED == [(task, name) for task in models.TASKS for name in models.TASK_MODELS[task]]
    for task, name in SHIPPED:
        assert models.is_trained(task, name), f"data/models/{task}/{name} is missing: git checkout -- data/models"
    from helpers.core import fused

    assert sorted(FUSED_SHIPPED) == sorted((task, name) for task, name in SHIPPED
                                           if fused.supports(task, models.read_manifest(task, name)["config"]))


@pytest.mark.parametrize("task,name", SHIPPED, ids=[f"{t}-{n}" for t, n in SHIPPED])
def test_shipped_model_matches_its_manifest(task, name, test_split):
    manifest = models.read_manifest(task, name)
    metrics = manifest["metrics"]
    size = metrics["test_slice_size"]
    model = models.load(task, name)  # the formulation this machine trains with (fused on a CPU, where supported)
    assert model.zoo_fused == machine.execution(task, manifest["config"]).fused
    images = test_split.images[:size]
    if task == "classify":
        loss, accuracy = classification.loss_and_accuracy(classification.predict_logits(model, images),
                                                          test_split.labels[:size])
        assert accuracy == pytest.approx(metrics["test_slice_accuracy"], abs=1.5 / size)
    else:
        loss = float(pixel.per_image_cross_entropy(model, data.to_sequences(data.binarize(images))).mean())
    assert loss == pytest.approx(metrics["test_slice_loss"], rel=1e-3)
    if manifest["status"] == "complete":
        assert np.isfinite(metrics["test_loss"]) and manifest["best_epoch"] >= 1


@pytest.mark.parametrize("task,name", FUSED_SHIPPED, ids=[f"{t}-{n}" for t, n in FUSED_SHIPPED])
def test_shipped_weights_give_the_same_outputs_in_both_formulations(task, name, test_split):
    """The shipped file (written by the plain layers) loads unchanged into the fused formulation, which then
    computes what the plain layers compute: at inference, and in training with the same dropout masks."""
    weights, _ = models.model_paths(task, name)
    config = models.read_manifest(task, name)["config"]
    overrides = {k: config[k] for k in models.ARCHITECTURE_KEYS}
    plain = models.build(task, name, fused=False, **overrides)
    fused = models.build(task, name, fused=True, **overrides)
    for model in (plain, fused):
        model.load_weights(weights)
    for a, b in zip(plain.get_weights(), fused.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = data.to_sequences(data.binarize(test_split.images[:3]))
    if task == "pixel":
        x = x[:, :-1]
    np.testing.assert_allclose(np.asarray(fused(x, training=False)), np.asarray(plain(x, training=False)),
                               atol=1e-5, rtol=0)
    # Training runs the XLA-compiled loop, whose tanh and sigmoid round differently from TensorFlow's: over
    # 784 steps of trained weights that leaves differences of up to about 1e-4 of the logits' size (pixel
    # logits reach -14 where the model is sure; the sharper the weights, the more the rounding grows).
    state = plain.get_layer("dropout").seed_generator.state.numpy()
    fused.get_layer("dropout").seed_generator.state.assign(state)
    np.testing.assert_allclose(np.asarray(fused(x, training=True)), np.asarray(plain(x, training=True)),
                               atol=5e-4, rtol=1e-4)


@pytest.mark.parametrize("task,name", SHIPPED, ids=[f"{t}-{n}" for t, n in SHIPPED])
def test_finished_models_state_how_they_compare_with_the_reference(task, name):
    """The issue's rule: a shortfall (or a win) is stated in the manifest, with the measured number."""
    manifest = models.read_manifest(task, name)
    if manifest["status"] != "complete":
        pytest.skip("still training: the note is written when it finishes")
    assert manifest["notes"].startswith(reference.compare(task, name, manifest["metrics"]))



@pytest.mark.parametrize("task,name", SHIPPED, ids=[f"{t}-{n}" for t, n in SHIPPED])
def test_recorded_command_reproduces_the_recorded_config(task, name):
    """The manifest's command, run today, would train with exactly the recorded recipe."""
    import shlex

    from helpers.core.training import make_config
    from helpers.train import build_parser, config_options

    manifest = models.read_manifest(task, name)
    args = build_parser().parse_args(shlex.split(manifest["command"])[3:])
    assert make_config(args.task, args.name, **config_options(args)) == manifest["config"]
