"""Every shipped model loads and still scores what its manifest says on a fixed test slice.

The manifest records the loss (and accuracy) of the saved weights on the first 1,000 (classify) or 500
(pixel) test images; recomputing them here catches weights that do not match their manifest, a changed
architecture, or a changed data pipeline. Models not trained yet are skipped (they are listed by
``python -m helpers.train_zoo --status``).
"""

import numpy as np
import pytest

from helpers import classification, data, models, pixel, reference

SHIPPED = [(task, name) for task in models.TASKS for name in models.TASK_MODELS[task] if models.is_trained(task, name)]


@pytest.fixture(scope="module")
def test_split():
    return data.load_mnist().test


def test_some_models_are_shipped():
    assert SHIPPED, "no trained model under data/models: the notebooks would have nothing to show"


@pytest.mark.parametrize("task,name", SHIPPED, ids=[f"{t}-{n}" for t, n in SHIPPED])
def test_shipped_model_matches_its_manifest(task, name, test_split):
    manifest = models.read_manifest(task, name)
    metrics = manifest["metrics"]
    size = metrics["test_slice_size"]
    model = models.load(task, name)
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

    from helpers.train import build_parser, config_options
    from helpers.training import make_config

    manifest = models.read_manifest(task, name)
    args = build_parser().parse_args(shlex.split(manifest["command"])[3:])
    assert make_config(args.task, args.name, **config_options(args)) == manifest["config"]
