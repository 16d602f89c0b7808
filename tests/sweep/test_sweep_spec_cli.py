"""Sweep specs and the sweep / results / report commands: expansion, dry runs, one-line errors (exit 2)."""

import base64
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as hs

from iclab.cli import main
from iclab.experiments import REGISTRY
from iclab.sweep.spec import axis_values, resolve
from iclab.sweep.store import Store


@pytest.fixture
def demo_figure(monkeypatch):
    """Register the toy figure of iclab.sweep.demo as 'demo', as a paper figure would be."""
    monkeypatch.setitem(REGISTRY, "demo", "iclab.sweep.demo")


def test_axis_grammar():
    assert axis_values("d", "10:40:4") == [10, 20, 30, 40] and all(type(v) is int for v in axis_values("d", "10:40:4"))
    assert axis_values("tau", "log:0.1:10:3") == [0.1, 1, 10]
    assert axis_values("lam", "logspace(-2,0,3)") == [0.01, 0.1, 1]
    assert axis_values("a", [0.5, "1e-3", "inf", "0:1:3"]) == [0.5, 0.001, float("inf"), 0, 0.5, 1]
    assert axis_values("basis", ["fourier", "legendre"]) == ["fourier", "legendre"]
    assert axis_values("x", 0.1 + 0.2) == [0.3]


def test_grid_and_zip_expansion():
    sw = resolve({"experiment": "iclab.sweep.demo:noisy_mean", "seeds": 3, "fixed": {"n": 10},
                  "grid": {"mu": [0, 1, 2]}, "zip": [{"a": [1, 2], "b": ["p", "q"]}]})
    assert sw.name == "iclab.sweep.demo:noisy_mean" and sw.n_tasks == 3 * 2 * 3 and sw.axes == {"mu": 3, "a": 2, "b": 2}
    configs = [p.config for p in sw.points]
    assert configs[:2] == [{"n": 10, "mu": 0, "a": 1, "b": "p"}, {"n": 10, "mu": 0, "a": 2, "b": "q"}]
    expected = {(m, a, b) for m in (0, 1, 2) for a, b in ((1, "p"), (2, "q"))}
    assert {(c["mu"], c["a"], c["b"]) for c in configs} == expected


def test_figure_spec_sets_the_figure_settings(demo_figure):
    """A figure's spec overrides its typed settings: each grid combination is one plan of the figure."""
    sw = resolve({"experiment": "demo", "grid": {"mu": "0:1:3"}})
    assert sw.name == "demo" and [p.config for p in sw.points] == [{"mu": m, "n": 100} for m in (0, 0.5, 1)]
    assert all(p.seeds == 4 for p in sw.points)  # the figure's own runs at its default scale
    sw = resolve({"experiment": "demo", "scale": "paper", "fixed": {"mu": "0,1", "runs": "3"}, "grid": {"n": [10, 20]}})
    assert [p.config for p in sw.points] == [{"mu": 0.0, "n": 10}, {"mu": 1.0, "n": 10}, {"mu": 0.0, "n": 20},
                                             {"mu": 1.0, "n": 20}]
    assert [type(p.config["mu"]) for p in sw.points] == [float] * 4 and {p.seeds for p in sw.points} == {3}
    # a point that two combinations share is run once, with the most runs either asks for (seeds 0..n-1 nest)
    sw = resolve({"experiment": "demo", "fixed": {"mu": [0.5]}, "grid": {"runs": [2, 7, 5]}})
    assert [(p.config, p.seeds) for p in sw.points] == [({"mu": 0.5, "n": 100}, 7)]


