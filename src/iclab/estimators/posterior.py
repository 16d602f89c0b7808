"""The posterior mean over a finite task pool, piece by piece, for any array module ``xp`` (numpy or jax.numpy):
the JAX estimator (:mod:`.dmmse_jax`, compiled, inside training) and the numpy Monte Carlo (:mod:`.dmmse_mc`) share
them. No JAX import here.

The posterior is a softmax over the pool, accumulated over chunks with an online log-sum-exp (running max m,
normaliser z, numerator num), so the pool size costs only time. From sufficient statistics (S, b) the
log-likelihood of task w is -(w^T S w - 2 w^T b) / (2 noise), up to a per-prompt constant.
"""

from __future__ import annotations

import numpy as np


def stats_features(s, b, xp):
    """[S_ii, 2 S_ij (i < j), b] (B, L, d(d+1)/2 + d) for (S, b) of (B, L, d, d), (B, L, d): with
    :func:`task_features` [w_i w_j (i <= j), -2 w] it turns the quadratic form w^T S w - 2 w^T b for a chunk of
    tasks into one GEMM (half the flops of S w, and no (B, L, c, d) intermediate). ``xp``: jax.numpy or numpy."""
    i, j = np.triu_indices(s.shape[-1])
    return xp.concatenate([s[..., i, j] * xp.where(i == j, 1.0, 2.0).astype(s.dtype), b], axis=-1)


def task_features(w, xp):
    """[w_i w_j (i <= j), -2 w] (c, d(d+1)/2 + d) for tasks w (c, d); see :func:`stats_features`."""
    i, j = np.triu_indices(w.shape[-1])
    return xp.concatenate([w[:, i] * w[:, j], -2 * w], axis=-1)


def _stats_loglik(feats, w, noise, xp):
    """-(w^T S w - 2 w^T b) / (2 noise) for the tasks w (c, d): (B, L, c)."""
    return -(feats @ task_features(w, xp).T) / (2 * noise)


def _accumulate(carry, ll, pred, xp):
    """One chunk of the online log-sum-exp: carry (running max m (B, L), normaliser z (B, L), numerator
    num (B, L[, Q])), the chunk's log-likelihoods ll (B, L, c) and predictions pred (B, [Q,] c)."""
    m, z, num = carry
    new_m = xp.maximum(m, ll.max(-1))
    scale = xp.exp(m - new_m)
    p = xp.exp(ll - new_m[..., None])
    z = z * scale + p.sum(-1)
    if pred.ndim == 3:
        num = num * scale[..., None] + xp.einsum("blc,bqc->blq", p, pred)
    else:
        num = num * scale + xp.einsum("blc,bc->bl", p, pred)
    return new_m, z, num


def _init_carry(xq, nl: int, xp):
    batch, qshape = xq.shape[0], xq.shape[1:-1]  # qshape () or (Q,)
    return (xp.full((batch, nl), -np.inf, xq.dtype), xp.zeros((batch, nl), xq.dtype),
            xp.zeros((batch, nl, *qshape), xq.dtype))


def _finish(carry):
    _, z, num = carry
    return num / (z[..., None] if num.ndim == 3 else z)
