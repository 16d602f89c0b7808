"""Speed and exactness of the Letey et al. 2025 structured theory (``iclab.theory.letey2025``) against the authors'
way of computing it, a Monte-Carlo resolvent (papers: Letey et al. 2025, §3.7), side by side in the same run.

1. A 200-point κ curve at d = 1000 (C_train = pl(1), five tests, ridgeless τ = 4, α = 2, ρ = .01, the F3/F4
   parameters): the deterministic O(d)-per-evaluation solver vs the Monte-Carlo baseline with numavg = 100 draws
   of the pool per κ (each draw: F = (1/k) Σ wⱼwⱼᵀ, wⱼ ~ N(0, C_train), then tr(F+ν)⁻¹/d and tr(F+ν)⁻²/d from an
   inverse and its square, as the authors' ``M_M2_empirical``). The baseline runs on a few κ values and is
   extrapolated to the 200 points. Target ≥ 100×.
2. Exactness: at one κ, the baseline's e_ICL for numavg = 1 … N approaches the exact value (its standard error
   shrinks as 1/sqrt(numavg)) down to its O(1/d) finite-size bias; a scan over d shows that bias shrinking, so the
   deterministic value is the baseline's limit as numavg → ∞ and d → ∞.

Usage: ``python benchmarks/bench_letey2025.py [--d 1000] [--points 200] [--numavg 100] [--baseline-points 2]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from iclab.theory import letey2025 as T

TAU, ALPHA, RHO = 4.0, 2.0, 0.01


def mc_traces(rng, spec: np.ndarray, kappa: float, nu: float, numavg: int) -> tuple[np.ndarray, np.ndarray]:
    """The authors' ``M_M2_empirical`` (§3.7): per draw, tr(F+ν)⁻¹/d and tr(F+ν)⁻²/d. Returns both (numavg,)."""
    d = spec.size
    k = int(d * kappa)
    m1, m2 = np.empty(numavg), np.empty(numavg)
    for i in range(numavg):
        w = rng.standard_normal((k, d)) * np.sqrt(spec)
        inv = np.linalg.inv(w.T @ w / k + nu * np.eye(d))
        m1[i] = np.trace(inv) / d
        m2[i] = np.trace(inv @ inv) / d
    return m1, m2


def mc_icl(spec: np.ndarray, tests: list[np.ndarray], kappa: float, M: float, m2: float) -> np.ndarray:
    """e_ICL of every (diagonal) test from Monte-Carlo M and M' = −m2 (ridgeless, τ > 1: λ̃ = 0, σ = q_tr): the
    authors' ``ICL_for_spiked_test`` form (§3.5) with FR = [aC + σ]⁻¹, FR2 = FR((M/κ + σM'/κ)C + I)FR."""
    s = (spec.mean() + RHO) / ALPHA
    a = 1 - 1 / kappa + s * M / kappa
    fr = 1 / (a * spec + s)
    fr2 = fr * ((M / kappa - s * m2 / kappa) * spec + 1) * fr
    e_pre = (RHO + s - s * s * M) / (TAU - 1)
    out = []
    for c in tests:
        r = (c.mean() + RHO) / ALPHA
        out.append(c.mean() + RHO - 2 * np.mean(c * (1 - s * fr)) + np.mean((c + r) * (1 - 2 * s * fr + s * s * fr2))
                   + e_pre * np.mean((c + r) * fr))
    return np.array(out)


def setup(d: int):
    spec = T.family("pl", d, 1.0)
    tests = [spec, np.ones(d), T.family("pl", d, 0.5), T.family("revpl", d, 0.5), T.family("spike", d, 0.0, 1)]
    return spec, tests


def exact(spec, tests, kappa):
    sol = T.solve(spec, TAU, ALPHA, kappa, RHO)
    return sol, np.stack([T.errors(sol, c)["e_icl"] for c in tests], axis=-1)


