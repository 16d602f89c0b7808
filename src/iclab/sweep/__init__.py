"""The sweep engine: run ``compute(config, seed)`` over points, cache results, return a table.

Minimal sequential version; the full engine (SQLite store, resumable process pool, Dask) replaces the body of
:func:`run` while keeping its signature.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from iclab.experiments import Point


def run(compute: Callable[[dict[str, Any], int], dict[str, Any]], points: Sequence[Point], *,
        name: str, store=None, executor: str = "local", workers: int | None = None,
        scheduler: str | None = None, progress: bool = True) -> pd.DataFrame:
    """Run every (point, seed); returns one row per (point, seed): config columns, ``seed``, metrics."""
    rows = []
    for p in points:
        for seed in range(p.seeds):
            t0 = time.perf_counter()
            metrics = compute(dict(p.config), seed)
            rows.append({**p.config, "seed": seed, **metrics, "wall_time": time.perf_counter() - t0})
    return pd.DataFrame(rows)
