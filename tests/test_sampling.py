"""Tests of helpers.inference.sampling: the stepper, continuation sampling and the continuation set (small, fast)."""



import functools

import numpy as np
import pytest
import testkit
from testkit import sigmoid

from helpers.inference import engine, sampling

sharp_model = functools.partial(testkit.sharp_model, scale=0.6)


def random_binary(shape, seed=0, density=0.3):
    return (np.random.default_rng(seed).random(shape) < density).astype(np.float32)


@pytest.fixture(scope="module")
def models():
    return {
        "gru": sharp_model("gru_1x32", seed=1),
        "gru2_before": sharp_model("gru_2x8", seed=2, scale=1.2, reset_after=False),
        "lstm2": sharp_model("lstm_2x8", seed=3, scale=1.2),
    }


@pytest.mark.parametrize("key", ["gru", "gru2_before", "lstm2"])
def test_teacher_forcing_stepper_matches_full_model(models, key):
    model = models[key]
    seq = random_binary((6, 90), seed=4)
    full = model(seq[:, :-1, None], training=False).numpy()[..., 0]  # predicts positions 1..89
    stepped = engine.teacher_forcing_logits(model, seq)
    assert stepped.shape == seq.shape
    assert np.abs(sigmoid(stepped[:, 1:]) - sigmoid(full)).max() < 1e-5
    assert full.std() > 0.1  # the model is not trivially predicting a constant


def test_prefix_states_shapes_and_continuation(models):
    seq = random_binary((4, 70), seed=5)
    gru_states = engine.prefix_states(models["gru"], seq[:, :40])
    assert [[s.shape for s in layer] for layer in gru_states] == [[(4, 32)]]
    lstm = models["lstm2"]
    states = engine.prefix_states(lstm, seq[:, :40])
    assert [[s.shape for s in layer] for layer in states] == [[(4, 8), (4, 8)], [(4, 8), (4, 8)]]
    # Continuing from the prefix state with teacher forcing gives the full sequence's logits.
    run = engine.stepper(lstm)
    _, logits, _, last = run.run(states, seq[:, 40:])
    full = engine.teacher_forcing_logits(lstm, seq)
    np.testing.assert_allclose(logits, full[:, 40:], atol=1e-5)
    expected_last = lstm(seq[:, :, None], training=False).numpy()[:, -1, 0]
    np.testing.assert_allclose(last, expected_last, atol=1e-5)


@pytest.mark.parametrize("key", ["gru", "lstm2"])
def test_fast_sampling_equals_naive(models, key):
    model = models[key]
    prefix = random_binary((3, 30), seed=6)
    fast = sampling.sample_continuations(model, prefix, n=12, num_samples=4, seed=7)
    naive = sampling.naive_sample_continuations(model, prefix, n=12, num_samples=4, seed=7)
    assert fast.samples.shape == fast.probs.shape == (3, 4, 12)
    assert fast.log_likelihood.shape == fast.cross_entropy.shape == (3, 4)
    np.testing.assert_array_equal(fast.samples, naive.samples)
    assert np.abs(fast.probs - naive.probs).max() < 1e-5
    assert np.abs(fast.log_likelihood - naive.log_likelihood).max() < 1e-4
    assert 0 < fast.samples.mean() < 1  # samples are not degenerate


def test_greedy_is_most_probable_pixel_by_pixel(models):
    model = models["gru"]
    prefix = random_binary((3, 25), seed=8)
    greedy = sampling.sample_continuations(model, prefix, n=10, num_samples=2, greedy=True)
    np.testing.assert_array_equal(greedy.samples, (greedy.probs > 0.5).astype(np.float32))
    np.testing.assert_array_equal(greedy.samples[:, 0], greedy.samples[:, 1])
    naive = sampling.naive_sample_continuations(model, prefix, n=10, num_samples=1, greedy=True)
    np.testing.assert_array_equal(greedy.samples[:, :1], naive.samples)


def test_seeds_and_batching(models):
    model = models["gru2_before"]
    prefix = random_binary((5, 20), seed=9)
    a = sampling.sample_continuations(model, prefix, n=15, num_samples=3, seed=11)
    b = sampling.sample_continuations(model, prefix, n=15, num_samples=3, seed=11, batch_size=4)
    c = sampling.sample_continuations(model, prefix, n=15, num_samples=3, seed=12)
    np.testing.assert_array_equal(a.samples, b.samples)
    np.testing.assert_allclose(a.probs, b.probs, atol=1e-6)
    assert not np.array_equal(a.samples, c.samples)


def test_likelihood_fields_are_consistent(models):
    model = models["gru"]
    prefix = random_binary((40, 10), seed=13)
    out = sampling.sample_continuations(model, prefix, n=6, num_samples=10, seed=0)
    p = out.probs.astype(np.float64)
    loglik = np.where(out.samples > 0.5, np.log(p), np.log1p(-p)).sum(-1)
    np.testing.assert_allclose(out.log_likelihood, loglik, atol=1e-3)
    np.testing.assert_allclose(out.cross_entropy, -out.log_likelihood / 6)
    # Sampled pixels follow their probabilities (2400 draws: the means agree to a few percent).
    assert abs(out.samples.mean() - out.probs.mean()) < 0.05


