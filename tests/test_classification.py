"""Tests of helpers.analysis.classification (notebook 02): metrics, the zoo tables, curves, plots and the explorer.

Models are tiny (gru_1x8) with random weights; the one training run is 1 epoch on 32 images into a tmp
folder. Nothing is written to data/.
"""

import math

import matplotlib
import numpy as np
import pytest
import testkit

from helpers.analysis import classification as clf
from helpers.analysis import notebook_models
from helpers.core import reference, training
from helpers.core import zoo as models


def sharp_classifier(name="gru_1x8", seed=0, scale=0.8):
    """A random classifier with large weights, so that predictions differ between images and over time."""
    return testkit.sharp_model(name, seed, scale, task="classify")


@pytest.fixture(scope="module")
def small_splits():
    """32 / 16 / 16 real MNIST images (grey levels in [0, 1])."""
    return testkit.tiny_mnist_splits(32, 16, 16)


@pytest.fixture(scope="module")
def model():
    return sharp_classifier()


@pytest.fixture(scope="module")
def trained(small_splits, tmp_path_factory):
    """A real (tiny) training run: its folder and manifest."""
    out = tmp_path_factory.mktemp("models")
    manifest = training.train("classify", "gru_1x8", quick=True, epochs=1, out=out, verbose=0, splits=small_splits,
                              batch_size=32, jit_compile=False)
    return out, manifest


# --------------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------------


def test_loss_and_accuracy_by_hand():
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0]])
    labels = np.array([0, 2, 2])
    e = math.e
    expected_loss = -(math.log(e**2 / (e**2 + 2)) + math.log(1 / (2 + e)) + math.log(e**3 / (e**3 + 2))) / 3
    loss, accuracy = clf.loss_and_accuracy(logits, labels)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    assert accuracy == pytest.approx(2 / 3)
    assert isinstance(loss, float) and isinstance(accuracy, float)


def test_log_softmax_rows_are_distributions_and_stable():
    logits = np.random.default_rng(0).normal(0, 5, (7, 10))
    logits[0] += 1000.0  # would overflow a naive exp
    log_probs = clf.log_softmax(logits)
    assert np.all(np.isfinite(log_probs)) and np.all(log_probs <= 0)
    np.testing.assert_allclose(np.exp(log_probs).sum(axis=-1), 1.0, atol=1e-12)
    # Shift invariance: row 0 and row 0 - 1000 are the same distribution.
    np.testing.assert_allclose(log_probs[0], clf.log_softmax(logits[:1] - 1000.0)[0], atol=1e-9)


def test_confusion_matrix_counts_repeated_pairs():
    labels = np.array([0, 0, 1, 2, 2, 2, 2])
    predictions = np.array([0, 1, 1, 2, 0, 2, 2])
    matrix = clf.confusion_matrix(labels, predictions, n_classes=3)
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [1, 0, 3]])
    assert matrix.sum() == len(labels) and np.trace(matrix) == 5
    assert clf.confusion_matrix(labels, predictions).shape == (10, 10)


def test_most_confident_mistakes_order_and_only_wrong():
    probs = np.array([
        [0.90, 0.05, 0.05],  # label 0, right
        [0.60, 0.30, 0.10],  # label 1, wrong with 0.60
        [0.10, 0.10, 0.80],  # label 0, wrong with 0.80
        [0.05, 0.95, 0.00],  # label 1, right (most confident overall, but right)
        [0.20, 0.70, 0.10],  # label 2, wrong with 0.70
        [0.34, 0.33, 0.33],  # label 1, wrong with 0.34
    ])
    labels = np.array([0, 1, 0, 1, 2, 1])
    logits = np.log(np.clip(probs, 1e-12, None))
    np.testing.assert_array_equal(clf.most_confident_mistakes(logits, labels, k=10), [2, 4, 1, 5])
    np.testing.assert_array_equal(clf.most_confident_mistakes(logits, labels, k=2), [2, 4])
    assert len(clf.most_confident_mistakes(logits, np.argmax(logits, -1))) == 0


