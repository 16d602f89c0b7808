"""Samplers of the reduced model's data (Lu et al. 2024), in numpy float64.

One context: x_i ~ N(0, I/d) (i <= ell + 1), y_i = <x_i, w> + N(0, rho) (:mod:`iclab.tasks.lu2024`, which holds the
integer sizes, the task pools and raw contexts; re-exported here). The reduced linear-attention model of Lu et
al. 2024, ŷ = <Gamma, H_Z>, sees a context only through

    h = [ (d/ell) sum_i y_i x_i ;  (1/ell) sum_i y_i^2 ]   (d+1,)       H_Z = x_q h^T   (d, d+1)

so a batch of n contexts is stored as ``h: (n, d+1)``, ``xq: (n, d)``, ``yq: (n,)`` (never the n x d x (d+1)
tensor H_Z, see :func:`features`).

- :func:`sample_stats` draws (h, xq, yq) exactly in O(d) per context (the idea of the authors' fast sampler in
  ``theory_runs/common.py``: the few scalars that carry the dependence on w, plus an isotropic Gaussian projected
  off w; chi-square draws replace the ell-dimensional norms, so the cost does not even grow with ell);
- :func:`sample_stats_naive` builds every context (O(ell d) per context), the reference it is tested against.
"""

from __future__ import annotations

import math

import numpy as np

from iclab.tasks.lu2024 import (
    ASSIGNMENTS,
    context_length,
    pool_size,
    pretraining_sizes,
    pretraining_tasks,
    sample_contexts,
    sphere_tasks,
)
from iclab.validation import check_int, check_nonnegative


# --- fast exact sampler -------------------------------------------------------------------------------------------
def sample_stats(rng: np.random.Generator, tasks: np.ndarray, ell: int, rho: float, idx: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact draw of (h, xq, yq) for one context per task row (or per entry of idx), in O(d) per context.

    tasks: (k, d) task vectors (any norms); idx: (n,) the task of each context (default: context i has task i,
    n = k; passing a pool with its indices saves gathering and normalising n task rows). Returns h (n, d+1),
    xq (n, d), yq (n,); the same draws as ``sample_stats(rng, tasks[idx], ell, rho)``.

    Write w = |w| u, theta = |w|/sqrt(d), g_i = sqrt(d) x_i ~ N(0, I) and y = theta a + e with a = (<u, g_i>)_i.
    Rotating the ell-space so that the noise e lies along its first axis gives, exactly,
    S = sum_i y_i g_i = S_u u + S_perp with S_u = theta (a_1^2 + c) + |e| a_1 and S_perp ~ N(0, |y|^2 (I - u u^T))
    independent of S_u, where a_1 ~ N(0, 1), c ~ chi2(ell - 1), |e|^2 ~ rho chi2(ell) and
    |y|^2 = (theta a_1 + |e|)^2 + theta^2 c. S_perp = |y| (z - <u, z> u) with z ~ N(0, I): a projection, so no
    rotation to the frame of w is needed (the authors' recipe samples in that frame and rotates back with a
    Householder reflection; the law is the same). The query x_q ~ N(0, I/d) is independent of the task, and
    y_q = <x_q, w> + N(0, rho).
    """
    tasks = np.asarray(tasks, dtype=np.float64)
    d = tasks.shape[1]
    ell = check_int("ell", ell, lo=1)
    rho = float(check_nonnegative("rho", rho))
    norm = np.linalg.norm(tasks, axis=1)
    if np.any(norm == 0):
        raise ValueError("tasks must be nonzero vectors (got a zero row)")
    u = tasks / norm[:, None]
    if idx is not None:
        u, norm = u[idx], norm[idx]
    n, theta = len(norm), norm / math.sqrt(d)
    e = np.sqrt(rho * rng.chisquare(ell, n)) if rho > 0 else np.zeros(n)
    a1 = rng.standard_normal(n)
    c = rng.chisquare(ell - 1, n) if ell > 1 else np.zeros(n)
    y2 = (theta * a1 + e) ** 2 + theta**2 * c
    ynorm = np.sqrt(y2)
    s_u = theta * (a1**2 + c) + e * a1
    sv = rng.standard_normal((n, d))  # z
    sv *= ynorm[:, None]
    sv += (s_u - np.einsum("nd,nd->n", u, sv))[:, None] * u  # S = S_u u + |y| (z - <u, z> u)
    h = np.empty((n, d + 1))
    np.multiply(sv, math.sqrt(d) / ell, out=h[:, :d])  # (d/ell) sum y x = (d/ell) S / sqrt(d)
    h[:, d] = y2 / ell
    xq = rng.standard_normal((n, d))
    xq *= 1 / math.sqrt(d)
    yq = np.einsum("nd,nd->n", xq, u) * norm + math.sqrt(rho) * rng.standard_normal(n)
    return h, xq, yq


# --- statistics of raw contexts -----------------------------------------------------------------------------------
def context_stats(xs, ys) -> np.ndarray:
    """h = [(d/ell) sum_i y_i x_i, (1/ell) sum_i y_i^2] from raw contexts. xs: (n, ell, d), ys: (n, ell) -> (n, d+1)."""
    xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    if xs.ndim != 3 or ys.shape != xs.shape[:2]:
        raise ValueError(f"xs must be (n, ell, d) and ys (n, ell) (got {xs.shape} and {ys.shape})")
    n, ell, d = xs.shape
    h = np.empty((n, d + 1))
    h[:, :d] = np.einsum("nld,nl->nd", xs, ys) * (d / ell)
    h[:, d] = np.einsum("nl,nl->n", ys, ys) / ell
    return h


def features(xs, ys, xq) -> np.ndarray:
    """The reduced model's input H_Z = x_q h^T, prediction <Gamma, H_Z>. xs (n, ell, d), ys (n, ell),
    xq (n, d) -> (n, d, d+1). (The solvers never build this; it is for checks and small problems.)"""
    return np.einsum("na,nb->nab", np.asarray(xq, dtype=np.float64), context_stats(xs, ys))


def sample_stats_naive(rng: np.random.Generator, tasks: np.ndarray, ell: int, rho: float, *,
                       chunk_floats: int = 1 << 22) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(h, xq, yq) by building every context (O(ell d) per context, chunked to bound memory); same law as
    :func:`sample_stats`."""
    tasks = np.asarray(tasks, dtype=np.float64)
    ell = check_int("ell", ell, lo=1)
    rho = float(check_nonnegative("rho", rho))
    n, d = tasks.shape
    m = max(1, chunk_floats // ((ell + 1) * d))
    hs, xqs, yqs = [], [], []
    for i in range(0, n, m):
        xs, ys, xq, yq = sample_contexts(rng, tasks[i:i + m], ell, rho)
        hs.append(context_stats(xs, ys))
        xqs.append(xq)
        yqs.append(yq)
    return np.concatenate(hs), np.concatenate(xqs), np.concatenate(yqs)


__all__ = ["ASSIGNMENTS", "context_length", "context_stats", "features", "pool_size", "pretraining_sizes",
           "pretraining_tasks", "sample_contexts", "sample_stats", "sample_stats_naive", "sphere_tasks"]
