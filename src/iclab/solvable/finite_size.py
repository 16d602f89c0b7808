"""Finite-size extrapolation in 1/d of simulated test errors (the theory of Lu et al. 2024 is a d -> inf limit).

At each dimension d_j of a ladder a simulation gives a mean error m_j with standard error s_j (from its runs). The
theory evaluated at that d's *realised* ratios (ℓ/d, k/d, n/d² of integers ℓ, k, n, see
:func:`iclab.solvable.simulate.realised_ratios`) is t_j. The excess x_j = m_j − t_j then carries only the genuine
finite-size effect, no O(1/d) rounding artefact, and is fitted by weighted least squares (weights 1/s_j²) in powers
of u = 1/d:

    x(u) = c0 + a u            (order 1)
    x(u) = c0 + a u + b u²     (order 2, chosen only when the small-sample Akaike criterion AICc asks for it:
                                AICc = χ² + 2k + 2k(k+1)/(m−k−1) for k parameters and m dimensions, Hurvich &
                                Tsai 1989; with the s_j known, −2 log L = χ² up to a constant)

The weights need standard errors s_j that are themselves precise. A ladder sized for equal relative SE at every d
has few runs (or batches of runs) at large d, where an SE estimated from 8 batch means is off by ±25% (and one
measured 4.5× below its neighbours, pinning the whole fit to that d). :func:`pooled_se` therefore replaces the
per-d estimates by one run-to-run spread pooled over the ladder, using the measured law that Γ*'s relative spread
falls as c/d: s_j = c |m_j| / (d_j √n_j), c² the dof-weighted mean of the per-d estimates (s_j √n_j d_j / |m_j|)².

The intercept c0 is the excess at d = inf, so e_inf = theory_inf + c0 with SE(c0). Parameter covariances are
(XᵀWX)⁻¹, scaled by the Birge ratio χ²/dof when it exceeds 1 (an under-fitted or under-estimated-noise ladder
widens the error bar; a good fit is not narrowed). Measured coverage on synthetic ladders is in the tests.

Everything here is numpy only and takes plain arrays, so any layer (the CLI, the report) can use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from iclab.validation import UserInputError

__all__ = ["ExcessFit", "Extrapolation", "extrapolate", "fit_excess", "mean_and_se", "pooled_se"]


@dataclass(frozen=True)
class ExcessFit:
    """The weighted least-squares fit of an excess x(d) in powers of 1/d (module docstring)."""

    coefficients: np.ndarray
    """(order + 1,): c0, a[, b] of x(u) = c0 + a u + b u², u = 1/d."""
    covariance: np.ndarray
    """(order + 1, order + 1): their covariance (Birge-scaled when χ²/dof > 1)."""
    chi2: float
    """Weighted residual sum of squares of the chosen model."""
    dof: int
    """Degrees of freedom m − (order + 1)."""
    aicc: tuple[float, ...]
    """AICc of order 1 and (when it could be fitted, m ≥ 5) of order 2."""

    @property
    def order(self) -> int:
        """1 (a/d) or 2 (a/d + b/d²)."""
        return len(self.coefficients) - 1

    @property
    def intercept(self) -> float:
        """c0: the excess extrapolated to d = inf."""
        return float(self.coefficients[0])

    @property
    def intercept_se(self) -> float:
        return float(math.sqrt(self.covariance[0, 0]))

    def __call__(self, inv_d) -> np.ndarray:
        """The fitted excess at u = 1/d (array)."""
        u = np.asarray(inv_d, dtype=float)
        return sum(c * u**i for i, c in enumerate(self.coefficients))


@dataclass(frozen=True)
class Extrapolation:
    """e_inf ± SE of one quantity from a ladder of d, next to the d -> inf theory."""

    fit: ExcessFit
    """The fit of the excess simulation − theory(realised ratios)."""
    theory: float
    """The nominal d -> inf theory value."""

    @property
    def e_inf(self) -> float:
        """Extrapolated error at d = inf: theory + intercept of the excess."""
        return self.theory + self.fit.intercept

    @property
    def e_inf_se(self) -> float:
        return self.fit.intercept_se

    @property
    def rel_dev(self) -> float:
        """(e_inf − theory)/theory."""
        return self.fit.intercept / self.theory

    @property
    def z(self) -> float:
        """(e_inf − theory)/SE."""
        return self.fit.intercept / self.e_inf_se if self.e_inf_se > 0 else math.nan


def _wls(u: np.ndarray, x: np.ndarray, w: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(coefficients, unscaled covariance (XᵀWX)⁻¹, χ²) of the fit of x by a polynomial of ``order`` in u."""
    X = np.vander(u, order + 1, increasing=True)            # (m, order+1): 1, u, u²
    sw = np.sqrt(w)
    # QR of the whitened design: better conditioned than the normal equations when u spans a small range
    q, r = np.linalg.qr(X * sw[:, None])
    coef = np.linalg.solve(r, q.T @ (x * sw))
    rinv = np.linalg.inv(r)
    resid = (x - X @ coef) * sw
    return coef, rinv @ rinv.T, float(resid @ resid)