def test_pixels_needed_on_a_synthetic_curve():
    curve = np.concatenate([np.full(100, 0.1), np.linspace(0.1, 0.9, 50), np.full(10, 0.95), [0.96]])
    # 99 % of 0.96 = 0.9504: first reached by the 0.95-plateau? no (0.95 < 0.9504); only the last point.
    assert clf.pixels_needed(curve, 0.99) == len(curve)
    # 90 % of 0.96 = 0.864: first reached inside the ramp.
    expected = int(np.flatnonzero(curve >= 0.864)[0]) + 1
    assert 100 < expected <= 150
    assert clf.pixels_needed(curve, 0.9) == expected
    assert clf.pixels_needed(curve, 0.1) == 1  # reached from the first pixel


# --------------------------------------------------------------------------------------------------
# Models: predictions, curves, the zoo tables
# --------------------------------------------------------------------------------------------------


def test_predict_logits_binarizes_and_reads_sequences(model, small_splits):
    images = small_splits.test.images[:4]
    logits = clf.predict_logits(model, images)
    assert logits.shape == (4, 10)
    sequences = (images > 0.1).astype(np.float32).reshape(4, 784, 1)  # the course's rule, by hand
    np.testing.assert_allclose(logits, model.predict(sequences, verbose=0), atol=1e-5)


def test_accuracy_by_pixels_read_ends_at_the_models_accuracy(model, small_splits):
    images, labels = small_splits.test.images, small_splits.test.labels
    probs = clf.stepwise_probabilities(model, images)
    assert probs.shape == (len(images), 784, 10)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    final = np.exp(clf.log_softmax(clf.predict_logits(model, images).astype(np.float64)))
    np.testing.assert_allclose(probs[:, -1], final, atol=1e-4)

    curve = clf.accuracy_by_pixels_read(model, images, labels)
    assert curve.shape == (784,)
    assert np.all((curve >= 0) & (curve <= 1))
    _, accuracy = clf.loss_and_accuracy(clf.predict_logits(model, images), labels)
    assert curve[-1] == pytest.approx(accuracy)
    # Each value is the accuracy of the step-t argmax, e.g. after 400 pixels:
    assert curve[399] == pytest.approx((probs[:, 399].argmax(-1) == labels).mean())
    assert probs.argmax(-1).std(axis=1).max() > 0  # predictions change while reading (not a constant model)


def test_load_zoo_reports_missing_models_with_the_command(tmp_path):
    loaded, missing = notebook_models.load_zoo("classify", ["gru_1x8", "lstm_1x32"], models_dir=tmp_path)
    assert loaded == {}
    assert set(missing) == {"gru_1x8", "lstm_1x32"}
    assert "python -m helpers.train classify lstm_1x32" in missing["lstm_1x32"]


def test_load_zoo_loads_trained_models(trained):
    out, _ = trained
    loaded, missing = notebook_models.load_zoo("classify", ["gru_1x8", "gru_1x16"], models_dir=out)
    assert list(loaded) == ["gru_1x8"] and list(missing) == ["gru_1x16"]
    assert loaded["gru_1x8"].zoo_config["name"] == "gru_1x8"
    assert "python -m helpers.train classify gru_1x16" in missing["gru_1x16"]


