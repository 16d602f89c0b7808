"""Γ* simulations started from the explorer page.

A job simulates the solvable model (Lu et al. 2025, §3) at a few points along the page's x axis, ``runs`` seeds
each, through the sweep engine into the results store: repeats are cached, and a finished run survives the page.
The sweep runs in a child process, so the server's threads (and the page's latency) do not share the GIL with the
solver; the server reads progress from the store, which SQLite's WAL mode lets it read while the child writes.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iclab.experiment import Point
from iclab.experiments.solvable_points import simulate_point
from iclab.explore.view import LOG_AXES, View
from iclab.sweep.config import point_hash
from iclab.sweep.engine import run as run_sweep
from iclab.sweep.store import Store
from iclab.validation import UserInputError, check_int

STORE_NAME = "explore"
MAX_D = 128            # d(d+1) unknowns: d = 128 is 16,512; the page is for minutes-scale checks, not paper runs
MAX_CONTEXTS = 300_000  # n = τd² contexts of one run at the largest τ on the axis
RIDGELESS_LAM = 1e-5   # the λ that stands for "ridgeless" in simulations, as in Lu et al. §7.1
N_POINTS = 6


def sim_points(view: View, d: int, runs: int) -> list[Point]:
    """``N_POINTS`` points spread over the visible x range (geometrically on log axes), rounded to 3 significant
    digits so that repeats hit the store; τ = 1 exactly is avoided (the ridgeless peak)."""
    if view.structured:
        raise UserInputError("train and test must be iso to simulate here: the page's simulations are of isotropic "
                             "tasks; the structured ones are in `iclab reproduce letey2025-fig1`")
    d = check_int("d", d, lo=4, hi=MAX_D)
    runs = check_int("runs", runs, lo=1, hi=20)
    lo, hi = view.x_min, view.x_max
    xs = np.geomspace(lo, hi, N_POINTS) if view.x in LOG_AXES else np.linspace(lo, hi, N_POINTS)
    xs = sorted({float(f"{x:.3g}") for x in xs} - {1.0})
    lam = view.lam if view.lam > 0 else RIDGELESS_LAM
    points = []
    for x in xs:
        p = {"tau": view.tau, "alpha": view.alpha, "kappa": view.kappa, "rho": view.rho, view.x: x}
        if p["tau"] * d * d > MAX_CONTEXTS:
            raise UserInputError(f"d = {d} with tau up to {p['tau']:g} needs {p['tau'] * d * d:.3g} contexts "
                                 f"(limit {MAX_CONTEXTS:g} in the explorer); lower d or the tau range, or use "
                                 f"`iclab simulate`")
        if round(p["alpha"] * d) < 1 or (math.isfinite(p["kappa"]) and round(p["kappa"] * d) < 1):
            raise UserInputError(f"d = {d} is too small for alpha = {p['alpha']:g} or kappa = {p['kappa']:g}: "
                                 f"alpha*d and kappa*d must round to >= 1")
        kappa = "inf" if math.isinf(p["kappa"]) else p["kappa"]
        points.append(Point({"d": d, "tau": p["tau"], "alpha": p["alpha"], "kappa": kappa, "rho": p["rho"],
                             "lam": lam}, seeds=runs))
    return points


def _run(store: str, points: list[Point]) -> None:
    """Child-process body: the sweep, cached in ``store`` under ``STORE_NAME``."""
    run_sweep(simulate_point, points, name=STORE_NAME, store=store, executor="local", progress=False)


@dataclass
class Job:
    id: str
    view: View
    d: int
    runs: int
    points: list[Point]
    process: mp.Process | None = None
    error: str | None = None

    @property
    def total(self) -> int:
        return sum(p.seeds for p in self.points)


class Jobs:
    """The simulation jobs of one server; every job writes to one store."""

    def __init__(self, store: Path | str):
        self.store = str(store)
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._ctx = mp.get_context("spawn")  # never fork a threaded server

    def start(self, view: View, d: int, runs: int) -> Job:
        points = sim_points(view, d, runs)
        job = Job(uuid.uuid4().hex[:12], view, int(d), int(runs), points)
        job.process = self._ctx.Process(target=_run, args=(self.store, points), daemon=True, name="iclab-explore")
        job.process.start()
        with self._lock:
            self._jobs[job.id] = job
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise UserInputError(f"job must be one of the running or finished jobs (got {job_id!r})")
        return job

    def status(self, job_id: str) -> dict:
        """``{"done", "total", "finished", "error", "label", "x", "mean", "std"}`` of one job (JSON-ready)."""
        job = self.get(job_id)
        finished = job.process is not None and not job.process.is_alive()
        by_hash = {point_hash(p.config): p for p in job.points}
        rows = []
        if Path(self.store).exists():
            with Store(self.store, readonly=True) as st:
                rows = [r for r in st.rows(STORE_NAME, status="ok") if r["point_hash"] in by_hash]
        out = {"done": len(rows), "total": job.total, "finished": finished, "error": None,
               "label": f"Γ* simulation, d = {job.d}, mean ± std of {job.runs} run{'s' * (job.runs > 1)}"}
        if finished and job.process.exitcode != 0 and len(rows) < job.total:
            out["error"] = f"the simulation process ended with exit code {job.process.exitcode}"
        out.update(_summary(job, by_hash, rows))
        return out

    def stop_all(self) -> None:
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            if job.process is not None and job.process.is_alive():
                job.process.terminate()
                job.process.join(5)


def _summary(job: Job, by_hash: dict, rows: list[dict]) -> dict:
    """Mean and std over seeds of e_ICL, e_IDG and g_task per finished point, in x order."""
    per: dict[str, list[dict]] = {}
    for r in rows:
        per.setdefault(r["point_hash"], []).append(r["metrics"])
    xs, mean, std = [], {m: [] for m in ("e_icl", "e_idg", "g_task")}, {m: [] for m in ("e_icl", "e_idg", "g_task")}
    for h, p in by_hash.items():
        ms = per.get(h)
        if not ms:
            continue
        x = p.config[job.view.x]
        xs.append(math.inf if x == "inf" else float(x))
        icl = np.array([m["e_icl"] for m in ms])
        idg = np.array([m["e_idg"] for m in ms])
        for key, v in (("e_icl", icl), ("e_idg", idg), ("g_task", icl - idg)):
            mean[key].append(float(v.mean()))
            std[key].append(float(v.std(ddof=1)) if v.size > 1 else 0.0)
    return {"x": xs, "mean": mean, "std": std}
