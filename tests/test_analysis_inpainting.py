"""Tests of helpers.analysis.inpainting (notebook 05): hole statistics, the evaluation of the exact fill,
calibration, the figures and the explorer. A small random-weight pixel model and synthetic digits."""

import functools

import matplotlib
import numpy as np
import pytest
import testkit
from testkit import sharp_model, sigmoid

from helpers.analysis import inpainting as ia
from helpers.inference import exact_fill

synthetic_images = functools.partial(testkit.synthetic_images, density=0.3)


def full_loglik(model, sequences):
    """log p(x_2..x_784 | x_1) of whole binary sequences (N, 784), from the full model's outputs."""
    p = sigmoid(model.predict(sequences[:, :-1, None], verbose=0)[..., 0])
    x = sequences[:, 1:]
    return (x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=1)


@pytest.fixture(scope="module")
def model():
    return sharp_model()


@pytest.fixture(scope="module")
def sets():
    images = synthetic_images(30, seed=1)
    return {"pixel": exact_fill.make_inpainting_set(images, "pixel", n=6, seed=2, stroke="touch"),
            "block": exact_fill.make_inpainting_set(images, "block", n=5, seed=3, stroke="touch")}


@pytest.fixture(scope="module")
def results(model, sets):
    return {name: ia.evaluate_inpainting(model, s) for name, s in sets.items()}


def test_hole_statistics_on_a_handmade_set():
    images = np.zeros((3, 784), np.float32)
    holes = np.array([[100, 101, 128, 129], [200, 201, 228, 229], [300, 301, 328, 329]])
    images[0, 100] = 1                       # one ink pixel in the first hole
    images[2, [300, 301, 328, 329]] = 1      # a full hole
    images[1, 202] = 1                       # ink next to the second hole, not in it
    masked = images.copy()
    masked[np.arange(3)[:, None], holes] = -1
    iset = exact_fill.InpaintingSet(masked, images, np.arange(3), holes, "block", None, 0)
    assert ia.hole_statistics(iset) == {"images": 3, "missing_pixels": 12, "ink": 5, "background": 7,
                                        "holes_with_ink": 2}


def test_evaluate_inpainting_keys_and_shapes(results, sets):
    for name, result in results.items():
        n, k = sets[name].holes.shape
        assert result["posterior"].shape == (n, 2**k)
        assert result["pixel_correct"].shape == result["past_only_pixel_correct"].shape == (n, k)
        for key in ("gt_cross_entropy", "fill_cross_entropy", "confidence", "truth_posterior", "hole_correct",
                    "past_only_hole_correct"):
            assert result[key].shape == (n,), key
        assert result["filled"].shape == result["past_only_filled"].shape == (n, 784)
        np.testing.assert_array_equal(result["missing"], sets[name].holes)
        assert result["loglik"].shape == (n, 2**k) and result["truth_index"].shape == (n,)


def test_evaluate_inpainting_invariants(model, results, sets):
    for name, result in results.items():
        iset = sets[name]
        rows = np.arange(len(iset.holes))[:, None]
        # The most probable fill never costs more than the truth (the truth is one of the candidates).
        assert np.all(result["fill_cross_entropy"] <= result["gt_cross_entropy"] + 1e-9)
        np.testing.assert_allclose(result["posterior"].sum(axis=1), 1.0, atol=1e-9)
        assert np.all((result["truth_posterior"] >= 0) & (result["truth_posterior"] <= 1))
        assert np.all(result["confidence"] >= result["truth_posterior"] - 1e-12)
        np.testing.assert_allclose(result["confidence"], result["posterior"].max(axis=1))
        # Recovery arrays agree with the filled images.
        filled, truth = result["filled"], iset.images
        observed = np.ones(filled.shape, bool)
        observed[rows, iset.holes] = False
        np.testing.assert_array_equal(filled[observed], truth[observed])
        assert np.isin(filled[rows, iset.holes], (0.0, 1.0)).all()
        np.testing.assert_array_equal(result["pixel_correct"], filled[rows, iset.holes] == truth[rows, iset.holes])
        np.testing.assert_array_equal(result["hole_correct"], result["pixel_correct"].all(axis=1))
        np.testing.assert_array_equal(result["past_only_pixel_correct"],
                                      result["past_only_filled"][rows, iset.holes] == truth[rows, iset.holes])
        np.testing.assert_array_equal(result["past_only_hole_correct"], result["past_only_pixel_correct"].all(axis=1))
        np.testing.assert_array_equal(result["hole_correct"], result["truth_posterior"] == result["confidence"])
        # Cross-entropies equal the whole-image cross-entropy of the true and of the filled images.
        np.testing.assert_allclose(result["gt_cross_entropy"], exact_fill.image_cross_entropy(model, truth), atol=1e-5)
        np.testing.assert_allclose(result["fill_cross_entropy"], exact_fill.image_cross_entropy(model, filled),
                                   atol=1e-5)
        np.testing.assert_allclose(result["gt_cross_entropy"], -full_loglik(model, truth) / 783, atol=1e-5)


