"""Speed of the solvable model (issue 3), each ratio against a baseline measured in the same run.

1. Gamma* solver (method="auto") vs dense normal equations (the authors' method: the n x p rank-one features
   built chunk by chunk, their Gram accumulated by syrk, then Cholesky; :func:`dense_normal_equations`) at
   d = 64 over the Figure 1 tau grid (alpha = 10, kappa = 0.5, rho = 0.01, lam = 1e-5).
   Target >= 10x overall.
2. Fast O(d) sampler vs the naive one that builds every context, d = 100, alpha = 10. Target >= 50x.
3. The authors' quick CPU version of Lu et al. 2024, Figure 4 (d = 32, alpha = 10, tau = 10, 12 kappas, 20 Gamma*
   runs and 1000 dMMSE test prompts per kappa): their code reports 4 min 20 s. Target < 10 s. Measured twice:
   CPU seconds of the computations on one core, and wall time of ``iclab reproduce lu2024-fig4-demo`` on 2 cores.
4. Peak RSS of the d = 100, tau = 2 solve (a fresh subprocess), and of the p x p primal method on the same data
   (the worst case the memory cap admits). Target < 4 GiB.

Sections 1–3 run with one BLAS thread and report CPU seconds of this process (best of a few repeats in 1–2), so
that the ratios measure work per core even on a shared, loaded machine; the end of 3, and 4–5, report wall time.
Writes nothing.
5. (opt-in) ``iclab reproduce lu2024-fig1 --scale paper`` with 2 worker processes. Target < 15 min.
6. (opt-in) One Gamma* run at d = 256, tau = 2, alpha = 10, kappa = 0.5, lam = 1e-5 (the top of the paper-scale
   finite-size ladder: p = 65,792 unknowns, n = 131,072 contexts) in a fresh process with one BLAS thread: wall
   time of sampling, solve and exact errors, and peak RSS (VmHWM). Target < 4 GiB: the matrix-free CG never forms
   the n x p feature matrix (that alone would be 69 GB).

Usage: python benchmarks/bench_solvable.py [--sections solver sampler fig4 rss fig1paper d256]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np
import scipy.linalg as sla
from scipy.linalg import blas

from iclab.experiments.solvable_points import dmmse_point, simulate_point
from iclab.runtime import configure_process
from iclab.solvable import pretraining_tasks, sample_stats, sample_stats_naive, solve_gamma

FIG1_TAUS = (0.2, 0.5, 0.85, 1.15, 1.5, 2.0)


def timed(fn, *args, repeat: int = 1, **kwargs):
    """(result, best CPU time of ``repeat`` calls). CPU time of this process, not wall time: with one BLAS thread
    it measures the work done, whatever else runs on a shared machine."""
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        out = fn(*args, **kwargs)
        best = min(best, time.process_time() - t)
    return out, best


def dense_normal_equations(h, xq, y, lam):
    """The baseline: (Phi^T Phi + (n/d) lam I) vec(Gamma) = Phi^T y with Phi = rows x_mu (x) h_mu, Phi^T Phi
    accumulated chunk by chunk with syrk (no structure used), then a Cholesky solve."""
    n, d = xq.shape
    p = d * (d + 1)
    G = np.zeros((p, p), order="F")
    step = max(1, 2**23 // p)
    for i in range(0, n, step):
        phi = np.einsum("na,nb->nab", xq[i:i + step], h[i:i + step]).reshape(-1, p)
        G = blas.dsyrk(1.0, phi.T, beta=1.0, c=G, trans=0, lower=1, overwrite_c=1)
    G.flat[:: p + 1] += n / d * lam
    rhs = (xq.T @ (y[:, None] * h)).reshape(p)
    return sla.cho_solve(sla.cho_factor(G, lower=True, check_finite=False), rhs).reshape(d, d + 1)


def bench_solver(d: int = 64, alpha: float = 10.0, lam: float = 1e-5):
    print(f"\n[1] Gamma* solver vs dense normal equations, d = {d}, alpha = {alpha:g}, kappa = 0.5, lam = {lam:g}")
    print(f"{'tau':>6} {'n':>7} {'method':>7} {'iters':>6} {'auto cpu':>8} {'dense':>8} {'ratio':>7} {'rel diff':>9}")
    tot_auto = tot_dense = 0.0
    warm = np.random.default_rng(1)
    pool, idx = pretraining_tasks(warm, 8, 2.0, 0.5)
    solve_gamma(*sample_stats(warm, pool[idx], 8, 0.01), lam)  # import and first-call costs out of the timings
    for tau in FIG1_TAUS:
        rng = np.random.default_rng(0)
        pool, idx = pretraining_tasks(rng, d, tau, 0.5)
        h, xq, y = sample_stats(rng, pool[idx], round(alpha * d), 0.01)
        (g, info), t_auto = timed(solve_gamma, h, xq, y, lam, return_info=True, repeat=3)
        ref, t_dense = timed(dense_normal_equations, h, xq, y, lam, repeat=2)
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
    _, t_naive = timed(sample_stats_naive, rng, tasks[rng.integers(0, len(tasks), n_naive)], ell, 0.01, repeat=2)
    _, t_fast = timed(sample_stats, rng, tasks[rng.integers(0, len(tasks), n_fast)], ell, 0.01, repeat=3)
    per_naive, per_fast = t_naive / n_naive, t_fast / n_fast
    print(f"naive {per_naive * 1e6:9.1f} us/context ({n_naive} contexts)   fast {per_fast * 1e6:7.2f} us/context "
          f"({n_fast})   ratio {per_naive / per_fast:7.1f}x   (target >= 50x)")


def bench_fig4(runs: int = 20, n_test: int = 1000):
    """The demo's computations (its own sweep points) one after another in this process (CPU seconds, one core),
    then the whole ``iclab reproduce lu2024-fig4-demo`` (sweep engine, store, plot) with 2 worker processes (wall
    time)."""
    from iclab.experiments import get_experiment
    from iclab.experiments.lu2024_fig4_demo import DEMO, KAPPAS

    pts = get_experiment("lu2024-fig4-demo").plan("demo", False, {"runs": runs, "n_test": n_test})
    gamma = {p.config["kappa"]: p.config for p in pts if p.config["kind"] == "gamma"}
    dmmse = {p.config["kappa"]: p.config for p in pts if p.config["kind"] == "dmmse"}
    print(f"\n[3] the authors' quick figure (Fig. 4 CPU demo, d = {DEMO['d']}, alpha = 10, tau = 10, {len(KAPPAS)} "
          f"kappas x ({runs} Gamma* runs to CG rtol {DEMO['rtol']:g} + {n_test} dMMSE prompts)); authors: 260 s")
    t_gamma = t_dmmse = 0.0
    for kappa in KAPPAS:
        t = time.process_time()
        g = [(r["e_icl"] - r["e_idg"]) for r in (simulate_point(gamma[kappa], s) for s in range(runs))]
        t_gamma += time.process_time() - t
        out, dt = timed(dmmse_point, dmmse[kappa], 0)
        t_dmmse += dt
        print(f"kappa {kappa:5.1f}: g_task Gamma* {np.mean(g):.4f} +- {np.std(g):.4f}   dMMSE {out['g_task']:.3f}",
              flush=True)
    total = t_gamma + t_dmmse
    print(f"Gamma* {t_gamma:.1f} s + dMMSE {t_dmmse:.1f} s = {total:.1f} CPU s on one core   vs authors 260 s: "
          f"{260 / total:.1f}x faster")
    wall = _reproduce_wall("lu2024-fig4-demo", "demo")
    print(f"iclab reproduce lu2024-fig4-demo, 2 worker processes: {wall:.1f} s wall ({os.cpu_count()} cores; "
          f"imports, store and plot included)   (target < 10 s)")


# VmHWM, not getrusage's ru_maxrss: on Linux the latter keeps the parent's RSS from before the exec (this
# benchmark's own, after section 1's dense p x p matrices), which is not the solve's footprint
RSS_CHILD = """
import numpy as np
from iclab.solvable import pretraining_tasks, sample_stats, solve_gamma
rng = np.random.default_rng(0)
pool, idx = pretraining_tasks(rng, 100, 2.0, 0.5)
h, xq, y = sample_stats(rng, pool[idx], 1000, 0.01)
for method in ("auto", "primal"):
    g, info = solve_gamma(h, xq, y, 1e-8, method=method, return_info=True)
    hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
    print(info.method, hwm)
