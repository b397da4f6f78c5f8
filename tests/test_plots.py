"""Tests of helpers.analysis.plots: the printed tables, atomic figure saving, image colouring and learning-curve plots."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from helpers.analysis import plots


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_format_table_alignment_missing_values_and_formats():
    rows = [
        {"model": "gru_1x32", "loss": 0.123456, "acc": 0.97, "params": 12345, "note": "ok"},
        {"model": "lstm_1x128", "loss": None, "acc": float("nan"), "params": 7, "note": None},
        {"model": "x", "loss": np.float32(2.5), "acc": np.float32("nan"), "params": np.int64(3)},
    ]
    text = plots.format_table(rows, ["model", "loss", "acc", "params", "note"],
                              headers=["model", "loss", "accuracy", "params", "note"],
                              formats={"acc": "{:.1%}", "params": "{:,}"})
    lines = text.split("\n")
    assert len(lines) == 2 + len(rows)
    assert len({len(line) for line in lines}) == 1  # every line has the same width
    header, rule, first, second, third = lines
    assert header.split() == ["model", "loss", "accuracy", "params", "note"]
    assert set(rule.replace(" ", "")) == {"-"} and len(rule.split()) == 5
    assert first.split() == ["gru_1x32", "0.1235", "97.0%", "12,345", "ok"]
    assert second.split() == ["lstm_1x128", "-", "-", "7", "-"]
    assert third.split() == ["x", "2.5000", "-", "3", "-"]  # numpy NaN too prints "-"
    # The first column is left-aligned, the others right-aligned under their headers.
    assert first.startswith("gru_1x32  ") and third.startswith("x ")
    for line in (first, second, third):
        assert line.endswith(line.split()[-1])
    columns = [header.index("accuracy") + len("accuracy")] * 3
    for line, end in zip((first, second, third), columns):
        assert line[end - 1] != " " and (end == len(line) or line[end] == " ")


def test_format_table_takes_positional_rows():
    """A row may be a list, its values in column order (the gate tables of notebook 01)."""
    text = plots.format_table([["a", 0.000123456, 7], ["bb", 2.0, None]], ["name", "x", "n"], default_format="{:.2g}")
    assert [line.split() for line in text.splitlines()] == [["name", "x", "n"], ["----", "-------", "-"],
                                                            ["a", "0.00012", "7"], ["bb", "2", "-"]]


def test_format_table_default_format_and_empty():
    text = plots.format_table([{"a": 1.0, "b": 2}], ["a", "b"], default_format="{:.1f}")
    assert text.split("\n")[2].split() == ["1.0", "2"]
    empty = plots.format_table([], ["model", "loss"])
    assert empty.split("\n") == ["model  loss", "-----  ----"]


def test_save_figure_writes_a_png_atomically(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = plots.save_figure(fig, "curve", folder=tmp_path)
    assert path == tmp_path / "curve.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plots.save_figure(fig, "again.png", folder=tmp_path / "sub") == tmp_path / "sub" / "again.png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curve.png", "sub"]  # no temporary files left

    # A failed save leaves the previous figure in place and no temporary file behind.
    before = path.read_bytes()

    def broken(target, **kwargs):
        with open(target, "wb") as file:
            file.write(b"half a png")
        raise RuntimeError("disk full")

    fig.savefig = broken
    with pytest.raises(RuntimeError, match="disk full"):
        plots.save_figure(fig, "curve", folder=tmp_path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curve.png", "sub"]


def test_save_figure_is_reproducible(tmp_path):
    fig, ax = plt.subplots()
    ax.imshow(np.eye(5))
    a = plots.save_figure(fig, "a", folder=tmp_path).read_bytes()
    b = plots.save_figure(fig, "b", folder=tmp_path).read_bytes()
    assert a == b  # no timestamp or software version in the file: stable in git


def test_binary_image_rgb():
    image = np.zeros(784, np.float32)
    image[5], image[6] = 1, -1
    rgb = plots.binary_image_rgb(image)
    assert rgb.shape == (28, 28, 3)
    np.testing.assert_allclose(rgb[0, 5], 0.0)   # ink black
    np.testing.assert_allclose(rgb[0, 6], 0.6)   # -1 grey
    np.testing.assert_allclose(rgb[0, 7], 1.0)   # background white
    hidden = np.zeros(784, bool)
    hidden[5] = True
    rgb = plots.binary_image_rgb(image.clip(0, 1), hidden)
    np.testing.assert_allclose(rgb[0, 5], 0.6)
    np.testing.assert_allclose(rgb[0, 6], 1.0)   # an explicit mask replaces the -1 rule


def _manifest(losses, val_losses, best, accuracy=False):
    history = {"loss": losses, "val_loss": val_losses}
    if accuracy:
        history.update(accuracy=[0.5] * len(losses), val_accuracy=[0.6] * len(losses))
    return {"history": history, "best_epoch": best}


def test_learning_curve_plots_accept_manifests():
    manifests = {"gru_1x32": _manifest([1.0, 0.5, 0.4], [1.1, 0.6, 0.7], 2, accuracy=True),
                 "lstm_3x32": _manifest([2.0, 1.0], [2.1, 1.5], 2, accuracy=True),
                 "gru_1x128": _manifest([0.9], [0.8], 1, accuracy=True)}
    fig = plots.plot_learning_curves_grid(manifests, title="curves")
    assert isinstance(fig, matplotlib.figure.Figure)
    used = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in used] == list(manifests)
    train, val = used[0].get_lines()[:2]
    np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(train.get_ydata(), [1.0, 0.5, 0.4])
    np.testing.assert_array_equal(val.get_ydata(), [1.1, 0.6, 0.7])
    assert train.get_linestyle() == ":" and val.get_linestyle() == "-"
    assert train.get_color() == val.get_color() == "tab:green"
    fig = plots.plot_learning_curves_grid(manifests, metric="accuracy")
    np.testing.assert_array_equal(fig.axes[0].get_lines()[1].get_ydata(), [0.6, 0.6, 0.6])
    fig = plots.plot_learning_curves_combined(manifests, title="all", log_y=True)
    assert len(fig.axes[0].get_lines()) == 6 and fig.axes[0].get_yscale() == "log"
    assert isinstance(plots.plot_learning_curves_grid({}), matplotlib.figure.Figure)


def test_learning_curve_panels_of_models_in_training_say_so():
    training = dict(_manifest([1.0, 0.5], [1.1, 0.6], 2), status="in_progress", config={"max_epochs": 60})
    finished = dict(_manifest([1.0], [1.1], 1), status="complete", config={"max_epochs": 30})
    fig = plots.plot_learning_curves_grid({"gru_1x128": training, "gru_1x32": finished})
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ["gru_1x128 (training: 2/60)", "gru_1x32"]


def test_show_image_grid_shows_each_image_under_its_title():
    """Each image in its own panel (ink black, background white, hidden pixels grey), its title above, the
    spare panel empty, and the figure's title."""
    images = np.zeros((5, 28, 28))
    for i in range(5):
        images[i, i, :] = 1.0  # image i: a black line on row i
    images[4, 27, 27] = -1.0
    fig = plots.show_image_grid(images, [f"t{i}" for i in range(5)], cols=3, suptitle="grid")
    assert len(fig.axes) == 6
    assert [ax.get_title() for ax in fig.axes] == ["t0", "t1", "t2", "t3", "t4", ""]
    assert fig.get_suptitle() == "grid"
    for i, ax in enumerate(fig.axes[:5]):
        (shown,) = ax.get_images()
        np.testing.assert_allclose(np.asarray(shown.get_array()), plots.binary_image_rgb(images[i]))
        assert np.asarray(shown.get_array())[i, :, 0].max() == 0.0  # row i is ink
    assert np.asarray(fig.axes[4].get_images()[0].get_array())[27, 27, 0] == pytest.approx(0.6)  # hidden: grey
    assert fig.axes[5].get_images() == []