def _aicc(chi2: float, k: int, m: int) -> float:
    return chi2 + 2 * k + (2 * k * (k + 1) / (m - k - 1) if m - k - 1 > 0 else math.inf)


def fit_excess(d, excess, se, *, max_order: int = 2) -> ExcessFit:
    """Fit x(d) = c0 + a/d [+ b/d²] by weighted least squares (module docstring).

    d, excess, se: (m,) arrays, one entry per dimension (distinct d, se > 0). ``max_order`` 1 forces the linear
    model; 2 (default) adds b/d² when AICc prefers it (needs m ≥ 5 to be considered at all).
    """
    d, x, s = (np.asarray(v, dtype=float).ravel() for v in (d, excess, se))
    if not (len(d) == len(x) == len(s)):
        raise UserInputError(f"d, excess and se must have the same length (got {len(d)}, {len(x)}, {len(s)})")
    if len(np.unique(d)) < 2:
        raise UserInputError(f"d must hold at least 2 distinct dimensions to extrapolate (got {d.tolist()})")
    if len(np.unique(d)) != len(d):
        raise UserInputError(f"d must be distinct (one mean per dimension; got {d.tolist()})")
    if np.any(d <= 0) or not np.all(np.isfinite(d)):
        raise UserInputError(f"d must be positive and finite (got {d.tolist()})")
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise UserInputError("se must be positive and finite at every d (at least 2 runs per d)")
    if max_order not in (1, 2):
        raise UserInputError(f"max_order must be 1 or 2 (got {max_order})")
    u, w, m = 1.0 / d, 1.0 / s**2, len(d)
    fits = [_wls(u, x, w, 1)]
    aicc = [_aicc(fits[0][2], 2, m)]
    if max_order == 2 and m >= 5:
        fits.append(_wls(u, x, w, 2))
        aicc.append(_aicc(fits[1][2], 3, m))
    best = int(np.argmin(aicc))
    coef, cov, chi2 = fits[best]
    dof = m - len(coef)
    if dof > 0 and chi2 / dof > 1:
        cov = cov * (chi2 / dof)
    return ExcessFit(coef, cov, chi2, dof, tuple(aicc))


def extrapolate(d, mean, se, theory_realised, theory, *, max_order: int = 2) -> Extrapolation:
    """e_inf ± SE from the means at a ladder of d.

    d, mean, se: (m,) one simulated mean and its standard error per dimension; theory_realised: (m,) the d -> inf
    theory at each d's realised ratios (or the nominal value repeated, to extrapolate without the correction);
    theory: the nominal d -> inf value. Returns :class:`Extrapolation`.
    """
    mean, tr = np.asarray(mean, dtype=float), np.asarray(theory_realised, dtype=float)
    return Extrapolation(fit_excess(d, mean - tr, se, max_order=max_order), float(theory))


def pooled_se(d, mean, se, n, dof=None) -> tuple[np.ndarray, float]:
    """Standard errors of a ladder's means from one relative spread c/d pooled over it (module docstring):
    (s (m,), c) with s_j = c |mean_j| / (d_j √n_j).

    d, mean, se: (m,) each d's mean and its SE as measured; n: (m,) the runs behind each mean; dof: (m,) the degrees
    of freedom of each SE estimate (default n − 1, one value per run; batches − 1 when the SE comes from batch
    means). Dimensions whose SE is not finite (one run) or has no dof are left out of the pool but get the pooled s.
    """
    d, mean, se, n = (np.asarray(v, dtype=float).ravel() for v in (d, mean, se, n))
    dof = n - 1 if dof is None else np.asarray(dof, dtype=float).ravel()
    if not (len(d) == len(mean) == len(se) == len(n) == len(dof)):
        raise UserInputError("d, mean, se, n and dof must have the same length")
    if np.any(n < 1) or np.any(d <= 0):
        raise UserInputError("n must be >= 1 and d > 0 at every dimension")
    ok = np.isfinite(se) & (dof > 0) & (mean != 0)
    if not ok.any():
        raise UserInputError("se must be finite, with dof > 0, at one dimension at least (2 runs)")
    c2 = (se[ok] * np.sqrt(n[ok]) * d[ok] / np.abs(mean[ok])) ** 2
    c = float(np.sqrt(np.sum(dof[ok] * c2) / np.sum(dof[ok])))
    return c * np.abs(mean) / (d * np.sqrt(n)), c


def mean_and_se(d, values) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-d summary of individual runs: (distinct d (m,), mean (m,), standard error (m,), count (m,)).

    d, values: (N,) the dimension and the result of each run. The SE is std(ddof=1)/sqrt(count) (NaN for one run).
    """
    d, v = np.asarray(d, dtype=float).ravel(), np.asarray(values, dtype=float).ravel()
    if len(d) != len(v):
        raise UserInputError(f"d and values must have the same length (got {len(d)} and {len(v)})")
    ds, inv = np.unique(d, return_inverse=True)
    n = np.bincount(inv).astype(float)
    mean = np.bincount(inv, v) / n
    ss = np.bincount(inv, (v - mean[inv]) ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(n > 1, np.sqrt(ss / (n - 1) / n), np.nan)
    return ds, mean, se, n.astype(int)
