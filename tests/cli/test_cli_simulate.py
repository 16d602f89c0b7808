"""``iclab simulate lu2024``: output formats, agreement with simulate_point and the theory, one-line errors."""

import csv
import io
import json

import numpy as np
import pytest

from iclab.cli import main
from iclab.experiments import solvable_points
from iclab.experiments.solvable_points import simulate_point
from iclab.sweep.store import Store
from iclab.theory import lu2024


def test_simulate_csv_matches_simulate_point_and_theory(capsys):
    assert main(["simulate", "lu2024", "--d", "8", "--tau", "0.5,2", "--alpha", "4", "--kappa", "1",
                 "--rho", "0.1", "--seeds", "3", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [float(r["tau"]) for r in rows] == [0.5, 2.0]
    cfg = {"d": 8, "tau": 2.0, "alpha": 4.0, "kappa": 1.0, "rho": 0.1, "lam": 0.0}
    runs = [simulate_point(cfg, s)["e_idg"] for s in range(3)]
    assert float(rows[1]["e_idg_mean"]) == pytest.approx(sum(runs) / 3, rel=1e-12)
    assert float(rows[1]["e_icl_theory"]) == pytest.approx(float(lu2024.e_icl(2.0, 4.0, 1.0, 0.1)), rel=1e-12)


def ridgeless_kappa_inf(tau, alpha, rho):
    """Lu et al. 2024's κ = ∞ ridgeless limit (fresh task per context, e_ICL = e_IDG), τ > 1, written out:
    τ/(τ−1) (ρ + (1+ρ)/(1+ρ+α))."""
    return tau / (tau - 1) * (rho + (1 + rho) / (1 + rho + alpha))


def test_simulate_json_and_table(capsys):
    args = ["simulate", "lu2024", "--d", "6", "--tau", "3", "--alpha", "2", "--kappa", "inf", "--rho", "0.1",
            "--lam", "0", "--seeds", "2"]
    assert main([*args, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["kappa"] == "inf" and out[0]["seeds"] == 2 and out[0]["e_icl_std"] > 0
    theory = ridgeless_kappa_inf(3.0, 2.0, 0.1)      # = 1.5 (0.1 + 1.1/3.1) = 0.682258...
    assert out[0]["e_icl_theory"] == pytest.approx(theory, rel=1e-12)
    assert out[0]["e_idg_theory"] == pytest.approx(theory, rel=1e-12)
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "e_icl_theory" in table and f"{theory:.5f}" in table


def test_extrapolated_simulation_reaches_the_kappa_inf_closed_form(capsys):
    """The d = inf row (the 1/d fit of d = 10, 14, 20, 16 seeds each) lies within 3 standard errors of the κ = ∞
    ridgeless closed form; every d alone is above it by a finite-size excess (+8% at d = 20)."""
    assert main(["simulate", "lu2024", "--d", "10,14,20", "--tau", "3", "--alpha", "2", "--kappa", "inf", "--rho",
                 "0.1", "--lam", "0", "--seeds", "16", "--extrapolate", "--format", "csv"]) == 0
    rows = _csv(capsys)
    theory = ridgeless_kappa_inf(3.0, 2.0, 0.1)
    assert [r["d"] for r in rows] == ["10", "14", "20", "inf"]
    for r in rows:
        assert float(r["e_icl_theory"]) == pytest.approx(theory, rel=1e-12)   # realised ratios = nominal here
    for m in ("e_icl", "e_idg"):
        assert all(float(r[f"{m}_mean"]) > theory for r in rows[:3])
        assert abs(float(rows[3][f"{m}_mean"]) - theory) < 3 * float(rows[3][f"{m}_se"]), rows[3]


@pytest.mark.parametrize(("change", "msg"), [
    (["--d", "1"], "d must"), (["--d", "6.5"], "d must"), (["--tau", "-1"], "tau must"),
    (["--kappa", "100"], "kappa must"), (["--lam", "-1"], "lam must"), (["--seeds", "0"], "seeds must"),
    (["--format", "xml"], "format must"), (["--rho", "x"], "rho"),
])
def test_simulate_bad_input_is_one_line(capsys, change, msg):
    base = {"--d": "6", "--tau": "1", "--alpha": "2", "--kappa": "1", "--rho": "0.1"}
    opts = dict(base)
    opts[change[0]] = change[1]
    argv = ["simulate", "lu2024", *[x for kv in opts.items() for x in kv]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1


def _csv(capsys):
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out)))


def test_extrapolate_prints_each_d_and_the_fit_at_realised_ratios(capsys):
    args = ["simulate", "lu2024", "--d", "6,8,12", "--tau", "0.2", "--alpha", "2", "--kappa", "0.5", "--rho",
            "0.1", "--lam", "0.01", "--seeds", "3", "--extrapolate", "--format", "csv"]
    assert main(args) == 0
    rows = _csv(capsys)
    assert [r["d"] for r in rows] == ["6", "8", "12", "inf"]
    # d = 6: k = 3, r = round(7 / 3) = 2, n = 6: n/d² = 1/6, not 0.2; l = 12, l/d = 2
    theory_6 = float(lu2024.e_icl(6 / 36, 2.0, 0.5, 0.1, 0.01))
    assert float(rows[0]["e_icl_theory_d"]) == pytest.approx(theory_6, rel=1e-12)
    assert float(rows[0]["e_icl_theory"]) == pytest.approx(float(lu2024.e_icl(0.2, 2.0, 0.5, 0.1, 0.01)), rel=1e-12)
    runs = np.array([simulate_point({"d": 8, "tau": 0.2, "alpha": 2.0, "kappa": 0.5, "rho": 0.1, "lam": 0.01}, s)
                     ["e_idg"] for s in range(3)])
    assert float(rows[1]["e_idg_mean"]) == pytest.approx(runs.mean(), rel=1e-12)
    assert float(rows[1]["e_idg_se"]) == pytest.approx(runs.std(ddof=1) / np.sqrt(3), rel=1e-10)
    # the d = inf row: the weighted fit of the three printed excesses (a/d only: AICc needs 5 dimensions for b/d²),
    # each d weighted by the SE of one relative spread c/d pooled over the three (3 runs, 2 dof each)
    d = np.array([6.0, 8.0, 12.0])
    m = np.array([float(r["e_icl_mean"]) for r in rows[:3]])
    x = m - np.array([float(r["e_icl_theory_d"]) for r in rows[:3]])
    se = np.array([float(r["e_icl_se"]) for r in rows[:3]])
    c = np.sqrt(np.mean((se * np.sqrt(3) * d / m) ** 2))
    w = 1 / (c * m / (d * np.sqrt(3))) ** 2
    X = np.stack([np.ones(3), 1 / d], 1)
    cov = np.linalg.inv(X.T @ (w[:, None] * X))
    c0 = (cov @ X.T @ (w * x))[0]
    chi2 = float(np.sum(w * (x - X @ (cov @ X.T @ (w * x))) ** 2))
    assert float(rows[3]["e_icl_mean"]) == pytest.approx(float(rows[0]["e_icl_theory"]) + c0, rel=1e-9)
    assert float(rows[3]["e_icl_se"]) == pytest.approx(np.sqrt(cov[0, 0] * max(1.0, chi2)), rel=1e-9)
    assert rows[3]["seeds"] == "9"


def test_extrapolate_needs_two_dimensions(capsys):
    assert main(["simulate", "lu2024", "--d", "8", "--tau", "1", "--alpha", "2", "--kappa", "1", "--rho", "0.1",
                 "--seeds", "2", "--extrapolate"]) == 2
    err = capsys.readouterr().err
    assert "d must list at least 2" in err and err.count("\n") == 1


def test_store_keeps_runs_like_a_sweep(tmp_path, capsys):
    store = tmp_path / "runs.sqlite"
    args = ["simulate", "lu2024", "--d", "6,8", "--tau", "1.5", "--alpha", "2", "--kappa", "inf", "--rho", "0.1",
            "--lam", "0.01", "--seeds", "2", "--format", "csv"]
    assert main(args) == 0
    plain = _csv(capsys)
    assert main([*args, "--store", str(store)]) == 0
    stored = _csv(capsys)
    assert stored == plain  # same seeds, same numbers
    with Store(store, readonly=True) as st:
        assert st.experiments() == ["simulate-lu2024"]
        rows = st.rows("simulate-lu2024")
        assert len(rows) == 4 and {r["seed"] for r in rows} == {0, 1}
    # a second call reads the stored runs: the store does not grow, and `iclab results ls` sees them
    assert main([*args, "--store", str(store), "--extrapolate"]) == 0
    capsys.readouterr()
    with Store(store, readonly=True) as st:
        assert len(st.rows("simulate-lu2024")) == 4
    assert main(["results", "ls", "--store", str(store)]) == 0
    assert "simulate-lu2024" in capsys.readouterr().out


def test_process_executor_gives_the_per_seed_numbers_and_a_second_call_hits_the_store(tmp_path, capsys, monkeypatch):
    """The runs go through the sweep engine: in worker processes with --executor process, each (point, seed) the
    same numbers as a direct simulate_point call; the same command again computes nothing (the store has them)."""
    store = tmp_path / "runs.sqlite"
    args = ["simulate", "lu2024", "--d", "6", "--tau", "0.5,1.5", "--alpha", "2", "--kappa", "0.5", "--rho", "0.1",
            "--seeds", "2", "--store", str(store), "--format", "csv"]
    assert main([*args, "--executor", "process", "--workers", "2"]) == 0
    first = _csv(capsys)
    configs = [{"d": 6, "tau": t, "alpha": 2.0, "kappa": 0.5, "rho": 0.1, "lam": 0.0} for t in (0.5, 1.5)]
    direct = [[simulate_point(c, s) for s in range(2)] for c in configs]
    for row, runs in zip(first, direct, strict=True):
        for m in ("e_icl", "e_idg"):
            v = np.array([r[m] for r in runs])
            assert float(row[f"{m}_mean"]) == pytest.approx(v.mean(), rel=1e-12)
            assert float(row[f"{m}_std"]) == pytest.approx(v.std(ddof=1), rel=1e-9)
    with Store(store, readonly=True) as st:
        stored = {(r["config"]["tau"], r["seed"]): r["metrics"] for r in st.rows("simulate-lu2024")}
    assert stored[(1.5, 1)]["e_icl"] == pytest.approx(direct[1][1]["e_icl"], rel=1e-12)

    def not_again(config, seed):
        raise AssertionError("computed again: the store was not used")

    monkeypatch.setattr(solvable_points, "simulate_point", not_again)  # the CLI looks it up per call
    assert main(args) == 0
    assert _csv(capsys) == first