def test_marked_rgb_colours_the_marked_pixels():
    image = np.zeros(784, np.float32)
    image[[10, 11]] = 1
    image[20:] = -1
    rgb = plots.marked_rgb(image, [10, 12, 25]).reshape(784, 3)
    np.testing.assert_allclose(rgb[10], plots.PREDICTED_INK)
    np.testing.assert_allclose(rgb[12], plots.PREDICTED_BACKGROUND)
    np.testing.assert_allclose(rgb[11], 0.0)   # ink, not marked: black
    np.testing.assert_allclose(rgb[13], 1.0)   # background, not marked: white
    np.testing.assert_allclose(rgb[25], 0.6)   # hidden stays grey even when marked
    mask = np.zeros(784, bool)
    mask[[10, 12]] = True
    np.testing.assert_array_equal(plots.marked_rgb(image, mask), plots.marked_rgb(image, [10, 12]))
    np.testing.assert_array_equal(plots.marked_rgb(image, []), plots.binary_image_rgb(image))


@pytest.mark.parametrize("start, n", [(484, 1), (484, 10), (484, 28), (484, 300), (0, 1), (783, 1), (27, 2)])
def test_span_window_holds_the_span_inside_the_image(start, n):
    top, bottom, left, right = plots.span_window(start, n)
    assert 0 <= top < bottom <= 28 and 0 <= left < right <= 28
    assert bottom - top == right - left >= 12  # square, at least 12 pixels
    rows, cols = np.divmod(np.arange(start, start + n), 28)
    assert (top <= rows).all() and (rows < bottom).all() and (left <= cols).all() and (cols < right).all()
    assert all(isinstance(v, int) for v in (top, bottom, left, right))
    assert plots.span_window(484, 1) == (12, 24, 2, 14)  # centred on row 17, column 8
    assert plots.span_window(484, 300) == (0, 28, 0, 28)


