"""One finite-d simulation of the solvable model of Lu et al. 2024: draw a task pool and n ~ τd² pretraining
contexts (the fast sampler), solve Γ*, and return its exact test errors (:mod:`iclab.solvable.error`): ICL on a
fresh task, IDG uniformly over the pool. This is the authors' linear-model simulation protocol (their
``theory_runs/common.py``), behind the "Γ* simulation" points of Lu et al. 2024, Figs. 1, 2 and 4.

The sweeps' ``(config, seed)`` adapter is :func:`iclab.experiments.solvable_points.simulate_point`.
"""

from __future__ import annotations

import math

import numpy as np

from iclab.solvable.error import test_error
from iclab.solvable.footprint import check_simulation
from iclab.solvable.sampler import sample_stats
from iclab.solvable.solve import solve_gamma
from iclab.tasks.lu2024 import context_length, pretraining_sizes, pretraining_tasks
from iclab.validation import check_int, check_nonnegative

__all__ = ["realised_ratios", "simulate_errors"]


def simulate_errors(d: int, tau: float, alpha: float, kappa: float, rho: float, *, seed: int, lam: float = 0.0,
             assignment: str = "balanced", method: str = "auto", rtol: float = 1e-8) -> dict[str, float]:
    """{"e_icl", "e_idg"}: the exact test errors of Γ* trained on one draw of the pretraining data.

    d: token dimension (>= 2); tau = n/d², alpha = ℓ/d, kappa = k/d (math.inf: a fresh task per context); rho:
    label-noise variance; lam: ridge (0: ridgeless); assignment: "balanced" (every pool task used equally often,
    the authors' simulations) or "uniform"; method: the Γ* solver (:func:`iclab.solvable.solve.solve_gamma`);
    rtol: its CG tolerance. ``seed`` fixes the pool and the data (numpy's default_rng).
    """
    d = check_int("d", d, lo=2)
    rho = float(check_nonnegative("rho", rho))
    lam = float(check_nonnegative("lam", lam))
    seed = check_int("seed", seed, lo=0)
    ell = context_length(d, alpha)
    check_simulation(d, tau, kappa, lam, method, rho)
    rng = np.random.default_rng(seed)
    pool, idx = pretraining_tasks(rng, d, tau, kappa, assignment)
    h, xq, yq = sample_stats(rng, pool, ell, rho, idx)
    # rtol 1e-8: Γ* to about 1e-6 relative at worst (τ near 1; measured error / residual <= 100), so the errors are
    # exact to ~1e-6, four orders below their run-to-run spread
    gamma = solve_gamma(h, xq, yq, lam, method=method, rtol=rtol)
    return {"e_icl": test_error(gamma, ell, rho), "e_idg": test_error(gamma, ell, rho, tasks=pool)}


def realised_ratios(d: int, tau: float, alpha: float, kappa: float, assignment: str = "balanced"
                    ) -> dict[str, float]:
    """The ratios a run of :func:`simulate_errors` actually simulates: {"tau": n/d², "alpha": ℓ/d, "kappa": k/d (inf for
    fresh tasks)} with the integers ℓ = round(αd), k = floor(κd) and n of
    :func:`iclab.tasks.lu2024.pretraining_sizes`. They differ from the nominal ones by O(1/d), erratically in d
    (e.g. τ = 0.2, κ = 0.5: n/d² = 0.1875 at d = 16, 0.2083 at d = 24), so the d -> inf theory is evaluated at them
    before extrapolating in 1/d (:mod:`iclab.solvable.finite_size`)."""
    d = check_int("d", d, lo=2)
    k, n = pretraining_sizes(d, tau, kappa, assignment)
    return {"tau": n / d**2, "alpha": context_length(d, alpha) / d, "kappa": math.inf if k is None else k / d}