def bench_curve(d: int, points: int, numavg: int, n_base: int) -> None:
    spec, tests = setup(d)
    kappa = np.linspace(0.2, 2.2, points)
    t0 = time.perf_counter()
    sol, e = exact(spec, tests, kappa)
    t_exact = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    sub = kappa[np.linspace(0, points - 1, n_base).round().astype(int)]
    t0 = time.perf_counter()
    base = []
    for k in sub:
        nu = (spec.mean() + RHO) / ALPHA
        m1, m2 = mc_traces(rng, spec, k, nu, numavg)
        base.append(mc_icl(spec, tests, k, m1.mean(), m2.mean()))
    t_base = (time.perf_counter() - t0) * points / n_base
    ref = exact(spec, tests, sub)[1]
    dev = (np.array(base) - ref) / ref
    print(f"kappa curve: d = {d}, {points} points in [0.2, 2.2], 5 tests, pl(1) train, tau {TAU:g}, alpha {ALPHA:g}, "
          f"rho {RHO:g}, ridgeless")
    print(f"  deterministic (iclab)    : {t_exact:9.3f} s   {points / t_exact:9.1f} points/s")
    print(f"  Monte-Carlo, numavg {numavg:<4d} : {t_base:9.1f} s   {points / t_base:9.3f} points/s   "
          f"(extrapolated from {n_base} points)")
    print(f"  speed-up                 : {t_base / t_exact:9.0f} x")
    print(f"  MC - exact at the sampled kappa, relative: {dev.min():+.2e} .. {dev.max():+.2e}")


def bench_convergence(d: int, kappa: float, numavgs: list[int], ds: list[int], dscan_avg: int) -> None:
    spec, tests = setup(d)
    _, ref = exact(spec, tests, kappa)
    nu = (spec.mean() + RHO) / ALPHA
    rng = np.random.default_rng(1)
    m1, m2 = mc_traces(rng, spec, kappa, nu, max(numavgs))
    print(f"\nMonte-Carlo vs exact at kappa = {kappa:g}, d = {d}, test = I (exact e_icl {ref[1]:.8f})")
    print("  numavg   e_icl (MC)     MC - exact    SE of MC")
    for n in numavgs:
        per = np.array([mc_icl(spec, tests, kappa, m1[i], m2[i])[1] for i in range(n)])
        e = mc_icl(spec, tests, kappa, m1[:n].mean(), m2[:n].mean())[1]
        se = per.std(ddof=1) / np.sqrt(n) if n > 1 else np.nan
        print(f"  {n:6d}   {e:.8f}   {e - ref[1]:+.2e}    {se:.1e}")
    print(f"\nfinite-size bias of the MC (numavg = {dscan_avg}) at kappa = {kappa:g}, test = I")
    print("       d   (MC - exact)/exact   SE")
    for dd in ds:
        spec, tests = setup(dd)
        _, ref = exact(spec, tests, kappa)
        nu = (spec.mean() + RHO) / ALPHA
        a, b = mc_traces(np.random.default_rng(dd), spec, kappa, nu, dscan_avg)
        per = np.array([mc_icl(spec, tests, kappa, a[i], b[i])[1] for i in range(dscan_avg)])
        e = mc_icl(spec, tests, kappa, a.mean(), b.mean())[1]
        print(f"  {dd:6d}   {(e - ref[1]) / ref[1]:+.2e}          {per.std(ddof=1) / np.sqrt(dscan_avg) / ref[1]:.1e}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--d", type=int, default=1000)
    p.add_argument("--points", type=int, default=200)
    p.add_argument("--numavg", type=int, default=100)
    p.add_argument("--baseline-points", type=int, default=2)
    p.add_argument("--kappa", type=float, default=0.5, help="kappa of the convergence study")
    p.add_argument("--skip-convergence", action="store_true")
    a = p.parse_args()
    bench_curve(a.d, a.points, a.numavg, a.baseline_points)
    if not a.skip_convergence:
        bench_convergence(a.d, a.kappa, [1, 4, 16, 64], [50, 100, 200], 400)


if __name__ == "__main__":
    main()
