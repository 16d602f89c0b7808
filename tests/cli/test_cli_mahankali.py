"""``iclab theory mahankali2023``: table, CSV and JSON through the one output path, numbers checked by hand."""

import csv
import io
import json
import re

import numpy as np
import pytest

from iclab.cli.mahankali import COV_COLUMNS, ISOTROPIC_COLUMNS

from .helpers import run_cli


def run(capsys, *args):
    return run_cli(capsys, "theory", "mahankali2023", *args)


def _iso_by_hand(d, n, s2):
    """Theorem 1 by hand: eta* = n/(n+d+1+σ²); the minimal loss against the clean target is d(1 - eta*), σ² more
    against the noisy one."""
    eta = n / (n + d + 1 + s2)
    return eta, d * (1 - eta) + s2, d * (1 - eta)


def test_table_prints_the_hand_checked_row(capsys):
    code, out, _ = run(capsys, "--d", "5", "--n", "20", "--sigma2", "0.25")
    assert code == 0
    # eta* = 20/26.25 = 0.761905, losses 5 (1 - eta*) = 1.190476 (clean) and + 0.25 (noisy)
    assert "0.761905" in out and "1.44048" in out and "1.19048" in out and "Theorem 1" in out


def test_csv_parses_back_to_the_closed_forms(capsys):
    code, out, _ = run(capsys, "--d", "5", "--n", "10,20", "--sigma2", "0,0.5", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert tuple(rows[0]) == ISOTROPIC_COLUMNS and len(rows) == 4
    assert [(r["n"], r["sigma2"]) for r in rows] == [("10", "0.0"), ("10", "0.5"), ("20", "0.0"), ("20", "0.5")]
    for r in rows:
        eta, noisy, clean = _iso_by_hand(5, int(r["n"]), float(r["sigma2"]))
        assert float(r["eta_star"]) == pytest.approx(eta, rel=1e-14)
        assert float(r["min_loss_noisy"]) == pytest.approx(noisy, rel=1e-14)
        assert float(r["min_loss_clean"]) == pytest.approx(clean, rel=1e-14)
    assert float(rows[1]["eta_star"]) == pytest.approx(0.6061, abs=5e-5)  # d = 5, n = 10, σ² = 0.5: 10/16.5


def test_cov_rows_per_prior_with_the_preconditioners_by_hand(capsys):
    # Σ = diag(1/4, 1, 4), n = 10, σ² = 0.5: eta* = 10/14.5. Inverse prior: Γ* = eta* Σ⁻¹, and the loss is the
    # isotropic one (whitening): 3 (1 - eta*) + σ². Identity prior: Γ* = ((n+1)/n Σ + (tr Σ + σ²)/n I)⁻¹
    # = diag(1/0.85, 1/1.675, 1/4.975) (tr Σ = 5.25).
    code, out, _ = run(capsys, "--n", "10", "--sigma2", "0.5", "--cov", "[0.25, 1, 4]", "--format", "csv")
    assert code == 0
    rows = {r["prior"]: r for r in csv.DictReader(io.StringIO(out))}
    assert list(rows) == ["inverse", "identity"] and tuple(next(iter(rows.values()))) == COV_COLUMNS
    eta = 10 / 14.5
    inverse, identity = rows["inverse"], rows["identity"]
    assert float(inverse["min_loss_noisy"]) == pytest.approx(3 * (1 - eta) + 0.5, rel=1e-12)  # 1.4310
    assert float(inverse["min_loss_clean"]) == pytest.approx(3 * (1 - eta), rel=1e-12)
    assert float(inverse["gamma_eig_min"]) == pytest.approx(eta / 4, rel=1e-12)
    assert float(inverse["gamma_eig_max"]) == pytest.approx(eta * 4, rel=1e-12)
    assert float(identity["gamma_eig_min"]) == pytest.approx(1 / 4.975, rel=1e-12)
    assert float(identity["gamma_eig_max"]) == pytest.approx(1 / 0.85, rel=1e-12)
    assert float(identity["min_loss_noisy"]) - float(identity["min_loss_clean"]) == pytest.approx(0.5, rel=1e-12)

    code, out, _ = run(capsys, "--n", "10", "--sigma2", "0.5", "--cov", "[0.25, 1, 4]", "--prior", "identity",
                       "--format", "json")
    assert code == 0
    (row,) = json.loads(out)
    np.testing.assert_allclose(row["preconditioner"], np.diag([1 / 0.85, 1 / 1.675, 1 / 4.975]), atol=1e-14)
    np.testing.assert_allclose(row["eigenvalues"], [1 / 4.975, 1 / 1.675, 1 / 0.85], rtol=1e-12)
    assert row["cov"] == [[0.25, 0, 0], [0, 1, 0], [0, 0, 4]]


def test_cond_cov_in_json_has_the_condition_number(capsys):
    code, out, _ = run(capsys, "--n", "5", "--d", "4", "--cov", "cond:10", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert [r["prior"] for r in rows] == ["inverse", "identity"]
    cov = np.asarray(rows[0]["cov"])
    assert np.linalg.cond(cov) == pytest.approx(10.0)
    # inverse prior: Γ* = eta* Σ⁻¹, eta* = 5/10
    np.testing.assert_allclose(rows[0]["preconditioner"], 0.5 * np.linalg.inv(cov), rtol=1e-10, atol=1e-12)


def test_table_with_cov(capsys):
    code, out, _ = run(capsys, "--n", "10", "--sigma2", "0.5", "--cov", "[0.25, 1, 4]")
    assert code == 0
    assert "Theorem 2" in out and "inverse" in out and "identity" in out and "1.43103" in out


@pytest.mark.parametrize("args,msg", [
    (["--d", "5", "--n", "0"], "n must be"),
    (["--d", "5", "--n", "2.5"], "n must be an integer"),
    (["--n", "5", "--cov", "[[1, 2], [2, 1]]"], "symmetric positive-definite"),
    (["--n", "5", "--cov", "[[1, 0.2], [0, 1]]"], "symmetric"),
    (["--n", "5", "--cov", "[1, -1]"], "positive-definite"),
    (["--n", "5", "--d", "3", "--cov", "[1, 2]"], "cov must be a \\(3, 3\\)"),
    (["--n", "5", "--cov", "{a: 1}"], "cov must be"),
    (["--n", "5"], "d must be given"),
    (["--d", "3", "--n", "5", "--sigma2", "-1"], "sigma2"),
    (["--d", "3", "--n", "5", "--prior", "flat"], "prior"),
    (["--d", "3", "--n", "5", "--format", "xml"], "format"),
])
def test_bad_input_one_line_exit_2(capsys, args, msg):
    code, _, err = run(capsys, *args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and re.search(msg, err), err
