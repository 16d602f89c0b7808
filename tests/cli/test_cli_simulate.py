"""``iclab simulate lu2024``: output formats, agreement with simulate_point and the theory, one-line errors."""

import csv
import io
import json

import pytest

from iclab.cli import main
from iclab.solvable import simulate_point
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


def test_simulate_json_and_table(capsys):
    args = ["simulate", "lu2024", "--d", "6", "--tau", "1.5", "--alpha", "2", "--kappa", "inf", "--rho", "0.1",
            "--lam", "0.1", "--seeds", "2"]
    assert main([*args, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["kappa"] == "inf" and out[0]["seeds"] == 2 and out[0]["e_icl_std"] > 0
    assert main(args) == 0
    assert "e_icl_theory" in capsys.readouterr().out


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
