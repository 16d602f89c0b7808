"""blas_threads: the BLAS thread limit applies inside the block, to every OpenBLAS loaded, and is restored."""

import sys

import pytest
import scipy.linalg  # noqa: F401  (load scipy's OpenBLAS too)

from iclab._threads import _openblas, _threadpoolctl, blas_threads


def test_blas_threads_limits_and_restores():
    if _threadpoolctl() is not None:
        from threadpoolctl import threadpool_info

        before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
        with blas_threads(1):
            assert all(i["num_threads"] == 1 for i in threadpool_info() if i["user_api"] == "blas")
        assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] == before
        return
    if sys.platform != "linux":
        pytest.skip("without threadpoolctl, OpenBLAS is found through /proc/self/maps (Linux)")
    found = _openblas()
    assert len(found) >= 1  # numpy's OpenBLAS at least (Linux wheels)
    before = [get() for _, get in found]
    with blas_threads(1):
        assert [get() for _, get in found] == [1] * len(found)
    assert [get() for _, get in found] == before
