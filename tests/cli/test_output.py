"""The one output path of the numeric commands: tables that fit the terminal (hoisting constant columns, then
folding with the key columns repeated, never cutting a number), and special values printed exactly."""

import math

import pytest

from iclab.cli import main
from iclab.cli.output import format_number, print_rows
from iclab.cli.simulate import LU_COLUMNS


def table_cells(out: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("│").split("│")] for line in out.splitlines() if line.startswith("│")]


def test_format_number_spells_special_values():
    assert [format_number(v) for v in (math.inf, -math.inf, math.nan, 0.0, -0.0, 3, 1.23456789)] == [
        "inf", "-inf", "nan", "0", "0", "3", "1.23457"]


def simulate_rows(n=4):
    """Rows shaped like `iclab simulate lu2024` (13 columns), with distinct long numbers."""
    return [{"d": 64, "tau": t, "alpha": 10.0, "kappa": 0.5, "rho": 0.01, "lam": 0.0, "seeds": 10,
             "e_icl_mean": 1.234567 + t, "e_icl_std": 0.0123456 * (1 + t), "e_icl_theory": 1.2222222 + t,
             "e_idg_mean": 0.6543219 + t, "e_idg_std": 0.00987654 * (1 + t), "e_idg_theory": 0.6111111 + t}
            for t in (0.5, 1.5, 2.5, 3.5)[:n]]


@pytest.mark.parametrize("columns", [80, 60, 120])
def test_thirteen_column_table_fits_the_terminal(capsys, monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    rows = simulate_rows(4 if columns != 60 else 1)
    print_rows(rows, LU_COLUMNS, "table", digits=5, exact=("d", "seeds"), width=160, title="sim vs theory")
    out = capsys.readouterr().out
    assert max(map(len, out.splitlines())) <= columns
    shown = out.replace("…", "!")
    assert "!" not in shown  # nothing ellipsised
    for r in rows:  # every number appears whole, each with its row's τ beside it when folded
        for c in ("e_icl_mean", "e_idg_theory", "e_idg_std"):
            assert f"{r[c]:.5g}" in out
    if columns == 80:  # constant columns moved above the table, the varying key (τ) repeated in every fold
        flat = " ".join(out.split())
        assert "same in every row: d = 64, alpha = 10, kappa = 0.5, rho = 0.01, lam = 0, seeds = 10" in flat
        assert "folded into 2 tables" in flat
        cells = table_cells(out)
        assert all(len(row) > 1 for row in cells) and sum(row[0] == "0.5" for row in cells) >= 2


def test_wide_terminal_keeps_one_table(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    print_rows(simulate_rows(), LU_COLUMNS, "table", digits=5, exact=("d", "seeds"), title="t")
    out = capsys.readouterr().out
    assert "folded" not in out and "same in every row" not in out and out.count("┏") == 1


def test_theory_table_prints_exact_inf_and_zero(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["theory", "lu2024", "--tau", "1,2", "--alpha", "10", "--kappa", "0.5,inf", "--rho", "0.01"]) == 0
    rows = {(r[0], r[2]): r for r in table_cells(capsys.readouterr().out)}
    assert rows[("1", "0.5")][-3:] == ["inf", "inf", "inf"]  # e_icl, e_idg, g_task at the ridgeless peak
    assert rows[("1", "inf")][-1] == "0" and rows[("2", "inf")][-1] == "0"  # κ = ∞: g_task exactly 0
