"""dMMSE test errors by Monte Carlo, the authors' protocol (``papers/lu2024.md`` §6.1), in numpy float64.

Test prompts are drawn through their sufficient statistics (:func:`sample_last_stats`, O(d^2) per prompt instead
of O(ell d)) and scored with the shared pieces of :mod:`.posterior`. Plain numpy on purpose: a sweep worker
would otherwise pay JAX's start-up (2.4 s measured) and compilations, more than the arithmetic of a whole
figure. Only ell < d (raw contexts) uses the compiled estimator.
"""

from __future__ import annotations

import math

import numpy as np

from iclab._threads import blas_threads
from iclab.estimators.posterior import _accumulate, _finish, _init_carry, _stats_loglik, stats_features
from iclab.validation import UserInputError, check_int, check_positive


def sample_last_stats(rng: np.random.Generator, tasks: np.ndarray, ell: int, rho: float):
    """Exact draw of (S = X^T X, b = X^T y) for contexts of length ell >= d with x ~ N(0, I/d), one per task row
    (tasks (B, d)): S = L L^T with L = A/sqrt(d), A the Bartlett factor of a Wishart(ell, I) (A_ii^2 ~
    chi2(ell - i), A_ij ~ N(0, 1) below the diagonal), and b = S w + sqrt(rho) L z, z ~ N(0, I). O(d^2) draws
    instead of O(ell d). Returns s (B, d, d), b (B, d)."""
    bsz, d = tasks.shape
    if ell < d:
        raise UserInputError(f"ell must be >= d = {d} for the Wishart sampler (got {ell})")
    a = np.tril(rng.standard_normal((bsz, d, d)), -1)
    a[:, np.arange(d), np.arange(d)] = np.sqrt(rng.chisquare(ell - np.arange(d), (bsz, d)))
    lo = a / math.sqrt(d)
    s = lo @ lo.transpose(0, 2, 1)
    b = np.einsum("bde,be->bd", s, tasks) + math.sqrt(rho) * np.einsum("bde,be->bd", lo, rng.standard_normal((bsz, d)))
    return s, b


def _last_prefix(s, b, xq, pool, noise, chunk: int = 1024):
    """dMMSE at the last prefix from statistics s (B, d, d), b (B, d), in numpy float64 (the same pieces as the
    JAX path): no JAX start-up or compilation per worker process, which cost more than the arithmetic. -> (B,)."""
    feats = stats_features(s, b, np)
    carry = _init_carry(xq, 1, np)
    for i in range(0, len(pool), chunk):
        w = pool[i:i + chunk]
        carry = _accumulate(carry, _stats_loglik(feats, w, noise, np)[:, None], xq @ w.T, np)
    return _finish(carry)[:, 0]


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
        raise UserInputError(f"config must contain d, alpha, kappa, rho, n_test (missing {', '.join(missing)})")
    d = check_int("d", config["d"], lo=2)
    rho = float(check_positive("rho", config["rho"]))
    n_test = check_int("n_test", config["n_test"], lo=1)
    kappa = parse_kappa(config["kappa"])
    if math.isinf(kappa):
        raise UserInputError("kappa must be finite for the dMMSE (its prior is the finite pool) (got inf)")
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
            pred = _last_prefix(*sample_last_stats(rng, tasks, ell, rho), xq, pool, rho)
        else:  # ell < d: raw contexts through the compiled estimator
            from iclab.estimators.dmmse_jax import dmmse_last_prompts

            pred = dmmse_last_prompts(*sample_contexts(rng, tasks, ell, rho)[:2], xq, pool, rho, batch)
        sq.append((yq - pred) ** 2)
    return float(np.concatenate(sq).mean())
