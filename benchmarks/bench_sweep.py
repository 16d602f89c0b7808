"""Process pool vs sequential on a CPU-bound sweep (target: >= 1.7x on 2 cores).

Both runs use an in-memory store and the same tasks (``iclab.sweep.demo.cpu_bound``, a pure-Python loop that holds
the GIL); the pool's time includes starting its worker processes. Prints the ratio, the load average and the
cores the tasks actually obtained (their CPU seconds over the wall time): on a shared machine, and with the
kernel's per-session CPU fair share (autogroup), a second process may get no more CPU than the first alone.

    python benchmarks/bench_sweep.py [--tasks 64] [--steps 1000000] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import time

from iclab import sweep
from iclab.experiment import Point
from iclab.sweep import demo


def timed(executor: str, points, workers: int) -> tuple[float, list[float], float]:
    """Wall seconds, the results, and the CPU seconds the tasks themselves got."""
    t0 = time.perf_counter()
    df = sweep.run(demo.cpu_bound, points, name="bench", executor=executor, workers=workers, progress=False)
    return time.perf_counter() - t0, df["mean"].tolist(), float(df["cpu_s"].sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=64)
    ap.add_argument("--steps", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    points = [Point({"n": args.steps, "a": a}, seeds=1) for a in range(args.tasks)]
    print(f"{args.tasks} tasks of {args.steps} pure-Python steps; {os.cpu_count()} cores; "
          f"load average before: {os.getloadavg()[0]:.2f}")
    t_start, _, _ = timed("process", [Point({"n": 1, "a": a}) for a in range(args.workers)], args.workers)
    t_seq, ref, cpu_seq = timed("local", points, 1)
    t_pool, got, cpu_pool = timed("process", points, args.workers)
    assert got == ref, "the pool must give the same numbers"
    print(f"sequential            {t_seq:7.2f} s   ({t_seq / args.tasks * 1e3:.0f} ms per task)")
    print(f"process pool x{args.workers}       {t_pool:7.2f} s   (of which ~{t_start:.2f} s starting the workers)")
    print(f"speed-up              {t_seq / t_pool:7.2f}x   end to end (target >= 1.7x on 2 free cores)")
    print(f"speed-up              {t_seq / max(t_pool - t_start, 1e-9):7.2f}x   excluding the pool start; "
          f"load average after: {os.getloadavg()[0]:.2f}")
    # cores the tasks actually got: 1 and ~workers on an idle machine; less when others share the cores
    print(f"cores obtained        {cpu_seq / t_seq:7.2f} sequential, {cpu_pool / max(t_pool - t_start, 1e-9):.2f} "
          f"in the pool (excluding its start)")


if __name__ == "__main__":
    main()
