"""The sweep's ``(config, seed)`` protocol for the numerical layers: plain-dict adapters of
:func:`iclab.solvable.simulate_errors` and :func:`iclab.estimators.dmmse_mc.dmmse_errors`.

A config is the JSON dict a sweep point stores and hashes (:class:`iclab.experiment.Point`): κ = inf is the
string ``"inf"`` there (:func:`iclab.settings.json_number`), and figure modules may carry keys of their own
(``kind``, ``panel``, ``scale``, ``batch``, a legacy ``blas_threads``: threads are set per process now), which
these adapters ignore. Sweep specs name them as ``iclab.experiments.solvable_points:simulate_point``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iclab.estimators.dmmse_mc import dmmse_errors
from iclab.settings import from_json_number
from iclab.solvable.simulate import realised_ratios, simulate_errors
from iclab.validation import UserInputError

__all__ = ["dmmse_point", "point_ratios", "simulate_point"]

SIMULATE_KEYS = ("d", "tau", "alpha", "kappa", "rho")
DMMSE_KEYS = ("d", "alpha", "kappa", "rho", "n_test")


def simulate_point(config: Mapping[str, Any], seed: int) -> dict[str, float]:
    """{"e_icl", "e_idg"} of Γ* for one seed (:func:`iclab.solvable.simulate_errors`). config: d, tau, alpha,
    kappa (a number or "inf"), rho; optional lam (default 0), assignment ("balanced" default, or "uniform"),
    method (solver, default "auto"), rtol (CG tolerance, default 1e-8)."""
    _require(config, SIMULATE_KEYS)
    return simulate_errors(config["d"], config["tau"], config["alpha"], _kappa(config), config["rho"], seed=seed,
                           lam=config.get("lam", 0.0), assignment=config.get("assignment", "balanced"),
                           method=config.get("method", "auto"), rtol=config.get("rtol", 1e-8))


def dmmse_point(config: Mapping[str, Any], seed: int) -> dict[str, float]:
    """{"e_icl", "e_idg", "g_task"} of the dMMSE for one seed (:func:`iclab.estimators.dmmse_mc.dmmse_errors`).
    config: d, alpha, kappa (finite), rho, n_test."""
    _require(config, DMMSE_KEYS)
    return dmmse_errors(config["d"], config["alpha"], _kappa(config), config["rho"], config["n_test"], seed=seed)


def point_ratios(config: Mapping[str, Any]) -> dict[str, float]:
    """The ratios n/d², ℓ/d, k/d a :func:`simulate_point` run of ``config`` realises
    (:func:`iclab.solvable.realised_ratios`); validates d, tau, alpha, kappa and the integer sizes."""
    return realised_ratios(config["d"], config["tau"], config["alpha"], _kappa(config),
                           config.get("assignment", "balanced"))


def _kappa(config: Mapping[str, Any]) -> float:
    """κ of a config as a float: a number, or the string "inf" (fresh tasks) that configs store."""
    try:
        return from_json_number(config["kappa"])
    except (TypeError, ValueError):  # only the conversion of this one value: a bad κ is the user's input
        raise UserInputError(f"kappa must be a positive number or 'inf' (got {config['kappa']!r})") from None


def _require(config: Mapping[str, Any], keys: tuple[str, ...]) -> None:
    missing = [k for k in keys if k not in config]
    if missing:
        raise UserInputError(f"config must contain {', '.join(keys)} (missing {', '.join(missing)})")
