"""simulate_errors against the asymptotic theory and the authors' stored d = 100 simulations of Lu et al. 2024,
Fig. 1; its sweep adapter simulate_point (the dict protocol: "inf", defaults, one-line errors)."""

import math

import numpy as np
import pytest

from iclab.experiments.solvable_points import simulate_point
from iclab.solvable import simulate_errors

# Fig. 1A/B, kappa = 0.5, rho = 0.01, ridgeless: the theory (ICL, IDG; computed from the closed forms) and the
# authors' d = 100 means (10 runs; their stored SLURM logs, Pehlevan-Group/icl-asymptotic).
TAUS = (0.2, 0.5, 0.85, 1.15, 1.5, 2.0)
THEORY = {
    1: ([1.0385, 1.2611, 3.1790, 3.6679, 1.6635, 1.2340], [0.8012, 0.8018, 2.1165, 2.3367, 0.9143, 0.6096]),
    10: ([0.8643, 0.8208, 2.2279, 2.7748, 1.2236, 0.8912], [0.5507, 0.2463, 0.4265, 0.4309, 0.1686, 0.1124]),
    100: ([0.8202, 0.7016, 4.0872, 5.5651, 2.0300, 1.2725], [0.5047, 0.1221, 0.1201, 0.1150, 0.0450, 0.0300]),
}
AUTHORS_D100 = {
    1: ([1.0466, 1.3050, 3.2742, 4.1674, 1.7698, 1.2785], [0.8064, 0.8293, 2.1637, 2.6290, 0.9585, 0.6250]),
    10: ([0.8669, 0.8321, 2.2005, 3.1066, 1.2996, 0.9438], [0.5531, 0.2524, 0.4190, 0.4677, 0.1735, 0.1148]),
    100: ([0.8194, 0.7067, 3.9598, 6.4043, 2.1976, 1.3507], [0.4999, 0.1224, 0.1162, 0.1268, 0.0466, 0.0306]),
}


def run(d, tau, alpha, seeds, lam=1e-8):
    out = np.array([[r["e_icl"], r["e_idg"]] for r in (simulate_errors(d, tau, alpha, 0.5, 0.01, seed=s, lam=lam)
                                                        for s in range(seeds))])
    return out.mean(0), out.std(0, ddof=1)


# Acceptance for Fig. 1: "at d = 64, away from tau in [0.8, 1.2], within 5% of the theory". That holds
# at tau <= 0.5 (tested below, except (0.5, 100): IDG excess 6% at d = 64, measured 0.1328 / 0.1286 / 0.1244 at
# d = 32 / 64 / 100 against the theory 0.1221 and the authors' d = 100 mean 0.1224), but not above the threshold:
# there the finite-size excess of the ICL error is 6-10% at d = 64 (8 runs each, kappa = 0.5, relative to the
# theory: tau = 1.5: +9.2, +8.0, +10.2% for alpha = 1, 10, 100; tau = 2: +6.1, +5.8, +6.4%, each +-0.6-1.3%), and
# the authors' own d = 100 means exceed the theory by as much (alpha = 10: +6.2% at tau = 1.5, +5.9% at tau = 2).
@pytest.mark.parametrize(("tau", "alpha"), [(0.2, 1), (0.2, 10), (0.2, 100), (0.5, 1), (0.5, 10)])
def test_d64_matches_theory_within_5_percent(tau, alpha):
    mean, _ = run(64, tau, alpha, seeds=3)
    i = TAUS.index(tau)
    theory = np.array([THEORY[alpha][0][i], THEORY[alpha][1][i]])
    assert np.all(np.abs(mean / theory - 1) < 0.05), (mean, theory)


def test_excess_above_the_threshold_is_finite_size():
    """tau = 2, alpha = 10 (past the interpolation threshold): the ICL error's excess over the d -> inf theory is
    positive and shrinks with d (measured over 8 runs: +14.6% at d = 32, +5.8% at d = 64, +5.3% at d = 100, the
    authors' d = 100 mean +5.9%); IDG is within 5% at d = 64."""
    theory = np.array([THEORY[10][0][5], THEORY[10][1][5]])
    small, _ = run(32, 2.0, 10, seeds=6)
    large, _ = run(64, 2.0, 10, seeds=6)
    excess_small, excess_large = small / theory - 1, large / theory - 1
    assert 0 < excess_large[0] < excess_small[0] - 0.03 and excess_large[0] < 0.10, (excess_small, excess_large)
    assert abs(excess_large[1]) < 0.05, excess_large


