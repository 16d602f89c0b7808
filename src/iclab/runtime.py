"""Process set-up: the process-global tuning that an entry point applies once, before any work.

The entry points are the ``iclab`` command (:func:`iclab.cli.main`) and the initialisers of sweep workers (the
process pool and Dask workers of :mod:`iclab.sweep.executors`). Library functions never change process-global
state; a program that uses iclab as a library and runs many points one after another may call
:func:`configure_process` itself.

- **BLAS threads: one per process.** Sweeps run one point per core, and the solvers' hot products are skinny
  (d x n times n x d with n >> d), which multi-threaded OpenBLAS handles badly when the cores are shared: a 3 ms
  product was measured at 670 ms with 2 threads on a loaded 2-core machine. threadpoolctl limits every BLAS
  loaded now (numpy's); the environment variables limit those loaded later (scipy bundles its own OpenBLAS, loaded
  with ``scipy.linalg``, which a run that never needs it does not import: 0.3 s per worker).
- **Allocator: keep freed heap memory** (glibc; elsewhere nothing). A simulation run allocates and frees a few
  arrays of some MB; glibc returns the top of the heap to the OS whenever more than ~2x its mmap threshold is free
  there, so the next run page-faults the same memory back in: measured 17 ms of kernel time per 85 ms run of the
  Fig. 4 demo (d = 32). A 256 MiB trim threshold keeps it; allocations over 32 MiB (the d = 100 kernel and Gram
  matrices) are still mmapped and returned to the OS when freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os

from threadpoolctl import threadpool_limits

BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def limit_blas_threads(n: int = 1) -> None:
    """At most ``n`` threads in every BLAS library of this process: those loaded now and those loaded later."""
    for name in BLAS_THREAD_VARIABLES:
        os.environ[name] = str(n)
    threadpool_limits(n, user_api="blas")


@functools.cache
def keep_freed_memory() -> bool:
    """Set glibc's trim threshold to 256 MiB and its mmap threshold to 32 MiB, once; True if it applied."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl): the defaults stay
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, 32 * 2**20)) and bool(mallopt(M_TRIM_THRESHOLD, 256 * 2**20))


def configure_process() -> None:
    """Tune this process for running sweep points one after another, one process per core: one BLAS thread and
    a heap that keeps freed memory. Called by the entry points (the CLI's ``main``, each worker's initialiser)."""
    limit_blas_threads(1)
    keep_freed_memory()
