"""The sweep engine: run the (point, seed) tasks missing from the store, write each as it finishes, return the table."""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich import progress as rp
from rich.console import Console
from rich.text import Text

from iclab.experiment import Point
from iclab.sweep.config import point_hash
from iclab.sweep.executors import EXECUTORS, execute
from iclab.sweep.store import Store
from iclab.validation import UserInputError, check_choice, check_int

if TYPE_CHECKING:
    import pandas as pd


def open_store(store: Store | str | Path | None) -> tuple[Store, bool]:
    """``(store, owned)``: None means a temporary in-memory store; a path is opened (and closed by the caller)."""
    if isinstance(store, Store):
        return store, False
    return Store(":memory:" if store is None else store), True


def _progress_bar(enabled: bool):
    class Rate(rp.ProgressColumn):
        def render(self, task):
            speed = task.finished_speed or task.speed
            text = "- /s" if speed is None else f"{speed:.1f}/s" if speed >= 1 else f"{60 * speed:.1f}/min"
            return Text(text, style="progress.data.speed")

    return rp.Progress(rp.TextColumn("{task.description}"), rp.BarColumn(), rp.MofNCompleteColumn(), Rate(),
                       rp.TimeElapsedColumn(), rp.TextColumn("ETA"), rp.TimeRemainingColumn(),
                       rp.TextColumn("[red]{task.fields[failed]} failed"), console=Console(stderr=True),
                       disable=not enabled)


def run(compute: Callable[[dict[str, Any], int], dict[str, Any]], points: Sequence[Point], *,
        name: str, store: Store | str | Path | None = None, executor: str = "local", workers: int | None = None,
        scheduler: str | None = None, progress: bool = True) -> pd.DataFrame:
    """Run every (point, seed) not yet in the store; returns the table of all of them (cached and new).

    compute:   ``compute(config, seed) -> dict`` of JSON-serialisable metrics (module-level for process/Dask).
    points:    the sweep points; point ``p`` runs seeds ``0 .. p.seeds - 1``.
    name:      the experiment name rows are stored under (a figure id, or a sweep spec's name).
    store:     a results-store path, an open :class:`Store`, or None for an in-memory store (no caching).
    executor:  ``local`` (sequential), ``process`` (pool of ``workers`` processes, default all cores), ``dask``
               (a scheduler at ``scheduler`` = ``tcp://HOST:PORT``) or ``dask-local`` (a LocalCluster).

    Returns one row per (point, seed) in the order of ``points``: the config keys, ``seed``, the metrics and
    ``wall_time``. Failed tasks are stored with their error (retried on the next run), left out of the table and
    reported on stderr; ``df.attrs`` holds ``computed``, ``cached`` and ``failed`` (list of (config, seed, error)).
    """
    check_choice("executor", executor, EXECUTORS)
    workers = (os.cpu_count() or 1) if workers is None else check_int("workers", workers, lo=1)
    if executor == "dask" and not (scheduler and "://" in scheduler):
        raise UserInputError(f"scheduler must be a Dask scheduler address tcp://HOST:PORT with --executor dask "
                         f"(got {scheduler!r})")
    if not isinstance(name, str) or not name:
        raise UserInputError(f"name must be a non-empty string (got {name!r})")
    points = list(points)
    seeds = [check_int("seeds", p.seeds, lo=1) for p in points]
    for p in points:
        if not isinstance(p.config, dict) or {"seed", "wall_time"} & set(p.config):
            raise UserInputError(f"point config must be a dict without the keys seed and wall_time (got {p.config!r})")
    hashes = [point_hash(p.config) for p in points]

    st, owned = open_store(store)
    try:
        stored = st.status(name)
        keys, tasks, seen = [], [], set()
        for p, h, n in zip(points, hashes, seeds, strict=True):
            for seed in range(n):
                if (h, seed) not in seen and stored.get((h, seed)) != "ok":
                    keys.append((h, seed))
                    tasks.append((p.config, seed))
                seen.add((h, seed))
        n_cached = len(seen) - len(tasks)
        sweep_id = st.begin_sweep(name, sorted(set(zip(hashes, seeds, strict=True))),
                                  executor, len(seen))
        t0, n_failed = time.perf_counter(), 0
        n_done = 0
        outcomes = execute(executor, compute, tasks, workers=workers, scheduler=scheduler)
        with _progress_bar(progress and bool(tasks)) as bar, contextlib.closing(outcomes):
            task_id = bar.add_task(name, total=len(seen), completed=n_cached, failed=0)
            try:
                for i, (status, payload, wall) in outcomes:
                    (h, seed), (config, _) = keys[i], tasks[i]
                    if status == "ok":
                        st.put(name, h, seed, config, metrics=payload, wall_time=wall)
                    else:
                        n_failed += 1
                        st.put(name, h, seed, config, error=payload, wall_time=None if math.isnan(wall) else wall)
                    n_done += 1
                    bar.update(task_id, advance=1, failed=n_failed)
            except KeyboardInterrupt:  # every finished row is already committed; closing() stops the workers
                where = "memory" if st.path is None else st.path
                print(f"iclab: {name}: interrupted; kept {n_cached + n_done - n_failed} of {len(seen)} runs "
                      f"({n_done} new) in {where}; run the same command again to compute the rest",
                      file=sys.stderr)
                raise
        st.end_sweep(sweep_id, elapsed=time.perf_counter() - t0, n_computed=len(tasks), n_failed=n_failed)
        df, failed = _table(st, name, points, hashes, seeds)
    finally:
        if owned:
            st.close()
    df.attrs.update(computed=len(tasks), cached=n_cached, failed=failed)
    if failed:
        config, seed, error = failed[0]
        print(f"iclab: {name}: {len(failed)} of {len(seen)} runs failed and are left out (retried on the next "
              f"run); first: seed {seed} of {config}: {error.splitlines()[0]}", file=sys.stderr)
    return df


def first_failure(failed: list) -> str:
    """"seed S of CONFIG:" and the stored error (with its traceback) of the first of a table's failed runs
    (``df.attrs["failed"]``), for the error that a caller needing every run raises."""
    config, seed, error = failed[0]
    return f"seed {seed} of {config}:\n{error}"


def _table(st: Store, name: str, points: list[Point], hashes: list[str],
           seeds: list[int]) -> tuple[pd.DataFrame, list]:
    """The rows of ``points`` from the store, in order; and the failed (config, seed, error) triples."""
    by_key = {(r["point_hash"], r["seed"]): r for r in st.rows(name)}
    rows, failed, seen = [], [], set()
    for p, h, n in zip(points, hashes, seeds, strict=True):
        for seed in range(n):
            if (h, seed) in seen:
                continue
            seen.add((h, seed))
            r = by_key.get((h, seed))
            if r is None:
                continue
            if r["status"] != "ok":
                failed.append((p.config, seed, r["error"] or ""))
                continue
            rows.append({**p.config, "seed": seed, **r["metrics"], "wall_time": r["wall_time"]})
    import pandas as pd  # here, not at import: a process-pool sweep imports it while its workers compute

    return pd.DataFrame.from_records(rows), failed
