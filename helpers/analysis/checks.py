"""The checks that follow each exercise of the notebooks: they say what is wrong (expected vs got) and give a hint.

A check never raises: it prints one line, ``✓ ...`` on stdout when the answer passes, ``✗ ...`` on stderr when
it does not. nbgrader's grade rule (used by ``python -m helpers.exercises check``) counts a check cell that wrote
to stderr as failed, so a student notebook runs top to bottom with every verdict visible.

    with checks.exercise("1.1", hint="f_t must go to 0 and i_t to 1") as ex:
        ex.close("c_1 for x_1 = 1", my_answer(1.0), 1.0, atol=1e-3)
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

import numpy as np


class Failed(Exception):
    """One problem found in an answer: its message says what was expected and what came instead."""


def describe(value) -> str:
    """A short, readable rendering of a value for a check's message."""
    if isinstance(value, float | np.floating):
        return f"{float(value):.6g}"
    array = np.asarray(value) if isinstance(value, list | tuple | np.ndarray) else None
    if array is not None and array.dtype.kind in "fiub" and array.size > 6:
        return f"an array of shape {array.shape}"
    if array is not None and array.dtype.kind in "fiub" and array.ndim == 1:
        return "[" + ", ".join(f"{float(v):.6g}" for v in array) + "]"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Answer:
    """The checks of one exercise; the first one that fails stops the exercise with its message."""

    def __init__(self):
        self.count = 0

    def call(self, function, *args, **kwargs):
        """``function(*args, **kwargs)``, where a missing answer or an error in it becomes a failed check."""
        if not callable(function):
            raise Failed(f"expected a function, got {describe(function)}")
        try:
            return function(*args, **kwargs)
        except NotImplementedError:
            raise Failed("not answered yet (the function still raises NotImplementedError)") from None
        except Exception as error:  # the student's code: report it, never a traceback
            arguments = ", ".join([describe(a) for a in args] + [f"{k}={describe(v)}" for k, v in kwargs.items()])
            raise Failed(f"calling it with ({arguments}) raised {type(error).__name__}: {error}") from None

    def close(self, what: str, got, expected, atol: float = 1e-9, rtol: float = 1e-6):
        """Pass when ``got`` equals ``expected`` within ``atol + rtol * |expected|`` (element-wise)."""
        self.count += 1
        want = np.asarray(expected, dtype=np.float64)
        if got is None:
            raise Failed(f"{what}: expected {describe(expected)}, got None (does the function return its result?)")
        try:
            have = np.asarray(got, dtype=np.float64)
        except (TypeError, ValueError):
            raise Failed(f"{what}: expected a number like {describe(expected)}, got {describe(got)}") from None
        if have.shape != want.shape and have.size != want.size:
            raise Failed(f"{what}: expected shape {want.shape}, got shape {have.shape}")
        have = have.reshape(want.shape)
        bad = ~np.isclose(have, want, rtol=rtol, atol=atol)
        if bad.any():
            if want.ndim == 0:
                raise Failed(f"{what}: expected {describe(float(want))}, got {describe(float(have))}")
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise Failed(f"{what}: at index {index} expected {describe(float(want[index]))}, "
                         f"got {describe(float(have[index]))} ({int(bad.sum())} of {bad.size} entries differ)")

    def equal(self, what: str, got, expected):
        """Pass when ``got == expected``."""
        self.count += 1
        try:
            same = bool(got == expected)
        except (TypeError, ValueError):  # e.g. an array where one value was expected
            same = False
        if not same:
            raise Failed(f"{what}: expected {describe(expected)}, got {describe(got)}")

    def at_most(self, what: str, got, limit):
        """Pass when the number ``got`` is at most ``limit``."""
        self.count += 1
        try:
            value = float(np.max(np.asarray(got, dtype=np.float64)))
        except (TypeError, ValueError):
            raise Failed(f"{what}: expected a number at most {describe(limit)}, got {describe(got)}") from None
        if not value <= limit:
            raise Failed(f"{what}: expected at most {describe(float(limit))}, got {describe(value)}")


@contextmanager
def exercise(name: str, hint: str):
    """Run the checks of exercise ``name``: print ``✓`` on success, else ``✗``, the problem and ``hint`` on stderr."""
    answer = Answer()
    try:
        yield answer
    except Failed as problem:
        print(f"✗ exercise {name}: {problem}. Hint: {hint}", file=sys.stderr)
    except Exception as error:  # e.g. a name the answer cell did not define
        print(f"✗ exercise {name}: {type(error).__name__}: {error}. Hint: {hint}", file=sys.stderr)
    else:
        print(f"✓ exercise {name}: passed ({answer.count} checks)")