def test_evaluate_inpainting_one_pixel_by_hand(model, results, sets):
    """For one missing pixel: posterior from the two full-sequence likelihoods, past-only from p > 0.5."""
    iset, result = sets["pixel"], results["pixel"]
    hole = iset.holes[:, 0]
    zero, one = iset.images.copy(), iset.images.copy()
    zero[np.arange(len(hole)), hole], one[np.arange(len(hole)), hole] = 0, 1
    p_one = sigmoid(full_loglik(model, one) - full_loglik(model, zero))
    np.testing.assert_allclose(result["posterior"][:, 1], p_one, atol=1e-4)
    truth = iset.images[np.arange(len(hole)), hole]
    np.testing.assert_allclose(result["truth_posterior"], np.where(truth == 1, p_one, 1 - p_one), atol=1e-4)
    np.testing.assert_array_equal(result["filled"][np.arange(len(hole)), hole], p_one > 0.5)
    prefix_p = np.array([sigmoid(model.predict(iset.images[i : i + 1, :h, None], verbose=0)[0, -1, 0])
                         for i, h in enumerate(hole)])
    np.testing.assert_array_equal(result["past_only_filled"][np.arange(len(hole)), hole], prefix_p > 0.5)
    assert p_one.std() > 0.01  # the posteriors differ between images: not a trivial set


def test_summary_row(results):
    row = ia.summary_row("gru_1x8", "block", results["block"])
    r = results["block"]
    assert row["model"] == "gru_1x8" and row["set"] == "block"
    assert row["gt_ce"] == pytest.approx(r["gt_cross_entropy"].mean())
    assert row["pixels_recovered"] == pytest.approx(r["pixel_correct"].mean())
    assert row["holes_recovered"] == pytest.approx(r["hole_correct"].mean())
    assert row["past_only_holes"] == pytest.approx(r["past_only_hole_correct"].mean())


def test_loglik_and_truth_index(model, results, sets):
    for name, result in results.items():
        iset = sets[name]
        rows = np.arange(len(iset.holes))
        np.testing.assert_array_equal(result["patterns"][result["truth_index"]], iset.images[rows[:, None], iset.holes])
        np.testing.assert_allclose(-result["loglik"][rows, result["truth_index"]] / 783, result["gt_cross_entropy"],
                                   atol=1e-5)


