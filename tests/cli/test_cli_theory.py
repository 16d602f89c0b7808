"""``iclab theory lu2024``: grid evaluation, output formats, and one-line errors with exit code 2."""

import csv
import io
import json

import numpy as np
import pytest

from iclab.cli.theory import LU_COLUMNS
from iclab.theory import lu2024

from .helpers import run_cli


def run(capsys, *args):
    return run_cli(capsys, "theory", "lu2024", *args)


def test_json_is_a_list_of_rows_on_the_cartesian_grid(capsys):
    code, out, _ = run(capsys, "--tau", "0.5,2", "--alpha", "1", "--kappa", "0.5,inf", "--rho", "0.01",
                       "--lam", "0,0.1", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 8 and list(rows[0]) == list(LU_COLUMNS)
    r = next(r for r in rows if r["tau"] == 2 and r["kappa"] == 0.5 and r["lam"] == 0.1)
    assert r["xi"] == pytest.approx(0.18021, abs=5e-6)           # reference values of the λ > 0 theory
    assert r["e_icl"] == pytest.approx(1.0714, abs=5e-5)
    fresh = [r for r in rows if r["kappa"] == "inf"]               # JSON has no inf: the config convention
    assert len(fresh) == 4 and all(r["e_icl"] == pytest.approx(r["e_idg"]) for r in fresh)


def test_csv_matches_the_library(capsys):
    code, out, _ = run(capsys, "--tau", "0.2:2:4", "--alpha", "logspace(0,2,3)", "--kappa", "0.5", "--rho", "0.01",
                       "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 12 and tuple(rows[0]) == LU_COLUMNS
    for r in rows:
        want = lu2024.evaluate(float(r["tau"]), float(r["alpha"]), 0.5, 0.01)
        assert float(r["e_icl"]) == want["e_icl"] and float(r["e_idg"]) == want["e_idg"]   # full precision
        assert float(r["g_task"]) == pytest.approx(float(r["e_icl"]) - float(r["e_idg"]))


def test_table_default(capsys):
    code, out, _ = run(capsys, "--tau", "2", "--alpha", "1", "--kappa", "0.5", "--rho", "0.01")
    assert code == 0
    assert "1.23399" in out and "0.609561" in out and "e_icl" in out   # reference ridgeless values


def test_threshold_is_inf_not_a_crash(capsys):
    code, out, _ = run(capsys, "--tau", "1", "--alpha", "10", "--kappa", "0.5", "--rho", "0.01", "--format", "json")
    assert code == 0
    assert json.loads(out)[0]["e_icl"] == "inf"


GOOD = {"--tau": "0.5", "--alpha": "10", "--kappa": "0.5", "--rho": "0.01", "--lam": "0"}


@pytest.mark.parametrize("opt, value, name", [
    ("--tau", "0", "tau"), ("--tau", "-1", "tau"), ("--alpha", "0", "alpha"), ("--alpha", "-3", "alpha"),
    ("--kappa", "0", "kappa"), ("--kappa", "-1", "kappa"), ("--rho", "-0.1", "rho"), ("--lam", "-1e-3", "lam"),
    ("--tau", "nan", "tau"), ("--rho", "0.1,nan", "rho"), ("--alpha", "1,,2", "alpha"), ("--kappa", "1:2", "kappa"),
    ("--lam", "abc", "lam"), ("--tau", "logspace(1,2)", "tau"), ("--alpha", "inf", "alpha")])
def test_bad_input_is_one_line_exit_2(capsys, opt, value, name):
    args = dict(GOOD, **{opt: value})
    code, out, err = run(capsys, *np.ravel(list(args.items())))
    assert code == 2 and out == ""
    assert err.startswith("iclab: error:") and err.count("\n") == 1 and name in err


def test_bad_format_and_missing_option(capsys):
    code, _, err = run(capsys, *np.ravel(list(GOOD.items())), "--format", "xml")
    assert code == 2 and "format must be one of" in err and err.count("\n") == 1
    code, _, err = run(capsys, "--tau", "1")
    assert code == 2 and err.count("\n") == 1
