"""The solvable model with structured task covariances (Letey, Zavatone-Veth, Lu, Pehlevan 2025), as in
the authors' simulations (``final_gamma``, ``trace_formula_gamma``).

Pretraining tasks come from a pool w_1..w_k ~ N(0, C_train), unnormalised (k = floor(κd); κ = inf: a fresh task
per context); test tasks w ~ N(μ, C_test), with a test context length ℓ_test that may differ from ℓ. Tokens stay
isotropic, x ~ N(0, I/d), so the exact fast sampler of :mod:`iclab.solvable.sampler` applies unchanged (only ‖w‖
enters), as does the Γ* solver of :mod:`iclab.solvable.solve`.

The test error of a given Γ is exact for Gaussian tasks (derived here; the authors' form drops the O(1/ℓ, 1/d)
terms): with Ĉ = C + μμᵀ,
x = ⟨Ĉ⟩ + ρ, the moments E wwᵀ = Ĉ, E[s_w w] = xμ + (2/d)Cμ, E s_w = x, E s_w² = x² + (2 tr C² + 4μᵀCμ)/d²
(s_w = ‖w‖²/d + ρ) enter :func:`iclab.solvable.error.error_from_moments`. ``form="authors"`` is the authors'
``trace_formula_gamma`` instead: E[s_w w] = xμ, E s_w² = x², no O(1/ℓ) factors, and ℓ_test = int(α_test d).
"""

from __future__ import annotations

import math

import numpy as np

from iclab.solvable.error import _check_gamma, _moments, error_from_moments
from iclab.solvable.sampler import sample_stats
from iclab.solvable.solve import solve_gamma
from iclab.tasks.lu2024 import context_length, pretraining_tasks
from iclab.validation import UserInputError, check_choice, check_int, check_nonnegative, check_positive

FORMS = ("exact", "authors")

__all__ = ["FORMS", "gaussian_tasks", "structured_pretraining_tasks", "gaussian_test_error",
           "simulate_structured"]


def _sqrt_cov(cov: np.ndarray, d: int) -> np.ndarray:
    """A square root S with S Sᵀ = C: (d,) for a spectrum (diagonal C), (d, d) for a matrix (symmetric PSD)."""
    cov = np.asarray(cov, dtype=np.float64)
    if cov.shape not in ((d,), (d, d)) or not np.all(np.isfinite(cov)):
        raise UserInputError(f"covariance must be a finite spectrum ({d},) or matrix ({d}, {d}) "
                             f"(got shape {cov.shape})")
    if cov.ndim == 1:
        if cov.min() < 0:
            raise UserInputError(f"covariance spectrum must be >= 0 (got {cov.min():.3g})")
        return np.sqrt(cov)
    if not np.allclose(cov, cov.T, rtol=1e-10, atol=1e-12 * np.abs(cov).max()):
        raise UserInputError("covariance must be a symmetric positive semi-definite matrix (got a non-symmetric one)")
    lam, u = np.linalg.eigh(cov)
    if lam.min() < -1e-10 * max(lam.max(), 0.0):
        raise UserInputError(f"covariance must be positive semi-definite (smallest eigenvalue {lam.min():.3g})")
    return u * np.sqrt(np.maximum(lam, 0.0))


def gaussian_tasks(rng: np.random.Generator, k: int, cov) -> np.ndarray:
    """k tasks w ~ N(0, C), unnormalised: (k, d). cov: a spectrum (d,) (diagonal C) or a (d, d) matrix."""
    cov = np.asarray(cov, dtype=np.float64)
    d = cov.shape[0]
    s = _sqrt_cov(cov, d)
    z = rng.standard_normal((k, d))
    return z * s if s.ndim == 1 else z @ s.T


def structured_pretraining_tasks(rng: np.random.Generator, d: int, tau: float, kappa: float, c_train,
                                 assignment: str = "uniform") -> tuple[np.ndarray, np.ndarray]:
    """The pool ``(k, d)`` from N(0, C_train), unnormalised, and each context's task ``(n,)``.

    assignment ``"uniform"``: n = round(τd²) i.i.d. uniform indices (the authors' ``randint``);
    ``"balanced"``: every task used round(n/k) times (Lu et al.'s convention). κ = inf: n fresh tasks, one per
    context. The counting rules are those of :func:`iclab.solvable.sampler.pretraining_tasks`.
    """
    _sqrt_cov(c_train, check_int("d", d, lo=2))          # validate before drawing
    return pretraining_tasks(rng, d, tau, kappa, assignment, draw=lambda rng, m: gaussian_tasks(rng, m, c_train))


