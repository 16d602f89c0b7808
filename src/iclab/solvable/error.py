"""Exact finite-d test error of any Gamma, from Gaussian moments, no sampling (Lu et al. 2024: the formula with
which the authors' code, ``theory_runs/common.py``, scores every finite-d simulation of their figures; re-derived
below).

e(Gamma) = E (y_q - x_q^T Gamma h)^2 over a test context of length ell with task w from a test distribution.
Given w, with s_w = |w|^2/d + rho (x ~ N(0, I/d), y = <x, w> + N(0, rho)):

    E y_q^2 = s_w,   E[y_q x_q] = w/d,   E[h] = [w; s_w],
    E[h h^T] = [[ (|w|^2 + rho d)/ell I + (1 + 1/ell) w w^T ,  (1 + 2/ell) s_w w ],
                [ (1 + 2/ell) s_w w^T                     ,  (1 + 2/ell) s_w^2 ]]

(Isserlis: E[y^3 x] = 3 s_w w/d, E y^4 = 3 s_w^2). Averaging over w needs only R = E ww^T, m = E[s_w w],
E|w|^2, E s_w and E s_w^2, so

    e = E s_w - (2/d) (tr(Gamma_x R) + gamma . m) + (1/d) tr(Gamma E[hh^T] Gamma^T),   Gamma = [Gamma_x, gamma].

With |w|^2 = d this is the authors' formula (their A, B matrices), with the bottom-right entry s^2 (1 + 2/ell)
of the derivation (an older function of theirs has 1 + rho^2 there). Test distributions: ``"sphere"`` (fresh task on the
sphere |w| = sqrt(d), the ICL error of the figures), ``"gaussian"`` (fresh w ~ N(0, I): only E s_w^2 = s^2 + 2/d
differs), or an array of k tasks (uniform over them: the IDG error over the pool).
"""

from __future__ import annotations

import numpy as np

from iclab.validation import UserInputError, check_int, check_nonnegative

PRIORS = ("sphere", "gaussian")


def _moments(tasks, d: int, rho: float):
    """(R (d,d), m (d,), E|w|^2, E s_w, E s_w^2) of the test task distribution."""
    s = 1.0 + rho
    if isinstance(tasks, str):
        if tasks not in PRIORS:
            raise UserInputError(f"tasks must be one of {', '.join(PRIORS)} or a (k, d) array (got {tasks!r})")
        return np.eye(d), np.zeros(d), float(d), s, s * s + (2.0 / d if tasks == "gaussian" else 0.0)
    w = np.asarray(tasks, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] != d or w.shape[0] < 1:
        raise ValueError(f"tasks must be a (k, {d}) array with k >= 1 (got shape {w.shape})")
    n2 = np.einsum("kd,kd->k", w, w)
    sw = n2 / d + rho
    k = w.shape[0]
    return w.T @ w / k, sw @ w / k, float(n2.mean()), float(sw.mean()), float((sw * sw).mean())


def test_error(gamma, ell: int, rho: float, tasks="sphere") -> float:
    """Exact E (y_q - <Gamma, H_Z>)^2 for test contexts of length ``ell``. gamma: (d, d+1); tasks: "sphere",
    "gaussian" (fresh task) or a (k, d) array (uniform over those tasks)."""
    gamma = _check_gamma(gamma)
    ell = check_int("ell", ell, lo=1)
    rho = float(check_nonnegative("rho", rho))
    return float(error_from_moments(gamma, np.asarray(ell), rho, _moments(tasks, gamma.shape[0], rho)))


def _check_gamma(gamma) -> np.ndarray:
    gamma = np.asarray(gamma, dtype=np.float64)
    if gamma.ndim != 2 or gamma.shape[1] != gamma.shape[0] + 1:
        raise ValueError(f"gamma must be a (d, d+1) matrix (got shape {gamma.shape})")
    return gamma


def error_from_moments(gamma: np.ndarray, ell: np.ndarray, rho: float, moments, *, finite_ell: bool = True):
    """The error formula of the module docstring for task moments ``(R, m, E|w|^2, E s_w, E s_w^2)`` at every
    test length in ``ell`` (any shape; the traces of Gamma are computed once). ``finite_ell=False`` drops the
    (1 + 1/ell), (1 + 2/ell) factors (the large-ell form some authors use)."""
    R, m, w2, es, es2 = moments
    d = gamma.shape[0]
    gx, g = gamma[:, :d], gamma[:, d]
    linear = np.einsum("ij,ji->", gx, R) + g @ m
    gxR = gx @ R
    nx, rx = np.einsum("ij,ij->", gx, gx), np.einsum("ij,ij->", gxR, gx)
    xm, gg = (gx @ m) @ g, g @ g
    ell = np.asarray(ell, dtype=np.float64)
    c1, c2 = (1 + 1 / ell, 1 + 2 / ell) if finite_ell else (1.0, 1.0)
    quad = (w2 + rho * d) / ell * nx + c1 * rx + 2 * c2 * xm + c2 * es2 * gg
    return es - 2.0 / d * linear + quad / d


test_error.__test__ = False  # not a pytest test despite the name
