"""The fast O(d) sampler of (h, x_q, y_q) against the naive one that builds every context, and both against exact
conditional moments derived independently (Isserlis' theorem for Gaussian x)."""

import math

import numpy as np
import pytest
from scipy import stats

from iclab.solvable.sampler import (
    context_length,
    features,
    pretraining_tasks,
    sample_stats,
    sample_stats_naive,
)


def exact_moments(w, ell, rho):
    """E[h | w] and E[h h^T | w] by Isserlis (x ~ N(0, I/d), y = <x, w> + N(0, rho))."""
    d = w.size
    sw = w @ w / d + rho
    mean = np.append(w, sw)
    second = np.empty((d + 1, d + 1))
    second[:d, :d] = (w @ w + rho * d) / ell * np.eye(d) + (1 + 1 / ell) * np.outer(w, w)
    second[:d, d] = second[d, :d] = (1 + 2 / ell) * sw * w
    second[d, d] = (1 + 2 / ell) * sw**2
    return mean, second


@pytest.mark.parametrize("sampler", [sample_stats, sample_stats_naive])
@pytest.mark.parametrize(("ell", "rho"), [(3, 0.3), (1, 0.0)])
def test_conditional_moments(sampler, ell, rho):
    d, n = 4, 200_000
    w = np.array([0.3, -1.7, 0.9, 1.2])  # not unit-norm on purpose: the sampler must handle any |w|
    h, xq, yq = sampler(np.random.default_rng(1), np.tile(w, (n, 1)), ell, rho)
    mean, second = exact_moments(w, ell, rho)
    scale = np.sqrt(np.diag(second))
    assert np.all(np.abs(h.mean(0) - mean) < 5 * scale / math.sqrt(n))
    assert np.all(np.abs(h.T @ h / n - second) < 6 * np.outer(scale, scale) * math.sqrt(3 / n))
    assert np.all(np.abs(xq.T @ xq / n - np.eye(d) / d) < 0.01 / d)
    assert np.all(np.abs(xq.T @ yq / n - w / d) < 5 * math.sqrt((w @ w / d + rho) / d / n))
    assert abs(np.mean(yq**2) / (w @ w / d + rho) - 1) < 0.02
    assert np.all(np.abs(h[:, :d].T @ xq / n) < 5 * scale[:d, None] / math.sqrt(d * n))  # xq independent of h


def test_two_sample_ks_on_projections():
    """Same law: KS tests on projections that mix every block (fresh sphere tasks, d = 5, ell = 4)."""
    d, ell, rho, n = 5, 4, 0.2, 30_000
    rng = np.random.default_rng(7)
    tasks = pretraining_tasks(rng, d, n / d**2, math.inf)[0]
    fast = sample_stats(np.random.default_rng(2), tasks, ell, rho)
    naive = sample_stats_naive(np.random.default_rng(3), tasks, ell, rho)
    gammas = [rng.standard_normal((d, d + 1)) for _ in range(3)]

    def projections(h, xq, yq):
        return [h[:, d], h[:, :d] @ tasks[0] / d, np.einsum("nb,nb->n", xq @ gammas[0], h) - yq,
                np.einsum("nb,nb->n", xq @ gammas[1], h), np.einsum("nd,nd->n", h[:, :d], tasks) / d,
                np.einsum("nd,nd->n", xq, tasks) * yq]

    pvals = [stats.ks_2samp(a, b).pvalue for a, b in zip(projections(*fast), projections(*naive), strict=True)]
    assert min(pvals) > 1e-3 / len(pvals), pvals


def test_pretraining_tasks_balanced_and_fresh():
    rng = np.random.default_rng(0)
    pool, idx = pretraining_tasks(rng, 10, 2.0, 0.5)  # k = 5, r = round(200/5) = 40
    assert pool.shape == (5, 10) and idx.shape == (200,)
    np.testing.assert_array_equal(np.bincount(idx), 40)
    np.testing.assert_allclose(np.linalg.norm(pool, axis=1), math.sqrt(10))
    pool, idx = pretraining_tasks(rng, 10, 0.37, 0.7)  # n = 37, k = 7, r = round(37/7) = 5: n = 35, off τd²
    assert idx.size == 35
    pool, idx = pretraining_tasks(rng, 10, 0.5, math.inf)
    assert pool.shape == (50, 10) and np.array_equal(idx, np.arange(50))
    _, idx = pretraining_tasks(rng, 10, 0.5, 0.3, "uniform")
    assert idx.size == 50 and idx.max() < 3


def test_pool_with_indices_draws_as_the_gathered_tasks():
    """sample_stats(rng, pool, ell, rho, idx) is the same draw as on pool[idx] (tasks of unequal norms)."""
    rng = np.random.default_rng(3)
    pool, idx = rng.standard_normal((6, 9)) * np.arange(1, 7)[:, None], rng.integers(0, 6, 40)
    gathered = sample_stats(np.random.default_rng(1), pool[idx], 20, 0.3)
    indexed = sample_stats(np.random.default_rng(1), pool, 20, 0.3, idx)
    for a, b in zip(gathered, indexed, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize(("args", "name"), [
    ((1, 1.0, 1.0), "d must"), ((4, 0.0, 1.0), "tau must"), ((4, 1.0, 0.0), "kappa must"),
    ((4, 1.0, 0.1), "kappa must be >= 1/d"), ((4, 0.5, 3.0), "kappa must be <= tau d"),
    ((4, float("nan"), 1.0), "tau must"),
])
def test_pretraining_tasks_bad_input(args, name):
    with pytest.raises(ValueError, match=name):
        pretraining_tasks(np.random.default_rng(0), *args)


def test_bad_ell_alpha_and_features_layout():
    with pytest.raises(ValueError, match="alpha must"):
        context_length(10, 0.01)
    with pytest.raises(ValueError, match="ell must"):
        sample_stats(np.random.default_rng(0), np.ones((2, 3)), 0, 0.1)
    with pytest.raises(ValueError, match="rho must"):
        sample_stats(np.random.default_rng(0), np.ones((2, 3)), 2, -0.1)
    rng = np.random.default_rng(0)
    xs, ys, xq = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3)), rng.standard_normal((2, 4))
    hz = features(xs, ys, xq)
    assert hz.shape == (2, 4, 5)
    # H_Z = x_q [ (d/ell) sum y x^T, (1/ell) sum y^2 ], entry by entry for the first prompt
    np.testing.assert_allclose(hz[0, :, :4], np.outer(xq[0], 4 / 3 * ys[0] @ xs[0]))
    np.testing.assert_allclose(hz[0, :, 4], xq[0] * (ys[0] @ ys[0]) / 3)
