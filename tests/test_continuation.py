"""Tests of helpers.analysis.continuation (notebook 04): per-image results, table 12 rows, example choice, composing
and drawing continuations, and the explorer. A small random-weight pixel model and synthetic digits."""

import matplotlib
import numpy as np
import pytest
from testkit import sharp_model, sigmoid, synthetic_images

from helpers.analysis import continuation, plots
from helpers.core import reference
from helpers.inference import engine, sampling

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
        assert set(result) == {"samples", "predicted", "entropy", "gt", "gt_sampled_path", "most_probable"}
        assert result["samples"].shape == (5, SAMPLES, n)
        for key in ("predicted", "entropy", "gt", "gt_sampled_path"):
            assert result[key].shape == (5,), key
        assert result["most_probable"].shape == (5, n)
        assert np.isin(result["samples"], (0, 1)).all() and np.isin(result["most_probable"], (0, 1)).all()


def test_continuation_results_values(results, model, cset):
    L = cset.prefix_len
    # The whole-model logits of the true images: column t - 1 predicts position t.
    logits = model.predict(cset.images[:, :-1, None], verbose=0)[..., 0].astype(np.float64)
    for n, result in results.items():
        np.testing.assert_allclose(result["gt"], engine.sequence_cross_entropy(model, cset.images, L, n), rtol=1e-6)
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


def test_entropy_and_sampled_path_rows(results, model, cset):
    L = cset.prefix_len
    # n = 1: p_L does not depend on the samples, so the entropy is exact and the sampled path is the true one.
    p = sigmoid(model.predict(cset.prefix[:, :, None], verbose=0)[:, -1, 0])
    np.testing.assert_allclose(results[1]["entropy"], -(p * np.log(p) + (1 - p) * np.log(1 - p)), rtol=1e-4)
    np.testing.assert_allclose(results[1]["gt_sampled_path"], results[1]["gt"], rtol=1e-5)
    # n = 4, by the full model: the true pixels scored along each sampled path.
    n = 4
    samples = results[n]["samples"]
    truth = cset.images[:, L : L + n]
    expected_gt, expected_entropy = np.zeros(5), np.zeros(5)
    for s in range(SAMPLES):
        paths = np.concatenate([cset.prefix, samples[:, s, : n - 1]], axis=1)
        q = sigmoid(model.predict(paths[:, :, None], verbose=0)[:, L - 1 :, 0])
        expected_gt += -(truth * np.log(q) + (1 - truth) * np.log(1 - q)).mean(axis=1) / SAMPLES
        expected_entropy += -(q * np.log(q) + (1 - q) * np.log(1 - q)).mean(axis=1) / SAMPLES
    np.testing.assert_allclose(results[n]["gt_sampled_path"], expected_gt, rtol=1e-4)
    np.testing.assert_allclose(results[n]["entropy"], expected_entropy, rtol=1e-4)
    # The logits along the sampled paths are those the sampler used: they reproduce its cross-entropy.
    logits = continuation.sampled_path_logits(model, cset.prefix, samples)
    np.testing.assert_allclose(-engine.log_prob(logits, samples).mean(axis=(1, 2)), results[n]["predicted"], rtol=1e-5)
    assert not np.allclose(results[30]["gt_sampled_path"], results[30]["gt"])


def test_bernoulli_entropy_is_stable():
    logits = np.array([-800.0, -5.0, 0.0, 5.0, 800.0])
    p = sigmoid(logits[1:4])
    np.testing.assert_allclose(continuation.bernoulli_entropy(logits[1:4]), -(p * np.log(p) + (1 - p) * np.log(1 - p)))
    assert continuation.bernoulli_entropy(0.0) == pytest.approx(np.log(2))
    assert np.isfinite(continuation.bernoulli_entropy(logits)).all() and continuation.bernoulli_entropy(800.0) == 0


def test_estimator_and_sampled_path_tables(results):
    all_results = {"gru_1x32": results}
    rows = continuation.estimator_rows(all_results)
    assert [r["estimate"] for r in rows] == ["samples' cross-entropy", "mean entropy H(p_t)"]
    mean, error = continuation.mean_and_error(results[4]["entropy"])
    assert rows[1]["n=4"] == f"{mean:.3f} ± {2 * error:.3f}"  # ± is 2 SE, as the column titles say
    assert continuation.horizon_headers([1, 300]) == ["n=1, ± 2 SE", "n=300, ± 2 SE"]
    rows = continuation.sampled_path_rows(all_results, reference.CONTINUATION)
    assert [r["row"] for r in rows] == ["GT, true path", "GT, sampled path", "report GT"]
    mean, error = continuation.mean_and_error(results[4]["gt_sampled_path"])
    assert rows[1]["n=4"] == f"{mean:.3f} ± {2 * error:.3f}"
    assert rows[2]["n=1"] == "0.123" and rows[2]["n=4"] == "-"
    ranges = continuation.ratio_ranges({"a": results, "b": results}, "gt")
    ratio = results[30]["gt"].mean() / results[30]["predicted"].mean()
    assert ranges[30] == pytest.approx((ratio, ratio))