# Measured (10 runs at d = 100, lam = 1e-5, seeds 0-9, the Figure 1 paper sweep): all 36 comparisons pass, most
# within 3 SE; at tau = 1.15, alpha = 100 our means lie below the authors' but inside the finite-size excess of
# Fig. 1 (theory 5.5651, 0.1150; the authors +15% and +10%), which the acceptance admits near tau = 1. Two points
# that an earlier draw of the same law put at 4.6 and 3.4 SE (alpha = 1: ICL at tau = 0.5, IDG at tau = 2) agree
# over 40 runs: ICL 1.2909 vs 1.3050 (z = -2.5 against the authors' 10-run mean), IDG 0.6288 vs 0.6250 (z = 1.4);
# a 10-run standard deviation is itself uncertain by about 25%.
@pytest.mark.slow
@pytest.mark.parametrize(("tau", "alpha"), [(t, a) for a in (1, 10, 100) for t in TAUS])
def test_d100_matches_authors_simulations(tau, alpha):
    """10 runs at d = 100 (the paper's protocol) against the authors' stored means: within 3 standard errors of
    the difference of two 10-run means (our spread used for both), or, at tau = 1.15, above the theory by at most
    the 15% finite-size excess of the authors' own runs there."""
    mean, std = run(100, tau, alpha, seeds=10, lam=1e-5)
    i = TAUS.index(tau)
    ref = np.array([AUTHORS_D100[alpha][0][i], AUTHORS_D100[alpha][1][i]])
    theory = np.array([THEORY[alpha][0][i], THEORY[alpha][1][i]])
    z = (mean - ref) / (std * math.sqrt(2 / 10))
    excess = mean / theory - 1
    ok = (np.abs(z) < 3) | ((tau == 1.15) & (excess >= 0) & (excess <= 0.15))
    assert np.all(ok), (mean, std, ref, z, excess)


def test_deterministic_per_seed_and_kappa_inf():
    a, b, c = (simulate_errors(8, 1.5, 2, math.inf, 0.1, seed=s) for s in (0, 0, 1))
    assert a == b and a != c
    assert set(a) == {"e_icl", "e_idg"} and all(math.isfinite(v) and v > 0 for v in a.values())
    assert math.isfinite(simulate_errors(8, 1.5, 2, 1.0, 0.1, seed=0, assignment="uniform")["e_icl"])


def test_point_adapter_reads_the_config_protocol():
    """simulate_point maps a stored config onto simulate_errors: "inf" (any case) is κ = ∞, missing optional keys
    take the documented defaults (lam 0, balanced, auto, rtol 1e-8), unknown keys (kind, blas_threads) are ignored."""
    ref = simulate_errors(8, 1.5, 2.0, math.inf, 0.1, seed=3, lam=0.0, assignment="balanced", method="auto",
                          rtol=1e-8)
    for kappa in ("inf", "INF", " inf", math.inf):
        cfg = {"kind": "gamma", "d": 8, "tau": 1.5, "alpha": 2.0, "kappa": kappa, "rho": 0.1, "blas_threads": 4}
        assert simulate_point(cfg, 3) == ref
    other = simulate_errors(8, 1.5, 2.0, 1.0, 0.1, seed=3, lam=0.01, assignment="uniform", rtol=1e-5)
    cfg = {"d": 8, "tau": 1.5, "alpha": 2.0, "kappa": "1", "rho": 0.1, "lam": 0.01, "assignment": "uniform",
           "rtol": 1e-5}
    assert simulate_point(cfg, 3) == other != ref


@pytest.mark.parametrize(("change", "name"), [
    ({"d": 1}, "d must"), ({"tau": -1.0}, "tau must"), ({"kappa": 100.0}, "kappa must"),
    ({"kappa": "many"}, "kappa must"), ({"kappa": -1}, "kappa must"), ({"rho": -0.1}, "rho must"),
    ({"lam": -1.0}, "lam must"),
    ({"alpha": 0.0}, "alpha must"), ({"assignment": "random"}, "assignment must"), ({"d": 2.5}, "d must"),
])
def test_simulate_point_bad_config(change, name):
    cfg = {"d": 8, "tau": 1.0, "alpha": 2, "kappa": 0.5, "rho": 0.1, "lam": 0.0} | change
    with pytest.raises(ValueError, match=name):
        simulate_point(cfg, 0)
    with pytest.raises(ValueError, match="config must contain"):
        simulate_point({"d": 8}, 0)