"""


def bench_rss():
    print("\n[4] peak RSS of the d = 100, tau = 2 solve (alpha = 10, kappa = 0.5, lam = 1e-8), fresh process")
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", RSS_CHILD], capture_output=True, text=True, check=True)
    dt = time.perf_counter() - t
    (method, kib), (_, kib_primal) = (line.split() for line in out.stdout.splitlines())
    print(f"method {method}: peak RSS {int(kib) / 2**20:.2f} GiB; then the dense-Gram primal method on the same "
          f"data: {int(kib_primal) / 2**20:.2f} GiB; {dt:.1f} s wall with imports   (target < 4 GiB)")


REPRODUCE_CHILD = """
import sys, time
t = time.perf_counter()
from iclab.sweep.reproduce import run_experiment
run_experiment(sys.argv[1], scale=sys.argv[2], out_dir=sys.argv[3], store=sys.argv[4], executor="process",
               workers=2, progress=False)
print(time.perf_counter() - t)
"""


def _reproduce_wall(figure: str, scale: str) -> float:
    """Wall seconds of ``iclab reproduce FIGURE --scale SCALE`` with 2 worker processes in a fresh interpreter,
    into a temporary folder and store (nothing cached)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-c", REPRODUCE_CHILD, figure, scale, tmp, f"{tmp}/store.sqlite"],
                             capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def bench_fig1_paper():
    print("\n[5] iclab reproduce lu2024-fig1 --scale paper (d = 100, 10 runs per point), 2 worker processes")
    wall = _reproduce_wall("lu2024-fig1", "paper")
    print(f"wall time {wall / 60:.1f} min   (target < 15 min on 2 cores)")


