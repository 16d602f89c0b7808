"""Finding one's way: `reproduce list` and `--dry-run`, `--version`, `theory alpha-star`, readable `--help`, and the
names of lazily loaded modules in dir()."""

import csv
import dataclasses
import io
import json
import subprocess
import sys

import pytest

import iclab
from iclab.cli.reproduce import FIGURES
from iclab.experiments import available, get_experiment

from .helpers import run_cli


def run(capsys, *args):
    return run_cli(capsys, *args)


def test_every_figure_has_a_kind_and_a_description():
    for exp_id in available():
        exp = get_experiment(exp_id)
        if not exp.description:  # the figure module leaves them to the CLI's table
            assert exp_id in FIGURES, exp_id
        kind = exp.kind if exp.description else FIGURES[exp_id][0]
        assert kind in ("theory", "simulation", "training"), exp_id


def test_reproduce_list_shows_kind_cost_and_description(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run(capsys, "reproduce", "list")
    assert code == 0
    for exp_id in available():
        line = next(ln for ln in out.splitlines() if f"│ {exp_id} " in ln)
        exp = get_experiment(exp_id)
        # a figure's own description wins over the CLI's fallback table (figure_info)
        kind, description = (exp.kind, exp.description) if exp.description else FIGURES[exp_id][:2]
        measured = FIGURES.get(exp_id, (None, None, None))[2]
        assert f"│ {kind} " in line and description[:30] in line
        assert ("unknown" in line) == (measured is None and exp.cost is None)
    assert "│ training " in out and "│ theory " in out and "│ simulation " in out


def test_dry_run_counts_points_and_runs_and_computes_nothing(capsys, tmp_path, monkeypatch):
    store, out_dir = tmp_path / "s.sqlite", tmp_path / "out"
    code, out, _ = run(capsys, "reproduce", "lu2024-fig1", "--dry-run", "--store", str(store), "--out", str(out_dir))
    assert code == 0
    # Lu et al. 2024, Fig. 1 at quick scale: 3 α curves + 3 λ curves; Γ* at 3 α x 6 τ and 3 λ x 7 τ, 5 runs each
    assert "45 points (6 theory, 39 gamma), 201 runs" in out
    assert not store.exists() and not out_dir.exists()
    # without a cost model, the default quick run falls back to its measured CPU time
    bare = dataclasses.replace(get_experiment("lu2024-fig1"), cost=None)
    monkeypatch.setattr("iclab.experiments.get_experiment", lambda exp_id: bare)
    code, out, _ = run(capsys, "reproduce", "lu2024-fig1", "--dry-run", "--store", str(store), "--out", str(out_dir))
    assert code == 0 and "about 3.6 s of CPU time" in out
    # with a cost model, the estimate is its sum over the runs still to compute; --set changes the folder
    exp = dataclasses.replace(get_experiment("lu2024-fig1"), cost=lambda c: 0.5 if c["kind"] == "gamma" else 0.1)
    monkeypatch.setattr("iclab.experiments.get_experiment", lambda exp_id: exp)
    code, out, _ = run(capsys, "reproduce", "lu2024-fig1", "--dry-run", "--set", "runs=2", "--workers", "2",
                       "--store", str(store), "--out", str(out_dir))
    assert code == 0 and "84 runs" in out and f"{out_dir}/lu2024-fig1/runs=2/" in out
    assert f"{(6 * 0.1 + 78 * 0.5):.3g} s of CPU time (the figure's cost model)" in out and "on 2 workers" in out
    code, out, _ = run(capsys, "reproduce", "lu2024-fig1", "--dry-run", "--scale", "paper", "--store", str(store))
    assert code == 0 and "396 runs" in out  # paper: 10 runs per simulated point, 39 x 10 + 6


def test_dry_run_without_a_cost_model_says_unknown(capsys, tmp_path, monkeypatch):
    bare = dataclasses.replace(get_experiment("lu2024-fig1"), cost=None)
    monkeypatch.setattr("iclab.experiments.get_experiment", lambda exp_id: bare)
    code, out, _ = run(capsys, "reproduce", "lu2024-fig1", "--dry-run", "--scale", "paper",
                       "--store", str(tmp_path / "s.sqlite"))
    assert code == 0 and "estimated cost: unknown" in out


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"iclab {iclab.__version__}"


def test_alpha_star_cli_matches_the_spec_values(capsys):
    # Lu et al. 2024, Fig. 2 panel B (e_ICL, τ = 0.5, ρ = 0.1): α* = 2.308, 9.603 for κ = 0.2, 0.5 (the theory's
    # minimisers, where the authors placed simulation points at α = 2.35, 9.62); none at 1.5
    code, out, _ = run(capsys, "theory", "alpha-star", "--tau", "0.5", "--kappa", "0.2,0.5,1.5", "--rho", "0.1",
                       "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert [r["kappa"] for r in rows] == [0.2, 0.5, 1.5]
    assert rows[0]["alpha_star"] == pytest.approx(2.308, abs=5e-4)
    assert rows[0]["e_star"] == pytest.approx(1.3897, abs=5e-5)
    assert rows[1]["alpha_star"] == pytest.approx(9.603, abs=5e-4)
    assert rows[1]["e_star"] == pytest.approx(1.1760, abs=1e-4)  # the reference rounds this minimum (1.175947) up
    assert rows[2]["alpha_star"] == "nan" and rows[2]["e_star"] == "nan"
    # panel A is e_IDG (τ = 0.5, ρ = 0.5): α* = 6.152 at κ = 0.3; the grid is cartesian over τ, κ, ρ, λ
    code, out, _ = run(capsys, "theory", "alpha-star", "--tau", "0.5,20", "--kappa", "0.3", "--rho", "0.5",
                       "--lam", "0,0.1", "--which", "idg", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 4
    assert float(rows[0]["alpha_star"]) == pytest.approx(6.152, abs=5e-4)
    code, _, err = run(capsys, "theory", "alpha-star", "--tau", "0.5", "--kappa", "0.5", "--rho", "-1")
    assert code == 2 and "rho" in err and err.count("\n") == 1


COMMANDS = [[], ["reproduce"], ["sweep"], ["report"], ["train"], ["theory"], ["theory", "lu2024"],
            ["theory", "alpha-star"], ["theory", "mahankali2023"], ["theory", "yang2024"], ["simulate", "lu2024"],
            ["results"], ["results", "ls"], ["results", "show"], ["results", "export"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "iclab")
def test_help_shows_readable_metavars(capsys, monkeypatch, command):
    monkeypatch.setenv("COLUMNS", "250")
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0 and "--help" in out
    for typer_label in ("<str>", "<bool>", "<int>", "<float>", "<path>", "<list[str]>"):
        assert typer_label not in out, typer_label


def test_theory_lu2024_help_names_the_value_grammar(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    _, out, _ = run(capsys, "theory", "lu2024", "--help")
    assert "--tau" in out and "VALUES" in out and "table|csv|json" in out


def test_lazy_modules_list_their_names_without_loading_them():
    code = ("import sys, iclab.estimators as e, iclab.sweep as s; names = dir(e); "
            "print(sorted(set(names) & {'gd_one_step', 'ridge', 'dmmse', 'dmmse_errors', 'bayes_ridge'}), "
            "'run' in dir(s) and 'Store' in dir(s), 'jax' in sys.modules, 'iclab.estimators.dmmse_jax' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("]")
    assert out[0] == "['bayes_ridge', 'dmmse', 'dmmse_errors', 'gd_one_step', 'ridge'"
    assert out[1].split() == ["True", "False", "False"]