def test_evaluate_zoo_rows(model, small_splits):
    # The same network under a reference name and a name without reference values.
    rows = clf.evaluate_zoo({"gru_1x32": model, "gru_1x8": model}, small_splits, train_subset=20, test_subset=12)
    assert [r["model"] for r in rows] == ["gru_1x32", "gru_1x8"]
    keys = {"model", "test_loss", "train_loss", "test_accuracy", "train_accuracy", "ref_test_loss",
            "ref_train_loss", "ref_test_accuracy", "ref_train_accuracy", "delta_test_accuracy", "delta_test_points",
            "test_logits", "test_se", "verdict", "delta_text", "judgement", "train_images"}
    assert all(set(r) == keys for r in rows)
    assert rows[0]["train_images"] == 20
    assert clf.train_note(rows, 20) == "The train columns are computed on all 20 training images."
    assert clf.train_note(rows, 55_000) == ("The train columns are computed on the first 20 of the 55,000 training "
                                            "images (train_subset), to keep this notebook fast.")
    test_x = (small_splits.test.images[:12] > 0.1).astype(np.float32).reshape(12, 784, 1)
    train_x = (small_splits.train.images[:20] > 0.1).astype(np.float32).reshape(20, 784, 1)
    test_pred = model.predict(test_x, verbose=0).astype(np.float64)
    train_pred = model.predict(train_x, verbose=0).astype(np.float64)
    test_labels, train_labels = small_splits.test.labels[:12], small_splits.train.labels[:20]
    for row in rows:
        assert row["test_logits"].shape == (12, 10)
        np.testing.assert_allclose(row["test_logits"], test_pred, atol=1e-5)
        assert row["test_accuracy"] == pytest.approx((test_pred.argmax(-1) == test_labels).mean())
        assert row["train_accuracy"] == pytest.approx((train_pred.argmax(-1) == train_labels).mean())
        p = np.exp(test_pred - test_pred.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        assert row["test_loss"] == pytest.approx(-np.log(p[np.arange(12), test_labels]).mean(), rel=1e-5)
        q = np.exp(train_pred - train_pred.max(-1, keepdims=True))
        q /= q.sum(-1, keepdims=True)
        assert row["train_loss"] == pytest.approx(-np.log(q[np.arange(20), train_labels]).mean(), rel=1e-5)
    ref = reference.CLASSIFY["gru_1x32"]
    assert rows[0]["ref_test_accuracy"] == ref["test_accuracy"] and rows[0]["ref_train_loss"] == ref["train_loss"]
    assert rows[0]["ref_test_loss"] == ref["test_loss"] and rows[0]["ref_train_accuracy"] == ref["train_accuracy"]
    assert rows[0]["delta_test_accuracy"] == pytest.approx(rows[0]["test_accuracy"] - ref["test_accuracy"])
    assert rows[0]["delta_test_points"] == pytest.approx(100 * rows[0]["delta_test_accuracy"])
    assert rows[1]["ref_test_accuracy"] is None and rows[1]["delta_test_accuracy"] is None
    assert rows[1]["delta_test_points"] is None and rows[1]["verdict"] is None
    # The verdict is the shared rule's, on the binomial error of the 12 images and the model's seed spread.
    judged = reference.judge("classify", "gru_1x32", rows[0]["test_accuracy"], rows[0]["test_se"], n_images=12)
    assert rows[0]["judgement"] == judged and rows[0]["verdict"] == judged.verdict
    assert rows[0]["delta_text"] == judged.delta_text(unit=False) and judged.delta_text().endswith(" pp")
    assert rows[0]["delta_text"].startswith(f"{rows[0]['delta_test_points']:+.2f} ± ")
    assert rows[0]["test_se"] == pytest.approx(clf.binomial_se(rows[0]["test_accuracy"], 12))


def test_recipe_rows_from_a_real_manifest(trained):
    _, manifest = trained
    assert manifest["status"] == "complete"
    (row,) = notebook_models.recipe_rows({"gru_1x8": manifest})
    config = manifest["config"]
    assert row["model"] == "gru_1x8"
    expected_params = models.build("classify", "gru_1x8").count_params()
    assert row["params"] == models.count_params("classify", "gru_1x8") == expected_params
    assert row["lr"] == config["learning_rate"] and row["batch"] == 32 and row["dropout"] == config["dropout"]
    assert row["decay"] == f"{config['decay_rate']:g}/{config['decay_every']}ep"
    assert (row["epochs_run"], row["best_epoch"], row["status"]) == (1, 1, "complete")
    assert row["hours"] == pytest.approx(manifest["train_seconds"] / 3600)
    assert row["hardware"] == "CPU"


def test_recipe_rows_reset_before_and_gpus():
    manifest = {"task": "pixel",
                "config": {"learning_rate": 0.01, "decay_rate": 0.9, "decay_every": 5, "batch_size": 64,
                                            "dropout": 0.25, "reset_after": False},
                "epochs_run": 3, "best_epoch": 2, "status": "in_progress", "train_seconds": 7200.0,
                "hardware": {"cpu_count": 16, "gpus": ["H100", "H100"]}}
    (row,) = notebook_models.recipe_rows({"gru_1x32": manifest})
    assert row["params"] == models.count_params("pixel", "gru_1x32", reset_after=False)
    assert row["decay"] == "0.9/5ep" and row["hours"] == 2.0
    assert row["hardware"] == "2x H100"


# --------------------------------------------------------------------------------------------------
# Figures and the widget
# --------------------------------------------------------------------------------------------------


def test_plots_return_figures(small_splits):
    matrix = clf.confusion_matrix(np.array([0, 1, 1, 7]), np.array([0, 1, 7, 7]))
    fig = clf.plot_confusion(matrix, title="t")
    assert isinstance(fig, matplotlib.figure.Figure)
    curves = {"gru_1x32": np.linspace(0.1, 0.9, 784), "lstm_3x32": np.linspace(0.1, 0.5, 784)}
    fig = clf.plot_accuracy_by_pixels(curves)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len(fig.axes[0].get_lines()) >= 2
    probs = np.full((784, 10), 0.1)
    fig = clf.plot_prediction_evolution(small_splits.test.images[0], probs, 300, label=7)
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 2
    assert "300 pixels read" in fig.axes[0].get_title()
    import matplotlib.pyplot as plt

    plt.close("all")


def test_prediction_explorer_builds_and_draws(model, small_splits, shown):
    import ipywidgets

    widget = clf.prediction_explorer({"gru_1x8": model}, small_splits.test.images[:3], small_splits.test.labels[:3])
    assert isinstance(widget, ipywidgets.interactive)
    descriptions = [getattr(w, "description", None) for w in widget.children]
    assert {"model", "test image", "pixels read"} <= set(descriptions)
    assert len(shown) == 1 and isinstance(shown[0], matplotlib.figure.Figure)  # drawn once on creation
    slider = next(w for w in widget.children if getattr(w, "description", None) == "pixels read")
    slider.value = 100
    assert len(shown) == 2 and "100 pixels read" in shown[1].axes[0].get_title()


def test_short_hardware_names_each_span():
    manifest = {"runs": [{"epochs": [1, 45], "gpus": []}, {"epochs": [46, 60], "gpus": ["NVIDIA H200"]},
                         {"epochs": [61, 61], "gpus": []}]}
    assert notebook_models.short_hardware(manifest, width=40) == "CPU 1-45, H200 46-60, CPU 61"
    assert notebook_models.short_hardware(manifest) == "CPU 46 ep, H200 15 ep"  # the spans are too wide for a table
    assert notebook_models.short_hardware({"runs": manifest["runs"][:2]}) == "CPU 1-45, H200 46-60"


def test_verdict_needs_two_standard_errors():
    assert clf.verdict(0.5, 0.3) == "within noise" and clf.verdict(0.7, 0.3) == "beats"
    assert clf.verdict(-0.7, 0.3) == "short of" and clf.verdict(-0.7, 0.3, "higher", "lower") == "lower"
    assert clf.binomial_se(0.9, 10_000) == pytest.approx(0.003)


def test_at_equal_epochs_reads_the_history_up_to_the_budget():
    manifest = {"history": {"val_loss": [0.9, 0.5, 0.6, 0.2], "val_accuracy": [0.5, 0.8, 0.7, 0.95]}}
    row = clf.at_equal_epochs(manifest, 3)
    assert (row["epochs"], row["best_epoch"], row["val_accuracy"]) == (3, 2, 0.8)
    assert row["val_se"] == pytest.approx(np.sqrt(0.8 * 0.2 / 5000))


def _protocol(**accuracies):
    return [{"model": m, "val_accuracy": a, "val_se": 0.003, "lr": 3e-3 if m != "gru_1x128" else 1e-3}
            for m, a in accuracies.items()]


def test_claim_verdicts():
    rows = _protocol(lstm_1x32=0.85, gru_1x32=0.95, lstm_3x32=0.852, gru_3x32=0.951)
    claims = {c["claim"]: c for c in clf.claim_verdicts(rows)}
    assert claims["GRU beats LSTM"]["verdict"] == "supported"
    assert "gru_1x32 - lstm_1x32 = +10.00" in claims["GRU beats LSTM"]["evidence"]
    assert claims["depth helps (3x32 beats 1x32)"]["verdict"] == "not resolved"
    mixed = clf.claim_verdicts(_protocol(lstm_1x32=0.85, gru_1x32=0.95, lstm_1x128=0.97, gru_1x128=0.93))
    assert mixed[0]["verdict"].startswith("mixed")
    # ± is 2 SE (one SE here is hypot(0.3, 0.3) = 0.42 pp), and the evidence says so.
    assert "gru_1x128 - lstm_1x128 = -4.00 ± 0.85 pp (lower, lr 0.001 vs 0.003: confounded)" in mixed[0]["evidence"]
    assert mixed[0]["evidence"].startswith("Δ ± 2 SE in validation accuracy (binomial error): ")
    # A large seed spread turns a clear difference into noise.
    assert clf.claim_verdicts(_protocol(lstm_1x32=0.85, gru_1x32=0.87), seed_sd=2.0)[0]["verdict"] == "not resolved"


def _summary(run, model, experiment, accuracy):
    return {"run": run, "model": model, "experiment": experiment, "tests": "x", "best_epoch": 30,
            "metrics": {"val_accuracy": accuracy, "test_accuracy": accuracy}, "history": {"val_loss": [1.0] * 30}}


def test_experiment_findings_and_seed_spread():
    summaries = {"lstm_1x32-seed0": _summary("lstm_1x32-seed0", "lstm_1x32", "seeds", 0.86),
                 "lstm_1x32-seed1": _summary("lstm_1x32-seed1", "lstm_1x32", "seeds", 0.88),
                 "lstm_1x32-keras-init": _summary("lstm_1x32-keras-init", "lstm_1x32", "gate init", 0.70)}
    assert clf.seed_spread(summaries) == pytest.approx(np.std([86, 88], ddof=1))
    text = "\n".join(clf.experiment_findings(summaries))
    # The seed SD is not shown with a ±, which is kept for 2 SE.
    assert "lstm_1x32, project recipe, 2 seeds: mean test accuracy 87.00%, seed-to-seed SD 1.41 pp." in text
    # One run against the mean of 2 seeds: its binomial error once, and the (pooled) seed SD of each side.
    two_se = 2 * np.sqrt(0.7 * 0.3 + np.std([86, 88], ddof=1) ** 2 * (1 + 1 / 2))
    assert (f"Keras' gate biases instead of chrono: 70.00%, -17.00 ± {two_se:.2f} pp against the project recipe "
            "(mean of 2 seeds): lower (± 2 SE: binomial error on 10,000 test images and a seed SD borrowed from the seeds of lstm_1x32 (1.41 pp, 1 degree of freedom)") in text
    assert clf.experiment_findings({}) == ["No experiment has finished yet."]
    assert len(clf.experiment_rows(summaries)) == 3


def test_seed_spread_pools_every_model_with_seeds():
    summaries = {f"{model}-seed{i}": _summary(f"{model}-seed{i}", model, "seeds", acc)
                 for model, accs in (("gru_1x32", (0.90, 0.92)), ("gru_3x32", (0.97, 0.98, 0.96)))
                 for i, acc in enumerate(accs)}
    pooled = np.sqrt(((0.02 * 100) ** 2 / 2 + 2 * 1.0**2) / 3)  # squares 2.0 and 2.0 over 1 + 2 dof
    assert clf.seed_models(summaries) == ["gru_1x32", "gru_3x32"]
    assert clf.seed_spread(summaries) == pytest.approx(pooled)
    assert "gru_3x32, project recipe, 3 seeds: mean test accuracy 97.00%, seed-to-seed SD 1.00 pp." in \
        "\n".join(clf.experiment_findings(summaries))


def test_a_recipe_run_against_its_seeds_uses_their_own_spread():
    summaries = {f"{model}-seed{i}": _summary(f"{model}-seed{i}", model, "seeds", acc)
                 for model, accs in (("gru_1x32", (0.92, 0.93, 0.94)), ("lstm_1x32", (0.80, 0.85, 0.90)))
                 for i, acc in enumerate(accs)}
    summaries["gru_1x32-report"] = _summary("gru_1x32-report", "gru_1x32", "report recipe", 0.97)
    line = next(line for line in clf.experiment_findings(summaries) if line.startswith("gru_1x32 with"))
    # gru_1x32's own SD (1 pp over 3 seeds), not the pooled one (3.6 pp, which would leave it within noise).
    two_se = 2 * np.sqrt(97 * 3 / 10_000 + 1.0 * (1 + 1 / 3))
    assert line == (f"gru_1x32 with the report's recipe: 97.00%, +4.00 ± {two_se:.2f} pp against the project recipe "
                    "(mean of 3 seeds): higher (± 2 SE: binomial error on 10,000 test images and its own seed SD "
                    "(1.00 pp over 3 seeds)).")
    assert clf.against_seeds_error(0.97, 3, 1.0) == pytest.approx(two_se / 2)
    # Seeds that record their budget say it, as the README's verdicts do.
    for summary in summaries.values():
        summary.setdefault("config", {})["max_epochs"] = 30
    line = next(line for line in clf.experiment_findings(summaries) if line.startswith("gru_1x32 with"))
    assert line.endswith("its own seed SD (1.00 pp over 3 seeds of 30 epochs)).")


def test_full_budget_runs_are_compared_with_the_shipped_model_on_validation_loss():
    run = {**_summary("gru_3x32-report-full", "gru_3x32", "full budget", 0.99), "tests": "the report's rates",
           "epochs_run": 3, "best_epoch": 2, "history": {"val_loss": [0.3, 0.1, 0.2]}, "config": {"lr": 5}}
    shipped = {"config": {"lr": 3}, "best_epoch": 1, "history": {"val_loss": [0.15]}}
    line = clf.full_budget_line(run, shipped)
    assert line.startswith("gru_3x32 at full budget (the report's rates): 3 epochs run, best at 2, validation loss "
                           "0.1000, test accuracy 99.00%; better on validation than the shipped model (0.1500)")
    assert "not better" in clf.full_budget_line(run, {**shipped, "history": {"val_loss": [0.05]}})
    promoted = {"config": {"lr": 5}, "best_epoch": 2, "history": run["history"]}
    assert clf.full_budget_line(run, promoted).endswith("this run is the shipped model (it won on validation loss).")
    assert clf.full_budget_line(run, None).endswith("test accuracy 99.00%.")


def test_report_recipe_runs_are_judged_against_the_reports_own_number():
    published = reference.CLASSIFY["lstm_1x32"]["test_accuracy"]
    near = {"lstm_1x32-report": _summary("lstm_1x32-report", "lstm_1x32", "report recipe", published + 0.001)}
    far = {"lstm_1x32-report": _summary("lstm_1x32-report", "lstm_1x32", "report recipe", published - 0.2)}
    assert "within noise" in clf.experiment_findings(near)[0]
    line = clf.experiment_findings(far)[0]
    assert f"against the report's published {published:.2%}, -20.00 ± " in line and "pp: short of (± 2 SE: binomial" in line
    assert "30 epochs here, up to 100 in the report" in line and "seed SD" in line


def test_pixels_to_reach():
    curve = np.array([0.1, 0.4, 0.6, 0.95, 0.9])
    assert clf.pixels_to_reach(curve, 0.5) == 3 and clf.pixels_to_reach(curve, 0.9) == 4
    assert clf.pixels_to_reach(curve, 0.99) == "never"


def test_recipe_differences_name_every_confound():
    lstm = clf.recipe_of({"learning_rate": 3e-3, "decay_rate": 0.8, "decay_every": 3, "dropout": 0.25})
    gru = clf.recipe_of({"learning_rate": 3e-3, "decay_rate": 0.9, "decay_every": 5, "dropout": 0.5})
    assert clf.recipe_differences(gru, lstm) == "decay 0.9/5 vs 0.8/3, dropout 0.5 vs 0.25"
    assert clf.recipe_differences(lstm, dict(lstm)) == ""
    rows = {"gru_1x32": {**gru, "val_accuracy": 0.95, "val_se": 0.003},
            "lstm_1x32": {**lstm, "val_accuracy": 0.85, "val_se": 0.003}}
    assert clf.compare_pair(rows, "gru_1x32", "lstm_1x32")["note"] == "decay 0.9/5 vs 0.8/3, dropout 0.5 vs 0.25"