def _gaussian_moments(cov, mu, d: int, rho: float, form: str):
    """(R, m, E|w|², E s_w, E s_w²) of w ~ N(μ, C) (module docstring); the authors' form drops the O(1/d) parts."""
    cov = np.asarray(cov, dtype=np.float64)
    C = np.diag(cov) if cov.ndim == 1 else cov
    mu = np.zeros(d) if mu is None else np.asarray(mu, dtype=np.float64)
    R = C + np.outer(mu, mu)
    x = np.trace(R) / d + rho
    cmu = C @ mu
    if form == "authors":
        return R, x * mu, float(np.trace(R)), x, x * x
    return (R, x * mu + 2.0 / d * cmu, float(np.trace(R)), x,
            x * x + (2.0 * np.einsum("ij,ij->", C, C) + 4.0 * mu @ cmu) / d**2)


def gaussian_test_error(gamma, alpha_test, rho: float, c_test, mu=None, *, form: str = "exact") -> np.ndarray:
    """Exact test error of Γ (d, d+1) for tasks w ~ N(μ, C_test) at every test length α_test (any shape; one set of
    traces of Γ serves the whole grid). ℓ_test = round(α_test d) ("exact") or int(α_test d) with α_test = ℓ_test/d
    ("authors", the large-ℓ form of ``trace_formula_gamma``). c_test: spectrum (d,) or matrix (d, d)."""
    gamma = _check_gamma(gamma)
    d = gamma.shape[0]
    check_choice("form", form, FORMS)
    rho = float(check_nonnegative("rho", rho))
    at = check_positive("alpha_test", alpha_test)
    _sqrt_cov(c_test, d)                                   # validates shape, symmetry, PSD
    ell = np.floor(at * d + 1e-9) if form == "authors" else np.round(at * d)
    if np.any(ell < 1):
        raise UserInputError(f"alpha_test must be >= 1/d so that ell_test >= 1 (got {at.min():g})")
    moments = _gaussian_moments(c_test, mu, d, rho, form)
    return error_from_moments(gamma, ell, rho, moments, finite_ell=form == "exact")[()]


def simulate_structured(d: int, tau: float, alpha: float, kappa: float, rho: float, c_train, tests, *,
                        lam: float = 0.0, alpha_test=None, seed: int = 0, assignment: str = "uniform",
                        form: str = "exact", method: str = "auto", rtol: float = 1e-8) -> dict:
    """One Γ* of the structured model (Letey et al. 2025, §7) and its exact errors.

    tests: a list of test covariances (spectra (d,) or matrices (d, d)); alpha_test: array of test lengths
    (default α). Returns ``{"e_icl": (len(tests), *alpha_test.shape), "e_idg": float, "gamma": (d, d+1)}``;
    e_idg is the exact error uniformly over the pool at ℓ (test contexts of the training length).
    """
    d = check_int("d", d, lo=2)
    rho = float(check_nonnegative("rho", rho))
    lam = float(check_nonnegative("lam", lam))
    ell = context_length(d, alpha)
    at = np.asarray(alpha if alpha_test is None else alpha_test, dtype=np.float64)
    rng = np.random.default_rng(check_int("seed", seed, lo=0))
    pool, idx = structured_pretraining_tasks(rng, d, tau, kappa, c_train, assignment)
    h, xq, yq = sample_stats(rng, pool, ell, rho, idx)
    gamma = solve_gamma(h, xq, yq, lam, method=method, rtol=rtol)
    e_icl = np.stack([gaussian_test_error(gamma, at, rho, c, form=form) for c in tests])
    e_idg = float(error_from_moments(gamma, np.asarray(ell), rho, _moments(pool, d, rho)))
    if math.isinf(float(kappa)):
        e_idg = float("nan")                               # no pool: IDG is not defined (it equals ICL in law)
    return {"e_icl": e_icl, "e_idg": e_idg, "gamma": gamma}
