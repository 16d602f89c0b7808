"""``iclab theory letey2025``: reference values through the CLI, files, formats, and one-line errors (exit 2)."""

import csv
import io
import json

import numpy as np
import pytest

from iclab.cli.letey import LETEY_COLUMNS

from .helpers import run_cli

BASE = ["--tau", "4", "--alpha", "2", "--kappa", "1", "--rho", "0.01"]


def run(capsys, *args):
    return run_cli(capsys, "theory", "letey2025", *args)


def test_json_reference_values_and_alpha_test_grid(capsys):
    """Reference values of the structured ridgeless theory (d = 100, ρ = 0.01), computed by an independent
    implementation and matched by the authors' Monte Carlo: train pl(1) against a spike test at j = 1 and j = d
    (α_test = α = 2) and against pl(1) at α_test = 10; one solve serves all of them."""
    code, out, _ = run(capsys, "--d", "100", "--train", "pl:1", "--test", "spike:0.5:1", "--test", "spike:0.5:100",
                       "--test", "pl:1", *BASE, "--alpha-test", "2,10", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 6 and list(rows[0]) == list(LETEY_COLUMNS)
    get = {(r["test"], r["alpha_test"]): r for r in rows}
    assert get["spike:0.5:1", 2]["e_icl"] == pytest.approx(0.45197682, abs=5e-9)
    assert get["spike:0.5:100", 2]["e_misalign"] == pytest.approx(0.67490777, abs=5e-9)
    assert get["pl:1", 10]["e_icl"] == pytest.approx(0.28690997, abs=5e-9)
    assert all(r["e_idg"] == pytest.approx(0.27292616, abs=5e-9) for r in rows)
    assert all(r["e_icl"] == pytest.approx(r["e_bias"] + r["e_misalign"], rel=1e-14) for r in rows)


def test_csv_grid_and_defaults(capsys):
    """C_train = C_test = I reduces to Lu et al.'s theory exactly (λ = 0.1 here) on a 2 × 2 grid; α_test defaults
    to α; the test name is written as it is."""
    code, out, _ = run(capsys, "--d", "7", "--train", "iso", "--test", "iso", "--tau", "2", "--alpha", "1,3",
                       "--kappa", "0.5", "--rho", "0.01", "--lam", "0,0.1", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 4 and tuple(rows[0]) == LETEY_COLUMNS and rows[0]["test"] == "iso"
    assert all(r["alpha_test"] == r["alpha"] for r in rows)
    r = next(r for r in rows if r["alpha"] == "1.0" and r["lam"] == "0.1")
    assert float(r["e_icl"]) == pytest.approx(1.0713503963, abs=5e-11)
    assert float(r["lambda_tilde"]) == pytest.approx(0.18020882, abs=5e-9)


def test_files_spectrum_and_rotated_matrix(capsys, tmp_path):
    """A spectrum in .txt and the same covariance rotated, in .npy, give the same row (a two-level
    spectrum, τ = 2)."""
    spec = np.r_[np.full(3, 1.6), np.full(3, 0.4)]
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((6, 6)))
    np.savetxt(tmp_path / "tr.txt", spec)
    np.save(tmp_path / "tr.npy", q @ np.diag(spec) @ q.T)
    np.save(tmp_path / "te.npy", q @ np.diag(spec[::-1]) @ q.T)
    args = ["--tau", "2", "--alpha", "2", "--kappa", "0.5", "--rho", "0.01", "--lam", "0.1", "--format", "json"]
    code, out, _ = run(capsys, "--train", str(tmp_path / "tr.txt"), "--test", "iso", *args)
    assert code == 0 and json.loads(out)[0]["e_icl"] == pytest.approx(0.88019125, abs=5e-9)
    code, out, _ = run(capsys, "--train", str(tmp_path / "tr.npy"), "--test", str(tmp_path / "te.npy"), *args)
    assert code == 0 and json.loads(out)[0]["e_icl"] == pytest.approx(0.99329915, abs=5e-9)


def test_table(capsys):
    code, out, _ = run(capsys, "--d", "100", "--train", "pl:1", "--test", "iso", "--tau", "2", "--alpha", "1",
                       "--kappa", "0.5", "--rho", "0.01")
    assert code == 0 and "1.19841" in out and "0.856251" in out and "e_misalign" in out


@pytest.fixture
def files(tmp_path):
    np.save(tmp_path / "nonsym.npy", np.array([[1.0, 2.0], [0.0, 1.0]]))
    np.save(tmp_path / "neg.npy", np.array([[1.0, 2.0], [2.0, 1.0]]))
    np.save(tmp_path / "zero.npy", np.zeros(2))
    np.save(tmp_path / "three.npy", np.ones(3))
    np.save(tmp_path / "cube.npy", np.ones((2, 2, 2)))
    (tmp_path / "junk.txt").write_text("a b\n")
    return tmp_path


@pytest.mark.parametrize("train, test, msg", [
    ("iso", "nonsym.npy", "symmetric"),
    ("iso", "neg.npy", "semi-definite"),
    ("iso", "zero.npy", "positive trace"),
    ("zero.npy", "iso", "positive trace"),
    ("iso", "three.npy", "size d = 2"),
    ("iso", "cube.npy", "spectrum (d,) or a matrix"),
    ("iso", "junk.txt", "not a numeric array"),
    ("iso", "missing.npy", "no family and no file"),
    ("pl:x", "iso", "must be numbers"),
    ("lowrank:3", "iso", "lowrank rank r"),
    ("spike:0.5:9", "iso", "spike index j"),
])
def test_bad_covariances_are_one_line_errors(capsys, files, train, test, msg):
    path = lambda s: str(files / s) if "." in s and ":" not in s else s   # noqa: E731
    code, out, err = run(capsys, "--d", "2", "--train", path(train), "--test", path(test), *BASE)
    assert code == 2 and out == ""
    assert err.startswith("iclab: error:") and msg in err and err.count("\n") == 1, err


def test_family_needs_d_and_bad_grid_values(capsys):
    code, _, err = run(capsys, "--train", "iso", "--test", "iso", *BASE)
    assert code == 2 and "--d must be given" in err
    code, _, err = run(capsys, "--d", "5", "--train", "iso", "--test", "iso", *BASE, "--alpha-test", "0")
    assert code == 2 and "alpha_test" in err and err.count("\n") == 1
    code, _, err = run(capsys, "--d", "5", "--train", "iso", "--test", "iso", "--tau", "-1", "--alpha", "1",
                       "--kappa", "1", "--rho", "0")
    assert code == 2 and "tau" in err
