"""Tests of helpers.analysis.pixel_prediction (notebook 03): cross-entropies, table 11 rows, probability maps, k-step predictions
and unconditional samples. Small random-weight pixel models and synthetic binary digits; nothing is written."""

import matplotlib
import numpy as np
import pytest
from testkit import sharp_model, sigmoid, synthetic_images

from helpers.analysis import pixel_prediction as pixel
from helpers.core import data, reference, spread


def full_model_logits(model, sequences):
    """The model's output at every step for sequences (N, T): column t predicts position t + 1."""
    return model.predict(np.asarray(sequences, np.float32)[..., None], verbose=0)[..., 0].astype(np.float64)


@pytest.fixture(scope="module")
def model():
    return sharp_model()


@pytest.fixture(scope="module")
def images():
    return synthetic_images(6, seed=1)


def test_per_image_cross_entropy_equals_numpy(model, images):
    ce = pixel.per_image_cross_entropy(model, images)
    seq = images.reshape(len(images), 784)
    p = sigmoid(full_model_logits(model, seq[:, :-1]))
    x = seq[:, 1:]
    expected = -(x * np.log(p) + (1 - x) * np.log(1 - p)).mean(axis=1)
    assert ce.shape == (len(images),)
    np.testing.assert_allclose(ce, expected, rtol=1e-5)
    assert expected.std() > 1e-3  # images differ in cost: a real per-image check
    # Same result from (N, 784) and (N, 784, 1) inputs.
    np.testing.assert_allclose(pixel.per_image_cross_entropy(model, seq), ce, rtol=1e-6)


def test_evaluate_pixel_zoo_rows(model):
    def grey(x):  # grey levels: binarize (> 0.1) gives x back
        return x * 0.9 + 0.05

    splits = data.MnistSplits(
        train=data.Split(grey(synthetic_images(5, seed=2, density=0.1)), np.zeros(5, np.int64)),
        validation=data.Split(grey(synthetic_images(4, seed=3, density=0.3)), np.zeros(4, np.int64)),
        test=data.Split(grey(synthetic_images(6, seed=4, density=0.5)), np.zeros(6, np.int64)),
    )
    rows = pixel.evaluate_pixel_zoo({"gru_1x32": model, "gru_1x8": model}, splits, {"train": 3})
    assert [r["model"] for r in rows] == ["gru_1x32", "gru_1x8"]
    expected = {
        "test_loss": pixel.per_image_cross_entropy(model, synthetic_images(6, seed=4, density=0.5)).mean(),
        "val_loss": pixel.per_image_cross_entropy(model, synthetic_images(4, seed=3, density=0.3)).mean(),
        "train_loss": pixel.per_image_cross_entropy(model, synthetic_images(5, seed=2, density=0.1)[:3]).mean(),
    }
    assert len({round(v, 6) for v in expected.values()}) == 3  # the splits are told apart
    for row in rows:
        for key, value in expected.items():
            assert row[key] == pytest.approx(value, rel=1e-6)
        assert row["test_nats_per_image"] == pytest.approx(783 * row["test_loss"])
        assert row["test_bits_per_pixel"] == pytest.approx(row["test_loss"] / np.log(2))
    ref = reference.PIXEL["gru_1x32"]
    assert (rows[0]["ref_test_loss"], rows[0]["ref_val_loss"], rows[0]["ref_train_loss"]) == (
        ref["test_loss"], ref["val_loss"], ref["train_loss"])
    assert rows[0]["delta_test_loss"] == pytest.approx(rows[0]["test_loss"] - ref["test_loss"])
    assert rows[1]["ref_test_loss"] is None and rows[1]["delta_test_loss"] is None
    # Standard errors over the images, and the per-image test values for paired comparisons.
    test_values = pixel.per_image_cross_entropy(model, synthetic_images(6, seed=4, density=0.5))
    np.testing.assert_allclose(rows[0]["test_per_image"], test_values, rtol=1e-6)
    assert rows[0]["test_se"] == pytest.approx(test_values.std(ddof=1) / np.sqrt(6), rel=1e-5)
    assert rows[0]["train_se"] > 0 and rows[0]["val_se"] > 0


def test_standard_error():
    assert pixel.standard_error([1.0, 3.0]) == pytest.approx(1.0)
    assert np.isnan(pixel.standard_error([1.0]))


def _row(name, test, train, val=None, se=None, per_image=None):
    row = {"model": name, "test_loss": test, "train_loss": train, "ref_test_loss": reference.PIXEL[name]["test_loss"]}
    if val is not None:
        row["val_loss"] = val
    if se is not None:
        row.update(test_se=se, train_se=se, val_se=se)
    if per_image is not None:
        row["test_per_image"] = per_image
    return row


def _manifest(name, lr=5e-3):
    return {"task": "pixel", "name": name, "status": "complete", "epochs_run": 30, "best_epoch": 30, "train_seconds": 3600,
            "config": {"learning_rate": lr, "decay_rate": 0.8, "decay_every": 3, "batch_size": 256, "dropout": 0.25,
                       "max_epochs": 30}, "hardware": {"cpu_count": 2}, "metrics": {}}


