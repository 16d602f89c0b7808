"""dMMSE: the Bayes-optimal predictor for a uniform prior over a finite task pool (lu2024.md §6.1).

    w_hat_t = sum_j pi_tj w_j,   pi_tj ∝ exp(-|y_{1:t} - X_{1:t} w_j|^2 / (2 noise)),   y_hat_t = x_q^T w_hat_t.

The posterior over the pool is a softmax, accumulated over chunks of the pool with an online log-sum-exp
(running max, normaliser and numerator), so the pool size only costs time: memory is O(B L chunk). Two exact
ways to get the log-likelihoods, chosen by cost at trace time:

- residuals: r_ij = y_i - <x_i, w_j>, cumulative sums of r^2 over i give every prefix at O(ell d) per task;
- sufficient statistics: w^T S_t w - 2 w^T b_t (common |y|^2 dropped), O(d^2) per task and prefix — cheaper when
  only a few prefixes are wanted and ell > d.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from iclab._threads import blas_threads
from iclab.estimators.linear import _check, cumulative_stats, prefix_lengths
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
    feats = stats_features(s, b)
    return _posterior_mean(lambda w: _stats_loglik(feats, w, noise), xq, pool, noise, b.shape[1], chunk, pool_mask)


def stats_features(s, b, xp=jnp):
    """[S_ii, 2 S_ij (i < j), b] (B, L, d(d+1)/2 + d) for (S, b) of (B, L, d, d), (B, L, d): with
    :func:`task_features` [w_i w_j (i <= j), -2 w] it turns the quadratic form w^T S w - 2 w^T b for a chunk of
    tasks into one GEMM (half the flops of S w, and no (B, L, c, d) intermediate). ``xp``: jax.numpy or numpy."""
    i, j = np.triu_indices(s.shape[-1])
    return xp.concatenate([s[..., i, j] * xp.where(i == j, 1.0, 2.0).astype(s.dtype), b], axis=-1)


def task_features(w, xp=jnp):
    """[w_i w_j (i <= j), -2 w] (c, d(d+1)/2 + d) for tasks w (c, d); see :func:`stats_features`."""
    i, j = np.triu_indices(w.shape[-1])
    return xp.concatenate([w[:, i] * w[:, j], -2 * w], axis=-1)


def _stats_loglik(feats, w, noise, xp=jnp):
    """-(w^T S w - 2 w^T b) / (2 noise) for the tasks w (c, d): (B, L, c)."""
    return -(feats @ task_features(w, xp).T) / (2 * noise)


def _accumulate(carry, ll, pred, xp=jnp):
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


def _init_carry(xq, nl: int, xp=jnp):
    batch, qshape = xq.shape[0], xq.shape[1:-1]  # qshape () or (Q,)
    return (xp.full((batch, nl), -np.inf, xq.dtype), xp.zeros((batch, nl), xq.dtype),
            xp.zeros((batch, nl, *qshape), xq.dtype))


def _finish(carry):
    _, z, num = carry
    return num / (z[..., None] if num.ndim == 3 else z)


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
        return _accumulate(carry, ll, jnp.einsum("b...d,cd->b...c", xq, w)), None

    carry, _ = jax.lax.scan(step, _init_carry(xq, nl), (tasks, valid))
    return _finish(carry)


def sample_last_stats(rng: np.random.Generator, tasks: np.ndarray, ell: int, rho: float):
    """Exact draw of (S = X^T X, b = X^T y) for contexts of length ell >= d with x ~ N(0, I/d), one per task row
    (tasks (B, d)): S = L L^T with L = A/sqrt(d), A the Bartlett factor of a Wishart(ell, I) (A_ii^2 ~
    chi2(ell - i), A_ij ~ N(0, 1) below the diagonal), and b = S w + sqrt(rho) L z, z ~ N(0, I). O(d^2) draws
    instead of O(ell d). Returns s (B, d, d), b (B, d)."""
    bsz, d = tasks.shape
    if ell < d:
        raise ValueError(f"ell must be >= d = {d} for the Wishart sampler (got {ell})")
    a = np.tril(rng.standard_normal((bsz, d, d)), -1)
    a[:, np.arange(d), np.arange(d)] = np.sqrt(rng.chisquare(ell - np.arange(d), (bsz, d)))
    lo = a / math.sqrt(d)
    s = lo @ lo.transpose(0, 2, 1)
    b = np.einsum("bde,be->bd", s, tasks) + math.sqrt(rho) * np.einsum("bde,be->bd", lo, rng.standard_normal((bsz, d)))
    return s, b


def _pad(a: np.ndarray, rows: int):
    return jnp.asarray(np.concatenate([a, np.zeros((rows - len(a), *a.shape[1:]))]) if len(a) < rows else a)


def _dmmse_last_numpy(s, b, xq, pool, noise, chunk: int = 1024):
    """dMMSE at the last prefix from statistics s (B, d, d), b (B, d), in numpy float64 (the same pieces as the
    JAX path): no JAX start-up or compilation per worker process, which cost more than the arithmetic. -> (B,)."""
    feats = stats_features(s, b, xp=np)
    carry = _init_carry(xq, 1, xp=np)
    for i in range(0, len(pool), chunk):
        w = pool[i:i + chunk]
        carry = _accumulate(carry, _stats_loglik(feats, w, noise, xp=np)[:, None], xq @ w.T, xp=np)
    return _finish(carry)[:, 0]


def _dmmse_prompts_jax(xs, ys, xq, pool, noise, batch: int):
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


def dmmse_point(config: dict, seed: int) -> dict:
    """dMMSE test errors by Monte Carlo (lu2024.md §6.1, the authors' protocol): {"e_icl", "e_idg", "g_task"}.

    config: d, alpha (ell = round(alpha d)), kappa (k = floor(kappa d) pool tasks w ~ N(0, I), unnormalised),
    rho, n_test (test prompts per error; one query each, squared error against the noisy target). ICL draws a
    fresh w ~ N(0, I) per prompt, IDG a uniform pool member; g_task = e_icl - e_idg. Computed in float64, from
    exact draws of the sufficient statistics (:func:`sample_last_stats`) when ell >= d, else raw contexts."""
    from iclab.solvable.sampler import context_length, pool_size
    from iclab.solvable.simulate import parse_kappa

    missing = [key for key in ("d", "alpha", "kappa", "rho", "n_test") if key not in config]
    if missing:
        raise ValueError(f"config must contain d, alpha, kappa, rho, n_test (missing {', '.join(missing)})")
    d = check_int("d", config["d"], lo=2)
    rho = float(check_positive("rho", config["rho"]))
    n_test = check_int("n_test", config["n_test"], lo=1)
    kappa = parse_kappa(config["kappa"])
    if math.isinf(kappa):
        raise ValueError("kappa must be finite for the dMMSE (its prior is the finite pool) (got inf)")
    k = pool_size(d, kappa)
    ell = context_length(d, config["alpha"])
    seed = check_int("seed", seed, lo=0)
    rng = np.random.default_rng(seed)
    pool = rng.standard_normal((k, d))
    batch = max(1, min(n_test, 256, 2**22 // (ell * d)))
    with blas_threads(1):  # sweeps run one point per core
        errors = {name: _mc_error(rng, name, pool, ell, rho, n_test, batch) for name in ("icl", "idg")}
    return {"e_icl": errors["icl"], "e_idg": errors["idg"], "g_task": errors["icl"] - errors["idg"]}


def _mc_error(rng, name: str, pool, ell: int, rho: float, n_test: int, batch: int) -> float:
    """Monte-Carlo test error of the dMMSE over ``n_test`` prompts, ICL (fresh w ~ N(0, I)) or IDG (pool tasks)."""
    from iclab.solvable.sampler import sample_contexts

    k, d = pool.shape
    sq = []
    for i in range(0, n_test, batch):
        m = min(batch, n_test - i)
        tasks = rng.standard_normal((m, d)) if name == "icl" else pool[rng.integers(0, k, m)]
        xq = rng.standard_normal((m, d)) / math.sqrt(d)
        yq = np.einsum("bd,bd->b", xq, tasks)
        yq = yq + math.sqrt(rho) * rng.standard_normal(m)
        if ell >= d:
            pred = _dmmse_last_numpy(*sample_last_stats(rng, tasks, ell, rho), xq, pool, rho)
        else:
            pred = _dmmse_prompts_jax(*sample_contexts(rng, tasks, ell, rho)[:2], xq, pool, rho, batch)
        sq.append((yq - pred) ** 2)
    return float(np.concatenate(sq).mean())
