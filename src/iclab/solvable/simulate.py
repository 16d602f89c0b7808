"""One finite-d simulation of the solvable model (Lu et al. 2024, ``papers/lu2024.md`` §1, §3, §7).

Draw a task pool and n ~ tau d^2 pretraining contexts (fast sampler), solve Gamma*, and return its exact test
errors (§3.3): ICL on a fresh task, IDG uniformly over the pool.
"""

from __future__ import annotations

import math

import numpy as np

from iclab._threads import blas_threads
from iclab.solvable._malloc import keep_freed_memory
from iclab.solvable.error import test_error
from iclab.solvable.footprint import check_simulation
from iclab.solvable.sampler import context_length, pretraining_sizes, pretraining_tasks, sample_stats
from iclab.solvable.solve import solve_gamma
from iclab.validation import UserInputError, check_int, check_nonnegative

REQUIRED = ("d", "tau", "alpha", "kappa", "rho")


def parse_kappa(kappa) -> float:
    """kappa as a float; the string "inf" (or -1, the authors' code's flag) means fresh tasks."""
    if isinstance(kappa, str):
        try:
            kappa = float(kappa)
        except ValueError:
            raise UserInputError(f"kappa must be a positive number or 'inf' (got {kappa!r})") from None
    kappa = float(kappa)
    return math.inf if kappa == -1 else kappa


def realised_ratios(config: dict) -> dict[str, float]:
    """The ratios a run of ``config`` (:func:`simulate_point`'s keys) actually simulates: {"tau": n/d², "alpha":
    ℓ/d, "kappa": k/d (inf for fresh tasks)} with the integers ℓ = round(αd), k = floor(κd) and n of
    :func:`iclab.solvable.sampler.pretraining_sizes`. They differ from the nominal ones by O(1/d), erratically in d
    (e.g. τ = 0.2, κ = 0.5: n/d² = 0.1875 at d = 16, 0.2083 at d = 24), so the d -> inf theory is evaluated at them
    before extrapolating in 1/d (:mod:`iclab.solvable.finite_size`)."""
    d = check_int("d", config["d"], lo=2)
    k, n = pretraining_sizes(d, config["tau"], parse_kappa(config["kappa"]), config.get("assignment", "balanced"))
    return {"tau": n / d**2, "alpha": context_length(d, config["alpha"]) / d,
            "kappa": math.inf if k is None else k / d}


def simulate_point(config: dict, seed: int) -> dict:
    """{"e_icl", "e_idg"} of Gamma* for one seed. config: d, tau, alpha, kappa (float or "inf"), rho,
    lam (default 0), assignment ("balanced" default, or "uniform"), method (solver, default "auto"),
    rtol (CG tolerance, default 1e-8), blas_threads (default 1).
    Other keys are ignored (figure modules may carry their own)."""
    missing = [k for k in REQUIRED if k not in config]
    if missing:
        raise UserInputError(f"config must contain {', '.join(REQUIRED)} (missing {', '.join(missing)})")
    d = check_int("d", config["d"], lo=2)
    rho = float(check_nonnegative("rho", config["rho"]))
    lam = float(check_nonnegative("lam", config.get("lam", 0.0)))
    seed = check_int("seed", seed, lo=0)
    ell = context_length(d, config["alpha"])
    check_simulation(d, config["tau"], parse_kappa(config["kappa"]), lam, config.get("method", "auto"), rho)
    keep_freed_memory()  # runs come one after another in a worker: no page faults for re-allocated arrays
    rng = np.random.default_rng(seed)
    pool, idx = pretraining_tasks(rng, d, config["tau"], parse_kappa(config["kappa"]),
                                  config.get("assignment", "balanced"))
    # one BLAS thread: sweeps run one point per core, where extra threads only contend (see _threads.py)
    with blas_threads(config.get("blas_threads", 1)):
        h, xq, yq = sample_stats(rng, pool, ell, rho, idx)
        # rtol 1e-8: Gamma* to about 1e-6 relative at worst (tau near 1; measured error / residual <= 100), so the
        # errors are exact to ~1e-6, four orders below their run-to-run spread
        gamma = solve_gamma(h, xq, yq, lam, method=config.get("method", "auto"), rtol=config.get("rtol", 1e-8))
        return {"e_icl": test_error(gamma, ell, rho), "e_idg": test_error(gamma, ell, rho, tasks=pool)}
