"""Ctrl-C (SIGINT) during a sweep and a training run: exit 130 within seconds, what was kept is reported, no
process is left behind, and resuming gives exactly the rows and checkpoint of an uninterrupted run."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

COMPUTE = '''
import time

def compute(config, seed):
    time.sleep(config["sleep"])
    return {"value": config["x"] * 10 + seed}
'''


def _env(tmp_path):
    src = Path(__file__).resolve().parents[1] / "src"
    return {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{tmp_path}", "JAX_PLATFORMS": "cpu"}


def _session_processes(sid: int) -> list[str]:
    """Processes of session ``sid`` still alive (the command ran as a session leader)."""
    out = subprocess.run(["ps", "-eo", "pid=,sid=,stat=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if int(line.split()[1]) == sid and "Z" not in line.split()[2]]


def _interrupt_when(proc, ready, timeout=120):
    t0 = time.monotonic()
    while not ready():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout, "the run never reached the point to interrupt"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    t_int = time.monotonic()
    out, err = proc.communicate(timeout=30)
    return proc.returncode, time.monotonic() - t_int, out, err


def _rows(store):
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {(h, s): (st, m) for h, s, st, m in
                con.execute("SELECT point_hash, seed, status, metrics FROM results")}
    finally:
        con.close()


def _count(store):
    if not Path(store).exists():
        return 0
    try:
        return len(_rows(store))
    except sqlite3.Error:
        return 0


def test_sweep_interrupted_then_resumed(tmp_path):
    (tmp_path / "slowcompute.py").write_text(COMPUTE)
    spec = tmp_path / "spec.yaml"
    spec.write_text("experiment: slowcompute:compute\nfixed: {sleep: 0.4}\ngrid: {x: '0:9:10'}\nseeds: 2\n")
    env = _env(tmp_path)
    cmd = [sys.executable, "-m", "iclab", "sweep", str(spec), "--executor", "process", "--workers", "2",
           "--no-progress", "--store"]
    store = tmp_path / "interrupted.sqlite"
    proc = subprocess.Popen([*cmd, str(store)], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    code, took, _, err = _interrupt_when(proc, lambda: _count(store) >= 3)
    assert code == 130, err
    assert took < 3.0, f"the sweep took {took:.1f} s to stop"
    assert "interrupted; kept" in err and str(store) in err
    time.sleep(0.5)
    assert _session_processes(proc.pid) == [], "worker processes were left behind"
    kept = _rows(store)
    assert 3 <= len(kept) < 20
    # resume, and compare with an uninterrupted run
    subprocess.run([*cmd, str(store)], env=env, cwd=tmp_path, check=True, capture_output=True, timeout=300)
    whole = tmp_path / "whole.sqlite"
    subprocess.run([*cmd, str(whole)], env=env, cwd=tmp_path, check=True, capture_output=True, timeout=300)
    resumed, reference = _rows(store), _rows(whole)
    assert len(reference) == 20 and resumed == reference
    assert all(status == "ok" for status, _ in resumed.values())


def test_training_interrupted_then_resumed(tmp_path):
    env = _env(tmp_path)
    args = [sys.executable, "-m", "iclab", "train", "--model", "lsa", "--d", "4", "--steps", "4000",
            "--eval-every", "100", "--batch", "64", "--n-test", "100", "--seeds", "2", "--no-progress", "--out"]
    out = tmp_path / "interrupted"
    proc = subprocess.Popen([*args, str(out)], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)

    def has_checkpoint():
        meta = out / "checkpoint" / "meta.json"
        return meta.exists() and json.loads(meta.read_text())["step"] >= 200

    code, took, _, err = _interrupt_when(proc, has_checkpoint, timeout=240)
    assert code == 130, err
    assert took < 3.0, f"training took {took:.1f} s to stop"
    meta = json.loads((out / "checkpoint" / "meta.json").read_text())
    assert meta["step"] < 4000, "the run finished before it was interrupted: nothing tested"
    assert f"last checkpoint: step {meta['step']} of 4000" in err
    assert sorted(p.name for p in (out / "checkpoint").iterdir()) == ["meta.json", meta["state_file"]]
    time.sleep(0.5)
    assert _session_processes(proc.pid) == []
    subprocess.run([*args, str(out)], env=env, cwd=tmp_path, check=True, capture_output=True, timeout=600)
    whole = tmp_path / "whole"
    subprocess.run([*args, str(whole)], env=env, cwd=tmp_path, check=True, capture_output=True, timeout=600)
    a, b = (json.loads((o / "checkpoint" / "meta.json").read_text()) for o in (out, whole))
    assert a["step"] == b["step"] == 4000 and a["history"] == b["history"]
    assert (out / "checkpoint" / a["state_file"]).read_bytes() == (whole / "checkpoint" / b["state_file"]).read_bytes()
    assert (out / "metrics.csv").read_text() == (whole / "metrics.csv").read_text()
