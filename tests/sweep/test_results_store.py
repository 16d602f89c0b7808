"""The SQLite results store: atomic upserts, WAL readers, exports, and refusal to touch foreign files."""

import sqlite3
import threading
import time

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as hs

from iclab.sweep.config import SCHEMA_VERSION
from iclab.sweep.store import Store


def _fill(st, n=5, name="exp"):
    for i in range(n):
        st.put(name, f"h{i}", 0, {"x": i}, metrics={"y": i * i, "curve": [i, i + 1]}, wall_time=0.1)


def test_roundtrip_and_wal_mode(tmp_path):
    path = tmp_path / "r.sqlite"
    with Store(path) as st:
        _fill(st)
        st.put("exp", "bad", 1, {"x": -1}, error="RuntimeError: boom", wall_time=0.2)
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT value FROM iclab_meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    con.close()
    with Store(path, readonly=True) as st:
        rows = st.rows("exp")
        assert [r["config"]["x"] for r in rows] == [0, 1, 2, 3, 4, -1]
        assert rows[3]["metrics"] == {"y": 9, "curve": [3, 4]} and rows[3]["status"] == "ok"
        assert rows[-1]["status"] == "failed" and rows[-1]["metrics"] is None
        assert st.status("exp")[("bad", 1)] == "failed"
        assert st.summary().iloc[0][["points", "ok", "failed"]].tolist() == [6, 5, 1]
        assert st.mean_wall_time("exp") == pytest.approx(0.1)


def test_failed_row_is_replaced_but_ok_row_never(tmp_path):
    with Store(tmp_path / "r.sqlite") as st:
        st.put("e", "h", 0, {"x": 1}, error="boom")
        assert st.put("e", "h", 0, {"x": 1}, error="boom again")  # a retry that fails again updates the row
        assert st.put("e", "h", 0, {"x": 1}, metrics={"y": 1.0})
        assert not st.put("e", "h", 0, {"x": 1}, metrics={"y": 2.0})  # first ok result wins
        assert not st.put("e", "h", 0, {"x": 1}, error="late failure")
        assert st.count() == 1 and st.rows("e")[0]["metrics"] == {"y": 1.0}


def test_readonly_store_refuses_writes_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        Store(tmp_path / "none.sqlite", readonly=True)
    assert not (tmp_path / "none.sqlite").exists()
    Store(tmp_path / "r.sqlite").close()
    with Store(tmp_path / "r.sqlite", readonly=True) as st, pytest.raises(sqlite3.OperationalError):
        st.put("e", "h", 0, {}, metrics={})


@pytest.mark.parametrize("kind", ["text", "foreign_sqlite", "newer_schema", "directory"])
def test_foreign_or_newer_files_are_refused_unchanged(tmp_path, kind):
    path = tmp_path / "store.sqlite"
    if kind == "text":
        path.write_text("x,y\n1,2\n")
        match = "not an SQLite file"
    elif kind == "directory":
        path.mkdir()
        match = "must be a file"
    else:
        if kind == "newer_schema":
            Store(path).close()
        con = sqlite3.connect(path, isolation_level=None)
        con.execute("PRAGMA journal_mode = DELETE")  # so that any -wal/-shm file below would be the store's doing
        if kind == "foreign_sqlite":
            con.execute("CREATE TABLE results (a)")
            match = "not an iclab results store"
        else:
            con.execute("UPDATE iclab_meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
            match = "newer than this iclab"
        con.close()
    before = None if path.is_dir() else path.read_bytes()
    for readonly in (False, True):
        with pytest.raises(ValueError, match=match):
            Store(path, readonly=readonly)
    if before is not None:
        assert path.read_bytes() == before
        assert sorted(p.name for p in tmp_path.iterdir()) == ["store.sqlite"]  # no -wal/-shm files created


def test_export_csv_and_parquet(tmp_path):
    with Store(tmp_path / "r.sqlite") as st:
        _fill(st, 3)
        st.put("exp", "bad", 0, {"x": 9}, error="boom")
        _fill(st, 2, name="other")
        csv = pd.read_csv(st.export(tmp_path / "a.csv", "csv", "exp"))
        pq = pd.read_parquet(st.export(tmp_path / "a.parquet", "parquet"))
        with pytest.raises(ValueError, match="format must be one of"):
            st.export(tmp_path / "a.xls", "xls")
    assert csv["x"].tolist() == [0, 1, 2, 9] and csv["status"].tolist() == ["ok"] * 3 + ["failed"]
    assert csv["y"].tolist()[:3] == [0, 1, 4] and pd.isna(csv["y"].iloc[3])
    assert len(pq) == 6 and list(pq.loc[2, "curve"]) == [2, 3] and pq.loc[3, "curve"] is None
    assert set(pq["experiment"]) == {"exp", "other"}


def test_reader_sees_consistent_rows_while_a_writer_inserts(tmp_path):
    path = tmp_path / "r.sqlite"
    Store(path).close()
    n, errors, seen = 300, [], []

    def write():
        try:
            with Store(path) as st:
                for i in range(n):
                    st.put("e", f"h{i}", 0, {"x": i}, metrics={"y": 2 * i})
                    time.sleep(0.0005)  # results arrive over time, as in a sweep
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    writer = threading.Thread(target=write)
    with Store(path, readonly=True) as reader:
        writer.start()
        while writer.is_alive() or not seen or seen[-1] < n:
            rows = reader.rows("e")
            # every row a reader sees is complete, and rows appear in order, none missing in between
            assert [r["config"]["x"] for r in rows] == list(range(len(rows)))
            assert all(r["metrics"]["y"] == 2 * r["config"]["x"] for r in rows)
            seen.append(len(rows))
        writer.join()
    assert not errors and seen == sorted(seen) and seen[-1] == n
    assert len(set(seen)) > 2  # the reader really read while the writer wrote


@given(hs.lists(hs.tuples(hs.integers(0, 3), hs.integers(0, 1), hs.booleans()), max_size=40))
def test_upsert_invariants(ops):
    """Any sequence of results: one row per (point, seed), holding the first ok result, else the last failure."""
    expected = {}
    with Store(":memory:") as store:
        for i, (h, seed, ok) in enumerate(ops):
            key = (f"h{h}", seed)
            if ok:
                store.put("e", *key, {"h": h}, metrics={"i": i})
            else:
                store.put("e", *key, {"h": h}, error=f"fail {i}")
            if expected.get(key, ("failed",))[0] != "ok":
                expected[key] = ("ok", i) if ok else ("failed", i)
        rows = store.rows("e")
    got = {(r["point_hash"], r["seed"]): (r["status"], r["metrics"]["i"] if r["metrics"] else int(r["error"][5:]))
           for r in rows}
    assert len(rows) == len(got) and got == expected