def test_posterior_sample_row(results):
    result = results["block"]
    row = ia.posterior_sample_row("gru_1x8", "2x2 block", result, seed=1)
    loglik, rows = result["loglik"], np.arange(len(result["loglik"]))
    truth = loglik[rows, result["truth_index"]]
    assert row["gt_ce"] == pytest.approx(-truth.mean() / 783)
    assert row["best_ce"] == pytest.approx(result["fill_cross_entropy"].mean(), abs=1e-5)
    best, best_error = row["best_minus_gt"]
    assert best <= 0 and best == pytest.approx(-(loglik.max(axis=1) - truth).mean())
    assert best_error == pytest.approx((loglik.max(axis=1) - truth).std(ddof=1) / np.sqrt(len(rows)))
    expected = -((result["posterior"] * loglik).sum(axis=1) - truth).mean()
    assert row["expected_minus_gt"][0] == pytest.approx(expected)
    # The sampled fill is a candidate drawn with the posterior's probabilities (seeded: reproducible).
    assert row == ia.posterior_sample_row("gru_1x8", "2x2 block", result, seed=1)
    assert row["best_minus_gt"][0] <= row["sample_minus_gt"][0]
    # A posterior sure of one candidate always draws it.
    sure = dict(result, posterior=np.eye(16)[result["truth_index"]])
    assert ia.posterior_sample_row("m", "s", sure)["sample_minus_gt"][0] == 0
    # The past-only fill's candidate.
    past = result["past_only_filled"][rows[:, None], result["missing"]]
    index = [int(np.flatnonzero((result["patterns"] == v).all(axis=1))[0]) for v in past]
    assert row["past_only_minus_gt"][0] == pytest.approx(-(loglik[rows, index] - truth).mean())


def test_posterior_table_rows_and_discussion():
    row = {"model": "gru_1x128", "set": "1 pixel", "gt_ce": 0.086, "best_ce": 0.0859, "sample_ce": 0.0859,
           "best_minus_gt": (-0.04, 0.02), "sample_minus_gt": (-0.02, 0.02), "expected_minus_gt": (-0.018, 0.018),
           "past_only_minus_gt": (0.15, 0.02)}
    printed = ia.posterior_table_rows([row], {"pixel": {"gt": 0.0831, "inpainted": 0.0833}})[0]
    # ± is 2 SE in the table, as in the lines under it (and as its column titles say).
    assert printed["sample"] == "-0.020 ± 0.040" and printed["report"] == "+0.157"
    (line,) = ia.posterior_sample_discussion([row], {"pixel": {"gt": 0.0831, "inpainted": 0.0833}})
    assert line == ("gru_1x128, 1 pixel: the report's +0.157 nats per image (+0.078 to +0.235 given its rounding) is "
                    "within 2 SE of the past-only fill: fill minus ground truth (± 2 SE) sampled -0.020 ± 0.040, "
                    "past-only +0.150 ± 0.040.")
    far = dict(row, past_only_minus_gt=(0.0, 0.02), sample_minus_gt=(-0.02, 0.019))
    assert "is beyond 2 SE of both fills: fill minus ground truth (± 2 SE) sampled -0.020 ± 0.038, past-only +0.000" \
        in ia.posterior_sample_discussion([far], {"pixel": {"gt": 0.0831, "inpainted": 0.0833}})[0]
    assert ia.posterior_sample_discussion([dict(row, set="other")]) == [
        "gru_1x128, other: fill minus ground truth (± 2 SE), sampled -0.020 ± 0.040, past-only +0.150 ± 0.040 nats "
        "per image."]
    assert ia.posterior_table_rows([dict(row, set="other")])[0]["report"] == "-"


def test_calibration_noise_line():
    rows = [{"bin": "a", "holes": 94, "confidence": 0.644, "accuracy": 0.511},
            {"bin": "b", "holes": 100, "confidence": 0.55, "accuracy": 0.57}]
    line = ia.calibration_noise_line(rows)
    assert line.startswith("Bins: 1 of 2 beyond 2 standard errors") and "2.7 standard errors" in line
    assert ia.calibration_noise_line(rows[1:]).endswith("consistent with noise.")


def test_hole_window_is_a_fixed_square_inside_the_image():
    for holes in ([0], [783], [100, 101, 128, 129], [27]):
        top, bottom, left, right = ia.hole_window(holes)
        assert (bottom - top, right - left) == (14, 14)
        assert 0 <= top and bottom <= 28 and 0 <= left and right <= 28
        r, c = np.divmod(np.asarray(holes), 28)
        assert ((top <= r) & (r < bottom) & (left <= c) & (c < right)).all()


