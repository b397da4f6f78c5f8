"""Tests of helpers.inpainting: exact candidate scoring, fills, validation and the data sets (small, fast)."""



import functools

import numpy as np
import pytest
import testkit
from testkit import synthetic_images

from helpers.inference import engine, exact_fill

sharp_model = functools.partial(testkit.sharp_model, scale=0.6)


@pytest.fixture(scope="module")
def gru():
    return sharp_model("gru_1x32", seed=1)


@pytest.fixture(scope="module")
def lstm():
    return sharp_model("lstm_2x8", seed=2, scale=1.2)


@pytest.fixture(scope="module")
def block_set():
    return exact_fill.make_missing_block_set(synthetic_images(60, seed=3), n=12, seed=4)


def test_candidate_patterns_order():
    np.testing.assert_array_equal(exact_fill.candidate_patterns(2), [[0, 0], [0, 1], [1, 0], [1, 1]])
    patterns = exact_fill.candidate_patterns(4)
    assert patterns.shape == (16, 4)
    np.testing.assert_array_equal(patterns @ (2 ** np.arange(3, -1, -1)), np.arange(16))


@pytest.mark.parametrize("kind", ["pixel", "block"])
def test_fast_scores_equal_naive_full_sequences(gru, kind):
    iset = exact_fill.make_inpainting_set(synthetic_images(60, seed=5), kind, n=10, seed=6)
    # a small batch_size forces several chunks of images
    fast = exact_fill.candidate_loglik(gru, iset.masked, batch_size=40)
    naive = exact_fill.naive_candidate_loglik(gru, iset.masked)
    assert fast.shape == naive.shape == (10, 2 ** iset.holes.shape[1])
    assert np.abs(fast - naive).max() < 1e-4
    assert fast.std() > 0.01  # candidates are told apart


def test_fast_scores_equal_naive_lstm(lstm, block_set):
    fast = exact_fill.candidate_loglik(lstm, block_set.masked[:5])
    naive = exact_fill.naive_candidate_loglik(lstm, block_set.masked[:5])
    assert np.abs(fast - naive).max() < 1e-4


def test_fast_scores_equal_naive_scattered_holes(lstm):
    # 5 missing pixels per image at different places: adjacent, in one branching window, far apart
    images = synthetic_images(4, seed=12).reshape(4, 784)
    holes = np.array([[1, 2, 3, 400, 783], [9, 15, 16, 17, 700], [300, 301, 328, 329, 500], [50, 60, 70, 80, 90]])
    masked = images.copy()
    np.put_along_axis(masked, holes, -1, axis=1)
    fast = exact_fill.candidate_loglik(lstm, masked, batch_size=64)
    naive = exact_fill.naive_candidate_loglik(lstm, masked)
    assert fast.shape == (4, 32) and np.isfinite(fast).all()
    assert np.abs(fast - naive).max() < 1e-4


def test_most_probable_fill_beats_ground_truth(gru, block_set):
    scores = exact_fill.score_candidates(gru, block_set.masked)
    filled, posterior = exact_fill.most_probable_fill(gru, block_set.masked)
    np.testing.assert_array_equal(filled, scores.filled)
    np.testing.assert_allclose(posterior.sum(axis=1), 1.0, atol=1e-12)
    assert (posterior >= 0).all()
    np.testing.assert_array_equal(posterior.argmax(1), scores.best)
    # observed pixels untouched, missing ones filled with 0/1
    observed = block_set.masked != -1
    np.testing.assert_array_equal(filled[observed], block_set.masked[observed])
    assert np.isin(filled, (0, 1)).all()
    # the ground truth is one of the candidates: its index is its bits read in binary
    truth_bits = np.take_along_axis(block_set.images, block_set.holes, axis=1)
    truth_index = (truth_bits @ (2 ** np.arange(3, -1, -1))).astype(int)
    rows = np.arange(len(truth_index))
    assert (scores.loglik[rows, scores.best] >= scores.loglik[rows, truth_index]).all()
    # independently (teacher forcing over whole images): cross-entropy of the fill <= ground truth's
    ce_fill = exact_fill.image_cross_entropy(gru, filled)
    ce_truth = exact_fill.image_cross_entropy(gru, block_set.images)
    assert (ce_fill <= ce_truth + 1e-7).all()
    # the reported log-likelihood is that of the whole image (positions 1..783)
    np.testing.assert_allclose(scores.loglik[rows, scores.best], -ce_fill * 783, atol=1e-3)


