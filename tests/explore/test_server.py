"""The explorer's endpoints: the numbers it serves are iclab.theory's, and bad input is one line."""

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from iclab.cli import main
from iclab.explore.view import View, curves, view_from_query
from iclab.theory import lu2024
from iclab.validation import UserInputError


def get(server, path):
    with urllib.request.urlopen(server.url + path.lstrip("/"), timeout=30) as r:
        return r.status, r.headers, r.read()


def get_json(server, path):
    try:
        status, _, body = get(server, path)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
    return status, json.loads(body)


@pytest.mark.parametrize("query, axis", [("x=tau&lam=0.1&n=400", "tau"),
                                         ("x=alpha&x_min=0.5&x_max=200&kappa=2&rho=0.2&n=300", "alpha"),
                                         ("x=kappa&x_min=0.05&x_max=20&tau=1.5&lam=0&n=200", "kappa")])
def test_curves_are_the_theory(server, query, axis):
    status, doc = get_json(server, "/api/curves?" + query)
    assert status == 200
    q = dict(kv.split("=") for kv in query.split("&"))
    n, lo, hi = int(q["n"]), float(q.get("x_min", View.x_min)), float(q.get("x_max", View.x_max))
    # the x grid, built here independently of the server's grammar round trip
    x = np.geomspace(lo, hi, n) if axis in ("alpha", "kappa") else np.linspace(lo, hi, n)
    assert np.allclose(doc["x"], x, rtol=1e-14, atol=0)
    p = {"tau": 0.5, "alpha": 10.0, "kappa": 0.5, "rho": 0.01, "lam": 0.0}
    p.update({k: float(v) for k, v in q.items() if k in p})
    p[axis] = x
    want = lu2024.evaluate(**p)
    for key in ("e_icl", "e_idg", "g_task"):
        got = np.array([np.nan if v is None else v for v in doc[key]])
        assert np.array_equal(np.isfinite(got), np.isfinite(want[key]))
        assert np.allclose(got[np.isfinite(got)], want[key][np.isfinite(want[key])], rtol=1e-13, atol=0)
    alpha = np.broadcast_to(p["alpha"], x.shape)
    assert np.allclose(doc["bayes"], lu2024.e_bayes_ridge(alpha, p["rho"]), rtol=1e-13)
    assert np.allclose(doc["gd"], lu2024.e_gd(alpha, p["rho"]), rtol=1e-13)


def test_alpha_star_matches_the_documented_value(server):
    """README / Lu et al. §7.2: α* ≈ 9.603 at τ = 0.5, κ = 0.5, ρ = 0.1 (ridgeless)."""
    _, doc = get_json(server, "/api/curves?x=alpha&tau=0.5&kappa=0.5&rho=0.1&lam=0")
    assert doc["alpha_star"] == pytest.approx(9.603, abs=5e-4)
    assert doc["e_star"] == pytest.approx(float(lu2024.e_icl(0.5, doc["alpha_star"], 0.5, 0.1)), rel=1e-12)


def test_ridgeless_peak_is_a_gap_not_a_number(server):
    """At the ridgeless interpolation threshold τ = 1 the ICL error diverges: the page gets a gap (null)."""
    _, doc = get_json(server, "/api/curves?x=tau&x_min=0.5&x_max=1.5&n=3&lam=0")
    assert doc["x"] == [0.5, 1.0, 1.5] and doc["e_icl"][1] is None and doc["e_icl"][0] > 0


def test_command_line_prints_the_same_numbers(capsys):
    """The printed `iclab theory lu2024 ...` command regenerates the plotted curve (same grid, same values)."""
    view = View(x="kappa", x_min=0.1, x_max=10.0, n=25, tau=2.0, alpha=3.0, rho=0.05, lam=0.01)
    doc = curves(view)
    argv = view.command().split()[1:] + ["--format", "json"]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["kappa"] for r in rows] == doc["x"]
    assert [r["e_icl"] for r in rows] == doc["e_icl"]


def test_kappa_inf_and_lambda_zero_are_reachable():
    v = view_from_query({"kappa": ["inf"], "lam": ["0"]})
    assert np.isinf(v.kappa) and v.lam == 0.0
    doc = curves(v)
    assert doc["view"]["kappa"] == "inf"
    # κ = ∞ (fresh tasks): ICL = IDG, so the gap is exactly 0 (Lu et al. §4)
    assert np.allclose(doc["e_icl"], doc["e_idg"], rtol=1e-12)


@pytest.mark.parametrize("query, word", [("tau=-1", "tau"), ("x=beta", "x"), ("n=1", "n"), ("nope=1", "parameter"),
                                         ("x_min=2&x_max=1", "x_max"), ("rho=abc", "rho"), ("n=1e9", "n")])
def test_bad_input_is_one_line_400(server, query, word):
    status, doc = get_json(server, "/api/curves?" + query)
    assert status == 400 and "\n" not in doc["error"] and doc["error"].startswith(word)


