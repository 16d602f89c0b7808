"""dMMSE test errors by Monte Carlo, the authors' protocol (Lu et al. 2024, the dMMSE curves of Fig. 4; their
``theory_runs/dmmse.py``), in numpy float64.

The dMMSE is the Bayes-optimal predictor for the discrete pretraining prior (Raventós et al. 2023): the posterior
mean over the k pool tasks, ŵ = Σ_j π_j w_j with π_j ∝ exp(−|y − X^T w_j|² / (2ρ)), ŷ = <x_q, ŵ>.

Test prompts are drawn through their sufficient statistics (:func:`sample_last_stats`, O(d^2) per prompt instead
of O(ell d)) and scored with the shared pieces of :mod:`.posterior`. Plain numpy on purpose: a sweep worker
would otherwise pay JAX's start-up (2.4 s measured) and compilations, more than the arithmetic of a whole
figure. Only ell < d (raw contexts) uses the compiled estimator.

The sweeps' ``(config, seed)`` adapter is :func:`iclab.experiments.solvable_points.dmmse_point`.
"""

from __future__ import annotations

import math

import numpy as np

from iclab.estimators.posterior import _accumulate, _finish, _init_carry, _stats_loglik, stats_features
from iclab.tasks.lu2024 import context_length, pool_size, sample_contexts
from iclab.validation import UserInputError, check_int, check_positive

__all__ = ["dmmse_errors", "sample_last_stats"]


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


def dmmse_errors(d: int, alpha: float, kappa: float, rho: float, n_test: int, *, seed: int) -> dict[str, float]:
    """{"e_icl", "e_idg", "g_task"}: Monte-Carlo test errors of the dMMSE over one pool (the authors' protocol).

    d: token dimension (>= 2); alpha: context length ℓ = round(alpha d); kappa: k = floor(kappa d) pool tasks
    w ~ N(0, I), unnormalised (finite: the dMMSE's prior is the pool); rho > 0: label-noise variance; n_test: test
    prompts per error, one query each, squared error against the noisy target. ICL draws a fresh w ~ N(0, I) per
    prompt, IDG a uniform pool member; g_task = e_icl − e_idg. Exact draws of the sufficient statistics
    (:func:`sample_last_stats`) when ℓ >= d, else raw contexts. ``seed`` fixes the pool and the prompts.
    """
    d = check_int("d", d, lo=2)
    rho = float(check_positive("rho", rho))
    n_test = check_int("n_test", n_test, lo=1)
    kappa = float(check_positive("kappa", kappa, allow_inf=True))
    if math.isinf(kappa):
        raise UserInputError("kappa must be finite for the dMMSE (its prior is the finite pool) (got inf)")
    k = pool_size(d, kappa)
    ell = context_length(d, alpha)
    seed = check_int("seed", seed, lo=0)
    rng = np.random.default_rng(seed)
    pool = rng.standard_normal((k, d))
    batch = max(1, min(n_test, 256, 2**22 // (ell * d)))
    errors = {name: _mc_error(rng, name, pool, ell, rho, n_test, batch) for name in ("icl", "idg")}
    return {"e_icl": errors["icl"], "e_idg": errors["idg"], "g_task": errors["icl"] - errors["idg"]}


def _mc_error(rng, name: str, pool, ell: int, rho: float, n_test: int, batch: int) -> float:
    """Monte-Carlo test error of the dMMSE over ``n_test`` prompts, ICL (fresh w ~ N(0, I)) or IDG (pool tasks)."""
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
            # imported here: JAX's start-up (2.4 s) is paid only by the workers that meet ell < d
            from iclab.estimators.dmmse_jax import dmmse_last_prompts

            pred = dmmse_last_prompts(*sample_contexts(rng, tasks, ell, rho)[:2], xq, pool, rho, batch)
        sq.append((yq - pred) ** 2)
    return float(np.concatenate(sq).mean())
