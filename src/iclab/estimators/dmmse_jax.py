"""dMMSE: the Bayes-optimal predictor for a uniform prior over a finite task pool (Raventós et al. 2023; the
baseline of Lu et al. 2024, Fig. 4, computed there by the authors' ``theory_runs/dmmse.py``).

    w_hat_t = sum_j pi_tj w_j,   pi_tj ∝ exp(-|y_{1:t} - X_{1:t} w_j|^2 / (2 noise)),   y_hat_t = x_q^T w_hat_t.

The posterior over the pool is a softmax, accumulated over chunks of the pool with an online log-sum-exp
(running max, normaliser and numerator; the pieces in :mod:`.posterior`), so the pool size only costs time:
memory is O(B L chunk). Two exact ways to get the log-likelihoods, chosen by cost at trace time:

- residuals: r_ij = y_i - <x_i, w_j>, cumulative sums of r^2 over i give every prefix at O(ell d) per task;
- sufficient statistics: w^T S_t w - 2 w^T b_t (common |y|^2 dropped), O(d^2) per task and prefix — cheaper when
  only a few prefixes are wanted and ell > d.

The Monte-Carlo test errors of the figures (``dmmse_point``) are in :mod:`.dmmse_mc`.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from iclab.estimators.linear import _check, cumulative_stats, prefix_lengths
from iclab.estimators.posterior import _accumulate, _finish, _init_carry, _stats_loglik, stats_features
from iclab.validation import check_int, check_positive


def dmmse(xs, ys, xq, pool, noise, *, prefixes=None, chunk: int = 1024, pool_mask=None):
    """Posterior-mean predictions over ``pool`` (k, d): (B, L) for xq (B, d), (B, L, Q) for xq (B, Q, d).

    noise > 0 is the label-noise variance of the likelihood; ``chunk`` tasks are scored at a time; the optional
    ``pool_mask`` (k,) bool drops padding rows (so one compiled shape serves pools of different sizes)."""
    _check(xs, ys, xq)
    ell, d = xs.shape[1], xs.shape[2]
    idx = prefix_lengths(ell, prefixes)
    if len(idx) * d < ell:  # few prefixes: sufficient statistics, O(L d^2) per task instead of O(ell d)
        b, s = cumulative_stats(xs, ys, idx)
        return dmmse_from_stats(s, b, xq, pool, noise, chunk=chunk, pool_mask=pool_mask)
    sel = jnp.asarray(idx - 1)

    def loglik(w):  # (c, d) -> (B, L, c)
        r = ys[..., None] - jnp.einsum("bld,cd->blc", xs, w)
        return -jnp.cumsum(r * r, axis=1)[:, sel] / (2 * noise)

    return _posterior_mean(loglik, xq, pool, noise, len(idx), chunk, pool_mask)


def dmmse_from_stats(s, b, xq, pool, noise, *, chunk: int = 1024, pool_mask=None):
    """dMMSE from sufficient statistics S = X^T X (B, L, d, d) and b = X^T y (B, L, d) at L prefixes:
    log-likelihood -(w^T S w - 2 w^T b) / (2 noise) up to a per-prompt constant. Returns (B, L) or (B, L, Q)."""
    if s.ndim != 4 or b.shape != s.shape[:3] or s.shape[2] != s.shape[3]:
        raise ValueError(f"need s (B, L, d, d) and b (B, L, d) (got {s.shape}, {b.shape})")
    feats = stats_features(s, b, jnp)
    return _posterior_mean(lambda w: _stats_loglik(feats, w, noise, jnp), xq, pool, noise, b.shape[1], chunk, pool_mask)


def _posterior_mean(loglik, xq, pool, noise, nl: int, chunk: int, pool_mask=None):
    """sum_j softmax_j(loglik) <x_q, w_j>, with an online log-sum-exp over chunks of the pool (lax.scan)."""
    check_positive("noise", noise)
    chunk = check_int("chunk", chunk, lo=1)
    pool = jnp.asarray(pool, dtype=xq.dtype)
    d = xq.shape[-1]
    if pool.ndim != 2 or pool.shape[1] != d or pool.shape[0] < 1:
        raise ValueError(f"pool must be (k, {d}) with k >= 1 (got shape {pool.shape})")
    k = pool.shape[0]
    chunk = min(chunk, k)
    nchunk = -(-k // chunk)
    pad = nchunk * chunk - k
    tasks = jnp.concatenate([pool, jnp.zeros((pad, d), pool.dtype)]).reshape(nchunk, chunk, d)
    valid = jnp.arange(nchunk * chunk) < k
    if pool_mask is not None:
        valid = valid & jnp.concatenate([jnp.asarray(pool_mask, bool), jnp.zeros(pad, bool)])
    valid = valid.reshape(nchunk, chunk)

    def step(carry, inp):
        w, ok = inp
        ll = jnp.where(ok, loglik(w), -jnp.inf)  # (B, L, c)
        return _accumulate(carry, ll, jnp.einsum("b...d,cd->b...c", xq, w), jnp), None

    carry, _ = jax.lax.scan(step, _init_carry(xq, nl, jnp), (tasks, valid))
    return _finish(carry)


def _pad(a: np.ndarray, rows: int):
    return jnp.asarray(np.concatenate([a, np.zeros((rows - len(a), *a.shape[1:]))]) if len(a) < rows else a)


def dmmse_last_prompts(xs, ys, xq, pool, noise, batch: int):
    """dMMSE at the last prefix from raw contexts (ell < d), compiled; inputs padded to ``batch`` prompts and the
    pool to a power of two (few compiled shapes), or to a multiple of 4096 for large pools. -> (B,)."""
    k, d = pool.shape
    bucket = max(64, 1 << (k - 1).bit_length()) if k <= 4096 else -(-k // 4096) * 4096
    with jax.enable_x64(True):
        padded = jnp.asarray(np.concatenate([pool, np.zeros((bucket - k, d))]))
        pred = _prompts_jit(_pad(xs, batch), _pad(ys, batch), _pad(xq, batch), padded,
                            jnp.asarray(np.arange(bucket) < k), noise=noise)
        return np.asarray(pred)[:len(xq), 0]


@partial(jax.jit, static_argnames=("noise",))
def _prompts_jit(xs, ys, xq, pool, mask, noise):
    return dmmse(xs, ys, xq, pool, noise, prefixes=[xs.shape[1]], chunk=512, pool_mask=mask)
