"""Left only until its last callers (``solvable/simulate.py``, ``estimators/dmmse_mc.py``) drop it; then delete.

BLAS threads are process-global and set once by the entry points (:func:`iclab.runtime.configure_process`), so the
block form does nothing.
"""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def blas_threads(n: int):
    yield
