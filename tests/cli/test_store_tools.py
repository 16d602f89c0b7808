"""``iclab results show`` (per-point summaries that fit the terminal) and ``results export --format parquet``
(κ = ∞ and other mixed columns round-trip; an export bug is not reported as bad input)."""

import numpy as np
import pytest

from iclab.cli import main
from iclab.experiments import lu2024_common as C
from iclab.sweep.config import point_hash
from iclab.sweep.store import Store

# Γ* simulations at tiny d added to the theory-only Figure 1: (config, runs); κ = ∞ stored as "inf" as Fig 1 does
SIMS = [({"kind": "gamma", "d": 6, "tau": 0.5, "alpha": 10.0, "kappa": 0.5, "rho": 0.01, "lam": 1e-5}, 3),
        ({"kind": "gamma", "d": 6, "tau": 2.0, "alpha": 10.0, "kappa": "inf", "rho": 0.01, "lam": 0.1}, 3),
        ({"kind": "gamma", "d": 6, "tau": 0.2, "alpha": 1.0, "kappa": 0.5, "rho": 0.01, "lam": 1e-5}, 1)]


@pytest.fixture(scope="module")
def fig1_store(tmp_path_factory):
    """The quick Figure 1 theory curves (via `iclab reproduce`) plus a few stored Γ* runs; returns (path, runs)."""
    tmp = tmp_path_factory.mktemp("fig1")
    store = tmp / "s.sqlite"
    assert main(["reproduce", "lu2024-fig1", "--theory-only", "--store", str(store), "--out", str(tmp / "out"),
                 "--no-progress"]) == 0
    runs = {}
    with Store(store) as st:
        for config, n in SIMS:
            runs[point_hash(config)] = [C.compute(config, seed) for seed in range(n)]
            for seed, metrics in enumerate(runs[point_hash(config)]):
                st.put("lu2024-fig1", point_hash(config), seed, config, metrics=metrics, wall_time=0.01)
    return store, runs


def table_rows(out: str) -> list[dict[str, str]]:
    """The data rows of the rich tables in ``out``, as dicts keyed by each table's header cells."""
    rows, header = [], None
    for line in out.splitlines():
        if line.startswith("┃"):
            header = [c.strip() for c in line.strip("┃").split("┃")]
        elif line.startswith("│") and header:
            rows.append(dict(zip(header, (c.strip() for c in line.strip("│").split("│")), strict=True)))
    return rows


def show(capsys, store, *args):
    code = main(["results", "show", "lu2024-fig1", "--store", str(store), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_show_fits_120_columns_by_default_and_summarises_points(fig1_store, capsys, monkeypatch):
    store, runs = fig1_store
    monkeypatch.delenv("COLUMNS", raising=False)
    code, out, _ = show(capsys, store)
    assert code == 0
    lines = out.splitlines()
    assert max(map(len, lines)) <= 120  # the rows used to print whole curves (4,088 characters)
    assert "lu2024-fig1: 13 ok rows, 9 points" in out  # 6 theory curves + 3 simulated points with 3 + 3 + 1 runs
    assert "curve_x [" in out and "hidden array columns" in out
    # one row per simulated point, with the number of runs and mean ± std (ddof 1) computed here from the runs
    for config, n in SIMS:
        e = np.array([r["e_icl"] for r in runs[point_hash(config)]])
        row = next(r for r in table_rows(out) if r.get("tau") == f"{config['tau']:g}")
        assert row["n"] == str(n) and row["kappa"] == str(config["kappa"]) and row["d"] == "6"
        assert row["e_icl"] == f"{e.mean():.5g}" + (f" ± {e.std(ddof=1):.2g}" if n > 1 else "")


def test_show_narrow_terminal_where_and_columns(fig1_store, capsys, monkeypatch):
    store, runs = fig1_store
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = show(capsys, store)
    assert code == 0 and max(map(len, out.splitlines())) <= 80
    code, out, _ = show(capsys, store, "--where", "kappa=inf", "--where", "kind=gamma", "--columns", "tau,n,e_icl")
    assert code == 0 and "1 points" in out and "e_idg" not in out and "theory" not in out
    e = np.array([r["e_icl"] for r in runs[point_hash(SIMS[1][0])]])
    assert f"{e.mean():.5g} ± {e.std(ddof=1):.2g}" in out
    for bad in (["--where", "nokey=1"], ["--where", "kappa"], ["--columns", "tau,nope"]):
        code, out, err = show(capsys, store, *bad)
        assert code == 2 and err.startswith("iclab: error:") and err.count("\n") == 1


def test_show_raw_keeps_one_row_per_run(fig1_store, capsys, monkeypatch):
    store, _ = fig1_store
    monkeypatch.delenv("COLUMNS", raising=False)
    code, out, _ = show(capsys, store, "--raw", "--limit", "0")
    assert code == 0 and "13 ok rows" in out and "[400 values]" in out and max(map(len, out.splitlines())) <= 120
