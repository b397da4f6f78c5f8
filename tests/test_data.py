"""Unit tests of helpers.data: binarization, the 55k/5k/10k split, sequence views, datasets, file handling.

No test touches the network: sockets are disabled for the whole module and downloads are faked.
"""

import os
import socket
import urllib.error

import numpy as np
import pytest

from helpers.core import data
from helpers.core.data import MnistFileError


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test loudly."""

    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="module")
def mnist_path():
    return data.find_mnist_file(download=False)


@pytest.fixture(scope="module")
def raw(mnist_path):
    """The four arrays of the npz file, untouched."""
    with np.load(mnist_path) as f:
        return {key: f[key] for key in ("x_train", "y_train", "x_test", "y_test")}


@pytest.fixture(scope="module")
def splits(mnist_path):
    return data.load_mnist(mnist_path)


def fake_arrays(**changes):
    """Arrays with the shapes and dtypes of Keras MNIST (black images, one ink pixel in validation and test)."""
    arrays = {
        "x_train": np.zeros((60_000, 28, 28), np.uint8),
        "y_train": (np.arange(60_000) % 10).astype(np.uint8),
        "x_test": np.zeros((10_000, 28, 28), np.uint8),
        "y_test": (np.arange(10_000) % 10).astype(np.uint8),
    }
    arrays["x_train"][-1, 14, 14] = arrays["x_test"][-1, 14, 14] = 255  # a constant image set is rejected
    arrays.update(changes)
    return {key: value for key, value in arrays.items() if value is not None}


def write_npz(path, **changes):
    np.savez(path, **fake_arrays(**changes))
    return path


# --------------------------------------------------------------------------------------------------
# binarize
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binarize_is_strictly_greater_than_threshold(dtype):
    """0.1 itself is background; anything above it is ink."""
    images = np.array([0.0, 0.05, 0.1, 0.1001, 0.5, 1.0], dtype=dtype)
    np.testing.assert_array_equal(data.binarize(images), [0, 0, 0, 1, 1, 1])


def test_binarize_mnist_grey_levels():
    """On uint8 grey levels / 255, level 25 (0.098) is off and 26 (0.102) is on."""
    levels = np.arange(256, dtype=np.uint8)
    out = data.binarize(levels.astype(np.float32) / 255.0)
    np.testing.assert_array_equal(np.flatnonzero(out), np.arange(26, 256))


def test_binarize_returns_float32_and_keeps_shape():
    images = np.random.default_rng(0).uniform(size=(3, 28, 28))
    out = data.binarize(images)
    assert out.dtype == np.float32
    assert out.shape == images.shape
    assert set(np.unique(out)) <= {0.0, 1.0}


@pytest.mark.parametrize("bad", [np.array([0.5, 1.5]), np.array([-0.1, 0.5]), np.array([0, 255], np.uint8),
                                 np.array([0.5, np.nan])])
def test_binarize_rejects_values_outside_unit_interval(bad):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        data.binarize(bad)


# --------------------------------------------------------------------------------------------------
# The split
# --------------------------------------------------------------------------------------------------


def test_split_sizes(splits):
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (55_000, 5_000, 10_000)
    for split in (splits.train, splits.validation, splits.test):
        assert split.images.shape[1:] == (28, 28)
        assert split.images.dtype == np.float32
        assert split.labels.dtype == np.int64
        assert 0.0 <= split.images.min() and split.images.max() <= 1.0


def test_validation_is_last_5k_of_official_train(splits, raw):
    """train = official train[:55000], validation = official train[55000:], test = official test."""
    np.testing.assert_array_equal(splits.train.images, raw["x_train"][:55_000] / np.float32(255))
    np.testing.assert_array_equal(splits.train.labels, raw["y_train"][:55_000])
    np.testing.assert_array_equal(splits.validation.images, raw["x_train"][55_000:] / np.float32(255))
    np.testing.assert_array_equal(splits.validation.labels, raw["y_train"][55_000:])
    np.testing.assert_array_equal(splits.test.images, raw["x_test"] / np.float32(255))
    np.testing.assert_array_equal(splits.test.labels, raw["y_test"])


def test_load_is_deterministic(splits, mnist_path):
    again = data.load_mnist(mnist_path)
    for name in ("train", "validation", "test"):
        np.testing.assert_array_equal(again[name].images, splits[name].images)
        np.testing.assert_array_equal(again[name].labels, splits[name].labels)


def test_split_head_and_lookup(splits):
    head = splits.train.head(7)
    assert len(head) == 7
    np.testing.assert_array_equal(head.images, splits.train.images[:7])
    assert splits.train.head(None) is splits.train
    with pytest.raises(KeyError, match="validation"):
        splits["valid"]


# --------------------------------------------------------------------------------------------------
# Sequence views and datasets
# --------------------------------------------------------------------------------------------------


def test_to_sequences_reads_row_by_row():
    images = np.random.default_rng(1).uniform(size=(4, 28, 28)).astype(np.float32)
    seq = data.to_sequences(images)
    assert seq.shape == (4, 784, 1) and seq.dtype == np.float32
    assert seq[2, 3 * 28 + 5, 0] == images[2, 3, 5]  # row 3, column 5
    np.testing.assert_array_equal(data.to_sequences(images.reshape(4, 784)), seq)
    np.testing.assert_array_equal(data.to_sequences(seq), seq)


def test_to_images_round_trip():
    images = np.random.default_rng(2).uniform(size=(3, 28, 28)).astype(np.float32)
    np.testing.assert_array_equal(data.to_images(data.to_sequences(images)), images)
    assert data.to_images(np.zeros((2, 784))).shape == (2, 28, 28)


def test_to_sequences_rejects_wrong_shape():
    with pytest.raises(ValueError, match="784"):
        data.to_sequences(np.zeros((2, 27, 27)))


def test_next_pixel_pairs_shift_by_one():
    seq = np.arange(2 * 784, dtype=np.float32).reshape(2, 784, 1)
    inputs, targets = data.next_pixel_pairs(seq)
    assert inputs.shape == targets.shape == (2, 783, 1)
    np.testing.assert_array_equal(inputs, seq[:, :783])  # x_1 .. x_783
    np.testing.assert_array_equal(targets, seq[:, 1:])   # x_2 .. x_784
    np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])


def test_task_arrays_shapes_and_values(splits):
    part = splits.test.head(5)
    x, y = data.task_arrays("classify", part)
    assert x.shape == (5, 784, 1) and y.shape == (5,)
    np.testing.assert_array_equal(x[..., 0], data.binarize(part.images).reshape(5, 784))
    x, y = data.task_arrays("pixel", part)
    assert x.shape == y.shape == (5, 783, 1)
    assert set(np.unique(x)) == {0.0, 1.0}
    with pytest.raises(ValueError, match="classify"):
        data.task_arrays("generate", part)


def _order(dataset):
    return np.concatenate([targets.numpy() for _, targets in dataset])


def test_make_dataset_seeded_shuffle():
    """Same seed -> same order; another seed -> another order; no shuffle -> original order."""
    inputs = np.arange(200, dtype=np.float32).reshape(200, 1)
    targets = np.arange(200)
    same_a = _order(data.make_dataset(inputs, targets, 32, shuffle=True, seed=3))
    same_b = _order(data.make_dataset(inputs, targets, 32, shuffle=True, seed=3))
    other = _order(data.make_dataset(inputs, targets, 32, shuffle=True, seed=4))
    np.testing.assert_array_equal(same_a, same_b)
    assert not np.array_equal(same_a, other)
    assert not np.array_equal(same_a, targets)
    np.testing.assert_array_equal(np.sort(same_a), targets)  # a permutation: nothing lost or repeated
    np.testing.assert_array_equal(_order(data.make_dataset(inputs, targets, 32)), targets)


def test_make_dataset_batches_and_pairs_stay_aligned():
    inputs = np.arange(70, dtype=np.float32).reshape(70, 1)
    targets = np.arange(70)
    batches = list(data.make_dataset(inputs, targets, 32, shuffle=True, seed=0))
    assert [len(t) for _, t in batches] == [32, 32, 6]
    for x, t in batches:
        np.testing.assert_array_equal(x.numpy()[:, 0], t.numpy())


def test_make_dataset_rejects_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        data.make_dataset(np.zeros((4, 1)), np.zeros(4), 0)
    with pytest.raises(ValueError, match="length"):
        data.make_dataset(np.zeros((4, 1)), np.zeros(3), 2)


# --------------------------------------------------------------------------------------------------
# Finding and validating the file
# --------------------------------------------------------------------------------------------------


def test_env_var_is_used(tmp_path, monkeypatch):
    """$MNIST_NPZ wins over data/mnist.npz: its (recognisable) content is what load_mnist returns."""
    x_train = np.zeros((60_000, 28, 28), np.uint8)
    x_train[0, 0, 0] = 255
    path = write_npz(tmp_path / "elsewhere.npz", x_train=x_train)
    monkeypatch.setenv("MNIST_NPZ", str(path))
    assert data.find_mnist_file() == path
    splits = data.load_mnist()
    assert splits.train.images[0, 0, 0] == 1.0
    assert splits.train.images.sum() == 1.0
    np.testing.assert_array_equal(splits.test.labels[:12], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1])


def test_env_var_to_missing_file_is_a_clear_error(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / "mnist.npz"
    monkeypatch.setenv("MNIST_NPZ", str(missing))
    with pytest.raises(MnistFileError, match="MNIST_NPZ") as info:
        data.load_mnist()
    assert str(missing) in str(info.value)


def test_explicit_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(MnistFileError, match="nothing.npz"):
        data.load_mnist(tmp_path / "nothing.npz")


def _corrupt_bytes(kind, mnist_path):
    raw = mnist_path.read_bytes()
    if kind == "garbage":
        return b"this is not an npz file" * 1000
    if kind == "truncated":
        return raw[: len(raw) // 2]
    if kind == "zeroed-middle":  # the zip directory is intact, the compressed data is not
        return raw[:3_000_000] + bytes(50_000) + raw[3_050_000:]
    if kind == "empty":
        return b""
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["garbage", "truncated", "zeroed-middle", "empty"])
def test_corrupt_file_is_named_and_kept(kind, tmp_path, monkeypatch, mnist_path):
    path = tmp_path / "mnist.npz"
    content = _corrupt_bytes(kind, mnist_path)
    path.write_bytes(content)
    monkeypatch.setenv("MNIST_NPZ", str(path))
    with pytest.raises(MnistFileError) as info:
        data.load_mnist()
    assert str(path) in str(info.value)
    assert path.read_bytes() == content  # not deleted, not overwritten


def test_bare_npy_file_is_rejected(tmp_path):
    path = tmp_path / "mnist.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros(3))
    with pytest.raises(MnistFileError, match="mnist.npz"):
        data.validate_mnist_file(path)


def test_corrupt_default_file_is_not_replaced_by_a_download(tmp_path, monkeypatch):
    target = tmp_path / "mnist.npz"
    target.write_bytes(b"garbage")
    monkeypatch.setattr(data, "DEFAULT_MNIST_PATH", target)
    monkeypatch.delenv("MNIST_NPZ", raising=False)
    calls = []
    monkeypatch.setattr(data, "_fetch", lambda *a, **k: calls.append(a))
    with pytest.raises(MnistFileError, match="mnist.npz"):
        data.load_mnist()
    assert calls == []
    assert target.read_bytes() == b"garbage"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"y_test": None}, "lacks"),
        ({"x_train": np.zeros((100, 28, 28), np.uint8)}, "shape"),
        ({"x_test": np.zeros((10_000, 28, 28), np.int16)}, "dtype"),
        ({"y_train": np.zeros(60_000, np.float32)}, "integer labels"),
        ({"y_test": np.full(10_000, 10, np.uint8)}, "outside 0..9"),
    ],
    ids=["missing-key", "wrong-shape", "wrong-image-dtype", "float-labels", "label-range"],
)
def test_wrong_content_is_a_clear_error(changes, message, tmp_path):
    path = write_npz(tmp_path / "odd.npz", **changes)
    with pytest.raises(MnistFileError, match=message) as info:
        data.validate_mnist_file(path)
    assert str(path) in str(info.value)


def test_offline_without_file_says_where_to_put_it(tmp_path, monkeypatch):
    """No file anywhere and the download fails: the message gives the destination and MNIST_NPZ."""
    target = tmp_path / "data" / "mnist.npz"
    monkeypatch.setattr(data, "DEFAULT_MNIST_PATH", target)
    monkeypatch.delenv("MNIST_NPZ", raising=False)
    origins = []

    def offline(url, target, timeout=None):
        origins.append(url)
        target.write_bytes(b"half a download")
        raise urllib.error.URLError("network unreachable (simulated)")

    monkeypatch.setattr(data, "_fetch", offline)
    with pytest.raises(MnistFileError) as info:
        data.load_mnist()
    message = str(info.value)
    assert origins == [data.MNIST_URL]
    assert str(target) in message and "MNIST_NPZ" in message and "mnist.npz" in message
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # no temporary download folder left behind


def test_no_file_and_no_download_is_a_clear_error(tmp_path, monkeypatch):
    target = tmp_path / "mnist.npz"
    monkeypatch.setattr(data, "DEFAULT_MNIST_PATH", target)
    monkeypatch.delenv("MNIST_NPZ", raising=False)
    with pytest.raises(MnistFileError, match="MNIST_NPZ") as info:
        data.find_mnist_file(download=False)
    assert str(target) in str(info.value)


def test_download_moves_the_file_into_place(tmp_path, monkeypatch):
    """A (faked) successful download ends up at data/mnist.npz, from the canonical URL, its hash checked."""
    target = tmp_path / "data" / "mnist.npz"
    monkeypatch.setattr(data, "DEFAULT_MNIST_PATH", target)
    monkeypatch.delenv("MNIST_NPZ", raising=False)
    seen = {}

    def fake_fetch(url, destination, timeout=data.DOWNLOAD_TIMEOUT_S):
        seen.update(url=url, timeout=timeout)
        destination.write_bytes(b"downloaded")
        return data.MNIST_SHA256

    monkeypatch.setattr(data, "_fetch", fake_fetch)
    assert data.find_mnist_file() == target
    assert target.read_bytes() == b"downloaded"
    assert seen == {"url": data.MNIST_URL, "timeout": data.DOWNLOAD_TIMEOUT_S} and 0 < seen["timeout"] <= 120
    assert sorted(p.name for p in target.parent.iterdir()) == ["mnist.npz"]


def test_download_with_a_wrong_hash_is_refused_and_cleaned_up(tmp_path, monkeypatch):
    target = tmp_path / "data" / "mnist.npz"
    monkeypatch.setattr(data, "DEFAULT_MNIST_PATH", target)
    monkeypatch.delenv("MNIST_NPZ", raising=False)
    monkeypatch.setattr(data, "_fetch", lambda url, destination, timeout=0: destination.write_bytes(b"x") and "0" * 64)
    with pytest.raises(MnistFileError, match="SHA-256"):
        data.find_mnist_file()
    assert list(target.parent.iterdir()) == []


def test_a_stalled_server_times_out(tmp_path, monkeypatch):
    """A loopback server that accepts the connection but never answers: the download gives up after its timeout."""
    import threading

    monkeypatch.undo()  # lift the network guard for this loopback-only test

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True)
    thread.start()
    try:
        with pytest.raises(OSError):  # socket.timeout / TimeoutError are OSErrors
            data._fetch(f"http://127.0.0.1:{port}/mnist.npz", tmp_path / "part", timeout=1)
    finally:
        server.close()


def test_downloads_abandoned_by_killed_runs_are_removed(tmp_path, monkeypatch):
    target = tmp_path / "mnist.npz"
    monkeypatch.setattr(data, "DEFAULT_MNIST_PATH", target)
    monkeypatch.delenv("MNIST_NPZ", raising=False)
    dead = tmp_path / ".mnist-download-999999999-abc"  # no such process
    dead.mkdir()
    (dead / "mnist.npz").write_bytes(b"half")
    alive = tmp_path / f".mnist-download-{os.getpid()}-def"  # a download under way in this process
    alive.mkdir()
    monkeypatch.setattr(data, "_fetch", lambda url, destination, timeout=0: (_ for _ in ()).throw(OSError("down")))
    with pytest.raises(MnistFileError):
        data.find_mnist_file()
    assert not dead.exists() and alive.exists()


def test_bad_file_advice_follows_where_it_came_from(tmp_path, monkeypatch):
    path = tmp_path / "mine.npz"
    path.write_bytes(b"garbage")
    monkeypatch.setenv("MNIST_NPZ", str(path))
    with pytest.raises(MnistFileError, match="unset MNIST_NPZ") as info:
        data.load_mnist()
    assert "download a fresh copy" not in str(info.value)


def test_a_constant_image_set_is_rejected(tmp_path):
    path = tmp_path / "blank.npz"
    np.savez(path, **{**fake_arrays(), "x_train": np.zeros((60_000, 28, 28), np.uint8)})
    with pytest.raises(MnistFileError, match="not digits"):
        data.validate_mnist_file(path)


@pytest.mark.parametrize("images, kind, fragment", [
    ("abc", TypeError, "images must be an array of numbers"), (None, TypeError, "got NoneType"),
    ([[0.1, "a"]], TypeError, "images must be an array of numbers"), ([[0.1, 0.2], [0.3]], TypeError, "images"),
])
def test_binarize_names_a_bad_images_argument(images, kind, fragment):
    with pytest.raises(kind, match=fragment):
        data.binarize(images)


@pytest.mark.parametrize("threshold, kind", [(float("nan"), ValueError), (1.0, ValueError), (-0.1, ValueError),
                                             ("0.5", TypeError), (None, TypeError), (True, TypeError)])
def test_binarize_names_a_bad_threshold(threshold, kind):
    with pytest.raises(kind, match="binarize: threshold"):
        data.binarize(np.zeros((2, 28, 28)), threshold=threshold)


def test_sequence_conversions_name_their_argument():
    with pytest.raises(TypeError, match="to_images: sequences"):
        data.to_images(None)
    with pytest.raises(ValueError, match="to_images: sequences must be"):
        data.to_images(np.zeros((2, 10)))
    with pytest.raises(TypeError, match="to_sequences: images"):
        data.to_sequences("abc")
    assert data.to_images(data.to_sequences(np.ones((2, 28, 28)))).shape == (2, 28, 28)
