"""Nothing shipped or user-owned is harmed, whatever a command is given (property-based, with Hypothesis).

Generated bad values go to regenerate's parameter checking, its ``--output-dir`` resolution and the public
API functions; each must end in a clear error (one line naming the flag or argument) or in success, and no
shipped file (weights, notebooks, figures, benchmark results) changes. The end-to-end table of the issue
runs in a copy of the repository in ``tests/test_shipped_safety.py``.
"""

import functools
import hashlib
import io
import os
import tempfile
from contextlib import redirect_stderr
from unittest import mock

# Hypothesis' caches go to a temporary folder, never into the repository.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "rnn-mnist-hypothesis"))

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import regenerate
from helpers.core import data
from helpers.core.config import ZOO
from helpers.core.paths import REPO_ROOT
from helpers.core.workspace import IGNORED_TOP, WorkspaceError, refuse_tracked

#: The shipped results: weights and manifests, figures, executed notebooks, benchmark results.
SHIPPED = ("data/models/**/*", "figures/*", "notebooks/*.ipynb", "benchmarks/results.json")
NOTEBOOKS = regenerate.select_notebooks(None)
DECLARED = sorted({name for path in NOTEBOOKS for name in regenerate.declared_parameters(path)})
# No example database: the tests write nothing into the repository.
SETTINGS = settings(max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
#: The notebooks parsed once (the checks only read them).
READ_ONCE = functools.lru_cache(maxsize=None)(regenerate.read_notebook)


def shipped_digest() -> str:
    """One hash of every shipped file's path and bytes."""
    digest = hashlib.sha256()
    for pattern in SHIPPED:
        for path in sorted(REPO_ROOT.glob(pattern)):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(REPO_ROOT)).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module", autouse=True)
def nothing_shipped_changes():
    before = shipped_digest()
    yield
    assert shipped_digest() == before, "a shipped file changed"


def run_main(argv):
    """``regenerate.main(argv)`` with the execution replaced: (status, stderr, what would have run)."""
    calls = []

    def record(notebooks, parameters, output_dir=None, *args, **kwargs):
        calls.append((notebooks, parameters, output_dir))
        return 0

    err = io.StringIO()
    with mock.patch.object(regenerate, "regenerate", record), mock.patch.object(regenerate, "read_notebook", READ_ONCE), \
            redirect_stderr(err):
        try:
            status = regenerate.main(argv)
        except SystemExit as exit:  # argparse's usage error (e.g. "-p seed -1e+16" reads as an option)
            assert exit.code == 2 and "error: argument" in err.getvalue()
            return 2, err.getvalue().splitlines()[-1] + "\n", calls
    return status, err.getvalue(), calls


values = st.one_of(
    st.text(max_size=12), st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=True).map(repr),
    st.sampled_from(["None", "True", "true", "[]", "['gru_1x99']", "['gru_1x32']", "'gru_1x128'", "[1, 0]",
                     "inf", "-1", "0", "2.5", "1e9", "{}", "('a',)", "[None]", "lstm_1x32"]),
)


@SETTINGS
@given(name=st.sampled_from(DECLARED), text=values)
def test_any_parameter_value_is_a_clear_error_or_a_checked_value(name, text):
    status, err, calls = run_main(["-p", name, text])
    if status == 2:
        assert err.count("\n") == 1 and "error: " in err and not calls
        assert name in err or "error: argument -p" in err
        return
    assert status == 0 and len(calls) == 1, err
    for path, typed in calls[0][1].items():
        if name not in typed:  # a notebook that does not declare it
            continue
        value = typed[name]
        if name in regenerate.MODEL_PARAMETERS:
            names = value if isinstance(value, list) else [value]
            assert names and set(names) <= set(ZOO)
        low = regenerate.MINIMUM.get(name)
        if low is not None:
            items = value if isinstance(value, list) else [value]
            assert all(v is None or v >= low for v in items), (path.name, name, value)
        if name in regenerate.PARAMETER_TYPES:
            assert value is None or (isinstance(value, int) and not isinstance(value, bool))


folders = st.lists(st.sampled_from([".", "..", "notebooks", "figures", "data", "models", "benchmarks", "runs",
                                    "site", "helpers", "mine", "out", "x"]), min_size=0, max_size=4)


def tracked_inside(path) -> bool:
    """Whether ``path`` is the repository or lies in one of its existing, git-tracked top-level folders."""
    try:
        parts = path.resolve().relative_to(REPO_ROOT.resolve()).parts
    except ValueError:
        return False
    return not parts or (parts[0] not in IGNORED_TOP and (REPO_ROOT / parts[0]).exists())


@SETTINGS
@given(parts=folders, base=st.sampled_from(["repo", "tmp"]))
def test_output_dir_is_refused_exactly_when_it_resolves_into_a_tracked_folder(parts, base, tmp_path_factory):
    root = REPO_ROOT if base == "repo" else tmp_path_factory.getbasetemp()
    out = root.joinpath(*parts) if parts else root
    if out.exists() and not out.is_dir():
        return
    status, err, calls = run_main(["--only", "01", "--output-dir", str(out)])
    if tracked_inside(out):
        assert status == 2 and "never write over committed files" in err and err.count("\n") == 1 and not calls
        with pytest.raises(WorkspaceError):
            refuse_tracked(out)
    else:
        assert status == 0 and calls and calls[0][2] == out, err


bad_images = st.one_of(
    st.none(), st.text(max_size=5), st.binary(max_size=5), st.just([[0.1, "a"]]), st.just([[0.1], [0.2, 0.3]]),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=6),
    st.just(np.full((2, 28, 28), 255.0)), st.just(np.array([object()])),
)
thresholds = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.none(), st.text(max_size=3),
                       st.booleans(), st.integers(-3, 3))


@SETTINGS
@given(images=bad_images, threshold=thresholds)
def test_binarize_succeeds_or_names_the_argument(images, threshold):
    try:
        result = data.binarize(images, threshold=threshold)
    except (TypeError, ValueError) as err:
        message = str(err)
        assert "binarize" in message and ("images" in message or "threshold" in message or "grey levels" in message)
        return
    assert result.dtype == np.float32 and set(np.unique(result)) <= {0.0, 1.0}
    assert 0 <= threshold < 1


@pytest.fixture(scope="module")
def tiny_pixel_model():
    from testkit import sharp_model

    return sharp_model("gru_1x8")


masks = st.one_of(
    st.none(), st.text(max_size=4), st.just(np.zeros((1, 784))), st.just(np.full((1, 784), 2.0)),
    st.just(-np.ones((1, 784))), st.just(np.zeros((1, 10))), st.just(np.zeros((0, 784))),
    st.lists(st.sampled_from([0.0, 1.0, -1.0, 0.5, float("nan")]), min_size=784, max_size=784).map(
        lambda row: np.array([row])),
)


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(masked=masks, model_ok=st.booleans(), batch_size=st.sampled_from([0, -1, 1.5, None, 64]))
def test_most_probable_fill_succeeds_or_names_the_argument(masked, model_ok, batch_size, tiny_pixel_model):
    from helpers.inference.exact_fill import most_probable_fill

    model = tiny_pixel_model if model_ok else None
    try:
        filled, posterior = most_probable_fill(model, masked, batch_size=batch_size)
    except (TypeError, ValueError) as err:
        message = str(err)
        assert any(word in message for word in ("model", "masked", "batch_size", "missing", "pixel")), message
        return
    assert filled.shape == (1, 784) and np.allclose(posterior.sum(axis=1), 1)
