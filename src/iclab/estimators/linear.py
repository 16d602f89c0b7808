"""Ridge, Bayes ridge, least squares and one step of GD, at every prefix length of the context in one pass.

All take the Prompts layout: xs (B, ell, d), ys (B, ell), xq (B, d) or (B, Q, d), and return predictions
(B, L) or (B, L, Q) at the prefix lengths ``prefixes`` (1-based ints; default all of 1..ell, L = ell), computed
from cumulative sufficient statistics S_t = sum_{i<=t} x_i x_i^T and b_t = sum_{i<=t} y_i x_i. They are written
in ``jax.numpy`` so that they run inside jitted evaluation; dtypes follow the inputs (float64 under x64).
Normalisations are explicit: nothing here assumes one paper's scaling of x or w.

One-step GD convention. The papers scale the step differently, and ``scale`` says which one a step ``eta`` uses:

- ``scale="1/t"`` (Mahankali et al. 2023, Thm 1, x ~ N(0, I)): w_t = eta (1/t) sum_{i<=t} y_i x_i, the gradient of
  (1/2t) sum (y_i - <w, x_i>)^2 at 0; ``gd_optimal_step`` gives eta* = t/(t + d + 1 + sigma^2).
- ``scale="d/t"`` (Lu et al. 2024, x ~ N(0, I/d)): w_t = eta (d/t) sum_{i<=t} y_i x_i, so that eta = 1 is the
  unbiased w_t -> w as t -> inf. ``iclab.theory.lu2024.e_gd(alpha, rho, eta)`` is the d -> inf error of this
  estimator at t = ell = alpha d, and its optimal eta = 1/(1 + q), q = (1 + rho)/alpha.

The two are the same estimator with eta_{1/t} = d eta_{d/t}.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from iclab.validation import UserInputError, check_choice, check_nonnegative, check_positive


def prefix_lengths(ell: int, prefixes=None) -> np.ndarray:
    """Validated 1-based prefix lengths (static numpy ints): all of 1..ell by default."""
    if prefixes is None:
        return np.arange(1, ell + 1)
    p = np.atleast_1d(np.asarray(prefixes))
    if p.ndim != 1 or p.size == 0 or not np.issubdtype(p.dtype, np.integer) or p.min() < 1 or p.max() > ell:
        raise UserInputError(f"prefixes must be a non-empty list of integers in [1, {ell}] (got {prefixes!r})")
    return p.astype(int)


def _check(xs, ys, xq):
    if xs.ndim != 3 or ys.shape != xs.shape[:2] or xq.shape[0] != xs.shape[0] or xq.shape[-1] != xs.shape[2] \
            or xq.ndim not in (2, 3):
        raise ValueError(f"need xs (B, ell, d), ys (B, ell), xq (B, d) or (B, Q, d) "
                         f"(got {xs.shape}, {ys.shape}, {xq.shape})")


def cumulative_stats(xs, ys, prefixes=None, *, second: bool = True):
    """b_t = sum_{i<=t} y_i x_i (B, L, d) and, if ``second``, S_t = sum_{i<=t} x_i x_i^T (B, L, d, d)."""
    idx = prefix_lengths(xs.shape[1], prefixes) - 1
    b = jnp.cumsum(ys[..., None] * xs, axis=1)[:, idx]
    if not second:
        return b, None
    if len(idx) == 1:  # one prefix: no (B, ell, d, d) cumulative tensor
        t = idx[0] + 1
        return b, jnp.einsum("bld,ble->bde", xs[:, :t], xs[:, :t])[:, None]
    return b, jnp.cumsum(xs[..., :, None] * xs[..., None, :], axis=1)[:, idx]


def _predict(w, xq):
    """w (B, L, d), xq (B, d) -> (B, L); xq (B, Q, d) -> (B, L, Q)."""
    return jnp.einsum("bld,bd->bl", w, xq) if xq.ndim == 2 else jnp.einsum("bld,bqd->blq", w, xq)


def ridge(xs, ys, xq, lam, *, prefixes=None):
    """Ridge regression w_t = (S_t + lam I)^-1 b_t at each prefix, prediction x_q^T w_t. lam > 0."""
    _check(xs, ys, xq)
    lam = float(check_positive("lam", lam))
    b, s = cumulative_stats(xs, ys, prefixes)
    eye = jnp.eye(xs.shape[2], dtype=s.dtype)
    w = jnp.linalg.solve(s + lam * eye, b[..., None])[..., 0]
    return _predict(w, xq)


def bayes_ridge(xs, ys, xq, noise, *, w_var: float = 1.0, prefixes=None):
    """Posterior mean for w ~ N(0, w_var I), y = <x, w> + N(0, noise): ridge with lam = noise / w_var
    (Lu et al. 2024's Bayes-ridge baseline, the authors' ``bayes_estimator.py``: (X X^T + rho I)^-1 X y for
    w ~ N(0, I)). noise > 0."""
    noise = float(check_positive("noise", noise))
    w_var = float(check_positive("w_var", w_var))
    return ridge(xs, ys, xq, noise / w_var, prefixes=prefixes)


def least_squares(xs, ys, xq, *, prefixes=None):
    """Minimum-norm least squares w_t = S_t^+ b_t at each prefix (interpolates while t < d)."""
    _check(xs, ys, xq)
    b, s = cumulative_stats(xs, ys, prefixes)
    w = jnp.einsum("blde,ble->bld", jnp.linalg.pinv(s, hermitian=True), b)
    return _predict(w, xq)


GD_SCALES = ("1/t", "d/t")


def _step_factor(scale: str, d: int) -> float:
    return 1.0 if check_choice("scale", scale, GD_SCALES) == "1/t" else float(d)


def gd_one_step(xs, ys, xq, eta, *, precond=None, prefixes=None, scale: str = "1/t"):
    """One GD step from w = 0: w_t = eta P (c/t) sum_{i<=t} y_i x_i with c = 1 (``scale="1/t"``, Mahankali et al.:
    the gradient of (1/2t) sum_{i<=t} (y_i - <w, x_i>)^2) or c = d (``scale="d/t"``, Lu et al.'s e_gd); see the
    module docstring.

    eta: scalar or (L,) step per prefix; precond: optional (d, d) P (Mahankali et al.'s preconditioned GD)."""
    _check(xs, ys, xq)
    factor = _step_factor(scale, xs.shape[2])
    idx = prefix_lengths(xs.shape[1], prefixes)
    b, _ = cumulative_stats(xs, ys, prefixes, second=False)
    w = b * (factor / jnp.asarray(idx, dtype=b.dtype))[:, None]
    if precond is not None:
        w = w @ jnp.asarray(precond, dtype=b.dtype).T
    eta = jnp.asarray(eta, dtype=b.dtype)
    return _predict(w * (eta[:, None] if eta.ndim == 1 else eta), xq)


def gd_optimal_step(t, d: int, noise: float, *, x_var: float = 1.0, w_var: float = 1.0, scale: str = "1/t"):
    """The step eta minimising E (y_q - eta x_q^T (c/t) sum y_i x_i)^2 for x ~ N(0, x_var I), w with
    E ww^T = w_var I (Gaussian or spherical), noise variance ``noise``, in the ``scale`` convention (c = 1 or d,
    see the module docstring):

        eta* = t / (x_var (t + d + 1) + noise / w_var) / c

    (Mahankali et al. 2023, Thm 1: t / (t + d + 1 + sigma^2) at x_var = w_var = 1, c = 1; Lu et al. at x_var = 1/d,
    c = d: t / (t + d + 1 + rho d) -> 1/(1 + q) as t = alpha d, d -> inf). t broadcasts (numpy)."""
    t = np.asarray(check_positive("t", t), dtype=float)
    noise = float(check_nonnegative("noise", noise))
    x_var = float(check_positive("x_var", x_var))
    w_var = float(check_positive("w_var", w_var))
    return t / (x_var * (t + d + 1) + noise / w_var) / _step_factor(scale, d)
