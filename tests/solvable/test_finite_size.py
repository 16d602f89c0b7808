"""The 1/d extrapolation (iclab.solvable.finite_size) on synthetic ladders with known e_inf, and the realised ratios
of simulate_point (Lu et al. 2024 is a d -> inf theory; its simulations use integers l, k, n)."""

import math

import numpy as np
import pytest

from iclab.solvable import pretraining_tasks, realised_ratios
from iclab.solvable.finite_size import extrapolate, fit_excess, mean_and_se, pooled_se
from iclab.theory import lu2024
from iclab.validation import UserInputError

LADDER = np.array([16, 24, 32, 48, 64, 96, 128])


def synthetic_ladder(rng, e_inf, a, b=0.0, runs=20, c=2.0):
    """Per-d mean and SE of ``runs`` runs of e(d) = e_inf + a/d + b/d² + noise of std c/d (the measured scaling of
    the run-to-run spread of Gamma*'s errors: relative std ~ 2/d at tau = 1.5-2)."""
    vals = [e_inf + a / d + b / d**2 + (c / d) * rng.standard_normal(runs) for d in LADDER]
    return np.array([v.mean() for v in vals]), np.array([v.std(ddof=1) / math.sqrt(runs) for v in vals])


def test_noiseless_polynomials_are_recovered_exactly():
    x = 0.3 + 2.0 / LADDER
    fit = fit_excess(LADDER, x, np.full(len(LADDER), 1e-3))
    assert fit.order == 1 and fit.coefficients == pytest.approx([0.3, 2.0], abs=1e-12)
    x2 = 0.3 + 2.0 / LADDER - 40.0 / LADDER**2
    fit2 = fit_excess(LADDER, x2, np.full(len(LADDER), 1e-3))
    assert fit2.order == 2 and fit2.coefficients == pytest.approx([0.3, 2.0, -40.0], abs=1e-9)
    assert fit2(1 / LADDER) == pytest.approx(x2)


def test_coverage_over_200_synthetic_ladders():
    """e(d) = e_inf + a/d + noise, 20 runs per d: the stated coverage is |e_inf_hat − e_inf| <= 2 SE in >= 93% of
    ladders (nominal 95.4%; measured 94-95% over 2000). Over 200 ladders the count is Binomial(200, p): we require
    >= 178 (3.3 sd below the mean at p = 0.94) and the 1-SE count in [117, 160] (nominal 68.3% = 137 ± 3 sd), so an
    SE that is too small or too large both fail."""
    rng = np.random.default_rng(2024)
    in1 = in2 = 0
    for _ in range(200):
        mean, se = synthetic_ladder(rng, 1.0, 3.0)
        ex = extrapolate(LADDER, mean, se, np.ones(len(LADDER)), 1.0)
        in1 += abs(ex.e_inf - 1.0) <= ex.e_inf_se
        in2 += abs(ex.e_inf - 1.0) <= 2 * ex.e_inf_se
    assert in2 >= 178, in2
    assert 117 <= in1 <= 160, in1


def test_quadratic_term_is_added_when_aicc_asks_and_still_recovers_e_inf():
    rng = np.random.default_rng(7)
    orders, z = [], []
    for _ in range(50):
        mean, se = synthetic_ladder(rng, 1.0, 1.0, b=-200.0, runs=40, c=1.0)
        ex = extrapolate(LADDER, mean, se, np.ones(len(LADDER)), 1.0)
        orders.append(ex.fit.order)
        z.append((ex.e_inf - 1.0) / ex.e_inf_se)
    assert np.mean(np.array(orders) == 2) > 0.9
    assert np.mean(np.abs(z) <= 2) > 0.85, z
    # forcing the linear model on the same curvature gives a biased intercept, flagged by chi² / dof >> 1
    mean, se = synthetic_ladder(np.random.default_rng(1), 1.0, 1.0, b=-200.0, runs=40, c=1.0)
    lin = fit_excess(LADDER, mean - 1.0, se, max_order=1)
    assert lin.chi2 / lin.dof > 10


def test_realised_ratios_match_the_sampler():
    for d, tau, alpha, kappa in [(16, 0.2, 1.0, 0.5), (24, 0.2, 10.0, 0.5), (33, 0.85, 0.7, 0.5),
                                 (20, 1.15, 1.0, math.inf)]:
        r = realised_ratios(d, tau, alpha, kappa)
        pool, idx = pretraining_tasks(np.random.default_rng(0), d, tau, kappa)
        assert r["tau"] == len(idx) / d**2
        assert r["alpha"] == round(alpha * d) / d
        assert r["kappa"] == (math.inf if math.isinf(kappa) else len(pool) / d)
    # tau = 0.2, kappa = 0.5 at d = 16: k = 8, r = round(51.2 / 8) = 6, n = 48
    assert realised_ratios(16, 0.2, 1, 0.5)["tau"] == 48 / 256


