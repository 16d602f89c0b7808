"""The one-step GD convention shared by the papers: ``scale="1/t"`` (Mahankali et al.) and ``scale="d/t"`` (Lu et
al.'s e_gd) are one estimator with eta_{1/t} = d eta_{d/t}; Lu's e_gd is the d -> inf error of the "d/t" one."""

import jax
import numpy as np
import pytest

from iclab.estimators import gd_one_step, gd_optimal_step
from iclab.solvable.sampler import sample_contexts
from iclab.theory import lu2024


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


def exact_finite_d_error(eta, d, ell, rho):
    """E (y_q - eta x_q.(d/ell) sum y_i x_i)^2 for x ~ N(0, I/d), |w|^2 = d (or E|w|^2 = d), noise rho, derived
    here: v = (d/ell) sum y_i x_i has mean w and covariance (w w^T + |w|^2 I + rho d I)/ell (Gaussian fourth
    moments), so the error is (1 - eta)^2 + rho + eta^2 ((1 + rho) d + 1)/ell; it tends to e_gd as d -> inf."""
    return (1 - eta) ** 2 + rho + eta ** 2 * ((1 + rho) * d + 1) / ell


def test_scales_are_one_estimator():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((4, 6))
    xs, ys, xq, _ = sample_contexts(rng, w, 9, 0.1)
    np.testing.assert_allclose(gd_one_step(xs, ys, xq, 0.7, scale="d/t"), gd_one_step(xs, ys, xq, 0.7 * 6),
                               rtol=1e-13)
    ref = np.array([[0.7 * 6 / t * (xq[i] @ (xs[i, :t].T @ ys[i, :t])) for t in range(1, 10)] for i in range(4)])
    np.testing.assert_allclose(gd_one_step(xs, ys, xq, 0.7, scale="d/t"), ref, rtol=1e-12)
    with pytest.raises(ValueError, match="scale must be one of"):
        gd_one_step(xs, ys, xq, 0.7, scale="1/d")


@pytest.mark.parametrize("eta", [0.5, 0.9])
def test_d_over_t_step_matches_lu_e_gd(eta):
    """Monte Carlo of gd_one_step(scale="d/t") at d = 20, alpha = 4 against the exact finite-d error, which
    tends to lu2024.e_gd (the two differ by eta^2 / ell here)."""
    d, alpha, rho, n = 20, 4.0, 0.2, 4000
    ell = int(alpha * d)
    rng = np.random.default_rng(7)
    w = rng.standard_normal((n, d))
    w *= np.sqrt(d) / np.linalg.norm(w, axis=1, keepdims=True)  # the sphere |w|^2 = d of Lu's simulations
    xs, ys, xq, yq = sample_contexts(rng, w, ell, rho)
    err = (yq - np.asarray(gd_one_step(xs, ys, xq, eta, prefixes=[ell], scale="d/t"))[:, 0]) ** 2
    se = err.std(ddof=1) / np.sqrt(n)
    exact = exact_finite_d_error(eta, d, ell, rho)
    assert abs(err.mean() - exact) < 4 * se, (err.mean(), exact, se)
    assert exact - lu2024.e_gd(alpha, rho, eta) == pytest.approx(eta ** 2 / ell, rel=1e-12)


def test_optimal_steps_agree_between_conventions():
    """Lu's optimal eta = 1/(1 + q) (e_gd with eta=None; Γ* as κ, τ → inf) is the d -> inf limit of gd_optimal_step
    in the "d/t" convention at x_var = 1/d; in the "1/t" convention the same step is d times larger."""
    alpha, rho = 3.0, 0.5
    q = (1 + rho) / alpha
    for d in (10, 1000, 10 ** 6):
        t = alpha * d
        lu = gd_optimal_step(t, d, rho, x_var=1 / d, scale="d/t")
        assert gd_optimal_step(t, d, rho, x_var=1 / d) == pytest.approx(d * lu, rel=1e-13)
        assert lu == pytest.approx(t / (t + d + 1 + rho * d), rel=1e-13)
    assert lu == pytest.approx(1 / (1 + q), rel=1e-5)
    assert lu2024.e_gd(alpha, rho) == pytest.approx(lu2024.e_gd(alpha, rho, 1 / (1 + q)), rel=1e-14)
