"""Fixtures shared by the tests."""

import pytest


@pytest.fixture
def shown(monkeypatch):
    """Record the figures that widgets pass to plt.show (headless)."""
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "show", lambda fig=None, *a, **k: figures.append(fig))
    yield figures
    plt.close("all")