def test_calibration_bins():
    rng = np.random.default_rng(0)
    confidence = np.concatenate([rng.uniform(0.2, 1.0, 200), [0.5, 0.6, 0.99, 1.0]])
    correct = rng.random(len(confidence)) < confidence
    rows = ia.calibration(confidence, correct)
    assert sum(r["holes"] for r in rows) == len(confidence)
    lows = [float(r["bin"].split("-")[0]) for r in rows]
    assert lows == sorted(lows) and len(set(lows)) == len(lows)
    for r in rows:
        low, high = (float(v) for v in r["bin"].split("-"))
        members = (confidence > low) & (confidence <= high) if low > 0 else (confidence <= high)
        assert r["holes"] == members.sum()
        assert r["confidence"] == pytest.approx(confidence[members].mean())
        assert r["accuracy"] == pytest.approx(correct[members].mean())
        assert low <= r["confidence"] <= high
    assert rows[-1]["bin"] == "0.99-1.00" and rows[-1]["holes"] >= 2  # 0.99 and 1.0 land in the last bin
    # Empty bins are left out.
    rows = ia.calibration(np.array([0.55, 0.97]), np.array([True, False]))
    assert [(r["bin"], r["holes"], r["accuracy"]) for r in rows] == [("0.50-0.60", 1, 1.0), ("0.95-0.99", 1, 0.0)]


def test_figures(results, sets):
    import matplotlib.pyplot as plt

    fig = ia.plot_triplets(sets["block"], results["block"]["filled"], [0, 2], title="t")
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 8
    assert [ax.get_title() for ax in fig.axes[:4]] == ["whole digit", "original", "masked", "in-painted"]
    assert len(fig.axes[0].patches) == 1 and fig.axes[0].get_xlim() == (-0.5, 27.5)  # the window, outlined
    top, bottom, left, right = ia.hole_window(sets["block"].holes[0])
    assert fig.axes[1].get_xlim() == (left - 0.5, right - 0.5) and fig.axes[1].get_ylim() == (bottom - 0.5, top - 0.5)
    assert len(ia.plot_triplets(sets["block"], results["block"]["filled"], [0], zoom=False).axes) == 3
    fig = ia.plot_candidates(sets["block"], 1, results["block"], max_candidates=16)
    assert isinstance(fig, matplotlib.figure.Figure)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 16 and sum("(truth)" in t for t in titles) == 1
    probabilities = [float(t.split("=")[1].split()[0]) for t in titles]
    assert probabilities == sorted(probabilities, reverse=True)
    fig = ia.plot_calibration({"a": results["block"], "b": results["pixel"]})
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes[0].get_lines()) == 3
    plt.close("all")


def test_hole_rgb_marks_the_hole():
    image = np.zeros(784, np.float32)
    image[[10, 11]] = 1
    masked = image.copy()
    masked[[10, 12]] = -1
    rgb = ia.hole_rgb(masked, [10, 12], hidden=True).reshape(784, 3)
    np.testing.assert_allclose(rgb[[10, 12]], 0.6)
    np.testing.assert_allclose(rgb[11], 0.0)  # ink black
    np.testing.assert_allclose(rgb[13], 1.0)  # background white
    rgb = ia.hole_rgb(image, [10, 12]).reshape(784, 3)
    np.testing.assert_allclose(rgb[10], (0.1, 0.3, 0.9))   # filled ink
    np.testing.assert_allclose(rgb[12], (0.7, 0.85, 1.0))  # filled background


def test_candidate_explorer_builds_and_draws(sets, results, shown):
    import ipywidgets

    widget = ia.candidate_explorer(sets, results)
    assert isinstance(widget, ipywidgets.interactive)
    assert len(shown) == 1 and isinstance(shown[0], matplotlib.figure.Figure)
    chooser = next(w for w in widget.children if getattr(w, "description", None) == "set")
    chooser.value = "block"
    assert len(shown) == 2
    assert sum(bool(ax.get_title()) for ax in shown[1].axes) == 16  # the block's 16 candidates
