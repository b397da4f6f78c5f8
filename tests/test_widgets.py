"""helpers.analysis.widgets: an image of an explorer's default state, displayed above the live widget."""

import base64

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pytest

from helpers.analysis import widgets as hw

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def displayed(monkeypatch):
    """What helpers.analysis.widgets passes to IPython's display (there is no kernel here)."""
    calls = []
    monkeypatch.setattr(hw, "display", lambda obj, **kwargs: calls.append((obj, kwargs)))
    return calls


def _explorer(calls):
    """A small interactive explorer drawn like the project's: a pyplot figure passed to plt.show."""

    def show(colour, size):
        calls.append((colour, size))
        fig, ax = plt.subplots(figsize=(size, 2))
        ax.plot([0, 1], [0, 1], color=colour)
        plt.show(fig)

    return widgets.interactive(show, colour=widgets.Dropdown(options=["red", "blue"]),
                               size=widgets.IntSlider(value=3, min=2, max=5))


def test_interactive_explorer_is_built_and_drawn_once(shown, displayed):
    calls = []
    view = hw.with_static_view(_explorer, calls)
    assert calls == [("red", 3)], "the explorer drew once, while it was built"
    assert isinstance(view.widget, widgets.interactive)
    assert view.png.startswith(PNG_MAGIC)

    view._ipython_display_()
    (bundle, kwargs), (widget, _) = displayed
    assert kwargs == {"raw": True}
    assert base64.b64decode(bundle["image/png"]) == view.png
    assert "default view" in bundle["text/plain"]
    assert widget is view.widget, "the image comes first, then the live widget"


def test_the_image_is_the_last_figure_drawn(shown):
    def build():
        for width in (2, 6):
            plt.subplots(figsize=(width, 2))
        return widgets.Label("x")

    view = hw.with_static_view(build)
    wide = hw.figure_png(plt.subplots(figsize=(6, 2))[0])
    assert view.png[:24] == wide[:24], "same size (the PNG header holds width and height) as the 6-inch figure"
    plt.close("all")


def test_closed_figures_still_give_an_image(shown):
    def build():
        fig, _ = plt.subplots()
        plt.close(fig)
        return widgets.Label("x")

    assert hw.with_static_view(build).png.startswith(PNG_MAGIC)


def test_no_figure_means_no_image(displayed):
    view = hw.with_static_view(widgets.Label, "no trained model")
    assert view.png is None
    view._ipython_display_()
    assert [obj for obj, _ in displayed] == [view.widget]


def test_explicit_default_drawing_for_a_built_widget(displayed):
    label = widgets.Label("x")
    fig, _ = plt.subplots()
    view = hw.with_static_view(label, draw_default=lambda: fig)
    assert view.widget is label and view.png.startswith(PNG_MAGIC)
    assert not plt.fignum_exists(fig.number), "the figure drawn for the image is closed"
    with pytest.raises(TypeError, match="draw_default"):
        hw.with_static_view(label)
    with pytest.raises(TypeError, match="arguments"):
        hw.with_static_view(label, 1, draw_default=lambda: fig)


def test_pyplot_is_restored_even_on_error():
    original = plt.figure

    def build():
        raise ValueError("boom")

    with pytest.raises(ValueError):
        hw.with_static_view(build)
    assert plt.figure is original


@pytest.mark.slow
def test_gate_explorer_gets_its_default_view(displayed):
    from helpers.analysis import gates

    view = hw.with_static_view(gates.gate_explorer, steps=5, seed=0)
    assert isinstance(view.widget, widgets.HBox)
    assert view.png.startswith(PNG_MAGIC)
