"""Limit BLAS threads for a block of code.

The solvers' hot products are skinny (d x n times n x d with n >> d). Multi-threaded OpenBLAS handles them badly
when the cores are shared (a sweep with one process per core, or a busy machine): a 3 ms product was measured at
670 ms with 2 threads on a loaded 2-core machine. Uses threadpoolctl when installed, else OpenBLAS's own setter
found among the loaded libraries (Linux); otherwise does nothing.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from contextlib import contextmanager

_NAMES = (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
          ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
          ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
          ("openblas_set_num_threads", "openblas_get_num_threads"))


def _openblas() -> list:
    """(set, get) thread functions of every OpenBLAS loaded (numpy and scipy each bundle their own). Read from
    /proc/self/maps (~2 ms) once per process, and once more after scipy.linalg is imported: a run that never
    needs scipy does not import it (0.3 s in every sweep worker)."""
    return _openblas_scan("scipy.linalg" in sys.modules)


@functools.cache
def _openblas_scan(with_scipy: bool) -> list:  # with_scipy: the cache key only
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line}
    except OSError:
        return []
    return [_functions(path) for path in sorted(paths) if _functions(path) is not None]


@functools.cache
def _functions(path: str):
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    for set_name, get_name in _NAMES:
        if hasattr(lib, set_name) and hasattr(lib, get_name):
            return getattr(lib, set_name), getattr(lib, get_name)
    return None


@functools.cache
def _threadpoolctl():
    """threadpoolctl's ``threadpool_limits`` if installed, else None; looked up once (a failed import searches
    sys.path again every time: 0.5 ms per simulation run)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits


@contextmanager
def blas_threads(n: int):
    """Run the block with at most ``n`` BLAS threads, restoring the previous setting afterwards."""
    threadpool_limits = _threadpoolctl()
    if threadpool_limits is not None:
        with threadpool_limits(n, user_api="blas"):
            yield
        return
    found = _openblas()
    old = [get() for _, get in found]
    for set_, _ in found:
        set_(n)
    try:
        yield
    finally:
        for (set_, _), k in zip(found, old, strict=True):
            set_(k)
