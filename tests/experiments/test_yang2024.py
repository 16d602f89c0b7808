"""The Yang et al. 2024 figures (yang2024-fig2 ... fig5) and ``iclab theory yang2024``: points, overrides, bad
input, tiny end-to-end runs, and the closed-form CLI against the theory module."""

import json

import numpy as np
import pytest

from iclab.cli import main
from iclab.experiments import get_experiment

FIGS = ["yang2024-fig2", "yang2024-fig3", "yang2024-fig4", "yang2024-fig5"]
TINY = {"N": 6, "K": 20, "d": 8, "m": 4, "n_test": 10}


@pytest.mark.parametrize("fig", FIGS)
@pytest.mark.parametrize("scale", ["quick", "paper"])
def test_points_are_json_and_validated(fig, scale):
    exp = get_experiment(fig)
    pts = exp.points(scale, False, {})
    assert pts and all(p.seeds >= 1 for p in pts)
    json.dumps([p.config for p in pts])
    with pytest.raises(ValueError, match="--set key must be one of"):
        exp.points(scale, False, {"no_such_key": 1})
    with pytest.raises(ValueError, match="N must be an integer in"):
        exp.points(scale, False, {"N": 200} if fig != "yang2024-fig3" else {"N_values": [50, 200]})
    with pytest.raises(ValueError, match="tau must be >= 0"):
        exp.points(scale, False, {"tau": -0.1})
    with pytest.raises(ValueError, match="basis must be one of"):
        exp.points(scale, False, {"basis": "wavelet"})
    with pytest.raises(ValueError, match="m must be"):
        exp.points(scale, False, {"m": 0})


def test_overrides_reach_the_configs():
    pts = get_experiment("yang2024-fig4").points("quick", False, {"H_values": "2,8", "basis": "legendre",
                                                                   "unit_norm": False, "d": 1, "N": 12})
    assert [p.config["H"] for p in pts] == [2, 8]
    assert all(p.config["basis"] == "legendre" and p.config["N"] == 12 and p.config["d"] == 1 for p in pts)
    pts = get_experiment("yang2024-fig2").points("quick", False, {"H_1layer": 32, "H_4layer": 4, "seeds": 2})
    assert [p.config["H"] for p in pts] == [32, 4] and all(p.seeds == 2 for p in pts)
    with pytest.raises(ValueError, match="d_model must be divisible"):
        get_experiment("yang2024-fig5").points("quick", False, {"H_values": [3]})


@pytest.mark.slow
def test_fig2_tiny_end_to_end(tmp_path):
    exp = get_experiment("yang2024-fig2")
    over = {**TINY, "steps_1layer": 60, "steps_4layer": 2, "d_model": 8, "d_ff": 8, "H_4layer": 2,
            "batch_4layer": 4, "eval_every_4layer": 2, "layers": 2}
    pts = exp.points("quick", False, over)
    rows = [{**p.config, "seed": 0, **exp.compute(dict(p.config), 0)} for p in pts]
    one, four = rows
    assert len(one["step"]) == len(one["inference_in"]) == 30 and one["step"][-1] == 60
    assert one["excess"][-1] < one["excess"][0]  # the population loss decreases
    assert np.allclose(np.asarray(one["population_loss"]) - one["L_star"], one["excess"], rtol=1e-4)
    assert len(four["step"]) == 1 and np.isfinite(four["inference_ood"]).all()
    import pandas as pd

    files = exp.plot(pd.DataFrame(rows), tmp_path)
    assert all(f.exists() and f.stat().st_size > 0 for f in files)
    table = pd.read_csv(tmp_path / "yang2024_fig2.csv")
    assert set(table["quantity"]) == {"train_loss", "inference_in", "inference_ood"}