def test_show_rgb_grid_frames_crops_and_labels_rows():
    images = np.ones((4, 28, 28, 3))
    fig = plots.show_rgb_grid(images, ["a", "b", "", "d"], cols=2, window=(2, 14, 3, 15), row_labels=["m1", "m2"])
    assert len(fig.axes) == 4
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "", "d"]
    assert [ax.get_ylabel() for ax in fig.axes] == ["m1", "", "m2", ""]
    assert fig.axes[0].get_xlim() == (2.5, 14.5) and fig.axes[0].get_ylim() == (13.5, 1.5)
    assert all(spine.get_visible() for spine in fig.axes[0].spines.values())  # framed, not floating


def test_chance_exceedance_and_noise_verdict():
    assert plots.chance_exceedance(2.0) == pytest.approx(0.0455, abs=1e-4)
    assert plots.chance_exceedance(0.0) == pytest.approx(1.0)
    text = plots.noise_verdict(1, 16)
    assert text.startswith("1 of 16 beyond 2 standard errors, where chance alone gives 0.7 on average")
    assert "(at least 1 in 53% of cases)" in text and text.endswith("consistent with noise")
    text = plots.noise_verdict(1, 8, largest=2.7)
    assert "0.4 on average" in text and "2.7 standard errors happens by chance in 5% of cases" in text
    assert text.endswith("consistent with noise")
    assert plots.noise_verdict(0, 8).endswith("0.4 on average: consistent with noise")
    many = plots.noise_verdict(5, 16)
    assert "under 1% of cases" in many and many.endswith("more than chance explains")
    assert plots.noise_verdict(1, 8, largest=4.0).endswith("more than chance explains")


def test_save_figure_writes_the_tracked_figures_only_when_told(tmp_path, monkeypatch):
    """Without $RNN_MNIST_FIGURES_DIR (a notebook run by hand, in JupyterLab) figures go to the git-ignored
    lab/figures/; only the runner, which sets the variable, writes the tracked figures/."""
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    scratch = tmp_path / "lab" / "figures"
    monkeypatch.setattr(plots, "SCRATCH_FIGURES_DIR", scratch)
    monkeypatch.delenv(plots.FIGURES_ENV_VAR, raising=False)
    assert plots.save_figure(fig, "by_hand") == scratch / "by_hand.png" and (scratch / "by_hand.png").is_file()
    monkeypatch.setenv(plots.FIGURES_ENV_VAR, str(tmp_path / "runner"))
    assert plots.save_figure(fig, "run") == tmp_path / "runner" / "run.png"
    plt.close(fig)


def test_the_scratch_figures_folder_is_git_ignored():
    import subprocess

    from helpers.core.paths import FIGURES_DIR, REPO_ROOT

    assert plots.SCRATCH_FIGURES_DIR != FIGURES_DIR and REPO_ROOT in plots.SCRATCH_FIGURES_DIR.parents
    ignored = subprocess.run(["git", "check-ignore", "-q", str(plots.SCRATCH_FIGURES_DIR / "01_x.png")],
                             cwd=REPO_ROOT, check=False)
    assert ignored.returncode == 0, f"{plots.SCRATCH_FIGURES_DIR} must be listed in .gitignore"