def test_past_only_fill_is_greedy_given_the_past(gru, block_set):
    filled = exact_fill.past_only_fill(gru, block_set.masked)
    observed = block_set.masked != -1
    np.testing.assert_array_equal(filled[observed], block_set.masked[observed])
    # every filled pixel is the most probable one given the (filled) pixels before it
    logits = engine.teacher_forcing_logits(gru, filled)
    holes = block_set.holes
    chosen = np.take_along_axis(filled, holes, axis=1)
    np.testing.assert_array_equal(chosen, (np.take_along_axis(logits, holes, axis=1) > 0).astype(np.float32))
    single = exact_fill.past_only_fill(gru, block_set.masked, batch_size=3)
    np.testing.assert_array_equal(single, filled)


def test_holes_right_after_the_first_pixel_and_at_the_end(gru):
    images = synthetic_images(2, seed=7).reshape(2, 784)
    masked = images.copy()
    masked[0, 1] = -1
    masked[1, 783] = -1
    fast = exact_fill.candidate_loglik(gru, masked)
    naive = exact_fill.naive_candidate_loglik(gru, masked)
    assert np.abs(fast - naive).max() < 1e-4
    assert exact_fill.past_only_fill(gru, masked).shape == (2, 784)


def test_masked_validation(gru):
    base = synthetic_images(3, seed=8).reshape(3, 784)
    one_hole = base.copy()
    one_hole[:, 300] = -1
    cases = []
    bad_value = one_hole.copy()
    bad_value[0, 10] = 0.5
    cases.append((bad_value, "0, 1, or -1"))
    cases.append((one_hole[:, :700], "784"))
    cases.append((one_hole[0], "shape"))
    too_many = one_hole.copy()
    too_many[:, 400:409] = -1  # 10 missing pixels
    cases.append((too_many, "max_missing"))
    uneven = one_hole.copy()
    uneven[0, 500] = -1
    cases.append((uneven, "same number"))
    cases.append((base, "nothing to fill"))
    first = base.copy()
    first[:, 0] = -1
    cases.append((first, "Position 0"))
    for masked, message in cases:
        with pytest.raises(ValueError, match=message):
            exact_fill.most_probable_fill(gru, masked)
    with pytest.raises(ValueError, match="max_missing"):
        exact_fill.check_masked(one_hole, max_missing=40)
    assert exact_fill.check_masked(too_many, max_missing=10)[1].shape == (3, 10)


