"""simulate_errors against the asymptotic theory and the authors' stored d = 100 simulations of Lu et al. 2024,
Fig. 1; simulate_point (the sweep adapter: "inf", defaults, one-line errors) against an independent dense pipeline
at d = 3."""

import math

import numpy as np
import pytest

from iclab.experiments.solvable_points import simulate_point
from iclab.solvable import pretraining_tasks, sample_stats, simulate_errors

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


# ---- an independent pipeline at d = 3: raw numpy contexts, the dense feature matrix, dense least squares ----------

def sphere(rng, m, d):
    """m tasks uniform on the sphere |w| = sqrt(d): (m, d)."""
    w = rng.standard_normal((m, d))
    return w * (math.sqrt(d) / np.linalg.norm(w, axis=1, keepdims=True))


def raw_contexts(rng, w, ell, rho):
    """One context of length ell + 1 per task row, built token by token (x ~ N(0, I/d), y = <x, w> + N(0, rho)),
    reduced to the model's input by definition: h = [(d/ell) sum y x, (1/ell) sum y²] (n, d+1), x_q (n, d),
    y_q (n,)."""
    n, d = w.shape
    x = rng.standard_normal((n, ell + 1, d)) / math.sqrt(d)
    y = np.einsum("nld,nd->nl", x, w) + math.sqrt(rho) * rng.standard_normal((n, ell + 1))
    h = np.concatenate([np.einsum("nld,nl->nd", x[:, :ell], y[:, :ell]) * (d / ell),
                        (y[:, :ell] ** 2).mean(1, keepdims=True)], axis=1)
    return h, x[:, ell], y[:, ell]


def dense_gamma(h, xq, yq, lam):
    """Γ* (d, d+1) = argmin sum (y_q − x_qᵀ Γ h)² + (n/d) λ |Γ|²_F (the authors' ridge scaling), by
    np.linalg.lstsq on the dense n × d(d+1) feature matrix stacked over sqrt((n/d) λ) I."""
    n, d = xq.shape
    phi = np.einsum("na,nb->nab", xq, h).reshape(n, -1)
    a = np.vstack([phi, math.sqrt(n / d * lam) * np.eye(phi.shape[1])])
    g = np.linalg.lstsq(a, np.concatenate([yq, np.zeros(phi.shape[1])]), rcond=None)[0]
    return g.reshape(d, d + 1)


def mc_error(rng, gamma, tasks, ell, rho):
    """Monte Carlo test error of Γ on fresh raw contexts, one per task row: (mean, standard error)."""
    h, xq, yq = raw_contexts(rng, tasks, ell, rho)
    r2 = (yq - np.einsum("na,na->n", xq @ gamma, h)) ** 2
    return r2.mean(), r2.std() / math.sqrt(len(r2))


D3 = {"d": 3, "tau": 4.0, "alpha": 2.0, "rho": 0.1}   # ell = 6, n = 36 contexts, p = 12 parameters


@pytest.mark.parametrize(("config", "kappa", "lam", "assignment"), [
    ({"kind": "gamma", "kappa": " INF", "blas_threads": 4}, math.inf, 0.0, "balanced"),   # documented defaults
    ({"kappa": "1", "lam": 0.1, "assignment": "uniform", "rtol": 1e-5}, 1.0, 0.1, "uniform"),
    ({"kappa": 1.0, "lam": 0.1}, 1.0, 0.1, "balanced"),
])
def test_simulate_point_is_the_dense_ridge_solution_scored_by_monte_carlo(config, kappa, lam, assignment):
    """simulate_point reads the config protocol ("inf" in any case, missing keys at their defaults, unknown keys
    ignored) and returns, per seed, the errors of the dense ridge solution on that seed's pretraining data: the
    same draws as the library's samplers from default_rng(seed), then Γ* by np.linalg.lstsq and both errors by a
    Monte Carlo over 2·10⁵ raw test contexts (fresh sphere tasks for ICL, pool tasks for IDG)."""
    mc = np.random.default_rng(99)
    for seed in range(3):
        got = simulate_point(D3 | config, seed)
        rng = np.random.default_rng(seed)
        pool, idx = pretraining_tasks(rng, 3, 4.0, kappa, assignment)
        gamma = dense_gamma(*sample_stats(rng, pool, 6, 0.1, idx), lam)
        icl = mc_error(mc, gamma, sphere(mc, 200_000, 3), 6, 0.1)
        idg = mc_error(mc, gamma, pool[mc.integers(0, len(pool), 200_000)], 6, 0.1)
        for name, (mean, se) in (("e_icl", icl), ("e_idg", idg)):
            assert abs(got[name] - mean) < 4 * se, (seed, name, got[name], mean, se)


@pytest.mark.parametrize(("config", "kappa", "lam"), [({"kappa": "inf", "lam": 0.1}, None, 0.1),
                                                       ({"kappa": 1.0}, 3, 0.0)])
def test_simulate_point_has_the_law_of_a_hand_pipeline(config, kappa, lam):
    """The mean errors over 300 seeds agree, within 4 standard errors (about 3% here), with 300 runs of a pipeline
    that shares no code with the library: sphere tasks (a pool of k = 3 used 12 times each, or 36 fresh ones),
    raw contexts, dense least squares, Monte Carlo errors. This checks the fast sampler's law as well."""
    runs = 300
    lib = np.array([[simulate_point(D3 | config, s)[m] for m in ("e_icl", "e_idg")] for s in range(runs)])
    rng = np.random.default_rng(2024)
    hand = []
    for _ in range(runs):
        pool = sphere(rng, 36 if kappa is None else kappa, 3)
        tasks = pool if kappa is None else pool[rng.permutation(np.repeat(np.arange(kappa), 36 // kappa))]
        gamma = dense_gamma(*raw_contexts(rng, tasks, 6, 0.1), lam)
        hand.append([mc_error(rng, gamma, sphere(rng, 4000, 3), 6, 0.1)[0],
                     mc_error(rng, gamma, pool[rng.integers(0, len(pool), 4000)], 6, 0.1)[0]])
    hand = np.array(hand)
    se = np.sqrt((lib.var(0, ddof=1) + hand.var(0, ddof=1)) / runs)
    z = (lib.mean(0) - hand.mean(0)) / se
    assert np.all(np.abs(z) < 4), (lib.mean(0), hand.mean(0), z)


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
