"""The sweep engine: run ``compute(config, seed)`` over points, cache every result, return a table.

- :func:`run` (in :mod:`.engine`): the entry point used by ``iclab reproduce`` and ``iclab sweep``;
- :mod:`.config`: point identity (canonical config JSON and its hash);
- :mod:`.store`: the SQLite results store;
- :mod:`.executors`: local, process-pool and Dask executors;
- :mod:`.spec`: sweep specs (YAML) and grid expansion;
- :mod:`.summary`: per-point mean and std of stored rows (``iclab results show``);
- :mod:`.reproduce`: one paper figure through the store (:func:`~iclab.sweep.reproduce.run_experiment`);
- :mod:`.report`: the HTML reproduction report;
- :mod:`.demo`: cheap compute functions for tests and benchmarks.

Worker processes import this package too (they unpickle :func:`.executors.call`): nothing here imports pandas,
which the engine loads only when it builds the results table (1.3 s of start-up on a loaded 2-core machine).
"""

from iclab.sweep.config import SCHEMA_VERSION, point_hash
from iclab.sweep.engine import run
from iclab.sweep.store import Store

__all__ = ["SCHEMA_VERSION", "Store", "point_hash", "run"]