def test_discussion_calls_differences_within_noise_so(no_seed_runs):
    rng = np.random.default_rng(0)
    base = rng.normal(0.0868, 0.03, 400)
    rows = [_row("gru_1x64", 0.0868, 0.0871, 0.0884, se=0.0003, per_image=base),
            _row("gru_3x32", 0.0904, 0.0908, 0.0921, se=0.0003, per_image=base + 0.0036),
            _row("gru_1x128", 0.0866, 0.0869, 0.0880, se=0.0003, per_image=base - 0.0002 + rng.normal(0, 0.01, 400))]
    manifests = {name: _manifest(name) for name in ("gru_1x64", "gru_3x32", "gru_1x128")}
    text = "\n".join(pixel.discussion(rows, manifests))
    # gru_3x32 is 0.0002 below the report's 0.0906 with a standard error of 0.0003: within noise, not "beats".
    assert "within noise: gru_3x32 (-0.0002 ± 0.0006)" in text
    assert "beats: gru_1x64 (-0.0095 ± 0.0006); within noise: gru_3x32" in text  # not among those that beat it
    assert "short of: gru_1x128 (+0.0047 ± 0.0006)" in text
    assert "(± 2 SE: per-image error on 400 test images alone, as it rests on one run" in text
    # A paired difference of 0.0002 with a paired error of about 0.0005: within noise.
    assert ("gru_1x128 against gru_1x64: within noise (+0.0002 ± 0.0010 nats/pixel, ± 2 SE of the paired per-image "
            "difference, no seed term)") in text
    assert "better by" not in text.split("gru_1x128 against gru_1x64")[1].split("\n")[0]


def test_a_gain_between_models_is_shown_with_two_paired_standard_errors(no_seed_runs):
    base = np.random.default_rng(1).normal(0.1, 0.03, 400)
    small = base + np.random.default_rng(2).normal(0.0132, 0.002, 400)
    rows = [_row("gru_1x32", small.mean(), 0.1, per_image=small), _row("gru_1x64", base.mean(), 0.09, per_image=base)]
    text = "\n".join(pixel.discussion(rows, {name: _manifest(name) for name in ("gru_1x32", "gru_1x64")}))
    two_se = 2 * np.std(small - base, ddof=1) / np.sqrt(400)
    assert (f"gru_1x64 against gru_1x32: better by {(small - base).mean():.4f} ± {two_se:.4f} nats/pixel (± 2 SE of "
            "the paired per-image difference, no seed term; ") in text


def test_a_gain_between_models_carries_the_pixel_seed_spread_once_seeds_are_recorded(monkeypatch):
    monkeypatch.setattr(spread, "seed_groups", lambda folder=None: {("pixel", "gru_1x32"): [0.1000, 0.1004, 0.1008]})
    monkeypatch.setattr(spread, "seed_epochs", lambda folder=None: {("pixel", "gru_1x32"): (30,)})
    base = np.random.default_rng(1).normal(0.1, 0.03, 400)
    small = base + np.random.default_rng(2).normal(0.0132, 0.002, 400)
    rows = [_row("gru_1x32", small.mean(), 0.1, se=0.0003, per_image=small),
            _row("gru_1x64", base.mean(), 0.09, se=0.0003, per_image=base)]
    text = "\n".join(pixel.discussion(rows, {name: _manifest(name) for name in ("gru_1x32", "gru_1x64")}))
    paired = np.std(small - base, ddof=1) / np.sqrt(400)
    two_se = 2 * np.sqrt(paired**2 + 2 * 0.0004**2)
    assert (f"better by {(small - base).mean():.4f} ± {two_se:.4f} nats/pixel (± 2 SE of the paired per-image "
            "difference and both runs' seed SD (0.0004 nats/pixel each); ") in text
    assert "(for gru_1x32, ± 2 SE: per-image error on 400 test images and its own seed SD (0.0004 nats/pixel over 3 " \
           "seeds of 30 epochs); for gru_1x64, ± 2 SE: per-image error on 400 test images and a seed SD borrowed " \
           "from the seeds (30 epochs) of gru_1x32" in text
    assert "The seed runs train the project recipe for 30 epochs, as the rows they are used for do." in text


