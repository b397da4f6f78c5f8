"""Explorers that show an image of their default state until a kernel makes them live, and their layout.

``with_static_view(gates.gate_explorer, steps=30)`` builds the explorer and displays it as one output whose
bundle holds both the live widget and a PNG of its default state, plus a one-line hint. A viewer that cannot
run the widget (GitHub, the static book, JupyterLab before the cell runs: the saved outputs are not trusted)
picks the image and shows the hint; once the cell runs in a kernel, JupyterLab renders the widget alone and
hides the hint, so exactly one figure follows the controls.
"""

from __future__ import annotations

import base64
import io
from contextlib import contextmanager

from IPython.display import display

#: The MIME type of a widget view in a notebook output.
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: The text a viewer without images shows instead of the static view.
STATIC_VIEW_TEXT = "[image: the explorer's default view]"
#: The hint under the image; a live kernel hides it (its widget view names no model).
HINT_TEXT = "Static image of the explorer's default state: run this cell (or Run > Run All Cells) to use it."
#: How controls label themselves: the whole description, never cut to a fixed width.
CONTROL_STYLE = {"description_width": "initial"}


@contextmanager
def recording_figures():
    """Within the block, every figure created through pyplot (``plt.figure``, ``plt.subplots``...) is
    appended to the yielded list, closed or not."""
    import matplotlib.pyplot as plt

    created = []
    original = plt.figure

    def figure(*args, **kwargs):
        fig = original(*args, **kwargs)
        created.append(fig)
        return fig

    plt.figure = figure  # plt.subplots and friends look ``figure`` up in pyplot's namespace
    try:
        yield created
    finally:
        plt.figure = original


def figure_png(fig) -> bytes:
    """``fig`` as PNG bytes, the way the inline backend draws it (tight box, the figure's own dpi)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi, bbox_inches="tight", facecolor=fig.get_facecolor(),
                metadata={"Software": None})
    return buffer.getvalue()


def styled(*controls, width: str | None = None):
    """Give each control its full description (and ``width`` if given); returns the controls as a list."""
    from ipywidgets import Layout

    for control in controls:
        control.style.description_width = CONTROL_STYLE["description_width"]
        if width is not None:
            control.layout = Layout(width=width)
    return list(controls)


def explorer_box(controls: list, output):
    """Controls and the figure side by side, the figure wrapping below when the cell is too narrow.

    The controls column never shrinks, so no label, value or dropdown is cut.
    """
    import ipywidgets as widgets

    column = widgets.VBox(controls, layout=widgets.Layout(flex="0 0 auto", margin="0 12px 0 0"))
    output.layout = widgets.Layout(flex="1 1 auto", min_width="0", overflow="auto")
    return widgets.HBox([column, output], layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start"))


def interactive_explorer(function, **controls):
    """``ipywidgets.interactive(function, **controls)`` with every control's description shown whole."""
    import ipywidgets as widgets

    styled(*controls.values())
    return widgets.interactive(function, **controls)


class StaticView:
    """A widget and a PNG of its default state; displayed (e.g. as a cell's value), it shows one of them.

    Attributes:
        widget: the live widget.
        png: the image's PNG bytes, or ``None`` (then a viewer without a kernel shows the hint alone).
    """

    def __init__(self, widget, png: bytes | None):
        self.widget = widget
        self.png = png

    def bundles(self) -> list[dict]:
        """The outputs displayed: the widget with the image as its fallback, then the hint."""
        view = self.widget._repr_mimebundle_()[WIDGET_VIEW]
        main = {WIDGET_VIEW: view, "text/plain": STATIC_VIEW_TEXT if self.png is not None else HINT_TEXT}
        if self.png is not None:
            main["image/png"] = base64.b64encode(self.png).decode("ascii")
        hint = {WIDGET_VIEW: {"version_major": view["version_major"], "version_minor": view["version_minor"],
                              "model_id": ""}, "text/plain": HINT_TEXT}
        return [main, hint] if self.png is not None else [main]

    def _ipython_display_(self) -> None:
        for bundle in self.bundles():
            display(bundle, raw=True)

    def __repr__(self) -> str:
        size = f"{len(self.png)} bytes" if self.png else None
        return f"StaticView({type(self.widget).__name__}, png={size})"


def with_static_view(build, *args, draw_default=None, **kwargs) -> StaticView:
    """Build an explorer with ``build(*args, **kwargs)`` and keep an image of its default state.

    Args:
        build: a function that returns a widget (e.g. ``gates.gate_explorer``); it may also be a widget
            already built, with ``draw_default`` given.
        draw_default: optional, a function of no argument that returns the figure of the default state;
            by default, the last figure the explorer creates with pyplot while it is built.

    Returns:
        A :class:`StaticView`: the cell that ends with it shows the image and the hint until it runs, then
        the live widget alone. The image is ``None`` if no figure was drawn (e.g. the explorer printed an
        error instead).
    """
    from ipywidgets import Widget

    if isinstance(build, Widget):
        if args or kwargs:
            raise TypeError("with_static_view: arguments are for a function that builds the widget, not a widget")
        if draw_default is None:
            raise TypeError("with_static_view: a widget already built needs draw_default; pass the function "
                            "that builds it instead")
        widget, created = build, []
    else:
        with recording_figures() as created:
            widget = build(*args, **kwargs)
    if draw_default is not None:
        with recording_figures() as extra:
            fig = draw_default()
        created = [fig] if fig is not None else extra
    png = figure_png(created[-1]) if created else None
    if draw_default is not None and created:
        import matplotlib.pyplot as plt

        plt.close(created[-1])
    return StaticView(widget, png)
