"""Resource guards: oversized input is refused in one line (exit 2) before anything large is allocated."""

import time
import tracemalloc

import numpy as np
import pytest

from iclab.cli import main, theory
from iclab.experiments.solvable_points import simulate_point
from iclab.grid import count_values, parse_values
from iclab.resources import ResourceLimitError, format_size, parse_size
from iclab.solvable.footprint import predicted_method, simulation_footprint
from iclab.sweep.spec import run_spec


def _one_line_exit_2(argv, capsys, must_contain):
    t0 = time.perf_counter()
    code = main(argv)
    elapsed = time.perf_counter() - t0
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("iclab: error:"), err
    for text in must_contain:
        assert text in err, err
    assert elapsed < 2.0, f"refusal took {elapsed:.2f} s"
    return err


# --- the three commands of issue 16 ----------------------------------------------------------------------------
def test_simulate_d3000_is_refused_with_the_estimate(capsys):
    err = _one_line_exit_2(["simulate", "lu2024", "--d", "3000", "--tau", "2", "--alpha", "1", "--kappa", "1",
                            "--rho", "0.1", "--seeds", "1"], capsys, ["d = 3000 with tau = 2", "limit", "lower d"])
    # the first array alone (18e6 x 3000 float64) is 402 GiB: the estimate must not be below that
    assert "TiB" in err or "PiB" in err


def test_simulate_d100000_is_refused(capsys):
    _one_line_exit_2(["simulate", "lu2024", "--d", "100000", "--tau", "2", "--alpha", "1", "--kappa", "1",
                      "--rho", "0.1", "--seeds", "1"], capsys, ["d = 100000"])


def test_theory_grid_of_1e8_points_is_refused_with_its_count(capsys):
    _one_line_exit_2(["theory", "lu2024", "--tau", "0.1:3:100000000", "--alpha", "1", "--kappa", "1", "--rho",
                      "0.1"], capsys, ["100,000,000 points", "10,000,000", "--max-points"])


def test_sweep_dry_run_counts_instead_of_building(tmp_path, capsys):
    spec = tmp_path / "huge.yaml"
    spec.write_text("experiment: lu2024-fig1\ngrid:\n  tau: 0.1:3:100000000\n")
    _one_line_exit_2(["sweep", str(spec), "--dry-run"], capsys, ["100,000,000", "1,000,000", "--max-tasks"])


def test_limits_are_overridable(tmp_path, capsys):
    argv = ["theory", "lu2024", "--tau", "0.1:3:20", "--alpha", "1", "--kappa", "1", "--rho", "0.1"]
    _one_line_exit_2(["--max-points", "10", *argv], capsys, ["20 points", "limit of 10"])
    assert main(["--max-points=20", *argv, "--format", "csv"]) == 0
    assert capsys.readouterr().out.count("\n") == 21
    _one_line_exit_2(["simulate", "lu2024", "--d", "20", "--tau", "2", "--alpha", "1", "--kappa", "1", "--rho",
                      "0.1", "--seeds", "1", "--max-memory", "1KiB"], capsys, ["--max-memory 1 KiB"])
    _one_line_exit_2(["--max-memory", "lots", *argv], capsys, ["--max-memory must be a positive size"])


def test_a_refused_simulation_stops_a_sweep_instead_of_failing_rows(tmp_path):
    spec = {"experiment": "iclab.experiments.solvable_points:simulate_point",
            "fixed": {"alpha": 1, "kappa": 1, "rho": 0.1}, "grid": {"d": [3000], "tau": [2]}}
    with pytest.raises(ResourceLimitError, match="d = 3000 with tau = 2"):
        run_spec(spec, store=tmp_path / "s.sqlite", progress=False)