def test_sequence_cross_entropy_matches_model(models):
    model = models["lstm2"]
    seq = random_binary((4, 784), seed=14)
    ce = engine.sequence_cross_entropy(model, seq, start=700, n=50)
    logits = model(seq[:, :749, None], training=False).numpy()[..., 0][:, 699:749]  # predict 700..749
    p = sigmoid(logits)
    target = seq[:, 700:750]
    expected = -np.where(target > 0.5, np.log(p), np.log1p(-p)).mean(1)
    np.testing.assert_allclose(ce, expected, atol=1e-5)
    # Images (N, 28, 28) are accepted too.
    np.testing.assert_allclose(engine.sequence_cross_entropy(model, seq.reshape(4, 28, 28), 700, 50), ce)


@pytest.mark.parametrize("key", ["gru", "lstm2"])
def test_known_prefix_states_give_the_same_numbers(models, key):
    """Given the prefix's states, sampling and teacher forcing skip re-reading the prefix: the same numbers."""
    model = models[key]
    seq = random_binary((5, 784), seed=21)
    states = engine.prefix_states(model, seq[:, :700])
    for greedy in (False, True):
        again = sampling.sample_continuations(model, seq[:, :700], 30, num_samples=3, seed=4, greedy=greedy, states=states)
        fresh = sampling.sample_continuations(model, seq[:, :700], 30, num_samples=3, seed=4, greedy=greedy)
        for a, b in zip(again, fresh):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(engine.sequence_cross_entropy(model, seq, 700, 40, states=states),
                                  engine.sequence_cross_entropy(model, seq, 700, 40))
    shifted = [[np.roll(s, 1, axis=0) for s in layer] for layer in states]  # other rows' states: other numbers
    assert not np.allclose(engine.sequence_cross_entropy(model, seq, 700, 40, states=shifted),
                           engine.sequence_cross_entropy(model, seq, 700, 40))


def test_sampling_up_to_the_last_pixel(models):
    prefix = random_binary((2, 780), seed=15)
    out = sampling.sample_continuations(models["gru"], prefix, n=4, num_samples=2)
    assert out.samples.shape == (2, 2, 4)


@pytest.mark.parametrize(
    "prefix, n, kwargs, message",
    [
        (np.zeros((2, 10)), 0, {}, "n"),
        (np.zeros((2, 10)), -3, {}, "n"),
        (np.zeros((2, 500)), 300, {}, "beyond the image"),
        (np.zeros(10), 3, {}, "shape"),
        (np.zeros((2, 10, 2)), 3, {}, "shape"),
        (np.full((2, 10), 0.5), 3, {}, "binary"),
        (np.zeros((2, 0)), 3, {}, "empty"),
        (np.zeros((2, 10)), 3, {"num_samples": 0}, "num_samples"),
        (np.zeros((2, 10)), 2.5, {}, "integer"),
    ],
)
def test_sampling_validation(models, prefix, n, kwargs, message):
    with pytest.raises(ValueError, match=message):
        sampling.sample_continuations(models["gru"], prefix, n, **kwargs)


def test_sequence_cross_entropy_validation(models):
    seq = np.zeros((2, 784))
    with pytest.raises(ValueError, match="start"):
        engine.sequence_cross_entropy(models["gru"], seq, start=0, n=10)
    with pytest.raises(ValueError, match="beyond the image"):
        engine.sequence_cross_entropy(models["gru"], seq, start=700, n=100)
    with pytest.raises(ValueError, match="binary"):
        engine.sequence_cross_entropy(models["gru"], seq - 1, start=1, n=10)


def synthetic_test_images(n=300, seed=0):
    images = random_binary((n, 28, 28), seed=seed, density=0.2)
    images[:, :4], images[:, -4:], images[:, :, :4], images[:, :, -4:] = 0, 0, 0, 0
    return images


def test_continuation_set_regenerates_and_round_trips(tmp_path):
    images = synthetic_test_images()
    a = sampling.make_continuation_set(images, n_images=20, hidden=300, seed=3)
    b = sampling.make_continuation_set(images, n_images=20, hidden=300, seed=3)
    c = sampling.make_continuation_set(images, n_images=20, hidden=300, seed=4)
    for x, y in zip(a[:3], b[:3]):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.indices, c.indices)
    assert len(np.unique(a.indices)) == 20 and a.prefix_len == 484 and a.hidden == 300
    np.testing.assert_array_equal(a.images, images.reshape(-1, 784)[a.indices])
    assert (a.masked[:, 484:] == -1).all()
    np.testing.assert_array_equal(a.masked[:, :484], a.prefix)

    path = tmp_path / "continuation_set.npz"
    sampling.save_continuation_set(a, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["continuation_set.npz"]  # no temporary left over
    loaded = sampling.load_continuation_set(path)
    for x, y in zip(a[:3], loaded[:3]):
        np.testing.assert_array_equal(x, y)
    assert (loaded.prefix_len, loaded.seed) == (484, 3)
    same = sampling.load_or_make_continuation_set(path, n_images=20, hidden=300, seed=3)
    np.testing.assert_array_equal(same.indices, a.indices)
    with pytest.raises(ValueError, match="Delete it"):
        sampling.load_or_make_continuation_set(path, n_images=20, hidden=300, seed=5)
    made = sampling.load_or_make_continuation_set(
        tmp_path / "other.npz", n_images=20, hidden=300, seed=3, test_images_binary=images
    )
    np.testing.assert_array_equal(made.masked, a.masked)


def test_continuation_set_validation():
    images = synthetic_test_images(n=10)
    with pytest.raises(ValueError, match="n_images"):
        sampling.make_continuation_set(images, n_images=11)
    with pytest.raises(ValueError, match="hidden"):
        sampling.make_continuation_set(images, n_images=5, hidden=784)
    with pytest.raises(ValueError, match="binary"):
        sampling.make_continuation_set(images * 0.5, n_images=5)