def test_missing_pixel_and_block_sets():
    images = synthetic_images(80, seed=9)
    flat = images.reshape(80, 784)
    pixel = exact_fill.make_missing_pixel_set(images, n=50, seed=1)
    assert pixel.masked.shape == pixel.images.shape == (50, 784) and pixel.holes.shape == (50, 1)
    assert len(np.unique(pixel.indices)) == 50
    assert ((pixel.holes >= 1) & (pixel.holes <= 783)).all()
    block = exact_fill.make_missing_block_set(images, n=50, seed=1)
    top_left = block.holes[:, 0]
    np.testing.assert_array_equal(block.holes - top_left[:, None], np.tile([0, 1, 28, 29], (50, 1)))
    assert (top_left // 28 <= 26).all() and (top_left % 28 <= 26).all() and (top_left > 0).all()
    for iset in (pixel, block):
        np.testing.assert_array_equal(iset.images, flat[iset.indices])
        expected = iset.images.copy()
        np.put_along_axis(expected, iset.holes, -1, axis=1)
        np.testing.assert_array_equal(iset.masked, expected)
        assert ((iset.masked == -1).sum(1) == iset.holes.shape[1]).all()
    # where a hole may start: the block fits inside the image (rows and columns 0..26), never at position 0
    allowed = exact_fill.hole_candidates(images[:1], "block")[0].reshape(28, 28)
    expected = np.zeros((28, 28), bool)
    expected[:27, :27] = True
    expected[0, 0] = False
    np.testing.assert_array_equal(allowed, expected)
    assert exact_fill.hole_candidates(images[:1], "pixel")[0].sum() == 783
    # identical regeneration, different seeds differ
    again = exact_fill.make_missing_block_set(images, n=50, seed=1)
    for x, y in zip(block[:4], again[:4]):
        np.testing.assert_array_equal(x, y)
    other = exact_fill.make_missing_block_set(images, n=50, seed=2)
    assert not np.array_equal(other.holes, block.holes)


def test_stroke_sets_touch_ink():
    images = synthetic_images(80, seed=10, density=0.05)
    touch = exact_fill.make_missing_block_set(images, n=60, seed=3, stroke="touch")
    ink = exact_fill.make_missing_pixel_set(images, n=60, seed=3, stroke="ink")
    assert (np.take_along_axis(ink.images, ink.holes, axis=1) == 1).all()
    grid = touch.images.reshape(-1, 28, 28)
    for image, top_left in zip(grid, touch.holes[:, 0]):
        r, c = divmod(int(top_left), 28)
        assert image[max(r - 1, 0) : r + 3, max(c - 1, 0) : c + 3].any()
    with pytest.raises(ValueError, match="stroke"):
        exact_fill.make_missing_pixel_set(images, n=5, stroke="thick")
    with pytest.raises(ValueError, match="kind"):
        exact_fill.make_inpainting_set(images, "3x3", n=5)
    with pytest.raises(ValueError, match="Only"):
        exact_fill.make_missing_pixel_set(np.zeros((10, 28, 28)), n=5, stroke="touch")


def test_inpainting_set_save_load(tmp_path):
    images = synthetic_images(30, seed=11)
    iset = exact_fill.make_missing_block_set(images, n=20, seed=5, stroke="touch")
    path = tmp_path / "inpainting_block_stroke.npz"
    exact_fill.save_inpainting_set(iset, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary left over
    loaded = exact_fill.load_inpainting_set(path)
    for x, y in zip(iset[:4], loaded[:4]):
        np.testing.assert_array_equal(x, y)
    assert (loaded.kind, loaded.stroke, loaded.seed) == ("block", "touch", 5)
    same = exact_fill.load_or_make_inpainting_set("block", "touch", n=20, seed=5, path=path)
    np.testing.assert_array_equal(same.masked, iset.masked)
    with pytest.raises(ValueError, match="Delete it"):
        exact_fill.load_or_make_inpainting_set("block", None, n=20, seed=5, path=path)
    made = exact_fill.load_or_make_inpainting_set(
        "pixel", None, n=20, seed=5, path=tmp_path / "p.npz", test_images_binary=images
    )
    assert made.kind == "pixel" and made.stroke is None and (tmp_path / "p.npz").exists()
    assert exact_fill.default_inpainting_path("pixel").name == "inpainting_pixel.npz"
    assert exact_fill.default_inpainting_path("block", "touch").name == "inpainting_block_stroke.npz"


def test_get_inpainting_set_stored_or_drawn(monkeypatch):
    course = exact_fill.get_inpainting_set("block", "touch")
    stored = exact_fill.load_inpainting_set(exact_fill.default_inpainting_path("block", "touch"))
    np.testing.assert_array_equal(course.masked, stored.masked)
    # Another size or seed is drawn in memory; nothing is written.
    monkeypatch.setattr(exact_fill, "save_inpainting_set", lambda *a, **k: pytest.fail("must not be saved"))
    other = exact_fill.get_inpainting_set("pixel", n=20, seed=3)
    assert len(other.indices) == 20 and other.seed == 3 and other.kind == "pixel"