# --- the estimates -----------------------------------------------------------------------------------------------
def _measured_peak(config) -> int:
    """Peak bytes numpy allocated during one simulation (numpy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    try:
        simulate_point(config, 0)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("config", [
    {"d": 32, "tau": 4, "alpha": 1, "kappa": "inf", "rho": 0.1, "method": "cg"},  # fresh tasks: the pool is n x d
    {"d": 32, "tau": 4, "alpha": 1, "kappa": 1, "rho": 0.1, "method": "cg"},
    {"d": 24, "tau": 2, "alpha": 1, "kappa": 1, "rho": 0.1, "method": "primal"},  # p x p Gram
    {"d": 32, "tau": 0.8, "alpha": 1, "kappa": 1, "rho": 0.1, "method": "dual"},  # n x n kernel
])
def test_footprint_bounds_the_measured_peak(config):
    """The estimate is an upper bound of the peak that tracemalloc measures (numpy reports its buffers to it),
    and not a loose one: within a factor of 4 (the dual's bound allows for its float64 fallback)."""
    peak = _measured_peak(config)
    kappa = float(config["kappa"])
    est = simulation_footprint(config["d"], config["tau"], kappa, 0.0, config.get("method", "auto")).peak_bytes
    assert peak <= est <= 4 * peak, (peak, est)


@pytest.mark.parametrize(("d", "tau", "kappa", "lam", "method"), [
    (48, 0.5, 2, 0.0, "dual"), (40, 2, "inf", 0.0, "cg"), (32, 1.1, 1, 0.0, "primal"), (64, 0.9, 1, 0.0, "dual")])
def test_auto_is_predicted_and_bounded(d, tau, kappa, lam, method):
    """The method auto picks is predicted without the data (measured: it picked these), and the estimate bounds
    the measured peak."""
    config = {"d": d, "tau": tau, "alpha": 1, "kappa": kappa, "rho": 0.1, "lam": lam}
    fp = simulation_footprint(d, tau, float(kappa), lam, "auto", 0.1)
    assert predicted_method(fp.n, d, lam, 0.1) == method
    peak = _measured_peak(config)
    assert peak <= fp.peak_bytes <= 4 * peak, (peak, fp.peak_bytes)


def test_auto_uses_matrix_free_cg_when_direct_methods_would_not_fit():
    fp = simulation_footprint(200, 2.0, 1.0)  # n = 80,000 > p = 40,200 and the p x p Gram is 12.9 GB
    assert fp.bounded_by_cg and fp.peak_bytes < 1.1 * 8 * 7.5 * fp.n * 200 + 8 * 2 * fp.k * 200


# --- grid counting ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "count"), [("0.5", 1), ("1,2,3", 3), ("0.1:3:30", 30), ("log:0.01:100:50", 50),
                                             ("logspace(-2,2,7)", 7), ("0.1,0.5:2:4,inf", 6), (" 1 , 2 ", 2),
                                             ("1:1:1", 1)])
def test_count_values_matches_the_built_grid(text, count):
    assert count_values("x", text) == len(parse_values("x", text)) == count


def test_parse_values_refuses_before_building():
    with pytest.raises(ResourceLimitError, match="1,000,000,000,000 points"):
        parse_values("tau", "0:1:1e12")


def test_theory_chunks_give_the_same_rows(monkeypatch):
    args = ("0.1:3:7", "0.5,1,2", "1,inf", "0.1,0.5", "0,0.01")
    whole = theory.lu2024_rows(*args)
    monkeypatch.setattr(theory, "CHUNK", 5)
    assert theory.lu2024_rows(*args) == whole
    assert len(whole) == 7 * 3 * 2 * 2 * 2


def test_sizes():
    assert parse_size("m", "8GiB") == 8 * 2**30
    assert parse_size("m", "500M") == 500 * 2**20
    assert parse_size("m", "2e9") == 2_000_000_000
    assert format_size(402 * 2**30) == "402 GiB"
    for bad in ("0", "-1G", "nan", "inf", "8 parsecs", ""):
        with pytest.raises(ValueError):
            parse_size("m", bad)
    assert np.isfinite(parse_size("m", "1.5T"))


def test_dry_run_states_memory_and_matrix_free_cg(tmp_path, capsys):
    spec = tmp_path / "s.yaml"
    spec.write_text("experiment: iclab.experiments.lu2024_common:compute\nseeds: 5\n"
                    "fixed: {kind: gamma, alpha: 1.0, kappa: 0.5, rho: 0.01, lam: 1.0e-5}\n"
                    "grid:\n  tau: [2]\n  d: [40, 200, 3000]\n")
    assert main(["sweep", str(spec), "--dry-run", "--store", str(tmp_path / "none.sqlite")]) == 0
    out = capsys.readouterr().out
    assert "d = 3000, tau = 2 (limit" in out and "will be refused" in out
    # d = 200 and 3000 at tau = 2: n > p and the p x p Gram passes 3 GiB, so auto takes CG (5 seeds each)
    assert "10 runs solve Gamma* by matrix-free CG" in out


@pytest.mark.slow
def test_reproduce_refuses_an_oversized_figure(tmp_path, capsys):
    argv = ["reproduce", "lu2024-fig1", "--set", "d=3000", "--store", str(tmp_path / "s.sqlite"), "--out",
            str(tmp_path / "out"), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "d = 3000 with tau" in err