def test_fig3_compute_is_zero_at_N_equal_m_and_matches_theory():
    from iclab.experiments.yang2024_common import draw_reps
    from iclab.theory import yang2024 as Y

    exp = get_experiment("yang2024-fig3")
    over = {"N_values": [8, 10, 16], "K": 30, "m": 10, "tau": 0.05, "draws": 5}
    pts = exp.points("quick", False, over)
    res = {p.config["N"]: exp.compute(dict(p.config), 3) for p in pts}
    assert res[10]["gap"] == 0 and res[10]["gap_sampled"] == 0
    want = np.mean([Y.expected_gap(r, 16, 0.05) for r in draw_reps(3, 5, 30, 100, 10)])
    assert res[16]["gap"] == pytest.approx(want, rel=1e-12)
    theory = exp.points("quick", True, over)
    assert "gap_sampled" not in exp.compute(dict(theory[0].config), 0)


def test_fig4_tiny_through_reproduce(tmp_path):
    """End to end through the CLI and the sweep engine (metric names must not clash with config keys)."""
    import pandas as pd

    sets = [f"{k}={v}" for k, v in {**TINY, "H_values": "1,12", "steps": 40, "lr": 0.01}.items()]
    args = ["reproduce", "yang2024-fig4", "--out", str(tmp_path), "--store", str(tmp_path / "s.sqlite"),
            "--no-progress"]
    assert main([*args, *(x for s in sets for x in ("--set", s))]) == 0
    table = pd.read_csv(tmp_path / "yang2024-fig4" / "yang2024_fig4.csv")
    assert sorted(table["H"].unique()) == [1, 12] and (table["diverged"] == 0).all()
    last = table.groupby("H")["excess"].last()
    assert last[12] < last[1]  # more heads fit better
    assert (tmp_path / "yang2024-fig4" / "yang2024_fig4.png").stat().st_size > 0


@pytest.mark.slow
def test_fig5_tiny(tmp_path):
    import pandas as pd

    exp5 = get_experiment("yang2024-fig5")
    pts = exp5.points("quick", False, {**TINY, "H_values": [1, 2], "budget_s": 0.5, "d_model": 4, "d_ff": 4,
                                       "batch": 2, "chunk": 2, "layers": 2})
    rows = [{**p.config, "seed": 0, **exp5.compute(dict(p.config), 0)} for p in pts]
    assert all(r["steps_done"] >= 2 and len(r["time"]) == r["steps_done"] // 2 for r in rows)
    assert all(np.isfinite(r["inference_in"]) for r in rows)
    assert all(f.exists() for f in exp5.plot(pd.DataFrame(rows), tmp_path))


def test_reproduce_cli_bad_input(capsys):
    assert main(["reproduce", "yang2024-fig3", "--set", "N_values=50,250", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "N must be an integer in [1, 199]" in err


# ---- iclab theory yang2024 ---------------------------------------------------------------------------------------

def test_theory_cli_matches_the_theory_module(capsys):
    from iclab.experiments.yang2024_common import draw_reps
    from iclab.theory import yang2024 as Y

    assert main(["theory", "yang2024", "--N", "10,20", "--K", "40", "--m", "20", "--tau", "0.1", "--d", "5",
                 "--draws", "3", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["N"] for r in rows] == [10, 20]
    reps = draw_reps(0, 3, 40, 5, 20)
    assert rows[0]["L_star"] == pytest.approx(np.mean([Y.optimal_loss(r, 10, 0.1) for r in reps]), rel=1e-12)
    assert rows[0]["L_star_per_token"] == pytest.approx(2 * rows[0]["L_star"])
    assert rows[1]["gap"] == 0 and rows[0]["gap"] > 0  # N = m
    assert rows[0]["H_min"] == 10


@pytest.mark.parametrize("args,message", [
    (["--N", "200", "--K", "200"], "N must be an integer in [1, 199]"),
    (["--N", "20", "--m", "0"], "m must be an integer >= 1"),
    (["--N", "20", "--tau", "-0.5"], "tau must be >= 0"),
    (["--N", "20", "--basis", "wavelet"], "basis must be one of"),
    (["--N", "2.5"], "N must be an integer"),
])
def test_theory_cli_bad_input(capsys, args, message):
    assert main(["theory", "yang2024", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err
