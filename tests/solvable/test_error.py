"""The exact finite-d test error of any Gamma (the formula of Lu et al. 2024's simulations) against Monte Carlo on raw
contexts, against the authors' A/B form, and against a hand-computed value."""

import math

import numpy as np
import pytest

from iclab.solvable.error import test_error as exact_error
from iclab.solvable.sampler import context_stats, sample_contexts, sphere_tasks


def monte_carlo(gamma, tasks, ell, rho, n, seed):
    """Mean and standard error of (y_q - x_q^T Gamma h)^2 over n raw test contexts with the given task rows."""
    rng = np.random.default_rng(seed)
    errs = []
    for i in range(0, n, 20_000):
        t = tasks[rng.integers(0, len(tasks), min(20_000, n - i))]
        xs, ys, xq, yq = sample_contexts(rng, t, ell, rho)
        errs.append((yq - np.einsum("nb,nb->n", xq @ gamma, context_stats(xs, ys))) ** 2)
    errs = np.concatenate(errs)
    return errs.mean(), errs.std() / math.sqrt(errs.size)


@pytest.mark.parametrize("which", ["sphere", "gaussian", "pool_sphere", "pool_any_norm"])
def test_exact_error_matches_monte_carlo(which):
    d, ell, rho = 5, 4, 0.3
    rng = np.random.default_rng(11)
    gamma = 0.4 * rng.standard_normal((d, d + 1)) + np.hstack([0.5 * np.eye(d), np.full((d, 1), 0.2)])
    if which == "sphere":
        tasks, arg = sphere_tasks(rng, 200_000, d), "sphere"
    elif which == "gaussian":
        tasks, arg = rng.standard_normal((200_000, d)), "gaussian"
    elif which == "pool_sphere":
        tasks = arg = sphere_tasks(rng, 3, d)
    else:
        tasks = arg = rng.standard_normal((4, d)) * np.array([[0.5], [1.0], [2.0], [1.5]]) + 0.7
    mean, se = monte_carlo(gamma, tasks, ell, rho, 200_000, seed=3)
    exact = exact_error(gamma, ell, rho, arg)
    assert abs(mean - exact) < 4 * se, (mean, se, exact)


def test_error_limits_and_authors_form():
    d, ell, rho = 6, 9, 0.01
    assert exact_error(np.zeros((d, d + 1)), ell, rho) == pytest.approx(1 + rho)  # Gamma = 0: E y_q^2 = 1 + rho
    # the authors' form s - (2/d) tr(Gamma A) + (1/d) tr(Gamma^T Gamma B) with |w|^2 = d, written out
    # independently for a random Gamma
    rng = np.random.default_rng(0)
    gamma, pool = rng.standard_normal((d, d + 1)), sphere_tasks(rng, 3, d)
    s, mu, R = 1 + rho, pool.mean(0), pool.T @ pool / 3
    A = np.vstack([R, s * mu])
    B = np.block([[s * d / ell * np.eye(d) + (1 + 1 / ell) * R, s * (1 + 2 / ell) * mu[:, None]],
                  [s * (1 + 2 / ell) * mu[None], np.array([[s**2 * (1 + 2 / ell)]])]])
    authors = s - 2 / d * np.trace(gamma @ A) + np.trace(gamma.T @ gamma @ B) / d
    assert exact_error(gamma, ell, rho, pool) == pytest.approx(authors, rel=1e-12)
    # the optimally scaled GD estimator Gamma = [I, 0]/(1+q), q = d(1+rho)/ell, has ICL error
    # rho + q/(1+q) up to O(1/ell) (Gamma* as kappa, tau -> inf): 1 + rho - 2/(1+q) + (1+q+1/ell)/(1+q)^2
    q = d * s / ell
    g = np.hstack([np.eye(d), np.zeros((d, 1))]) / (1 + q)
    assert exact_error(g, ell, rho) == pytest.approx(1 + rho - 2 / (1 + q) + (1 + q + 1 / ell) / (1 + q) ** 2)


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"gamma": np.zeros((3, 3))}, "gamma must"), ({"ell": 0}, "ell must"), ({"rho": -1.0}, "rho must"),
    ({"tasks": "uniform"}, "tasks must"), ({"tasks": np.ones((2, 4))}, "tasks must"),
])
def test_error_bad_input(kwargs, name):
    args = {"gamma": np.zeros((3, 4)), "ell": 2, "rho": 0.1, "tasks": "sphere"} | kwargs
    with pytest.raises(ValueError, match=name):
        exact_error(**args)