def test_a_bug_is_a_500_with_its_traceback(server, monkeypatch, capfd):
    import iclab.explore.server as srv

    monkeypatch.setattr(srv, "curves", lambda view: np.ones(2) + np.ones(3))  # a broadcasting bug
    status, doc = get_json(server, "/api/curves")
    assert status == 500 and "traceback" not in doc["error"].lower()
    assert "Traceback" in capfd.readouterr().err


def test_page_and_assets_are_served_locally(server):
    status, headers, page = get(server, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    html = page.decode()
    assert 'src="/static/plotly.min.js"' in html and "http://" not in html and "https://" not in html
    import plotly

    _, _, js = get(server, "/static/plotly.min.js")
    assert js == (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()
    _, _, app = get(server, "/static/app.js")
    assert b"/api/curves" in app and b"https://" not in app


def test_simulation_job_runs_through_the_store_and_caches(server):
    """A job's points land in the store; the same request again is answered from the cache."""
    from iclab.experiments.solvable_points import simulate_point
    from iclab.sweep.store import Store

    body = json.dumps({"view": {"x": "tau", "x_min": "0.3", "x_max": "0.6", "alpha": "2", "kappa": "1",
                                "rho": "0.1", "lam": "0.01"}, "d": 6, "runs": 2}).encode()

    def run_job():
        req = urllib.request.Request(server.url + "api/simulate", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        job = json.loads(urllib.request.urlopen(req, timeout=30).read())
        deadline = time.time() + 120
        while time.time() < deadline:
            _, s = get_json(server, f"/api/jobs/{job['job']}")
            if s["finished"]:
                return s
            time.sleep(0.2)
        raise AssertionError("simulation job did not finish in 120 s")

    s = run_job()
    assert s["error"] is None and s["done"] == s["total"] == 12 and len(s["x"]) == 6
    assert "d = 6" in s["label"] and "2 runs" in s["label"]
    # the first point's mean is the mean of the two seeds computed directly
    cfg = {"d": 6, "tau": s["x"][0], "alpha": 2.0, "kappa": 1.0, "rho": 0.1, "lam": 0.01}
    direct = [simulate_point(cfg, seed)["e_icl"] for seed in (0, 1)]
    assert s["mean"]["e_icl"][0] == pytest.approx(np.mean(direct), rel=1e-12)
    with Store(server.jobs.store, readonly=True) as st:
        n_rows = st.count("explore")
    s2 = run_job()
    with Store(server.jobs.store, readonly=True) as st:
        assert st.count("explore") == n_rows == 12
    assert s2["mean"] == s["mean"]


def test_simulation_refuses_oversized_requests():
    from iclab.explore.jobs import sim_points

    with pytest.raises(UserInputError, match="^d must be"):
        sim_points(View(), 1000, 3)
    with pytest.raises(UserInputError, match="contexts"):
        sim_points(View(x="alpha", x_min=1, x_max=10, tau=100.0), 100, 1)


def test_ctrl_c_stops_the_server_cleanly(tmp_path):
    cli = [sys.executable, "-c", "import sys; from iclab.cli import main; sys.exit(main())"]
    proc = subprocess.Popen([*cli, "explore", "--no-browser", "--port", "0", "--store", str(tmp_path / "s.sqlite")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "serving http://127.0.0.1:" in line
        url = line.split()[3]
        assert urllib.request.urlopen(url + "api/curves", timeout=30).status == 200
        t = time.time()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        assert time.time() - t < 3 and proc.returncode == 0
        assert "stopped" in out and "Traceback" not in err
    finally:
        proc.kill()


def test_structured_covariances_use_the_alignment_theory(server, capsys):
    """With a train or test family (Letey et al. 2025 §1) the curves are letey2025's, and the printed
    `iclab theory letey2025` command prints the same numbers; the isotropic references are not shown."""
    from iclab.theory import letey2025

    q = "x=kappa&x_min=0.1&x_max=10&n=40&tau=2&alpha=1&rho=0.01&lam=0.05&train=pl:1&test=spike:0.5:1&dim=60"
    status, doc = get_json(server, "/api/curves?" + q)
    assert status == 200 and doc["structured"] and doc["alpha_star"] is None
    x = np.geomspace(0.1, 10, 40)
    want = letey2025.evaluate(letey2025.family("pl", 60, 1), letey2025.family("spike", 60, 0.5, 1), 2.0, 1.0, x,
                              0.01, 0.05)
    assert np.allclose(doc["e_icl"], want["e_icl"], rtol=1e-13)
    assert np.allclose(doc["g_task"], want["e_icl"] - want["e_idg"], rtol=1e-12)
    assert all(v is None for v in doc["bayes"] + doc["gd"])
    assert main(doc["command"].split()[1:] + ["--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["kappa"] for r in rows] == doc["x"]
    assert np.allclose([r["e_icl"] for r in rows], doc["e_icl"], rtol=1e-15)
    status, doc = get_json(server, "/api/curves?train=pl:x")
    assert status == 400 and doc["error"].startswith("covariance")


def test_structured_views_are_not_simulated_here():
    from iclab.explore.jobs import sim_points

    with pytest.raises(UserInputError, match="^train and test must be iso"):
        sim_points(View(train="pl:1"), 16, 2)
