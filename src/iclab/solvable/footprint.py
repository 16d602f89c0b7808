"""Peak memory of one simulation of the solvable model (:func:`iclab.solvable.simulate_errors`), before it runs.

With n = tau d^2 pretraining contexts and a pool of k tasks (k = n for kappa = inf), the arrays are:

- the sampler's (``sample_stats``): the pool (k, d), unit tasks (k, d) and their gather (n, d), the statistics
  h (n, d+1), x_q (n, d) and two (n, d) work arrays; measured with ``tracemalloc``: 6.9-8.6 (n d) float64 words
  at its peak (d = 24-48), modelled as 7.5 n d + 2 k d words;
- the solver's on top of h and x_q (``solve_gamma``, see its module docstring):
  cg (matrix-free): the rotated statistics in float64 and float32 and work buffers, inside the 7.5 n d above;
  dual: the n x n kernel, float32 and, if its factorisation falls back, float64, with the row-block product
  that builds it: 18 n^2 bytes at most (measured 17.5 n^2 in a fallback at d = 48);
  primal: the p x p Gram (p = d (d+1)), built from its unique entries by a gather whose two index arrays are
  p x p too: 32 p^2 bytes, plus the chunked pair products.

``method="auto"`` already avoids the direct methods when their matrix would pass ``MEM_LIMIT`` (3 GiB) and uses
matrix-free CG, whose memory stays O(n d): so only the data itself can make a run too large. The estimate of an
auto run counts the method auto is predicted to pick (:func:`predicted_method`). The tests check the model against
``tracemalloc`` peaks (an upper bound within a factor of 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from iclab.resources import check_memory, check_sweep_tasks, format_size, memory_limit
from iclab.solvable.solve import MEM_LIMIT, choose_method
from iclab.validation import check_positive

WORD = 8  # bytes of a float64


@dataclass(frozen=True)
class Footprint:
    """The estimate of one run."""

    n: int  #: pretraining contexts, round(tau d^2)
    k: int  #: pool tasks (n for kappa = inf)
    p: int  #: unknowns of Gamma*, d (d+1)
    solver: str  #: the method or methods the estimate allows for ("cg", "dual", "primal", "auto: dual/cg", ...)
    peak_bytes: float  #: estimated peak memory of the run

    @property
    def bounded_by_cg(self) -> bool:
        """True when auto solves by matrix-free CG because a direct method would not fit its memory cap."""
        return self.solver == "cg (matrix-free: a direct method would pass the 3 GiB cap)"


def _solver_bytes(n: int, d: int, method: str) -> float:
    p = d * (d + 1)
    if method == "dual":  # the float64 fallback: the kernel and its row-block product (measured 17.5 n^2 at d=48)
        return 18.0 * n * n
    if method == "primal":
        pairs = (d * (d + 1) // 2) + ((d + 1) * (d + 2) // 2)
        step = min(n, max(1, 2**22 // ((d + 1) * (d + 2) // 2)))
        return 32.0 * p * p + WORD * step * pairs  # U, G and G's two broadcast (intp) index arrays
    return 0.0  # cg: its buffers are inside the sampler's 7.5 n d words


def predicted_method(n: int, d: int, lam: float, rho: float = 0.0, rtol: float = 1e-8) -> str:
    """The method ``solve_gamma(method="auto")`` will pick, from its own cost model (``choose_method``) fed with
    the expected Kronecker factors instead of the sampled ones: E[x x^T] = I/d, and E[h h^T] with per-direction
    eigenvalue (1 + rho) d / ell + 1 + 1/ell (ell = d) and last entry (1 + 2/ell)(1 + rho)^2 (the moments of
    ``error.py``, averaged over tasks on the sphere). Near a tie the sampled factors may tip the choice."""
    ell = d
    a = np.full(d, 1.0 / d)
    b = np.append(np.full(d, (1 + rho) * d / ell + 1 + 1 / ell), (1 + 2 / ell) * (1 + rho) ** 2)
    return choose_method(n, d, lam, rtol, (a, None, b, None))


def simulation_footprint(d: int, tau: float, kappa: float, lam: float = 0.0, method: str = "auto",
                         rho: float = 0.0) -> Footprint:
    """Estimated peak memory of ``simulate_point`` at (d, tau, kappa, lam) with solver ``method``.

    Uses the balanced assignment's n (n = round(tau d^2), rounded to a multiple of k), as the figures do.
    """
    n = max(1, round(tau * d * d))
    k = n if math.isinf(kappa) else max(1, min(n, math.floor(kappa * d + 1e-9)))
    if not math.isinf(kappa):
        n = max(1, round(n / k)) * k
    p = d * (d + 1)
    if method == "auto":
        method = predicted_method(n, d, lam, rho)
        direct_fit = 8.0 * p * p <= MEM_LIMIT or ((n <= p or lam > 0) and 4.0 * n * n <= MEM_LIMIT)
        solver = method if direct_fit else "cg (matrix-free: a direct method would pass the 3 GiB cap)"
    else:
        solver = method
    solver_bytes = _solver_bytes(n, d, method)
    data = WORD * (7.5 * n * d + 2.0 * k * d)
    return Footprint(n=n, k=k, p=p, solver=solver, peak_bytes=data + solver_bytes)


def check_simulation(d: int, tau: float, kappa: float, lam: float = 0.0, method: str = "auto",
                     rho: float = 0.0) -> Footprint:
    """Refuse (one line naming d and tau, the estimate and the limit) a simulation that would not fit in memory."""
    tau = float(check_positive("tau", tau))
    kappa = float(check_positive("kappa", kappa, allow_inf=True))
    fp = simulation_footprint(d, tau, kappa, lam, method, rho)
    what = f"d = {d} with tau = {tau:g}" + ("" if method == "auto" else f" and method = {method}")
    advice = "lower d or tau" if method == "auto" else "lower d or tau, or use method auto"
    check_memory(fp.peak_bytes, what, advice)
    return fp


def check_simulations(axes, seeds: int) -> None:
    """Before the first run of a grid of simulations: its (point, seed) count against ``--max-tasks`` (counted,
    not built), then every point's memory. ``axes``: the value arrays of d, tau, alpha, kappa, rho, lam."""
    import itertools

    n_points = math.prod(len(a) for a in axes)
    check_sweep_tasks(n_points * seeds, f"the simulation grid ({n_points:,} points x {seeds} seeds)")
    for d, tau, _, kappa, rho, lam in itertools.product(*axes):
        check_simulation(int(d), float(tau), float(kappa), float(lam), rho=float(rho))


