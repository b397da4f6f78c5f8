"""Fixtures shared by the tests."""

import pytest
import testkit


@pytest.fixture
def shown(monkeypatch):
    """Record the figures that widgets pass to plt.show (headless)."""
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "show", lambda fig=None, *a, **k: figures.append(fig))
    yield figures
    plt.close("all")


@pytest.fixture(scope="module")
def tiny_splits():
    """128 / 64 / 64 real MNIST images, for tiny training runs (:data:`testkit.TINY`)."""
    return testkit.tiny_mnist_splits(128, 64, 64)


@pytest.fixture
def no_seed_runs(monkeypatch):
    """Verdicts as if no seed run were recorded (``data/experiments/`` grows as seed runs finish)."""
    from helpers.core import spread

    monkeypatch.setattr(spread, "seed_groups", lambda *args, **kwargs: {})
    monkeypatch.setattr(spread, "seed_epochs", lambda *args, **kwargs: {})
