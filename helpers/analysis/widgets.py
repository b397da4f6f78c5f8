"""An image of an explorer's default state above the live widget, so a notebook opened but not run (GitHub,
the static book, JupyterLab before "Run All") still shows it: ``with_static_view(gates.gate_explorer, steps=30)``.
"""

from __future__ import annotations

import base64
import io
from contextlib import contextmanager

from IPython.display import display

#: The text a viewer without images shows instead of the static view.
STATIC_VIEW_TEXT = "[image: the explorer's default view; run the cell to use the live explorer below]"


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


class StaticView:
    """A widget and a PNG of its default state; displayed (e.g. as a cell's value), it shows both.

    Attributes:
        widget: the live widget.
        png: the image's PNG bytes, or ``None`` (then only the widget is displayed).
    """

    def __init__(self, widget, png: bytes | None):
        self.widget = widget
        self.png = png

    def display_static(self) -> None:
        """Display the image alone (as a plain ``image/png`` output)."""
        if self.png is not None:
            display({"image/png": base64.b64encode(self.png).decode("ascii"), "text/plain": STATIC_VIEW_TEXT},
                    raw=True)

    def _ipython_display_(self) -> None:
        self.display_static()
        display(self.widget)

    def __repr__(self) -> str:
        size = f"{len(self.png)} bytes" if self.png else None
        return f"StaticView({self.widget!r}, png={size})"


def with_static_view(build, *args, draw_default=None, **kwargs) -> StaticView:
    """Build an explorer with ``build(*args, **kwargs)`` and keep an image of its default state.

    Args:
        build: a function that returns a widget (e.g. ``gates.gate_explorer``); it may also be a widget
            already built, with ``draw_default`` given.
        draw_default: optional, a function of no argument that returns the figure of the default state;
            by default, the last figure the explorer creates with pyplot while it is built.

    Returns:
        A :class:`StaticView`: the cell that ends with it shows the image, then the live widget. The
        image is ``None`` if no figure was drawn (e.g. the explorer printed an error instead).
    """
    from ipywidgets import Widget

    if isinstance(build, Widget):
        if args or kwargs:
            raise TypeError("arguments are for a function that builds the widget, not a widget")
        if draw_default is None:
            raise TypeError("a widget already built needs draw_default: pass the function that builds it instead")
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