def _fake(gt, path, predicted=0.1, n_images=50, seed=0):
    rng = np.random.default_rng(seed)
    gt, path, predicted = (value + rng.normal(0, 0.01, n_images) for value in (gt, path, predicted))
    return {"gt": gt, "gt_sampled_path": path, "predicted": predicted}


def test_sampled_path_discussion_accepts_or_rules_out_the_hypothesis():
    ref = {"m": {"gt": {1: 0.1, 10: 0.3, 300: 0.55}, "predicted": {1: 0.1, 10: 0.2, 300: 0.09}}}
    like_report = {"m": {1: _fake(0.1, 0.1), 10: _fake(0.2, 0.3), 300: _fake(0.08, 0.55)}}
    lines = continuation.sampled_path_discussion(like_report, ref)
    assert lines[0] == ("Scoring the true pixels along sampled paths reproduces the report's GT row, which was probably "
                        "computed that way: at n > 1 it is closer to our sampled-path value than to the true-path one in "
                        "2 of 2 (model, n) cases, within 2 SE of it in 2 (of the true-path value: 0).")
    assert lines[1].startswith("GT / predicted at n = 1, 10, 300, lowest-highest over the models: sampled paths ")
    assert lines[1].endswith("; the report 1.0-1.0, 1.5-1.5, 6.1-6.1.")  # 0.1/0.1, 0.3/0.2, 0.55/0.09
    unlike = {"m": {1: _fake(0.1, 0.1), 10: _fake(0.3, 0.2), 300: _fake(0.55, 0.12)}}
    lines = continuation.sampled_path_discussion(unlike, ref)
    assert lines[0].startswith("Scoring the true pixels along sampled paths does not reproduce the report's GT row: ")
    assert "in 0 of 2 (model, n) cases" in lines[0]


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


def test_choose_common_examples_averages_the_models_and_prefers_ink():
    truth = np.zeros((4, 6))
    truth[3, :2] = 1
    a, b = np.zeros((4, 4, 6)), np.zeros((4, 4, 6))
    a[0, :, :3] = 1                 # image 0: wrong for model a, right for b
    b[0, :, :3] = 1
    a[1, :2] = 1                    # image 1: spread in a only
    a[3, :, :2] = 1                 # image 3: exactly right (its truth has ink) for both
    b[3, :, :2] = 1
    chosen = continuation.choose_common_examples({"a": {6: {"samples": a}}, "b": {6: {"samples": b}}}, 6, truth)
    # Images 2 and 3 are both exactly right: the tie goes to 3, whose true ending holds ink.
    assert chosen == {"success": 3, "failure": 0, "high variance": 1}


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

    fig = continuation.plot_per_image({"gru_1x32": results, "gru_1x8": results}, 4, reference.CONTINUATION)
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 2
    assert not any(line.get_linestyle() == "-" for line in fig.axes[0].get_lines())  # no line joins images
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert labels == ["true continuation", "true pixels along the sampled paths"]  # no report value at n = 4
    fig = continuation.plot_per_image({"gru_1x32": results}, 1, reference.CONTINUATION)
    assert fig.axes[0].get_legend_handles_labels()[1] == ["true continuation", "report (mean)"]  # paths equal at n = 1
    fig = continuation.plot_example(cset, 0, results[30], 30, title="example", n_samples=2)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert [ax.get_title() for ax in fig.axes] == ["original", "masked", "sample 1", "sample 2", "greedy (p > 0.5)"]
    # n = 1 is zoomed on the continued pixel, which is coloured in every sample.
    fig = continuation.plot_example(cset, 0, results[1], 1)
    _, _, left, right = plots.span_window(cset.prefix_len, 1)
    assert fig.axes[0].get_xlim() == (left - 0.5, right - 0.5)
    r, c = divmod(cset.prefix_len, 28)
    pixel = fig.axes[2].get_images()[0].get_array()[r, c]
    assert any(np.allclose(pixel, colour) for colour in (plots.PREDICTED_INK, plots.PREDICTED_BACKGROUND))
    fig = continuation.plot_example_models(cset, 1, {"gru_1x32": results, "gru_1x8": results}, 4, title="t", n_samples=2)
    assert len(fig.axes) == 2 * 5
    assert [ax.get_ylabel() for ax in fig.axes[::5]] == ["gru_1x32", "gru_1x8"]
    assert [ax.get_title() for ax in fig.axes[5:]] == [""] * 5  # column titles once
    plt.close("all")


def test_plot_example_with_fewer_samples_than_panels(results, cset):
    """The notebook's quick mode draws 3 samples per image; plot_example asks for 5 panels by default."""
    import matplotlib.pyplot as plt

    fig = continuation.plot_example(cset, 0, results[30], 30)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["original", "masked"] + [f"sample {s + 1}" for s in range(SAMPLES)] + ["greedy (p > 0.5)"]
    fig = continuation.plot_per_image({"gru_1x8": results}, 30)
    assert fig.axes[0].get_ylabel() == f"samples' cross-entropy (mean of {SAMPLES})"
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