@pytest.mark.parametrize("spec, message", [
    ({"experiment": "demo", "grid": {"sigma": [1]}}, "parameter 'sigma' is unknown for demo (known: mu, n, runs)"),
    ({"experiment": "demo", "grid": {"n": [100, 1]}}, "n must be an integer >= 2 (got 1)"),
    ({"experiment": "demo", "fixed": {"runs": 0}, "grid": {"n": [10]}}, "runs must be an integer >= 1 (got 0)"),
    ({"experiment": "demo", "grid": {"mu": [1]}, "seeds": 2}, "spec seeds applies to module:function computes"),
    ({"experiment": "demo", "grid": {"mu": []}}, "grid axis mu is empty"),
    ({"experiment": "demo", "grid": {}}, "grid is empty"),
    ({"experiment": "demo", "grid": {"mu": "0:1:0"}}, "point count"),
    ({"experiment": "demo", "grid": {"mu": "0:1:x"}}, "cannot parse"),
    ({"experiment": "demo", "grid": {"mu": [1]}, "fixed": {"mu": 2}}, "mu is given twice"),
    ({"experiment": "iclab.sweep.demo:noisy_mean", "grid": {"mu": [1]}, "seeds": 0}, "seeds must be an integer >= 1"),
    ({"experiment": "demo", "grdi": {"mu": [1]}}, "spec key 'grdi' is unknown"),
    ({"experiment": "demo", "zip": [{"mu": [1, 2], "n": [3]}]}, "same length"),
    ({"experiment": "nope", "grid": {"mu": [1]}}, "experiment must be one of"),
    ({"experiment": "no_such_module:f", "grid": {"x": [1]}}, "cannot import module"),
    ({"experiment": "iclab.sweep.demo:nothing", "grid": {"x": [1]}}, "has no function 'nothing'"),
    ({"grid": {"x": [1]}}, "experiment must be"),
    ({"experiment": "iclab.sweep.demo:fails_on", "scale": "paper", "grid": {"x": [1]}}, "figure ids only"),
    ({"experiment": "demo", "scale": "huge", "grid": {"mu": [1]}}, "scale must be one of"),
])
def test_bad_specs(demo_figure, spec, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        resolve(spec)


@pytest.mark.parametrize("text, message", [
    ("experiment: demo\ngrid: {mu: [1, 2}\n", "malformed YAML at line"),
    ("- just\n- a list\n", "must be a YAML mapping"),
    ("experiment: demo\ngrid: {sigma: [1]}\n", "parameter 'sigma' is unknown"),
    ("experiment: demo\ngrid: {mu: []}\n", "grid axis mu is empty"),
])
def test_cli_bad_spec_is_one_line_exit_2_and_store_untouched(demo_figure, tmp_path, capsys, text, message):
    spec, store = tmp_path / "spec.yaml", tmp_path / "s.sqlite"
    spec.write_text("experiment: demo\ngrid: {mu: [0, 1]}\n")
    assert main(["sweep", str(spec), "--store", str(store), "--no-progress"]) == 0
    before, before_bytes = Store(store, readonly=True).rows(), store.read_bytes()
    spec.write_text(text)
    capsys.readouterr()
    assert main(["sweep", str(spec), "--store", str(store), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("iclab: error:") and message in err and err.count("\n") == 1
    assert store.read_bytes() == before_bytes and Store(store, readonly=True).rows() == before


def test_cli_store_that_is_not_sqlite_is_left_unchanged(demo_figure, tmp_path, capsys):
    spec, store = tmp_path / "spec.yaml", tmp_path / "results.csv"
    spec.write_text("experiment: demo\ngrid: {mu: [0, 1]}\n")
    store.write_bytes(b"x,y\n1,2\n")
    for argv in (["sweep", str(spec)], ["sweep", str(spec), "--dry-run"], ["results", "ls"],
                 ["results", "export", "--out", str(tmp_path / "o.csv")], ["report", "--out", str(tmp_path)]):
        assert main(argv + ["--store", str(store)]) == 2
        err = capsys.readouterr().err
        assert "not an SQLite file" in err and err.count("\n") == 1
    assert store.read_bytes() == b"x,y\n1,2\n" and sorted(p.name for p in tmp_path.iterdir()) == [
        "results.csv", "spec.yaml"]


def test_dry_run_counts_and_estimates_from_stored_timings(demo_figure, tmp_path, capsys):
    spec, store = tmp_path / "spec.yaml", tmp_path / "s.sqlite"
    spec.write_text("experiment: demo\nfixed: {runs: 5}\ngrid: {mu: '0:1:3'}\nzip: [{n: [10, 20]}]\n")
    assert main(["sweep", str(spec), "--store", str(store), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "6 points (mu[3] x n[2]) x 5 seeds = 30 runs" in out and "unknown" in out and not store.exists()
    spec.write_text("experiment: demo\nfixed: {runs: 5}\ngrid: {mu: '0:1:3'}\nzip: [{n: [10]}]\n")
    assert main(["sweep", str(spec), "--store", str(store), "--no-progress"]) == 0
    spec.write_text("experiment: demo\nfixed: {runs: 5}\ngrid: {mu: '0:1:3'}\nzip: [{n: [10, 20]}]\n")
    assert main(["sweep", str(spec), "--store", str(store), "--dry-run", "--workers", "2"]) == 0
    out = capsys.readouterr().out
    mean = Store(store, readonly=True).mean_wall_time("demo")
    assert "15 already in" in out and "15 to compute" in out and f"{mean:.3g} s per run" in out
    assert "on 2 workers" in out and "no stored timing" not in out
    # runs of another kind (a different string parameter) have no timing of their own yet: flagged as a guess
    spec.write_text("experiment: iclab.sweep.demo:noisy_mean\nname: demo\nfixed: {kind: other, n: 10}\n"
                    "grid: {mu: [0]}\n")
    assert main(["sweep", str(spec), "--store", str(store), "--dry-run"]) == 0
    assert "1 runs are of a kind with no stored timing yet" in capsys.readouterr().out


def test_results_ls_show_export(demo_figure, tmp_path, capsys):
    spec, store = tmp_path / "spec.yaml", tmp_path / "s.sqlite"
    spec.write_text("experiment: demo\nfixed: {runs: 2}\ngrid: {mu: [0, 1]}\n")
    assert main(["sweep", str(spec), "--store", str(store), "--no-progress"]) == 0
    assert main(["results", "ls", "--store", str(store)]) == 0
    assert re.search(r"│\s*2\s*│\s*4\s*│\s*0\s*│.*│\s*demo\s*│", capsys.readouterr().out)
    assert main(["results", "show", "demo", "--store", str(store)]) == 0
    assert "demo: 4 ok rows" in capsys.readouterr().out
    assert main(["results", "show", "nope", "--store", str(store)]) == 2
    for fmt in ("csv", "parquet"):
        out = tmp_path / f"x.{fmt}"
        assert main(["results", "export", "demo", "--format", fmt, "--out", str(out), "--store", str(store)]) == 0
        df = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
        assert len(df) == 4 and set(df["mu"]) == {0, 1} and df["mean"].notna().all()
    assert main(["results", "export", "--format", "xlsx", "--store", str(store)]) == 2


def test_report_embeds_figures_and_agreement(demo_figure, tmp_path):
    spec, store = tmp_path / "spec.yaml", tmp_path / "s.sqlite"
    spec.write_text("experiment: demo\nfixed: {runs: 30}\ngrid: {mu: [0, 1, 2]}\n")
    assert main(["sweep", str(spec), "--store", str(store), "--no-progress"]) == 0
    other = tmp_path / "other.yaml"
    other.write_text("experiment: iclab.sweep.demo:fails_on\nfixed: {fail: [1]}\ngrid: {x: [0, 1]}\n")
    assert main(["sweep", str(other), "--store", str(store), "--no-progress"]) == 0
    assert main(["report", "--store", str(store), "--out", str(tmp_path / "rep")]) == 0
    page = (tmp_path / "rep" / "report.html").read_text()
    png = (tmp_path / "rep" / "demo" / "demo.png").read_bytes()
    assert base64.b64encode(png).decode() in page  # self-contained: the PNG is inside the page
    assert "<h3>Agreement</h3>" in page and "1 failed runs left out" in page and "Environment" in page
    agreement = pd.read_csv(tmp_path / "rep" / "demo" / "demo.csv")
    # the mean of 100 N(mu, 1) draws: its seed average is within a few standard errors of mu
    assert np.allclose(agreement["theory"], [0, 1, 2]) and (agreement["z"].abs() < 4).all()
    assert agreement["sim_sem"].between(0.1 / np.sqrt(30) / 2, 0.1 / np.sqrt(30) * 2).all()
    assert all(f"mean at mu={mu}" in page for mu in (0, 1, 2)) and "simulation (mean ± SE)" in page


def test_reproduce_runs_through_the_store_and_replots_from_it(demo_figure, tmp_path, capsys):
    import time

    argv = ["reproduce", "demo", "--store", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "out"),
            "--no-progress"]
    assert main(argv) == 0
    first = (tmp_path / "out" / "demo" / "demo.csv").read_text()
    with Store(tmp_path / "s.sqlite", readonly=True) as st:
        assert st.count("demo") == 16 and st.last_sweep("demo")["n_computed"] == 16
    t0 = time.perf_counter()
    assert main(argv) == 0
    with Store(tmp_path / "s.sqlite", readonly=True) as st:
        assert st.count("demo") == 16 and st.last_sweep("demo")["n_computed"] == 0  # nothing recomputed
    assert (tmp_path / "out" / "demo" / "demo.csv").read_text() == first and time.perf_counter() - t0 < 10


def test_python_spec_equivalent_and_metric_name_clash(tmp_path):
    from iclab.sweep.spec import run_spec

    df = run_spec({"experiment": "iclab.sweep.demo:fails_on", "grid": {"x": "0:2:3"}}, progress=False)
    assert df["y"].tolist() == [0.0, 1.0, 2.0]
    # a metric that would overwrite a config column is a failed run, not a silently wrong table
    df = run_spec({"experiment": "iclab.sweep.demo:fails_on", "grid": {"y": [1]}, "fixed": {"x": 0}},
                  progress=False)
    assert len(df) == 0 and "metric names must differ" in df.attrs["failed"][0][2]


@given(hs.lists(hs.integers(1, 3), min_size=1, max_size=3), hs.integers(0, 3))
def test_expansion_is_the_product_of_axes_and_zip_groups(grid_sizes, zip_len):
    grid = {f"g{i}": list(range(n)) for i, n in enumerate(grid_sizes)}
    spec = {"experiment": "iclab.sweep.demo:fails_on", "grid": grid}
    if zip_len:
        spec["zip"] = [{"za": list(range(zip_len)), "zb": [f"s{j}" for j in range(zip_len)]}]
    sw = resolve(spec)
    combos = [tuple(p.config[k] for k in sorted(p.config)) for p in sw.points]
    assert len(combos) == len(set(combos)) == int(np.prod(grid_sizes)) * (zip_len or 1)
    assert all(p.config.get("zb", "s0") == f"s{p.config.get('za', 0)}" for p in sw.points)  # zipped, not crossed
