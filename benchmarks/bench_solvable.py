"""Speed of the solvable model (issue 3), each ratio against a baseline measured in the same run.

1. Gamma* solver (method="auto") vs dense normal equations (the authors' chunked Gram accumulation + Cholesky,
   method="primal") at d = 64 over the Figure 1 tau grid (alpha = 10, kappa = 0.5, rho = 0.01, lam = 1e-5).
   Target >= 10x overall.
2. Fast O(d) sampler vs the naive one that builds every context, d = 100, alpha = 10. Target >= 50x.
3. The authors' quick CPU figure (Figure 4 protocol, lu2024.md §7.4: d = 32, alpha = 10, tau = 10, 12 kappas,
   20 Gamma* runs and 1000 dMMSE test prompts per kappa): they report 4 min 20 s. Target < 10 s.
4. Peak RSS of the d = 100, tau = 2 solve (a fresh subprocess). Target < 4 GiB.

All single-threaded BLAS (``blas_threads(1)``) so that the comparison is per core. Writes nothing.
Usage: python benchmarks/bench_solvable.py [--skip SECTION ...]   (sections: solver sampler fig4 rss)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import numpy as np

from iclab.estimators import dmmse_point
from iclab.solvable import pretraining_tasks, sample_stats, sample_stats_naive, simulate_point, solve_gamma
from iclab.solvable._threads import blas_threads

FIG1_TAUS = (0.2, 0.5, 0.85, 1.15, 1.5, 2.0)
FIG4_KAPPAS = (0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.6, 2.0, 4.0, 8.0, 16.0, 32.0)


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def bench_solver(d: int = 64, alpha: float = 10.0, lam: float = 1e-5):
    print(f"\n[1] Gamma* solver vs dense normal equations, d = {d}, alpha = {alpha:g}, kappa = 0.5, lam = {lam:g}")
    print(f"{'tau':>6} {'n':>7} {'method':>7} {'iters':>6} {'auto s':>8} {'dense s':>8} {'ratio':>7} {'rel diff':>9}")
    tot_auto = tot_dense = 0.0
    warm = np.random.default_rng(1)
    solve_gamma(*sample_stats(warm, pretraining_tasks(warm, 8, 0.5, 0.5)[0], 8, 0.01), lam)  # import/first-call costs
    for tau in FIG1_TAUS:
        rng = np.random.default_rng(0)
        pool, idx = pretraining_tasks(rng, d, tau, 0.5)
        h, xq, y = sample_stats(rng, pool[idx], round(alpha * d), 0.01)
        (g, info), t_auto = timed(solve_gamma, h, xq, y, lam, return_info=True)
        ref, t_dense = timed(solve_gamma, h, xq, y, lam, method="primal")
        rel = np.abs(g - ref).max() / np.abs(ref).max()
        tot_auto += t_auto
        tot_dense += t_dense
        print(f"{tau:6.2f} {len(y):7d} {info.method:>7} {info.iterations:6d} {t_auto:8.2f} {t_dense:8.2f} "
              f"{t_dense / t_auto:7.1f} {rel:9.1e}", flush=True)
    print(f"{'all':>6} {'':7} {'':7} {'':6} {tot_auto:8.2f} {tot_dense:8.2f} {tot_dense / tot_auto:7.1f}"
          "   (target >= 10x)")


def bench_sampler(d: int = 100, alpha: float = 10.0, n_naive: int = 1000, n_fast: int = 20000):
    ell = round(alpha * d)
    print(f"\n[2] fast vs naive sampler, d = {d}, ell = {ell} (per context)")
    rng = np.random.default_rng(0)
    tasks = pretraining_tasks(rng, d, 2.0, 0.5)[0]
    _, t_naive = timed(sample_stats_naive, rng, tasks[rng.integers(0, len(tasks), n_naive)], ell, 0.01)
    _, t_fast = timed(sample_stats, rng, tasks[rng.integers(0, len(tasks), n_fast)], ell, 0.01)
    per_naive, per_fast = t_naive / n_naive, t_fast / n_fast
    print(f"naive {per_naive * 1e6:9.1f} us/context ({n_naive} contexts)   fast {per_fast * 1e6:7.2f} us/context "
          f"({n_fast})   ratio {per_naive / per_fast:7.1f}x   (target >= 50x)")


def bench_fig4(d: int = 32, runs: int = 20, n_test: int = 1000):
    print(f"\n[3] the authors' quick figure (Fig. 4 CPU demo, d = {d}, alpha = 10, tau = 10, {len(FIG4_KAPPAS)} "
          f"kappas x ({runs} Gamma* runs + {n_test} dMMSE prompts)); authors: 260 s")
    t_gamma = t_dmmse = 0.0
    for kappa in FIG4_KAPPAS:
        cfg = {"d": d, "tau": 10.0, "alpha": 10.0, "kappa": kappa, "rho": 0.01, "lam": 1e-6}
        t = time.perf_counter()
        g = [(r["e_icl"] - r["e_idg"]) for r in (simulate_point(cfg, s) for s in range(runs))]
        t_gamma += time.perf_counter() - t
        out, dt = timed(dmmse_point, {"d": d, "alpha": 10.0, "kappa": kappa, "rho": 0.01, "n_test": n_test}, 0)
        t_dmmse += dt
        print(f"kappa {kappa:5.1f}: g_task Gamma* {np.mean(g):.4f} +- {np.std(g):.4f}   dMMSE {out['g_task']:.3f}",
              flush=True)
    total = t_gamma + t_dmmse
    print(f"Gamma* {t_gamma:.1f} s + dMMSE {t_dmmse:.1f} s = {total:.1f} s   vs authors 260 s: {260 / total:.1f}x "
          "faster   (target < 10 s)")


RSS_CHILD = """
import resource, numpy as np
from iclab.solvable import pretraining_tasks, sample_stats, solve_gamma
rng = np.random.default_rng(0)
pool, idx = pretraining_tasks(rng, 100, 2.0, 0.5)
h, xq, y = sample_stats(rng, pool[idx], 1000, 0.01)
g, info = solve_gamma(h, xq, y, 1e-8, return_info=True)
print(info.method, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def bench_rss():
    print("\n[4] peak RSS of the d = 100, tau = 2 solve (alpha = 10, kappa = 0.5, lam = 1e-8), fresh process")
    (out, dt) = timed(subprocess.run, [sys.executable, "-c", RSS_CHILD], capture_output=True, text=True, check=True)
    method, kib = out.stdout.split()
    print(f"method {method}: peak RSS {int(kib) / 2**20:.2f} GiB in {dt:.1f} s   (target < 4 GiB)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip", nargs="*", default=[], choices=["solver", "sampler", "fig4", "rss"])
    args = parser.parse_args()
    with blas_threads(1):
        if "solver" not in args.skip:
            bench_solver()
        if "sampler" not in args.skip:
            bench_sampler()
        if "fig4" not in args.skip:
            bench_fig4()
    if "rss" not in args.skip:
        bench_rss()


if __name__ == "__main__":
    main()
