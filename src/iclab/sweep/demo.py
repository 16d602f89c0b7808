"""Cheap compute functions for tests, benchmarks and trying the engine (``experiment: iclab.sweep.demo:noisy_mean``).

They live in the package, not in tests, so that spawned worker processes and Dask workers can import them. A worker
imports this whole module to run one of them, so the toy figure's plotting imports pandas and matplotlib only when
it plots (together 2-3 s of start-up per worker, measured with ``python -X importtime``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info

from iclab import runtime
from iclab.experiment import Experiment, Point
from iclab.settings import param


def noisy_mean(config: dict, seed: int) -> dict:
    """Mean of ``n`` draws of N(mu, 1) with generator ``(seed, round(1e6 * mu))``: deterministic per (point, seed)."""
    mu, n = float(config["mu"]), int(config.get("n", 100))
    rng = np.random.default_rng([seed, int(round(1e6 * mu)) % 2**32])
    draws = rng.normal(mu, 1.0, size=n)
    return {"mean": float(draws.mean()), "sem": float(draws.std(ddof=1) / np.sqrt(n)), "first": draws[:3]}


def logged_sleep(config: dict, seed: int) -> dict:
    """Sleep ``sleep`` seconds, then append ``"<x> <seed>"`` to the file ``log`` (if given): counts real calls."""
    time.sleep(float(config.get("sleep", 0.01)))
    if config.get("log"):
        fd = os.open(config["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{config['x']} {seed}\n".encode())  # one write with O_APPEND: lines never interleave
        finally:
            os.close(fd)
    return {"y": float(config["x"]) ** 2 + seed}


def cpu_bound(config: dict, seed: int) -> dict:
    """A pure-Python loop of ``n`` steps (holds the GIL: only processes run it in parallel).

    Returns the loop's result and the CPU seconds this process spent on it (for the benchmark's core count).
    """
    n, a = int(config.get("n", 200_000)), int(config.get("a", 1))
    t0 = time.process_time()
    x, acc = (seed * 2654435761 + a) % 2**32, 0
    for _ in range(n):
        x = (1664525 * x + 1013904223) % 2**32
        acc += x >> 16
    return {"mean": acc / n, "cpu_s": time.process_time() - t0}


def fails_on(config: dict, seed: int) -> dict:
    """Raise for points whose ``x`` is listed in ``fail`` (to test failure handling); else ``{"y": x}``."""
    if config["x"] in config.get("fail", []):
        raise RuntimeError(f"planned failure at x={config['x']}")
    return {"y": float(config["x"])}


def process_set_up(config: dict, seed: int) -> dict:
    """What the worker's set-up (:func:`iclab.runtime.configure_process`) left in this process: the most threads
    of any BLAS, scipy's own OpenBLAS included (loaded here, after the set-up), and whether the allocator was
    tuned (1) or not (0)."""
    import scipy.linalg  # noqa: F401  (here, not at the top: a BLAS loaded after the set-up must be limited too)

    threads = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    return {"blas_libraries": len(threads), "blas_threads": max(threads),
            "allocator_tuned": runtime.keep_freed_memory.cache_info().currsize}


# -- a toy "figure": the Monte Carlo mean of N(mu, 1) against its theory value mu ---------------------------------

@dataclass(frozen=True)
class DemoSettings:
    mu: tuple[float, ...] = param((0.0, 0.5, 1.0, 1.5), doc="the means, one point each")
    n: int = param(100, lo=2, doc="draws per run")
    runs: int = param(4, lo=1, doc="independent runs per point")


SETTINGS = {"quick": DemoSettings(), "paper": DemoSettings(runs=20)}


def _points(s: DemoSettings, theory_only: bool) -> list[Point]:
    return [Point({"mu": float(mu), "n": s.n}, seeds=s.runs) for mu in s.mu]


def _agreement(df):
    import pandas as pd  # when plotting only: see the module docstring

    g = df.groupby("mu")["mean"]
    out = pd.DataFrame({"quantity": [f"mean at mu={mu:g}" for mu in g.mean().index], "sim_mean": g.mean().values,
                        "sim_sem": (g.std(ddof=1) / np.sqrt(g.count())).values, "theory": g.mean().index.values})
    out["z"] = (out["sim_mean"] - out["theory"]) / out["sim_sem"]
    return out


def _plot(df, out_dir):
    import matplotlib.pyplot as plt  # when plotting only: see the module docstring

    a = _agreement(df)
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.errorbar(a["theory"], a["sim_mean"], yerr=a["sim_sem"], fmt="o", label="simulation")
    ax.plot(a["theory"], a["theory"], "-", label="theory")
    ax.set(xlabel="mu", ylabel="mean", title="demo")
    ax.legend()
    png, csv = Path(out_dir) / "demo.png", Path(out_dir) / "demo.csv"
    fig.savefig(png, dpi=80)
    plt.close(fig)
    a.to_csv(csv, index=False)
    return [png, csv]


EXPERIMENT = Experiment(id="demo", title="Demo: Monte Carlo mean of N(mu, 1) against mu", points=_points,
                        compute=noisy_mean, plot=_plot, settings=SETTINGS, agreement=_agreement)
