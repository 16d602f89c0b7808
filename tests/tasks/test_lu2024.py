"""The Lu et al. 2024 data model's integer sizes: ℓ, the pool size k under both roundings the authors' code uses,
and (k, n) of a pretraining set, against hand-computed values."""

import math

import numpy as np
import pytest

from iclab.tasks import lu2024 as T


def test_pool_size_floor_and_nearest():
    # floor: k = floor(κd) (linear-model simulations, dMMSE); κ = k/d gives back k despite rounding (0.7·10 = 7.000…01)
    assert [T.pool_size(10, k) for k in (0.1, 0.25, 0.7, 2.0)] == [1, 2, 7, 20]
    assert T.pool_size(3, 2 / 3) == 2 and T.pool_size(40, 268 / 40) == 268
    # nearest: k = round(κd) (the Transformer code): 0.125 · 6 = 0.75 -> 1, 0.25 · 10 = 2.5 -> 2 (half to even)
    assert [T.pool_size(6, k, rounding="nearest") for k in (0.125, 0.25, 0.5, 2.0)] == [1, 2, 3, 12]
    assert T.pool_size(10, 0.25, rounding="nearest") == 2 and T.pool_size(10, 0.35, rounding="nearest") == 4
    assert T.pool_size(10, math.inf) is None and T.pool_size(10, math.inf, rounding="nearest") is None


@pytest.mark.parametrize(("d", "kappa", "rounding", "match"), [
    (10, 0.05, "floor", "kappa must be >= 1/d = 0.1"), (10, 0.05, "nearest", r"kappa must be > 1/\(2d\) = 0.05"),
    (10, 0.0, "floor", "kappa must be > 0"), (10, -1.0, "nearest", "kappa must be > 0"),
    (10, 1.0, "round", "rounding must be one of floor, nearest"),
])
def test_pool_size_bad_input(d, kappa, rounding, match):
    with pytest.raises(ValueError, match=match):
        T.pool_size(d, kappa, rounding=rounding)


def test_context_length_and_pretraining_sizes():
    assert [T.context_length(10, a) for a in (0.06, 0.26, 2.0, 1000.0)] == [1, 3, 20, 10_000]
    with pytest.raises(ValueError, match=r"alpha must be > 1/\(2d\)"):
        T.context_length(10, 0.05)  # round(0.5) = 0
    # balanced: k = floor(0.7 · 10) = 7, r = round(37 / 7) = 5 -> n = 35; uniform keeps n = round(τd²) = 37
    assert T.pretraining_sizes(10, 0.37, 0.7) == (7, 35)
    assert T.pretraining_sizes(10, 0.37, 0.7, "uniform") == (7, 37)
    assert T.pretraining_sizes(16, 0.2, 0.5) == (8, 48)  # r = round(51.2 / 8) = 6
    assert T.pretraining_sizes(10, 0.5, math.inf) == (None, 50)


def test_sample_contexts_law():
    """x ~ N(0, I/d) and y = <x, w> + N(0, ρ): second moments over many contexts of one task."""
    d, ell, rho, n = 3, 5, 0.25, 40_000
    w = np.array([1.0, -2.0, 0.5])
    xs, ys, xq, yq = T.sample_contexts(np.random.default_rng(0), np.tile(w, (n, 1)), ell, rho)
    assert xs.shape == (n, ell, d) and ys.shape == (n, ell) and xq.shape == (n, d) and yq.shape == (n,)
    x = xs.reshape(-1, d)
    np.testing.assert_allclose(x.T @ x / len(x), np.eye(d) / d, atol=0.004)
    resid = ys.ravel() - x @ w
    assert abs(resid.var() / rho - 1) < 0.02 and abs(np.mean(yq**2) / (w @ w / d + rho) - 1) < 0.03


def test_importing_the_data_model_does_not_import_jax():
    import subprocess
    import sys

    code = "import sys, iclab.tasks.lu2024; print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
