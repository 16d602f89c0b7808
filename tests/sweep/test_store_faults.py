"""Storage faults: a full disk or a read-only store gives one clear line; committed rows stay intact and readable.

A fault-injecting connection (always) and, where this process may mount one (root), a tiny tmpfs: a real full
disk and a real read-only file system.
"""

import contextlib
import sqlite3
import subprocess
import uuid

import pytest

from iclab.cli import main
from iclab.experiment import Point
from iclab.sweep import run
from iclab.sweep.store import Store, StoreWriteError

COMPUTE = '''
def compute(config, seed):
    return {"value": config["x"] + seed, "blob": "y" * config["pad"]}
'''


def _check_intact(path, at_least):
    """The file passes SQLite's integrity check and its ok rows read back (read-only, as `iclab results` does)."""
    with Store(path, readonly=True) as st:
        assert st._con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = st.rows(status="ok")
    assert len(rows) >= at_least
    return len(rows)


class _FullAfter:
    """A connection that fails the n-th result write the way SQLite reports a full disk (SQLITE_FULL)."""

    def __init__(self, con, n):
        self._con, self._n = con, n

    def execute(self, sql, *args):
        if sql.lstrip().startswith("INSERT INTO results"):
            self._n -= 1
            if self._n == 0:
                raise sqlite3.OperationalError("database or disk is full")
        return self._con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._con, name)


def _compute(config, seed):
    return {"value": config["x"] * 10 + seed}


def test_full_disk_mid_sweep_is_one_clear_error_and_the_rows_stay(tmp_path):
    path = tmp_path / "s.sqlite"
    st = Store(path)
    st._con = _FullAfter(st._con, 4)
    points = [Point({"x": x}, seeds=2) for x in range(5)]
    with pytest.raises(StoreWriteError, match="disk is full; the rows stored before are intact"):
        run(_compute, points, name="full", store=st, progress=False)
    st.close()
    assert _check_intact(path, 3) == 3
    with Store(path) as again:  # once there is room, the same sweep completes from where it stopped
        df = run(_compute, points, name="full", store=again, progress=False)
    assert df.attrs["cached"] == 3 and sorted(df["value"]) == sorted(10 * x + s for x in range(5) for s in (0, 1))


@pytest.fixture
def tiny_tmpfs(tmp_path):
    mnt = tmp_path / f"mnt-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root); the fault-injecting test covers the logic")
    try:
        yield mnt
    finally:
        with contextlib.suppress(Exception):
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _spec(tmp_path, monkeypatch, pad, points):
    (tmp_path / "fillcompute.py").write_text(COMPUTE)
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"experiment: fillcompute:compute\nfixed: {{pad: {pad}}}\ngrid: {{x: '0:{points - 1}:{points}'}}\n")
    return spec


def test_real_full_disk(tmp_path, tiny_tmpfs, monkeypatch, capsys):
    spec = _spec(tmp_path, monkeypatch, 2000, 400)  # ~800 kB of rows into 256 kB
    store = tiny_tmpfs / "s.sqlite"
    assert main(["sweep", str(spec), "--store", str(store), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "disk is full" in err, err
    n = _check_intact(store, 1)
    assert main(["results", "show", "fillcompute:compute", "--store", str(store)]) == 0
    assert f"{n} ok rows" in capsys.readouterr().out


def test_read_only_store(tmp_path, tiny_tmpfs, monkeypatch, capsys):
    spec = _spec(tmp_path, monkeypatch, 1, 3)
    store = tiny_tmpfs / "s.sqlite"
    assert main(["sweep", str(spec), "--store", str(store), "--no-progress"]) == 0
    spec.write_text(spec.read_text().replace("'0:2:3'", "'0:5:6'"))  # three new points to write
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_tmpfs)], check=True)
    capsys.readouterr()
    assert main(["sweep", str(spec), "--store", str(store), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "read-only" in err, err
    assert main(["sweep", str(spec), "--store", str(tiny_tmpfs / "new.sqlite"), "--no-progress"]) == 2
    assert "read-only" in capsys.readouterr().err
    assert _check_intact(store, 3) == 3
    assert main(["results", "ls", "--store", str(store)]) == 0  # reading a store on a read-only mount works