@pytest.mark.parametrize(("tau", "alpha"), [(0.2, 10.0), (0.85, 10.0)])
def test_realised_ratio_correction_removes_a_planted_rounding_bias(tau, alpha):
    """Simulations that follow the theory exactly at their realised (integer-rounded) ratios, with no finite-size
    effect: extrapolating simulation − theory(realised) gives e_inf = theory; extrapolating simulation −
    theory(nominal) does not (the rounding is erratic in d: n/d² = 0.1875, 0.2083, 0.2031, ... at tau = 0.2)."""
    rr = [realised_ratios(int(d), tau, alpha, 0.5) for d in LADDER]
    realised = np.array([lu2024.e_icl(r["tau"], r["alpha"], r["kappa"], 0.01, 1e-5) for r in rr])
    theory = float(lu2024.e_icl(tau, alpha, 0.5, 0.01, 1e-5))
    rng = np.random.default_rng(3)
    se = 1e-4 * theory * np.ones(len(LADDER))
    sim = realised + se * rng.standard_normal(len(LADDER))
    good = extrapolate(LADDER, sim, se, realised, theory)
    bad = extrapolate(LADDER, sim, se, np.full(len(LADDER), theory), theory)
    assert abs(good.z) < 3 and abs(good.rel_dev) < 1e-3
    assert good.fit.chi2 / max(good.fit.dof, 1) < 4
    # without the correction: a bias of 0.2-0.7% and a misfit the 1/d polynomial cannot absorb
    assert abs(bad.rel_dev) > 2e-3 and bad.fit.chi2 / bad.fit.dof > 10


def test_mean_and_se_and_bad_input():
    ds, mean, se, n = mean_and_se([16, 32, 16, 32, 16], [1.0, 2.0, 3.0, 4.0, 5.0])
    assert ds.tolist() == [16, 32] and n.tolist() == [3, 2]
    assert mean == pytest.approx([3.0, 3.0]) and se == pytest.approx([2 / math.sqrt(3), math.sqrt(2) / math.sqrt(2)])
    with pytest.raises(UserInputError, match="se must be positive"):
        fit_excess([16, 32], [0.1, 0.2], [0.0, 0.1])
    with pytest.raises(UserInputError, match="distinct"):
        fit_excess([16, 16, 32], [0.1, 0.2, 0.3], [0.1, 0.1, 0.1])
    with pytest.raises(UserInputError, match="at least 2"):
        fit_excess([16], [0.1], [0.1])


def test_pooled_se_recovers_the_spread_law_and_restores_coverage_with_few_batches():
    """Runs of e(d) = 1 + 3/d + noise of relative std c/d = 2/d, SE from 8 batch means per d (as the paper ladder):
    the pooled c is within 3% of its expectation (56 dof), and |e_inf_hat − 1| <= 2 SE in >= 90% of 200 ladders
    with the pooled SE, where the per-d estimates (off by ±25% each) cover less (measured over 1000 ladders: 95.3%
    against 91.0%)."""
    rng = np.random.default_rng(11)
    runs = np.array([640, 280, 160, 72, 40, 24, 16])  # ≈ (c / (0.003 d))², as the experiment sizes them
    hit_pooled = hit_raw = 0
    cs = []
    for _ in range(200):
        means, ses = [], []
        for d, r in zip(LADDER, runs, strict=True):
            batch = (1 + 3 / d + (2 / d) * rng.standard_normal((8, r // 8))).mean(1)
            means.append(batch.mean())
            ses.append(batch.std(ddof=1) / math.sqrt(8))
        means, ses = np.array(means), np.array(ses)
        pooled, c = pooled_se(LADDER, means, ses, runs, dof=np.full(7, 7))
        cs.append(c)
        ex_p = extrapolate(LADDER, means, pooled, np.ones(7), 1.0)
        ex_r = extrapolate(LADDER, means, ses, np.ones(7), 1.0)
        hit_pooled += abs(ex_p.e_inf - 1.0) <= 2 * ex_p.e_inf_se
        hit_raw += abs(ex_r.e_inf - 1.0) <= 2 * ex_r.e_inf_se
    # the relative spread per run is (2/d)/(1 + 3/d): c² is the mean of (2/(1 + 3/d))² over the ladder (equal dof)
    assert np.mean(cs) == pytest.approx(math.sqrt(np.mean((2 / (1 + 3 / LADDER)) ** 2)), rel=0.03)
    assert hit_pooled >= 180, hit_pooled
    assert hit_raw < hit_pooled, (hit_raw, hit_pooled)
    # the formula: s_j = c |m_j| / (d_j sqrt(n_j)), by hand at one d
    s, c = pooled_se([10, 20], [2.0, -1.0], [0.1, 0.02], [4, 16])
    c_hand = math.sqrt((3 * (0.1 * 2 * 10 / 2.0) ** 2 + 15 * (0.02 * 4 * 20 / 1.0) ** 2) / 18)
    assert c == pytest.approx(c_hand, rel=1e-12) and s == pytest.approx([c_hand * 2 / 20, c_hand / 80], rel=1e-12)
    with pytest.raises(UserInputError, match="at one dimension at least"):
        pooled_se([10, 20], [1.0, 1.0], [math.nan, math.nan], [1, 1])
