"""Tests of helpers.continuation (notebook 04): per-image results, table 12 rows, example choice, composing
and drawing continuations, and the explorer. A small random-weight pixel model and synthetic digits."""

import matplotlib
import numpy as np
import pytest
from testkit import sharp_model, sigmoid, synthetic_images

from helpers import continuation, reference, sampling

NS = (1, 4, 30)
SAMPLES = 3


@pytest.fixture(scope="module")
def model():
    return sharp_model()


@pytest.fixture(scope="module")
def cset():
    # 150 hidden pixels: the continued positions 634.. start in rows 22-23, which hold ink.
    return sampling.make_continuation_set(synthetic_images(12, seed=1, density=0.4), n_images=5, hidden=150, seed=2)


@pytest.fixture(scope="module")
def results(model, cset):
    return continuation.continuation_results(model, cset, NS, num_samples=SAMPLES, seed=4)


def test_continuation_results_keys_and_shapes(results, cset):
    assert list(results) == list(NS)
    for n, result in results.items():
        assert set(result) == {"samples", "predicted", "gt", "most_probable"}
        assert result["samples"].shape == (5, SAMPLES, n)
        assert result["predicted"].shape == result["gt"].shape == (5,)
        assert result["most_probable"].shape == (5, n)
        assert np.isin(result["samples"], (0, 1)).all() and np.isin(result["most_probable"], (0, 1)).all()


def test_continuation_results_values(results, model, cset):
    L = cset.prefix_len
    # The whole-model logits of the true images: column t - 1 predicts position t.
    logits = model.predict(cset.images[:, :-1, None], verbose=0)[..., 0].astype(np.float64)
    for n, result in results.items():
        np.testing.assert_allclose(result["gt"], sampling.sequence_cross_entropy(model, cset.images, L, n), rtol=1e-6)
        p = sigmoid(logits[:, L - 1 : L - 1 + n])
        x = cset.images[:, L : L + n]
        np.testing.assert_allclose(result["gt"], -(x * np.log(p) + (1 - x) * np.log(1 - p)).mean(1), rtol=1e-4)
        sampled = sampling.sample_continuations(model, cset.prefix, n, num_samples=SAMPLES, seed=4)
        np.testing.assert_array_equal(result["samples"], sampled.samples)
        np.testing.assert_allclose(result["predicted"], sampled.cross_entropy.mean(axis=1))
        # The most probable first pixel: the full model's p(x_L | prefix) > 0.5.
        np.testing.assert_array_equal(result["most_probable"][:, 0], sigmoid(logits[:, L - 1]) > 0.5)
    assert results[30]["gt"].std() > 0 and results[30]["samples"].std() > 0
    assert cset.images[:, L : L + 30].any()  # the true continuation holds ink


def test_table12_rows(results):
    rows = continuation.table12_rows({"gru_1x32": results, "gru_1x8": results}, reference.CONTINUATION)
    assert [(r["model"], r["row"]) for r in rows] == [
        ("gru_1x32", "predicted"), ("gru_1x32", "GT"), ("gru_1x8", "predicted"), ("gru_1x8", "GT")]
    for row in rows:
        assert set(row) == {"model", "row"} | {f"n={n}" for n in NS} | {f"ref n={n}" for n in NS}
        kind = "predicted" if row["row"] == "predicted" else "gt"
        for n in NS:
            assert row[f"n={n}"] == pytest.approx(results[n][kind].mean())
            assert isinstance(row[f"n={n}"], float)
    ref = reference.CONTINUATION["gru_1x32"]
    assert rows[0]["ref n=1"] == ref["predicted"][1] and rows[1]["ref n=1"] == ref["gt"][1]
    assert rows[0]["ref n=4"] is None  # the report has no n = 4
    assert rows[2]["ref n=1"] is None and rows[3]["ref n=30"] is None


def test_sample_spread_and_disagreement():
    same = np.ones((1, 4, 6))
    assert continuation.sample_spread(same) == pytest.approx([0.0])
    half = np.zeros((2, 4, 6))
    half[:, :2] = 1
    np.testing.assert_allclose(continuation.sample_spread(half), [0.25, 0.25])
    truth = np.ones((2, 6))
    np.testing.assert_allclose(continuation.sample_disagreement(half, truth), [0.5, 0.5])
    np.testing.assert_allclose(continuation.sample_disagreement(same, np.ones((1, 6))), [0.0])


def test_choose_examples():
    truth = np.zeros((4, 6))
    samples = np.zeros((4, 4, 6))
    samples[0, :, :3] = 1          # all samples 50 % wrong, identical: failure, spread 0
    samples[1, :2, 0] = 1          # a little wrong, a little spread
    # image 2: samples equal to the truth -> success
    samples[3, :2, :] = 1          # half the samples all-ink: wrong 50 %, spread 0.25 (the largest)
    chosen = continuation.choose_examples({"samples": samples}, truth)
    assert set(chosen) == {"success", "failure", "high variance"}
    assert len(set(chosen.values())) == 3
    distance = continuation.sample_disagreement(samples, truth)
    assert chosen["success"] == 2 and distance[chosen["success"]] == distance.min()
    assert chosen["failure"] == 0  # ties (0 and 3) broken by image order
    assert chosen["high variance"] == 3
    # When the same image wins two criteria, the second one takes the next best, distinct image.
    chosen = continuation.choose_examples({"samples": samples[[0, 3, 2]]}, truth[:3])
    assert chosen == {"success": 2, "failure": 0, "high variance": 1}


def test_compose(cset):
    continued = np.ones(7, np.float32)
    image = continuation.compose(cset, 1, continued)
    L = cset.prefix_len
    np.testing.assert_array_equal(image[:L], cset.images[1, :L])
    np.testing.assert_array_equal(image[L : L + 7], 1.0)
    assert (image[L + 7 :] == -1).all()
    assert (cset.masked[1, L:] == -1).all()  # the set itself is not modified


def test_plots_return_figures(results, cset):
    import matplotlib.pyplot as plt

    fig = continuation.plot_per_image({"gru_1x32": results, "gru_1x8": results}, 4)
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 2
    fig = continuation.plot_example(cset, 0, results[30], 30, title="example", n_samples=2)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert [ax.get_title() for ax in fig.axes] == ["original", "masked", "sample 1", "sample 2", "greedy (p > 0.5)"]
    plt.close("all")


def test_plot_example_with_fewer_samples_than_panels(results, cset):
    """The notebook's quick mode draws 3 samples per image; plot_example asks for 5 panels by default."""
    import matplotlib.pyplot as plt

    fig = continuation.plot_example(cset, 0, results[30], 30)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["original", "masked"] + [f"sample {s + 1}" for s in range(SAMPLES)] + ["greedy (p > 0.5)"]
    fig = continuation.plot_per_image({"gru_1x8": results}, 30)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert f"samples (mean of {SAMPLES})" in labels
    plt.close("all")


def test_continuation_explorer_builds_and_draws(model, cset, shown):
    import ipywidgets

    widget = continuation.continuation_explorer({"gru_1x8": model}, cset, ns=(1, 30))
    assert isinstance(widget, ipywidgets.interactive)
    assert len(shown) == 1 and isinstance(shown[0], matplotlib.figure.Figure)
    assert "n = 30," in shown[0].get_suptitle()
    n_widget = next(w for w in widget.children if getattr(w, "description", None) == "n")
    n_widget.value = 1
    assert len(shown) == 2 and "n = 1," in shown[1].get_suptitle()
