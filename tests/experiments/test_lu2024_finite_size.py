"""Experiment lu2024-finite-size: run sizing, batch compute, the extrapolation table and claims on synthetic
ladders with a known d -> inf value, and a tiny end-to-end run."""

import csv
import json
import math

import numpy as np
import pandas as pd
import pytest

from iclab.experiments import get_experiment
from iclab.experiments import lu2024_finite_size as F
from iclab.experiments.solvable_points import point_ratios, simulate_point
from iclab.settings import from_json_number
from iclab.sweep.reproduce import run_experiment
from iclab.theory import lu2024


def test_quick_points_cover_the_ladder_and_grid_with_runs_sized_for_the_target_se():
    pts = get_experiment("lu2024-finite-size").plan("quick", False, {})
    ds = sorted({p.config["d"] for p in pts})
    assert set(ds) >= {16, 24, 32, 48, 64, 96, 128}
    grid = {(p.config["tau"], p.config["alpha"], p.config["kappa"]) for p in pts}
    assert grid >= {(t, a, 0.5) for t in (0.2, 0.5, 1.5, 2.0) for a in (1.0, 10.0)}
    assert {(t, 10.0, "inf") for t in (0.2, 0.5, 1.5, 2.0)} <= grid
    for p in pts:
        c = F.SPREAD[(p.config["tau"], p.config["alpha"], from_json_number(p.config["kappa"]))]
        runs = p.seeds * p.config["batch"]
        # relative SE c / (d sqrt(runs)) <= 0.3% (run counts computed by hand: c = 2, d = 64 -> 109 runs)
        assert c / (p.config["d"] * math.sqrt(runs)) <= 0.003 + 1e-12 and runs >= 8
    quick = F.SETTINGS["quick"]
    assert F.runs_at(2.0, 64, quick) == (16, 7)
    assert F.runs_at(2.0, 128, quick) == (16, 2)  # 28 runs, two per batch
    assert {p.config["scale"] for p in pts} == {"quick"}


def test_cost_model_reproduces_its_calibration_timings():
    # per-run CPU seconds measured on 2 idle cores (two workers), stated in run_seconds' docstring
    for d, tau, rtol, measured in [(128, 0.5, 1e-8, 3.725), (192, 0.5, 1e-8, 42.0), (128, 2.0, 1e-8, 3.33),
                                   (96, 1.5, 1e-8, 1.27), (256, 0.2, 1e-8, 16.4)]:
        assert F.run_seconds(d, tau, rtol) == pytest.approx(measured, rel=0.15), (d, tau)
    # CG iterations scale with log(2 / rtol): 1e-6 costs 14.5/19.1 of 1e-8 in the solve
    solve = [F.run_seconds(128, 2.0, r) - 7e-10 * 128**4 - 2e-3 for r in (1e-8, 1e-6)]
    assert solve[1] / solve[0] == pytest.approx(math.log(2e6) / math.log(2e8), rel=1e-12)


def test_paper_ladder_stops_where_a_cell_exceeds_its_budget():
    s = F.SETTINGS["paper"]
    pts = get_experiment("lu2024-finite-size").plan("paper", False, {})
    cells = {(p.config["tau"], p.config["alpha"], p.config["kappa"], p.config["d"]): p for p in pts}
    assert all(F.cost(p.config) * p.seeds <= s.cell_budget for p in pts)
    assert (0.2, 10.0, 0.5, 256) in cells and (2.0, 10.0, "inf", 256) in cells
    # τ = 0.5, α = 100 (spread 5.2) at d = 128: ⌈(5.2 / (0.003 · 128))²⌉ = 184 runs of ≈ 3.9 s, over 400 s
    assert (0.5, 100.0, 0.5, 96) in cells and (0.5, 100.0, 0.5, 128) not in cells
    assert F.runs_at(5.2, 128, s) == (8, 23)
    # every point keeps the whole quick ladder
    for key in {k[:3] for k in cells}:
        assert {d for d in (16, 24, 32, 48, 64, 96) if key + (d,) in cells} == {16, 24, 32, 48, 64, 96}
    unlimited = get_experiment("lu2024-finite-size").plan("paper", False, {"cell_budget": "inf"})
    assert len(unlimited) == 9 * 18 > len(pts)


def test_compute_is_the_mean_of_its_batch_of_seeds():
    cfg = {"kind": "gamma-batch", "d": 8, "tau": 1.5, "alpha": 2.0, "kappa": 0.5, "rho": 0.01, "lam": 1e-5,
           "batch": 3}
    out = F.compute(cfg, 2)
    runs = [simulate_point(cfg, s) for s in (6, 7, 8)]
    assert out["runs"] == 3 and out["e_icl"] == pytest.approx(np.mean([r["e_icl"] for r in runs]), rel=1e-14)


