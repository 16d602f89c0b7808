"""The sweep engine: run ``compute(config, seed)`` over points, cache every result, return a table.

- :func:`run` (in :mod:`.engine`): the entry point used by ``iclab reproduce`` and ``iclab sweep``;
- :mod:`.config`: point identity (canonical config JSON and its hash);
- :mod:`.store`: the SQLite results store;
- :mod:`.executors`: local, process-pool and Dask executors;
- :mod:`.spec`: sweep specs (YAML) and grid expansion;
- :mod:`.summary`: per-point mean and std of stored rows (``iclab results show``);
- :mod:`.report`: the HTML reproduction report;
- :mod:`.demo`: cheap compute functions for tests and benchmarks.
"""

from iclab.sweep.config import SCHEMA_VERSION, point_hash

__all__ = ["SCHEMA_VERSION", "Store", "point_hash", "run"]


def __getattr__(name: str):
    # imported on first use, so that worker processes (which import iclab.sweep.executors) skip pandas
    if name == "run":
        from iclab.sweep.engine import run

        return run
    if name == "Store":
        from iclab.sweep.store import Store

        return Store
    raise AttributeError(f"module 'iclab.sweep' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