D256_CHILD = """
import time
import numpy as np
from iclab.runtime import configure_process
from iclab.solvable import pretraining_tasks, sample_stats, solve_gamma, test_error
def hwm():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) / 2**20
configure_process()
d, tau, alpha, rho, lam = 256, 2.0, 10.0, 0.01, 1e-5
t0 = time.perf_counter()
rng = np.random.default_rng(0)
pool, idx = pretraining_tasks(rng, d, tau, 0.5)
h, xq, y = sample_stats(rng, pool, round(alpha * d), rho, idx)
t1, c1 = time.perf_counter(), time.process_time()
gamma, info = solve_gamma(h, xq, y, lam, rtol=1e-8, return_info=True)
t2, c2 = time.perf_counter(), time.process_time()
e_icl, e_idg = test_error(gamma, round(alpha * d), rho), test_error(gamma, round(alpha * d), rho, tasks=pool)
t3 = time.perf_counter()
print(len(y), d * (d + 1), info.method, info.iterations, t1 - t0, t2 - t1, c2 - c1, t3 - t2, hwm(), e_icl, e_idg)
"""


def bench_d256():
    print("\n[6] one Gamma* run at d = 256, tau = 2, alpha = 10, kappa = 0.5, lam = 1e-5, one BLAS thread, fresh "
          "process")
    out = subprocess.run([sys.executable, "-c", D256_CHILD], capture_output=True, text=True, check=True)
    n, p, method, iters, t_sample, t_solve, cpu_solve, t_err, gib, e_icl, e_idg = out.stdout.split()
    print(f"n = {n} contexts, p = {p} unknowns: sample {float(t_sample):.1f} s, solve ({method}, {iters} "
          f"iterations) {float(t_solve):.1f} s wall / {float(cpu_solve):.1f} CPU s, exact errors {float(t_err):.1f} s "
          f"wall; peak RSS {float(gib):.2f} GiB "
          f"(target < 4 GiB); e_ICL {float(e_icl):.4f}, e_IDG {float(e_idg):.4f}")


SECTIONS = {"solver": bench_solver, "sampler": bench_sampler, "fig4": bench_fig4, "rss": bench_rss,
            "fig1paper": bench_fig1_paper, "d256": bench_d256}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", nargs="*", default=["solver", "sampler", "fig4", "rss"], choices=list(SECTIONS),
                        help="what to run (opt-in: fig1paper, the full paper-scale Figure 1, ~15 min or more; "
                             "d256, one d = 256 solve, ~1 min and ~2 GiB)")
    args = parser.parse_args()
    configure_process()  # this script is an entry point: one BLAS thread (rss, fig1paper, d256: subprocesses)
    for name in args.sections:
        SECTIONS[name]()


if __name__ == "__main__":
    main()