def synthetic_df(offset=0.0, seed=0):
    """Batch rows whose means follow theory(realised ratios) · (1 + offset) + 0.5/d + noise (batch std 2%/d·10)."""
    rng = np.random.default_rng(seed)
    rows = []
    for tau, alpha, kappa in [(0.2, 10.0, 0.5), (2.0, 10.0, 0.5), (2.0, 10.0, "inf")]:
        for d in (16, 24, 32, 48, 64, 96, 128):
            cfg = {"kind": "gamma-batch", "scale": "quick", "d": d, "tau": tau, "alpha": alpha, "kappa": kappa,
                   "rho": 0.01, "lam": 1e-5, "batch": 4}
            rr = point_ratios(cfg)
            th = lu2024.evaluate(rr["tau"], rr["alpha"], rr["kappa"], 0.01, 1e-5)
            for s in range(16):
                rows.append(cfg | {"seed": s, "runs": 4, **{
                    m: float(th[m]) * (1 + offset) + 0.5 / d + 0.2 / d * rng.standard_normal()
                    for m in ("e_icl", "e_idg")}})
    return pd.DataFrame(rows)


def test_extrapolation_table_recovers_the_planted_limit_and_claims_follow():
    tab = F.extrapolation_table(synthetic_df())
    assert set(["metric", "tau", "alpha", "kappa", "rho", "lam", "e_inf", "e_inf_se", "theory"]) <= set(tab)
    assert len(tab) == 6
    nominal = lu2024.evaluate(tab["tau"].to_numpy(), tab["alpha"].to_numpy(), tab["kappa"].to_numpy(), 0.01, 1e-5)
    theory = np.where(tab["metric"] == "e_icl", nominal["e_icl"], nominal["e_idg"])
    assert tab["theory"].to_numpy() == pytest.approx(theory, rel=1e-12)
    assert np.all(np.abs(tab["e_inf"] - theory) <= 4 * tab["e_inf_se"])
    assert np.all(tab["e_inf_se"] / theory < 0.01)
    summary = F.claims(synthetic_df(), "quick")[0]
    assert summary.holds is True and summary.value == 1.0
    # a planted 3% offset of the whole curve is an e_inf 3% off the theory: the claim fails
    bad = F.claims(synthetic_df(offset=0.03), "quick")
    assert bad[0].holds is False and all(c.holds is False for c in bad[1:])
    off = F.extrapolation_table(synthetic_df(offset=0.03))
    assert np.all(np.abs(off["rel_dev"] - 0.03) <= 4 * off["e_inf_se"] / off["theory"])
    report = F.agreement(synthetic_df())
    assert len(report) == 6 and report["quantity"].str.contains("extrapolated in 1/d").all()


def test_tiny_end_to_end_run_writes_figure_csvs_and_claims(tmp_path):
    files = run_experiment("lu2024-finite-size", overrides={"ds": "8,12,16", "taus": "2", "alphas": "10",
                                                            "target_se": 0.05, "min_runs": 4, "batches": 4},
                           out_dir=tmp_path, store=None, progress=False)
    names = sorted(f.name for f in files)
    assert names == ["claims.json", "lu2024-finite-size-ladder.csv", "lu2024-finite-size.csv",
                     "lu2024-finite-size.png"]
    out = tmp_path / "lu2024-finite-size"
    rows = list(csv.DictReader(open(out / "lu2024-finite-size.csv")))
    assert len(rows) == 4 and {r["metric"] for r in rows} == {"e_icl", "e_idg"}
    doc = json.loads((out / "claims.json").read_text())
    assert doc["claims"][0]["id"] == "finite-size-extrapolation" and len(doc["claims"]) == 5


def test_bad_overrides_are_one_line_errors():
    exp = get_experiment("lu2024-finite-size")
    with pytest.raises(ValueError, match="ds must hold at least 2"):
        exp.plan("quick", False, {"ds": "16"})
    with pytest.raises(ValueError, match="ds must hold at least 2"):
        exp.plan("quick", False, {"ds": "16,16"})  # repeats collapse
    with pytest.raises(ValueError, match="ds must be an integer >= 2"):
        exp.plan("quick", False, {"ds": "1,16"})
    with pytest.raises(ValueError, match="ds must be an integer"):
        exp.plan("quick", False, {"ds": "16.5,32"})
    with pytest.raises(ValueError, match="min_runs must be <= max_runs = 4"):
        exp.plan("quick", False, {"max_runs": 4})
    with pytest.raises(ValueError, match="cell_budget must be > 0"):
        exp.plan("paper", False, {"cell_budget": 0})
    with pytest.raises(ValueError, match="taus must be > 0"):
        exp.plan("quick", False, {"taus": "0,1"})
    with pytest.raises(ValueError, match="--set key"):
        exp.plan("quick", False, {"d": 16})


def test_overrides_keep_the_scale_name_and_sort_the_ladder():
    exp = get_experiment("lu2024-finite-size")
    pts = exp.plan("paper", False, {"ds": "32,16,16", "taus": "2", "alphas": "10"})
    assert [p.config["d"] for p in pts] == [16] * 4 + [32] * 4  # d outermost, ascending; 2 grid + 2 near τ
    assert {p.config["scale"] for p in pts} == {"paper"}
    assert {type(p.config["d"]) for p in pts} == {int} and {p.config["kappa"] for p in pts} == {0.5, "inf"}
