"""``iclab results show`` (per-point summaries that fit the terminal) and ``results export --format parquet``
(κ = ∞ and other mixed columns round-trip; an export bug is not reported as bad input)."""

import math

import numpy as np
import pandas as pd
import pytest

from iclab.cli import main
from iclab.experiments import available, get_experiment
from iclab.experiments import lu2024_common as C
from iclab.sweep.config import point_hash
from iclab.sweep.store import Store, parquet_frame

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
    code, out, _ = show(capsys, store, "--limit", "1")  # per kind: the simulations are not crowded out
    assert code == 0 and "kind = theory" in out and "kind = gamma" in out
    assert "5 more points of this kind" in out and "2 more points of this kind" in out
    for bad in (["--where", "nokey=1"], ["--where", "kappa"], ["--columns", "tau,nope"]):
        code, out, err = show(capsys, store, *bad)
        assert code == 2 and err.startswith("iclab: error:") and err.count("\n") == 1


def test_show_raw_keeps_one_row_per_run(fig1_store, capsys, monkeypatch):
    store, _ = fig1_store
    monkeypatch.delenv("COLUMNS", raising=False)
    code, out, _ = show(capsys, store, "--raw", "--limit", "0")
    assert code == 0 and "13 ok rows" in out and "[400 values]" in out and max(map(len, out.splitlines())) <= 120


def test_parquet_round_trips_kappa_inf(fig1_store, tmp_path, capsys):
    store, _ = fig1_store
    out = tmp_path / "fig1.parquet"
    assert main(["results", "export", "lu2024-fig1", "--format", "parquet", "--out", str(out),
                 "--store", str(store)]) == 0
    df = pd.read_parquet(out)
    assert df["kappa"].dtype == np.float64  # numbers stored as numbers, κ = ∞ as the float inf
    assert sorted(set(df["kappa"])) == [0.5, math.inf]
    fresh = df[(df["kind"] == "gamma") & np.isinf(df["kappa"])]
    assert len(fresh) == 3 and (fresh["lam"] == 0.1).all()
    curves = df[df["kind"] == "theory"]
    assert len(curves) == 6 and all(len(c) == 400 for c in curves["curve_x"])
    assert df.loc[df["kind"] == "gamma", "curve_x"].isna().all()


def _write(df):
    import io

    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    buf.seek(0)
    return buf


def test_parquet_mixed_columns():
    df = pd.DataFrame({"kappa": [0.5, "inf", None], "n": pd.Series([1, 2, None], dtype=object),
                       "a_star": [None, 9.6, 1], "label": ["x", 3, None], "flag": [True, 0.5, None],
                       "curve": [[1, "inf"], None, [2.0]],
                       "cov": [{"a": 1}, [1], None], "words": [["p", "q"], ["r"], None]})
    pq = parquet_frame(df)
    assert pq["kappa"].tolist()[:2] == [0.5, math.inf] and math.isnan(pq["kappa"][2])
    assert str(pq["n"].dtype) == "Int64" and pq["n"].tolist()[:2] == [1, 2]
    assert pq["a_star"].dtype == np.float64 and pq["label"].tolist()[:2] == ["x", "3"]
    assert pq["flag"].tolist()[:2] == ["True", "0.5"] and pq["curve"].tolist() == [[1.0, math.inf], None, [2.0]]
    assert pq["cov"].tolist()[:2] == ['{"a": 1}', "[1]"] and pq["words"].tolist()[:2] == [["p", "q"], ["r"]]
    assert all(pd.isna(pq[c][2]) for c in ("label", "flag", "cov"))
    back = pd.read_parquet(_write(pq))
    assert back["kappa"].tolist()[1] == math.inf and list(back["curve"][0]) == [1.0, math.inf]


def test_parquet_failure_is_a_bug_not_bad_input(tmp_path, monkeypatch):
    """An export that pyarrow refuses raises RuntimeError (a traceback, exit 1), not the exit-2 input error."""
    import iclab.sweep.store as store_mod

    with Store(tmp_path / "s.sqlite") as st:
        st.put("e", "h", 0, {"x": 1}, metrics={"y": 2.0})
    monkeypatch.setattr(store_mod, "parquet_frame", lambda df: df.assign(y=[object()]))
    with pytest.raises(RuntimeError, match="could not write"):
        main(["results", "export", "e", "--format", "parquet", "--out", str(tmp_path / "e.parquet"),
              "--store", str(tmp_path / "s.sqlite")])


def _synthetic_metrics(config: dict, seed: int) -> dict:
    """Metrics of the shapes the figures store: scalars, inf, a None where a curve has no minimum, lists."""
    return {"e_icl": 1.0 + seed, "e_idg": math.inf if seed == 1 else 0.5, "alpha_star": None if seed else 9.6,
            "curve_x": [0.1, 0.2, math.inf], "index": [1, 2], "losses": [0.5] * (seed + 1)}


def test_every_figure_exports_to_parquet(tmp_path):
    """Each registered figure's own sweep points (its configs, quick scale) with figure-shaped metrics."""
    with Store(tmp_path / "all.sqlite") as st:
        for exp_id in available():
            exp = get_experiment(exp_id)
            for p in exp.plan(exp.default_scale, False, {}):
                for seed in range(min(p.seeds, 2)):
                    st.put(exp_id, point_hash(p.config), seed, p.config, metrics=_synthetic_metrics(p.config, seed))
            st.put(exp_id, "failed", 0, {"kappa": "inf"}, error="Traceback ...")
        for exp_id in available():
            df = pd.read_parquet(st.export(tmp_path / f"{exp_id}.parquet", "parquet", exp_id))
            assert len(df) == st.count(exp_id) and df["e_icl"].dtype == np.float64, exp_id
            # a κ column of numbers (and "inf") exports as float; one that also holds κ grids (lists, e.g.
            # letey2025-alignment's theory curves) is mixed and exports as JSON text by design
            scalars = all(not isinstance(r["config"].get("kappa"), list) for r in st.rows(exp_id))
            if "kappa" in df and scalars:
                assert df["kappa"].dtype == np.float64, exp_id
        df = pd.read_parquet(st.export(tmp_path / "all.parquet", "parquet"))
        assert set(df["experiment"]) == set(available()) and len(df) == st.count()