def dry_run_lines(configs) -> list[str]:
    """Lines for ``iclab sweep --dry-run``: the largest estimated peak memory of the simulations of the
    solvable model among ``configs`` (those with d, tau and kappa, of kind gamma or without a kind), whether it
    fits, and how many runs auto solves by matrix-free CG to stay in bounded memory. Empty if none."""
    fps = []
    for c in configs:
        if c.get("kind", "gamma") != "gamma" or not {"d", "tau", "kappa"} <= set(c):
            continue
        try:
            kappa = math.inf if str(c["kappa"]).strip().lower() in ("inf", "-1") else float(c["kappa"])
            fps.append((c, simulation_footprint(int(c["d"]), float(c["tau"]), kappa, float(c.get("lam", 0.0)),
                                                c.get("method", "auto"), float(c.get("rho", 0.0)))))
        except (TypeError, ValueError):
            continue  # the run itself reports its bad parameter
    if not fps:
        return []
    c, top = max(fps, key=lambda cf: cf[1].peak_bytes)
    limit, source = memory_limit()
    verdict = "" if limit is None else (f" (limit {format_size(limit)}: fits)" if top.peak_bytes <= limit else
                                        f" (limit {format_size(limit)}: such runs will be refused)")
    lines = [f"  memory: up to about {format_size(top.peak_bytes)} per run, at d = {c['d']}, tau = {c['tau']}"
             f"{verdict}"]
    n_cg = sum(fp.bounded_by_cg for _, fp in fps)
    if n_cg:
        lines.append(f"  {n_cg} runs solve Gamma* by matrix-free CG (memory O(n d)), where a direct solver would "
                     "pass its 3 GiB cap")
    return lines
