"""Gamma* solvers (the ridge pretraining of Lu et al. 2024's reduced model) against a dense SVD reference that builds
the n x p feature matrix."""

import math
import warnings

import jax
import numpy as np
import pytest

from iclab.solvable import (
    SingularSolveWarning,
    predict,
    pretraining_tasks,
    sample_stats,
    solve_gamma,
    solve_gamma_prompts,
)
from iclab.solvable import solve as S
from iclab.solvable.solve import _kron_factors, choose_method
from iclab.tasks import LinearRegression


def dense_reference(h, xq, y, lam):
    """argmin |Phi v - y|^2 + (n/d) lam |v|^2 (min-norm at lam = 0) by SVD least squares on [Phi; sqrt(c) I]."""
    n, d = xq.shape
    p = d * (d + 1)
    phi = np.einsum("na,nb->nab", xq, h).reshape(n, p)  # row-major vec, as in the authors' solver
    c = n / d * lam
    a = np.vstack([phi, math.sqrt(c) * np.eye(p)]) if c > 0 else phi
    b = np.concatenate([y, np.zeros(p)]) if c > 0 else y
    return np.linalg.lstsq(a, b, rcond=None)[0].reshape(d, d + 1)


def data(d, tau, kappa, alpha, rho=0.1, seed=0):
    rng = np.random.default_rng(seed)
    pool, idx = pretraining_tasks(rng, d, tau, kappa)
    return sample_stats(rng, pool[idx], round(alpha * d), rho)


CASES = [(tau, lam, kappa) for tau in (0.4, 2.5) for lam in (0.0, 0.05) for kappa in (0.5, math.inf)]


@pytest.mark.parametrize(("tau", "lam", "kappa"), CASES)
@pytest.mark.parametrize("method", ["auto", "dual", "primal", "cg"])
def test_methods_match_dense_reference(method, tau, lam, kappa):
    d = 7
    h, xq, y = data(d, tau, kappa, alpha=3.0)
    n, p = len(y), d * (d + 1)
    if method == "dual" and n > p and lam == 0:
        with pytest.raises(ValueError, match="method must be primal or cg"):
            solve_gamma(h, xq, y, lam, method=method)
        return
    if method == "cg" and lam == 0 and n < p:
        with pytest.raises(ValueError, match="method must be dual or primal"):
            solve_gamma(h, xq, y, lam, method=method)
        return
    ref = dense_reference(h, xq, y, lam)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularSolveWarning)  # primal at lam = 0, n < p: singular by design
        got = solve_gamma(h, xq, y, lam, method=method)
    assert np.abs(got - ref).max() <= 1e-8 * np.abs(ref).max()


def test_min_norm_interpolates_and_least_squares_is_stationary():
    d = 6
    h, xq, y = data(d, 0.5, 0.5, 2.0)  # n = 18 < p = 42
    g = solve_gamma(h, xq, y)
    np.testing.assert_allclose(np.einsum("nb,nb->n", xq @ g, h), y, atol=1e-9)  # interpolates
    h, xq, y = data(d, 3.0, 0.5, 2.0)  # n = 108 > p
    g = solve_gamma(h, xq, y)
    resid = y - np.einsum("nb,nb->n", xq @ g, h)
    np.testing.assert_allclose(xq.T @ (resid[:, None] * h), 0, atol=1e-9)  # normal equations


def test_auto_picks_the_regime():
    def pick(d, tau, lam, kappa=0.5):
        h, xq, y = data(d, tau, kappa, 10.0)
        return choose_method(len(y), d, lam, factors=_kron_factors(h, xq))
    assert pick(40, 0.5, 0.0) == "dual"  # n < p, ridgeless: the kernel form
    assert pick(40, 2.0, 0.0) == "cg"  # both large
    assert pick(4, 60.0, 0.0) == "primal"  # p = 20 tiny, n = 960
    assert pick(100, 0.85, 1.0) == "cg"  # a real ridge makes CG well conditioned even for n < p


