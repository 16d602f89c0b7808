"""The sweep engine: caching, failures, resumption after SIGKILL, and identical numbers on every executor."""

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from iclab import sweep
from iclab.cli import main
from iclab.experiment import Point
from iclab.sweep import demo
from iclab.sweep.store import Store

POINTS = [Point({"mu": mu, "n": 50}, seeds=3) for mu in (0.0, 0.25, 1.0)]


def test_table_has_one_row_per_point_and_seed_and_matches_direct_calls():
    df = sweep.run(demo.noisy_mean, POINTS, name="t", progress=False)
    assert list(df.columns[:3]) == ["mu", "n", "seed"] and "wall_time" in df and (df["wall_time"] >= 0).all()
    assert df[["mu", "seed"]].values.tolist() == [[mu, s] for mu in (0.0, 0.25, 1.0) for s in range(3)]
    for row in df.itertuples():  # the engine stores and returns exactly what compute returned
        direct = demo.noisy_mean({"mu": row.mu, "n": 50}, row.seed)
        assert row.mean == direct["mean"] and row.first == direct["first"].tolist()


def test_rerun_is_served_from_the_store(tmp_path):
    store = tmp_path / "s.sqlite"
    first = sweep.run(demo.noisy_mean, POINTS, name="t", store=store, progress=False)
    assert first.attrs["computed"] == 9 and first.attrs["cached"] == 0
    more = POINTS + [Point({"mu": 2.0, "n": 50}, seeds=3), Point({"mu": 0.0, "n": 50}, seeds=4)]
    second = sweep.run(demo.noisy_mean, more, name="t", store=store, progress=False)
    assert second.attrs["computed"] == 4 and second.attrs["cached"] == 9  # 3 new at mu=2, seed 3 at mu=0
    pd.testing.assert_frame_equal(second.iloc[:9].drop(columns="wall_time"), first.drop(columns="wall_time"))
    with Store(store, readonly=True) as st:
        assert st.count("t") == 13 and st.last_sweep("t")["n_computed"] == 4
    other = sweep.run(demo.noisy_mean, POINTS, name="other-name", store=store, progress=False)
    assert other.attrs["computed"] == 9  # rows are per experiment name


