"""Executors: run ``compute(config, seed)`` tasks and yield each result as soon as it finishes.

Every executor yields ``(task_index, outcome)`` in completion order, where ``outcome`` is the value of
:func:`call`: ``("ok", metrics, wall_time)`` or ``("failed", error_text, wall_time)``. Exceptions in ``compute``
become failed outcomes, so one bad point never stops a sweep. Only the caller (the client) writes to the store.

- ``local``: sequential, in this process;
- ``process``: a process pool with the ``forkserver`` (or ``spawn``) start method, because JAX is not fork-safe;
- ``dask``: a running Dask scheduler at ``tcp://HOST:PORT``; ``dask-local``: a ``LocalCluster`` on 127.0.0.1.

Each worker process is set up once by :func:`iclab.runtime.configure_process` (one BLAS thread, a heap that keeps
freed memory): the pool's initialiser, a Dask worker plugin. The ``local`` executor runs in the caller's process,
whose entry point (the CLI) set it up.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import pickle
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from iclab.resources import ResourceLimitError
from iclab.runtime import configure_process
from iclab.sweep.config import to_jsonable
from iclab.validation import UserInputError

EXECUTORS = ("local", "process", "dask", "dask-local")
CONNECT_TIMEOUT = "20s"  # how long a Dask client waits for the scheduler
Task = tuple[dict[str, Any], int]  # (config, seed)
Outcome = tuple[str, Any, float]  # (status, metrics or error text, wall time in seconds)


def call(compute: Callable[[dict, int], dict], config: dict[str, Any], seed: int) -> Outcome:
    """Run one task, timing it; any exception becomes ``("failed", "Type: message\\n<traceback>", t)``."""
    t0 = time.perf_counter()
    try:
        metrics = compute(dict(config), seed)
        if not isinstance(metrics, dict):
            raise TypeError(f"compute must return a dict of metrics (got {type(metrics).__name__})")
        clash = sorted(set(metrics) & (set(config) | {"seed", "wall_time"}))
        if clash:  # the results table has one column per name: a metric must not shadow a parameter
            raise ValueError(f"metric names must differ from the config keys, seed and wall_time (got {clash})")
        return "ok", to_jsonable(metrics, "metrics"), time.perf_counter() - t0
    except ResourceLimitError:  # refused before allocating: stop the sweep with its one line, not a failed row
        raise
    except Exception as e:
        text = f"{type(e).__name__}: {e}".splitlines()[0] if str(e) else type(e).__name__
        return "failed", f"{text}\n{traceback.format_exc()[-4000:]}", time.perf_counter() - t0


def _lost(e: BaseException) -> Outcome:
    """Outcome of a task whose worker died or could not be reached (recorded as failed, retried next run)."""
    return "failed", f"{type(e).__name__}: {e}".splitlines()[0], math.nan


def run_local(compute, tasks: Sequence[Task]) -> Iterator[tuple[int, Outcome]]:
    for i, (config, seed) in enumerate(tasks):
        yield i, call(compute, config, seed)


def _check_picklable(compute, executor: str) -> None:
    try:
        pickle.dumps(compute)
    except Exception:
        what = getattr(compute, "__qualname__", compute)
        raise UserInputError(f"compute must be a module-level function for executor {executor!r} "
                         f"(got {what!r}, which cannot be sent to workers)") from None


def run_process(compute, tasks: Sequence[Task], workers: int) -> Iterator[tuple[int, Outcome]]:
    _check_picklable(compute, "process")
    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=mp.get_context(method),
                               initializer=configure_process)
    finished = False
    try:
        futures = {pool.submit(call, compute, config, seed): i for i, (config, seed) in enumerate(tasks)}
        for f in as_completed(futures):
            try:
                outcome = f.result()
            except ResourceLimitError:
                raise
            except Exception as e:  # a worker died (killed, out of memory): record, keep going
                outcome = _lost(e)
            yield futures[f], outcome
        finished = True
    finally:
        if not finished:  # Ctrl-C, an error, or the consumer stopped early: stop the running tasks now
            _terminate_workers(pool)
        pool.shutdown(wait=True, cancel_futures=True)


def _terminate_workers(pool) -> None:
    """SIGTERM every worker of a ProcessPoolExecutor, so that an interrupted sweep returns at once instead of
    waiting for its running tasks, and leaves no process behind (their results were not stored, so nothing is
    lost: the next run computes them)."""
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        proc.terminate()
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        proc.join(5)


def run_dask(compute, tasks: Sequence[Task], *, scheduler: str | None, workers: int,
             local: bool) -> Iterator[tuple[int, Outcome]]:
    try:  # an optional dependency
        from distributed import Client, LocalCluster
        from distributed import as_completed as dask_completed
        from distributed.diagnostics.plugin import WorkerPlugin
    except ImportError:
        raise UserInputError("executor dask needs dask.distributed: pip install 'iclab[dask]'") from None

    class SetUp(WorkerPlugin):
        """Runs :func:`iclab.runtime.configure_process` in every worker, also in those that join later."""

        name = "iclab-configure-process"

        def setup(self, worker):
            configure_process()

    cluster = None
    if local:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None)
        scheduler = cluster.scheduler_address
    elif not scheduler or "://" not in scheduler:
        raise UserInputError(f"scheduler must be a Dask scheduler address tcp://HOST:PORT (got {scheduler!r})")
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as e:
        if cluster is not None:
            cluster.close()
        raise UserInputError(f"scheduler {scheduler} cannot be reached ({type(e).__name__}: {e})") from None
    try:
        client.register_plugin(SetUp())
        futures = [client.submit(call, compute, config, seed, pure=False) for config, seed in tasks]
        index = {f.key: i for i, f in enumerate(futures)}
        for f in dask_completed(futures):
            try:
                outcome = f.result()
            except ResourceLimitError:
                raise
            except Exception as e:  # worker lost, or compute could not be unpickled there
                outcome = _lost(e)
            yield index[f.key], outcome
            f.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def execute(executor: str, compute, tasks: Sequence[Task], *, workers: int,
            scheduler: str | None = None) -> Iterator[tuple[int, Outcome]]:
    """Dispatch to the executor named ``executor`` (one of :data:`EXECUTORS`)."""
    if executor == "local" or not tasks:  # a generator either way: the engine closes it when interrupted
        return run_local(compute, tasks)
    if executor == "process":
        return run_process(compute, tasks, workers)
    return run_dask(compute, tasks, scheduler=scheduler, workers=workers, local=executor == "dask-local")
