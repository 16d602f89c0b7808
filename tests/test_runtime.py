"""Process set-up (iclab.runtime): the entry points and the worker initialisers limit every BLAS, also one loaded
later, to one thread and tune the allocator; library code does not.

Each test runs in a fresh interpreter whose environment asks OpenBLAS for 2 threads, so a set-up that did not run
(or missed a library) shows up as 2."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from iclab.runtime import BLAS_THREAD_VARIABLES


def fresh_python(code: str) -> dict:
    """Run ``code`` in a new interpreter with 2 BLAS threads requested; returns the JSON it prints last."""
    env = {**os.environ, **dict.fromkeys(BLAS_THREAD_VARIABLES, "2")}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                         timeout=600, check=True)
    return json.loads(out.stdout.splitlines()[-1])


def test_configure_process_limits_loaded_and_later_blas_and_tunes_the_allocator():
    got = fresh_python("""
        import json, sys
        import numpy
        from threadpoolctl import threadpool_info
        from iclab import runtime
        def threads():
            return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
        before = threads()
        assert "scipy.linalg" not in sys.modules
        runtime.configure_process()
        after = threads()
        import scipy.linalg
        print(json.dumps({"before": before, "after": after, "later": threads(), "malloc": runtime.keep_freed_memory()}))
    """)
    assert got["before"] and set(got["before"]) == {2}  # numpy's OpenBLAS, as the environment asked
    assert set(got["after"]) == {1}
    assert len(got["later"]) >= len(got["after"]) and set(got["later"]) == {1}  # scipy's own OpenBLAS too
    if sys.platform == "linux":
        assert got["malloc"] is True  # glibc's mallopt accepted both thresholds


def test_library_code_leaves_threads_alone():
    """The solver's CG (which used to limit threads around itself) changes no process-global setting."""
    got = fresh_python("""
        import json
        import numpy as np
        from threadpoolctl import threadpool_info
        from iclab import runtime
        from iclab.solvable import pretraining_tasks, sample_stats, solve_gamma
        rng = np.random.default_rng(0)
        pool, idx = pretraining_tasks(rng, 8, 2.0, 0.5)
        h, xq, y = sample_stats(rng, pool, 16, 0.01, idx)
        solve_gamma(h, xq, y, 1e-3, method="cg")
        print(json.dumps({"threads": [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"],
                          "tuned": runtime.keep_freed_memory.cache_info().currsize}))
    """)
    assert set(got["threads"]) == {2} and got["tuned"] == 0


def test_cli_entry_point_configures_the_process():
    got = fresh_python("""
        import json
        from threadpoolctl import threadpool_info
        from iclab import runtime
        from iclab.cli import main
        code = main(["--help"])
        print(json.dumps({"code": code, "threads": [i["num_threads"] for i in threadpool_info()
                                                     if i["user_api"] == "blas"],
                          "tuned": runtime.keep_freed_memory.cache_info().currsize}))
    """)
    assert got["code"] == 0 and set(got["threads"]) == {1} and got["tuned"] == 1


@pytest.mark.parametrize("executor", ["process", "dask-local"])
def test_workers_are_configured_by_their_initialiser(executor):
    if executor == "dask-local":
        pytest.importorskip("distributed")
    got = fresh_python(f"""
        import json
        from iclab.sweep.demo import process_set_up
        from iclab.sweep.executors import execute
        out = [o for _, o in execute({executor!r}, process_set_up, [({{}}, 0)], workers=1)]
        print(json.dumps(out[0][1]))
    """)
    assert got["blas_libraries"] >= 2 and got["blas_threads"] == 1 and got["allocator_tuned"] == 1