def test_generalisation_lines_report_a_small_consistent_gap():
    rows = [_row("gru_1x32", 0.1000, 0.1002, 0.1017, se=0.0003), _row("gru_1x64", 0.0868, 0.0871, 0.0884, se=0.0003)]
    lines = pixel.generalisation_lines(rows)
    text = " ".join(lines)
    assert text.startswith("Overfitting, if any, is no larger than the difference between two held-out sets: ")
    assert "train minus test from +0.0002 to +0.0003" in text
    assert "train minus validation from -0.0015 to -0.0013" in text
    assert "below zero for 0 of 2 models against the test images (0 beyond 2 SE) and 2 of 2 models against the " \
           "validation images (2 beyond 2 SE)" in text
    assert "the validation gap is 1.5% to 1.5% of the loss, and the test and validation images differ by" in text
    # Training images no cheaper than any held-out split: the old verdict.
    same = [_row("gru_1x32", 0.1000, 0.1010, 0.1005, se=0.0003)]
    assert pixel.generalisation_lines(same)[0].startswith("No overfitting: no model's training images cost less")
    # Without standard errors, no count beyond noise is claimed.
    bare = pixel.generalisation_lines([_row("gru_1x32", 0.1000, 0.0900, 0.1017)])
    assert bare == ["Train minus held-out cross-entropy: train minus test from -0.0100 to -0.0100, train minus "
                    "validation from -0.0117 to -0.0117 nats/pixel; below zero for 1 of 1 models against the test "
                    "images and 1 of 1 models against the validation images."]


def test_probability_map(model, images):
    pmap = pixel.probability_map(model, images[0])
    assert pmap.shape == (28, 28)
    flat = pmap.reshape(784)
    assert np.isnan(flat[0]) and not np.isnan(flat[1:]).any()
    expected = sigmoid(full_model_logits(model, images[:1].reshape(1, 784)[:, :-1]))[0]
    np.testing.assert_allclose(flat[1:], expected, atol=1e-5)
    np.testing.assert_allclose(pixel.probability_map(model, images[0].reshape(784)), pmap, equal_nan=True)
    fig = pixel.plot_probability_maps(model, images[:2], title="maps")
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 5
    import matplotlib.pyplot as plt

    plt.close("all")


def test_k_step_predictions_layout_and_greedy_choice(model, images):
    cut = 300
    panels = pixel.k_step_predictions(model, images, cut, ns=(1, 5))
    assert list(panels) == [1, 5, 784 - cut]
    seq = images.reshape(len(images), 784)
    for n, panel in panels.items():
        assert panel.shape == (len(images), 784)
        np.testing.assert_array_equal(panel[:, :cut], seq[:, :cut])
        assert np.isin(panel[:, cut : cut + n], (0.0, 1.0)).all()
        assert (panel[:, cut + n :] == -1).all()
    # n = 1: the full model's p(x_cut | prefix) > 0.5.
    p_next = sigmoid(full_model_logits(model, seq[:, :cut])[:, -1])
    assert np.abs(p_next - 0.5).min() > 1e-3  # no tie
    np.testing.assert_array_equal(panels[1][:, cut], (p_next > 0.5).astype(np.float32))
    # n = 5: the same rule step by step, feeding the predictions back.
    history = seq[:, :cut].copy()
    for _ in range(5):
        p = sigmoid(full_model_logits(model, history)[:, -1])
        history = np.concatenate([history, (p > 0.5).astype(np.float32)[:, None]], axis=1)
    np.testing.assert_array_equal(panels[5][:, : cut + 5], history)


def test_k_step_predictions_sampling_and_arguments(model, images):
    a = pixel.k_step_predictions(model, images, 700, ns=(), sample=True, seed=3)
    b = pixel.k_step_predictions(model, images, 700, ns=(), sample=True, seed=3)
    assert list(a) == [84]
    np.testing.assert_array_equal(a[84], b[84])
    assert (a[84][:, 700:] >= 0).all()
    no_fill = pixel.k_step_predictions(model, images[:2], 700, ns=(2,), fill_out=False)
    assert list(no_fill) == [2]
    for cut in (0, 784):
        with pytest.raises(ValueError, match="cut"):
            pixel.k_step_predictions(model, images, cut)


def test_plot_k_step_colours_the_predicted_pixels(model, images):
    from helpers.analysis import plots

    cut = 300
    panels = pixel.k_step_predictions(model, images[:2], cut, ns=(1, 5))
    fig = pixel.plot_k_step(images[:2], panels, cut, title="k")
    assert len(fig.axes) == 2 * 4  # the digits, then 1, 5 and the fill-out
    assert [ax.get_ylabel() for ax in fig.axes[::2]] == ["digit", "1 px", "5 px", f"{784 - cut} px"]
    shown = fig.axes[2].get_images()[0].get_array()  # first image, 1 px row
    r, c = divmod(cut, 28)
    colour = plots.PREDICTED_INK if panels[1][0, cut] == 1 else plots.PREDICTED_BACKGROUND
    np.testing.assert_allclose(shown[r, c], colour)
    np.testing.assert_allclose(shown[r, c + 1], 0.6)  # not predicted: grey
    import matplotlib.pyplot as plt

    plt.close("all")


def test_unconditional_samples(model):
    samples = pixel.unconditional_samples(model, 3, seed=5)
    assert samples.shape == (3, 784)
    assert np.isin(samples, (0.0, 1.0)).all()
    assert (samples[:, 0] == 0).all()
    np.testing.assert_array_equal(samples, pixel.unconditional_samples(model, 3, seed=5))
    assert not np.array_equal(samples, pixel.unconditional_samples(model, 3, seed=6))
    assert not np.array_equal(samples[0], samples[1])
