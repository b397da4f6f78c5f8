"""Benchmarks of the sampler and the in-painting scorer against their naive baselines (see helpers.bench).

Both use ``gru_1x128``: the shipped weights when present, else random ones (speed does not depend on them).
Inputs are binarized MNIST test digits, as in the notebooks.
"""

from __future__ import annotations

import numpy as np

from helpers.bench import median_time


def _model(name: str = "gru_1x128"):
    from helpers import models as zoo

    try:
        return zoo.load("pixel", name), "shipped weights"
    except zoo.ModelNotTrainedError:
        return zoo.build("pixel", name), "random weights"


def _test_digits(n: int) -> np.ndarray:
    from helpers.data import binarize, load_mnist

    return binarize(load_mnist().test.images[:n]).reshape(n, 784)


def bench_sampling(quick: bool) -> dict:
    """Stateful sampler vs recomputing the whole prefix for each new pixel, on the same workload.

    The naive baseline costs minutes per repetition on the full task (100 images x 10 samples x 300 px), so
    both methods are timed on ``ratio_images`` images x 10 samples x 300 px, and the ratio is theirs; the
    fast sampler is also timed alone on the full task (``full_workload_project_s``).
    """
    from helpers.sampling import naive_sample_continuations, sample_continuations

    model, weights = _model()
    images, samples, n = (20, 10, 300) if quick else (100, 10, 300)
    ratio_images = 2 if quick else 5
    prefix = _test_digits(images)[:, : 784 - n]
    full = median_time(lambda: sample_continuations(model, prefix, n, samples, seed=0), repeats=3)
    small = prefix[:ratio_images]
    fast_small = median_time(lambda: sample_continuations(model, small, n, samples, seed=0), repeats=3)
    naive_small = median_time(lambda: naive_sample_continuations(model, small, n, samples, seed=0), repeats=3,
                              warmup=0)
    return {
        "workload": f"{ratio_images} images x {samples} samples x {n} px, gru_1x128",
        "weights": weights,
        "project_s": fast_small,
        "baseline_s": naive_small,
        "speedup": naive_small / fast_small,
        "full_workload": f"{images} images x {samples} samples x {n} px",
        "full_workload_project_s": full,
    }


def bench_inpainting(quick: bool) -> dict:
    """1,000 images with a 2x2 hole: prefix-sharing batched scorer vs 16 independent full sequences."""
    from helpers.data import binarize, load_mnist
    from helpers.inpainting import candidate_loglik, make_missing_block_set, naive_candidate_loglik

    model, weights = _model()
    n = 200 if quick else 1000
    iset = make_missing_block_set(binarize(load_mnist().test.images), n=n, seed=0)
    fast = median_time(lambda: candidate_loglik(model, iset.masked), repeats=3)
    naive = median_time(lambda: naive_candidate_loglik(model, iset.masked), repeats=3)
    difference = float(np.abs(candidate_loglik(model, iset.masked) - naive_candidate_loglik(model, iset.masked)).max())
    return {
        "workload": f"{n} images, 2x2 hole, 16 candidates, gru_1x128",
        "weights": weights,
        "project_s": fast,
        "baseline_s": naive,
        "speedup": naive / fast,
        "max_abs_loglik_difference": difference,
    }