def test_failures_are_recorded_reported_and_retried(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    pts = [Point({"x": x, "fail": [2]}, seeds=2) for x in range(4)]
    df = sweep.run(demo.fails_on, pts, name="f", store=store, progress=False)
    assert sorted(df["x"]) == [0, 0, 1, 1, 3, 3] and len(df.attrs["failed"]) == 2
    err = capsys.readouterr().err
    assert "2 of 8 runs failed" in err and "RuntimeError: planned failure at x=2" in err
    with Store(store, readonly=True) as st:
        bad = [r for r in st.rows("f") if r["status"] == "failed"]
        assert len(bad) == 2 and "Traceback" in bad[0]["error"]
    # the next run retries only the failed runs (the same configs, so they fail again here)
    again = sweep.run(demo.fails_on, pts, name="f", store=store, progress=False)
    assert again.attrs["computed"] == 2 and again.attrs["cached"] == 6


def test_bad_arguments():
    with pytest.raises(ValueError, match="executor must be one of"):
        sweep.run(demo.noisy_mean, POINTS, name="t", executor="threads")
    with pytest.raises(ValueError, match="scheduler must be"):
        sweep.run(demo.noisy_mean, POINTS, name="t", executor="dask")
    with pytest.raises(ValueError, match="workers must be"):
        sweep.run(demo.noisy_mean, POINTS, name="t", executor="process", workers=0)
    with pytest.raises(ValueError, match="module-level function"):
        sweep.run(lambda c, s: {"y": 1.0}, POINTS, name="t", executor="process", workers=1, progress=False)


def test_process_pool_gives_identical_numbers():
    local = sweep.run(demo.noisy_mean, POINTS, name="t", progress=False)
    pool = sweep.run(demo.noisy_mean, POINTS, name="t", executor="process", workers=2, progress=False)
    pd.testing.assert_frame_equal(pool.drop(columns="wall_time"), local.drop(columns="wall_time"))


def test_dask_local_cluster_gives_identical_numbers():
    distributed = pytest.importorskip("distributed")
    local = sweep.run(demo.noisy_mean, POINTS, name="t", progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, host="127.0.0.1",
                                  protocol="tcp", dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        remote = sweep.run(demo.noisy_mean, POINTS, name="t", executor="dask", scheduler=cluster.scheduler_address,
                           progress=False)
    pd.testing.assert_frame_equal(remote.drop(columns="wall_time"), local.drop(columns="wall_time"))


@pytest.mark.slow
def test_dask_local_executor_with_worker_processes(tmp_path):
    local = sweep.run(demo.noisy_mean, POINTS, name="t", progress=False)
    remote = sweep.run(demo.noisy_mean, POINTS, name="t", executor="dask-local", workers=2, progress=False)
    pd.testing.assert_frame_equal(remote.drop(columns="wall_time"), local.drop(columns="wall_time"))


def test_unreachable_scheduler_is_one_line_error(monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr("iclab.sweep.executors.CONNECT_TIMEOUT", "1s")
    with pytest.raises(ValueError, match="cannot be reached"):
        sweep.run(demo.noisy_mean, POINTS, name="t", executor="dask", scheduler="tcp://127.0.0.1:9", progress=False)


def _log_lines(path):
    return path.read_text().split("\n")[:-1] if path.exists() else []


def test_sigkill_then_resume_loses_and_duplicates_nothing(tmp_path):
    n_points, seeds = 200, 2
    log, store, spec = tmp_path / "calls.log", tmp_path / "s.sqlite", tmp_path / "spec.yaml"
    spec.write_text(f"experiment: iclab.sweep.demo:logged_sleep\nseeds: {seeds}\n"
                    f"fixed: {{sleep: 0.008, log: '{log}'}}\ngrid: {{x: '0:{n_points - 1}:{n_points}'}}\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "iclab", "sweep", str(spec), "--store", str(store),
                             "--no-progress"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    counts, deadline = [], time.monotonic() + 120
    try:
        while time.monotonic() < deadline:  # read the store while the sweep writes it
            if store.exists() and store.stat().st_size > 0:
                with Store(store, readonly=True) as st:
                    counts.append(st.count())
                if counts[-1] >= 100:
                    break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL and counts == sorted(counts)

    with Store(store, readonly=True) as st:
        before = {(r["config"]["x"], r["seed"]) for r in st.rows()}
    assert 100 <= len(before) < n_points * seeds  # killed part-way
    n_calls_before = len(_log_lines(log))
    assert n_calls_before - len(before) in (0, 1)  # at most the run in flight was lost

    assert main(["sweep", str(spec), "--store", str(store), "--no-progress"]) == 0
    resumed = Counter(tuple(map(int, line.split())) for line in _log_lines(log)[n_calls_before:])
    every = {(x, s) for x in range(n_points) for s in range(seeds)}
    assert set(resumed) == every - before and max(resumed.values()) == 1  # only the missing runs were computed
    with Store(store, readonly=True) as st:
        rows = st.rows()
        assert st._con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    keys = [(r["config"]["x"], r["seed"]) for r in rows]
    assert len(keys) == len(set(keys)) == n_points * seeds and set(keys) == every
    assert all(r["status"] == "ok" and r["metrics"]["y"] == r["config"]["x"] ** 2 + r["seed"] for r in rows)
    assert np.isfinite([r["wall_time"] for r in rows]).all()


def test_progress_bar_shows_done_total_rate_and_failures(capsys):
    sweep.run(demo.fails_on, [Point({"x": x, "fail": [1]}, seeds=2) for x in range(4)], name="p", progress=True)
    err = capsys.readouterr().err
    assert re.search(r"\b8/8\b", err) and re.search(r"[\d.]+/(s|min)", err) and "ETA" in err and "2 failed" in err
