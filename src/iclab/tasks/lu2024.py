"""The data model of Lu et al. 2024 in numpy float64: the integer sizes ℓ, k, n a finite d realises, task pools
and raw contexts.

One context is (x_1, y_1), ..., (x_ℓ, y_ℓ), x_{ℓ+1} with x_i ~ N(0, I/d) and y_i = <x_i, w> + N(0, ρ), the same
task w for all ℓ + 1 examples. The scaling ratios α = ℓ/d, κ = k/d and τ = n/d² are held fixed as d → ∞
(Lu et al. 2024, abstract); a finite-d run rounds them to integers (:func:`context_length`, :func:`pool_size`,
:func:`pretraining_sizes`). κ = inf means a fresh task per pretraining context (no pool).

The conventions are the authors' public code (Pehlevan-Group/incontext-asymptotics-experiments,
``theory_runs/common.py`` and ``theory_runs/dmmse.py``): linear-model simulations put the pool on the sphere
|w| = sqrt(d) and assign it to contexts in balanced blocks; the dMMSE uses unnormalised N(0, I) tasks.

Numpy only (no JAX), so that a sweep worker that only simulates never pays JAX's start-up; the JAX prompt
distributions are :mod:`iclab.tasks.linear`.
"""

from __future__ import annotations

import math

import numpy as np

from iclab.validation import UserInputError, check_choice, check_int, check_positive

ASSIGNMENTS = ("balanced", "uniform")
ROUNDINGS = ("floor", "nearest")

__all__ = ["ASSIGNMENTS", "ROUNDINGS", "context_length", "pool_size", "pretraining_sizes", "pretraining_tasks",
           "sample_contexts", "sphere_tasks"]


# --- sizes -------------------------------------------------------------------------------------------------
def context_length(d: int, alpha: float) -> int:
    """ℓ = round(α d), at least 1."""
    alpha = float(check_positive("alpha", alpha))
    ell = round(alpha * d)
    if ell < 1:
        raise UserInputError(f"alpha must be > 1/(2d) so that ell = round(alpha d) >= 1 (got {alpha:g})")
    return ell


def pool_size(d: int, kappa: float, *, rounding: str = "floor") -> int | None:
    """The number k of pool tasks at task diversity κ = k/d; None for κ = inf (fresh tasks, no pool).

    rounding:
      - ``"floor"``: k = floor(κ d) (up to 1e-9, so that κ = k/d gives back k), as the authors' linear-model
        simulations and dMMSE code do;
      - ``"nearest"``: k = round(κ d) (Python's round, half to even), as the authors' Transformer code does.

    κ too small for one task (k < 1) is a ``UserInputError``.
    """
    kappa = float(check_positive("kappa", kappa, allow_inf=True))
    check_choice("rounding", rounding, ROUNDINGS)
    if math.isinf(kappa):
        return None
    k = math.floor(kappa * d + 1e-9) if rounding == "floor" else round(kappa * d)
    if k < 1:
        bound = f">= 1/d = {1 / d:g}" if rounding == "floor" else f"> 1/(2d) = {0.5 / d:g}"
        raise UserInputError(f"kappa must be {bound} so that the pool has k >= 1 task (got {kappa:g})")
    return k


def pretraining_sizes(d: int, tau: float, kappa: float, assignment: str = "balanced") -> tuple[int | None, int]:
    """(k, n): the pool size and the number of contexts :func:`pretraining_tasks` draws (k None for κ = inf).

    n = round(τ d²), except balanced pools, where n = r k with r = max(1, round(τ d² / k)). The realised
    ratios k/d and n/d² differ from κ and τ by O(1/d) (used by the finite-size extrapolation).
    """
    d = check_int("d", d, lo=2)
    tau = float(check_positive("tau", tau))
    check_choice("assignment", assignment, ASSIGNMENTS)
    n = round(tau * d * d)
    if n < 1:
        raise UserInputError(f"tau must be > 1/(2 d^2) so that n = round(tau d^2) >= 1 (got {tau:g})")
    k = pool_size(d, kappa)
    if k is None:
        return None, n
    if k > n:
        raise UserInputError(f"kappa must be <= tau d = {tau * d:g} so that the pool size k = {k} is at most the "
                             f"number of contexts n = {n} (got {kappa:g})")
    return k, (max(1, round(n / k)) * k if assignment == "balanced" else n)


# --- tasks -------------------------------------------------------------------------------------------------
def sphere_tasks(rng: np.random.Generator, k: int, d: int) -> np.ndarray:
    """k tasks uniform on the sphere of radius sqrt(d): (k, d)."""
    w = rng.standard_normal((k, d))
    return w * (math.sqrt(d) / np.linalg.norm(w, axis=1, keepdims=True))


def pretraining_tasks(rng: np.random.Generator, d: int, tau: float, kappa: float,
                      assignment: str = "balanced", draw=None) -> tuple[np.ndarray, np.ndarray]:
    """The task pool and each pretraining context's task: ``pool (k, d)``, ``idx (n,)``.

    balanced (the authors' linear-model simulations): k = floor(κ d), every task used r = round(τ d² / k) times,
    so n = r k (slightly off τ d²); uniform (their Transformer sampler): n = round(τ d²), i.i.d. uniform
    indices. κ = inf: n = round(τ d²) fresh tasks, one per context (pool = the n tasks, idx = 0..n-1).
    Tasks lie on the sphere |w| = sqrt(d), unless ``draw(rng, m)`` is given: it returns the m tasks (m, d).
    The sizes are :func:`pretraining_sizes`.
    """
    k, n = pretraining_sizes(d, tau, kappa, assignment)
    if draw is None:
        draw = lambda rng, m: sphere_tasks(rng, m, d)  # noqa: E731
    if k is None:
        return draw(rng, n), np.arange(n)
    pool = draw(rng, k)
    if assignment == "balanced":
        idx = rng.permutation(np.repeat(np.arange(k), n // k))
    else:
        idx = rng.integers(0, k, size=n)
    return pool, idx


# --- raw contexts ------------------------------------------------------------------------------------------
def sample_contexts(rng: np.random.Generator, tasks: np.ndarray, ell: int, rho: float):
    """Raw contexts for the given tasks (n, d): xs (n, ell, d), ys (n, ell), xq (n, d), yq (n,), x ~ N(0, I/d)."""
    tasks = np.asarray(tasks, dtype=np.float64)
    n, d = tasks.shape
    x = rng.standard_normal((n, ell + 1, d)) / math.sqrt(d)
    y = np.einsum("nld,nd->nl", x, tasks) + math.sqrt(rho) * rng.standard_normal((n, ell + 1))
    return x[:, :ell], y[:, :ell], x[:, ell], y[:, ell]