def test_singular_solve_warns_naming_the_regime():
    d = 5
    h, xq, y = data(d, 0.6, 0.5, 2.0)
    h[1], xq[1] = h[0], xq[0]  # a repeated context: the kernel matrix is exactly singular at lam = 0
    with pytest.warns(SingularSolveWarning, match="dual regime"):
        solve_gamma(h, xq, y, method="dual")
    with pytest.warns(SingularSolveWarning, match="primal regime"):
        solve_gamma(h, xq, y, method="primal")  # n < p: the Gram matrix has rank n
    h, xq, y = data(d, 3.0, 0.5, 2.0)
    with pytest.warns(SingularSolveWarning, match="cg regime"):
        solve_gamma(h, xq, y, method="cg", maxiter=2)


def test_prompts_api_on_jax_task_prompts():
    """solve_gamma_prompts / predict on raw prompts in the Prompts layout match the dense solve on H_Z."""
    d, ell, n = 5, 6, 60
    p = LinearRegression.lu2024(d, ell, 0.1).sample(jax.random.PRNGKey(0), n)
    xs, ys, xq, yq = (np.asarray(a, dtype=np.float64) for a in (p.xs, p.ys, p.xq, p.yq))
    g = solve_gamma_prompts(xs, ys, xq, yq, lam=0.01)
    # H_Z = x_q [(d/ell) sum_i y_i x_i, (1/ell) sum_i y_i^2], written out here (Lu et al. 2024's reduced model)
    h = np.concatenate([d / ell * np.einsum("bi,bid->bd", ys, xs), (ys**2).mean(1, keepdims=True)], axis=1)
    hz = np.einsum("ba,bc->bac", xq, h).reshape(n, -1)
    c = n / d * 0.01
    ref = np.linalg.solve(hz.T @ hz + c * np.eye(d * (d + 1)), hz.T @ yq).reshape(d, d + 1)
    np.testing.assert_allclose(g, ref, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(predict(g, xs, ys, xq), hz @ g.reshape(-1), rtol=1e-12)


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"lam": -0.1}, "lam must"), ({"method": "qr"}, "method must"), ({"rtol": 0.0}, "rtol must"),
    ({"y": np.zeros(3)}, "need h"), ({"h": np.full((4, 3), np.nan)}, "h must be finite"),
])
def test_solve_bad_input(kwargs, name):
    args = {"h": np.ones((4, 3)), "xq": np.ones((4, 2)), "y": np.ones(4)} | kwargs
    with pytest.raises(ValueError, match=name):
        solve_gamma(**args)


def test_mixed_precision_cg_near_the_interpolation_threshold():
    """tau = 1.05, lam = 0: the worst conditioning CG meets (whitened condition ~ 1e3); the float32 corrections
    still reach the float64 answer."""
    h, xq, y = data(20, 1.05, 0.5, alpha=10.0)
    ref = dense_reference(h, xq, y, 0.0)
    got = solve_gamma(h, xq, y, method="cg")
    assert np.abs(got - ref).max() <= 1e-8 * np.abs(ref).max()


def test_cg_falls_back_to_float64_when_float32_stalls(monkeypatch):
    """A float32 operator too coarse for the problem (here: scaled by 1.8, so a correction cuts the residual only
    to 0.44x) fails the 10-fold test; the solve must finish in float64 and still match the dense reference."""
    exact = S._Features.gram

    def coarse(self, v):
        out = exact(self, v)
        return out * np.float32(1.8) if out.dtype == np.float32 else out

    monkeypatch.setattr(S._Features, "gram", coarse)
    h, xq, y = data(12, 2.0, 0.5, alpha=10.0)
    ref = dense_reference(h, xq, y, 1e-3)
    calls = []
    pcg = S._pcg
    monkeypatch.setattr(S, "_pcg", lambda A, P, b, *a: calls.append(b.dtype) or pcg(A, P, b, *a))
    got, info = solve_gamma(h, xq, y, 1e-3, method="cg", return_info=True)
    assert calls == [np.float32, np.float64]  # one stalled correction, then float64 to the end
    assert np.abs(got - ref).max() <= 1e-8 * np.abs(ref).max() and info.residual <= 1e-11
