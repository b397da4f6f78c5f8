"""helpers.analysis.widgets: an explorer displayed as its live widget with an image of its default state as the
fallback, then a hint that only a viewer without a kernel shows; and the explorers' layout."""

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
    (bundle, kwargs), (hint, hint_kwargs) = displayed
    assert kwargs == hint_kwargs == {"raw": True}
    # One output holds the live widget and, for viewers that cannot render it, the image: never both shown.
    assert bundle[hw.WIDGET_VIEW]["model_id"] == view.widget.model_id
    assert base64.b64decode(bundle["image/png"]) == view.png
    assert bundle["text/plain"] == hw.STATIC_VIEW_TEXT and "children" not in bundle["text/plain"]
    # The hint: a widget view of no model (a live kernel hides it), with a one-line text for the others.
    assert hint[hw.WIDGET_VIEW]["model_id"] == "" and hint[hw.WIDGET_VIEW]["version_major"] == 2
    assert hint["text/plain"] == hw.HINT_TEXT and "\n" not in hw.HINT_TEXT and "run this cell" in hw.HINT_TEXT
    assert set(bundle) == {hw.WIDGET_VIEW, "image/png", "text/plain"} and set(hint) == {hw.WIDGET_VIEW, "text/plain"}


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
    (bundle, _), = displayed
    assert bundle[hw.WIDGET_VIEW]["model_id"] == view.widget.model_id and "image/png" not in bundle
    assert bundle["text/plain"] == hw.HINT_TEXT, "no image: the hint is the fallback itself"


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


def test_interactive_explorer_shows_whole_descriptions(shown):
    explorer = hw.interactive_explorer(lambda test_image: None,
                                       test_image=widgets.BoundedIntText(value=0, description="test image"))
    assert isinstance(explorer, widgets.interactive)
    assert explorer.children[0].style.description_width == "initial"


def test_explorer_box_keeps_the_controls_column_whole():
    controls = hw.styled(widgets.FloatSlider(description="u (cand.)"), widgets.Dropdown(options=["a"]), width="330px")
    box = hw.explorer_box(controls, widgets.Output())
    column, output = box.children
    assert column.children == tuple(controls) and all(c.layout.width == "330px" for c in controls)
    assert column.layout.flex == "0 0 auto", "the column never shrinks (values like 8.0 were cut to '8.')"
    assert box.layout.flex_flow == "row wrap", "a figure too wide for the cell goes below the controls"
    assert all(c.style.description_width == "initial" for c in controls)


@pytest.mark.slow
def test_gate_explorer_gets_its_default_view(displayed):
    from helpers.analysis import gates

    view = hw.with_static_view(gates.gate_explorer, steps=5, seed=0)
    assert isinstance(view.widget, widgets.HBox)
    assert view.png.startswith(PNG_MAGIC)
    column = view.widget.children[0]
    assert column.layout.flex == "0 0 auto" and all(c.style.description_width == "initial" for c in column.children)
