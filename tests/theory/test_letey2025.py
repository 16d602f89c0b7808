"""Letey et al. 2025 (arXiv 2509.26551) structured theory against: the Lu et al. theory (C_train = C_test = I),
reference values, the theory curves of the paper's figures, the limits, the authors' expanded form of e_ICL
(``ICL_for_spiked_test``), their isotropic closed form (``icl_scaled_isotropic``), and a Monte Carlo of the pool
resolvent.

The reference values (tables R1–R3, the isotropic-scaling table, the figure columns) were computed once, outside this
repository, by a separate deterministic implementation of the authors' formulas; the ridgeless structured ones (R2)
also agree with the authors' own Monte-Carlo ``ICL_error`` (numavg = 100) to within its 0–0.4 % noise. They are
quoted here to the digits given."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iclab.theory import letey2025 as T
from iclab.theory import lu2024
from iclab.validation import UserInputError

fam = T.family


def close(got, want, digits):
    """Equal when rounded to ``digits`` decimals (the precision the reference value is quoted to)."""
    tol = 0.5 * 10.0 ** -np.asarray(digits, float) + 1e-12
    np.testing.assert_array_less(np.abs(np.asarray(got, float) - np.asarray(want, float)), tol)


def two(a, b, d=10):
    return np.r_[np.full(d // 2, a), np.full(d // 2, b)]


# ---- reductions to Lu et al. -----------------------------------------------------------------------------------

point = st.tuples(
    st.one_of(st.floats(0.05, 0.95), st.floats(1.05, 30.0)),    # τ, both sides of 1
    st.floats(0.1, 50.0),                                        # α
    st.one_of(st.floats(0.05, 20.0), st.just(np.inf)),           # κ
    st.floats(0.0, 2.0),                                         # ρ
    st.one_of(st.just(0.0), st.floats(1e-4, 3.0)),               # λ: ridgeless and ridge
)


@settings(max_examples=60, deadline=None)
@given(point, st.integers(2, 50))
def test_identity_covariances_reproduce_lu2024(p, d):
    """C_train = Ĉ_test = I is Lu et al. exactly (any d)."""
    tau, alpha, kappa, rho, lam = p
    got = T.evaluate(np.ones(d), np.eye(d), tau, alpha, kappa, rho, lam)
    want = lu2024.evaluate(tau, alpha, kappa, rho, lam)
    for k, kk in (("e_icl", "e_icl"), ("e_idg", "e_idg"), ("lambda_tilde", "xi")):
        np.testing.assert_allclose(got[k], want[kk], rtol=1e-9, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(point, st.floats(0.1, 100.0), st.floats(0.2, 5.0), st.floats(0.2, 5.0))
def test_scaled_identities_match_the_isotropic_closed_form(p, alpha_test, c_tr, c_test):
    """C_train = c_tr I, Ĉ = c_test I, α_test ≠ α: the structured solver against the authors' closed form
    ``icl_scaled_isotropic`` (ridgeless), which goes through Lu et al.'s M_κ instead of the fixed point."""
    tau, alpha, kappa, rho, _ = p
    got = T.evaluate(np.full(6, c_tr), np.full(6, c_test), tau, alpha, kappa, rho, 0.0, alpha_test)["e_icl"]
    want = T.icl_scaled_isotropic(tau, alpha, alpha_test, kappa, rho, c_tr, c_test)
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_r1_table():
    """R1: C_train = Ĉ_test = I against values of an independent implementation of Lu et al.'s formulas (the first
    four rows ridgeless; the first three are also points of Lu et al. 2024, Fig. 1)."""
    rows = [((2, 1, .5, .01, 0), 1.2339925430, 0.6095614063, 0),
            ((.5, 10, .5, .01, 0), 0.8208492721, 0.2463433637, 0.37229225),
            ((.85, 10, .5, .01, 0), 2.2278641169, 0.4265284442, 0.037371735),
            ((20, 5.5, .75, .5, 0), 1.0429563600, 0.6768712994, 0),
            ((2, 1, .5, .01, .1), 1.0713503963, 0.5084596734, 0.18020882),
            ((.8, 10, np.inf, .01, .1), 0.4536696331, 0.4536696331, 0.56881149)]
    for p, icl, idg, lt in rows:
        r = T.evaluate(np.ones(30), np.ones(30), *p)
        close(r["e_icl"], icl, 10)
        close(r["e_idg"], idg, 10)
        close(r["lambda_tilde"], lt, 8)


def test_isotropic_scaling_table():
    """Test-time context scaling, isotropic: (τ, α_tr, α_test, κ, ρ, c_tr, c_test) -> e_ICL, closed form and
    structured solver."""
    rows = [((4, 2, .1, 1, .01, 1, 1), 4.654617077696), ((4, 2, 1000, 1, .01, 1, 1), 0.431875914608),
            ((.5, 2, 10, .5, .01, 1, 1), 0.934556505866), ((4, 2, 5, .7, .01, 2, .5), 0.311265769204),
            ((.6, 1, 3, 1.5, .1, .5, 2), 2.765710842380), ((2, 10, 1, .3, .25, 1.3, .7), 3.237061017212)]
    for (tau, a, at, k, rho, ctr, cte), want in rows:
        close(T.icl_scaled_isotropic(tau, a, at, k, rho, ctr, cte), want, 12)
        close(T.evaluate(np.full(8, ctr), np.full(8, cte), tau, a, k, rho, 0.0, at)["e_icl"], want, 11)


# ---- structured reference values -------------------------------------------------------------------------------

R2 = [  # R2, d = 100, ridgeless: name, C_train, Ĉ_test, (τ, α, κ), α_test, ρ; e_ICL, e_misalign, e_IDG, λ̃
    ("S1", ("pl", 1), ("iso",), (2, 1, .5), None, .01, 1.19840856, 0.85625072, 0.49734461, 0),
    ("S2", ("pl", 1), ("pl", 1), (2, 1, .5), None, .01, 0.80026529, 0.45810745, 0.49734461, 0),
    ("S3", ("pl", 1), ("spike", .5, 1), (4, 2, 1), None, .01, 0.45197682, 0.28163699, 0.27292616, 0),
    ("S4", ("pl", 1), ("spike", .5, 100), (4, 2, 1), None, .01, 0.84524760, 0.67490777, 0.27292616, 0),
    ("S5", ("pl", .9), ("pl", .4), (4, 2, .2), None, .01, 0.88864128, 0.77744710, 0.12850194, 0),
    ("S6", ("pl", .9), ("pl", 1.4), (4, 2, 2), None, .01, 0.28950246, 0.09768876, 0.32639813, 0),
    ("S7", ("pl", 1.5), ("pl", 1.5), (.5, 2, .5), None, .01, 0.39081639, 0.24634028, 0.29212095, 0.71756306),
    ("S8", ("lowrank", 50), ("iso",), (.5, 1, 1.5), None, .01, 1.26392786, 0.92850398, 0.84585021, 1.66583616),
    ("S9", ("pl", 1), ("pl", 1), (4, 2, 1), 10, .01, 0.28690997, 0.24484200, 0.27292616, 0),
    ("S10", ("pl", 1), ("iso",), (.5, 2, .5), .5, .1, 2.07377956, 1.02789238, 0.66155432, 0.91981911),
]


@pytest.mark.parametrize("case", R2, ids=[c[0] for c in R2])
def test_r2_structured_ridgeless(case):
    name, tr, te, (tau, alpha, kappa), at, rho, icl, mis, idg, lt = case
    sol = T.solve(fam(tr[0], 100, *tr[1:]), tau, alpha, kappa, rho)
    e = T.errors(sol, fam(te[0], 100, *te[1:]), at)
    close(e["e_icl"], icl, 8)
    close(e["e_misalign"], mis, 8)
    close(sol.e_idg, idg, 8)
    close(sol.lambda_tilde, lt, 8)
    M = {"S1": .75612949, "S3": 1.21676454, "S7": .69680287, "S8": .30014957}
    if name in M:
        close(sol.M, M[name], 8)


def test_r3_structured_ridge():
    """R3: two-level spectra with λ > 0, where the authors' code has no counterpart (values do not depend on even
    d)."""
    for d in (4, 10):
        s = T.solve(two(1.6, .4, d), np.array([2, .5]), 2, .5, .01, .1)
        close(s.e_idg, [.28654595, .48366961], 8)
        close(s.lambda_tilde, [.17064891, 1.18707838], 8)
        close(T.errors(s, np.ones(d))["e_icl"], [.88019125, 1.00402980], 8)
        close(T.errors(s, two(1.6, .4, d))["e_icl"], [.76708336, .91076547], 8)
        close(T.errors(s, two(.4, 1.6, d))["e_icl"], [.99329915, 1.09729412], 8)
        close(T.errors(s, two(.4, 1.6, d), 8)["e_icl"], [.86540014, .98441452], 8)
        s = T.solve(two(3.2, .8, d), np.array([2, .6]), 2, .7, .05, 1)
        close(s.e_idg, [.65951000, 1.00902446], 8)
        close(s.lambda_tilde, [1.41914523, 3.21172443], 8)
        close(T.errors(s, two(3.2, .8, d))["e_icl"], [1.30875199, 1.61247731], 8)
        close(T.errors(s, two(.2, 1.8, d))["e_icl"], [.93202209, 1.05157153], 8)


def test_f3_alignment_values():
    """Letey et al. 2025, Fig. 2 (theory only; d = 120, α = 2, τ = 4, pl(.9) train): e_ICL and its four alignment
    measures e_misalign, ⟨C_test F_κ⟩, ⟨C C⁻¹⟩, CKA."""
    d = 120
    ctr = fam("pl", d, .9)
    sol = T.solve(ctr, 4, 2, np.array([.2, 1, 10]), .01)
    want = {  # test -> rows (κ = .2, 1, 10) of (e_ICL, e_misalign, resolvent), then ⟨C_test C_train⁻¹⟩, CKA
        "ctr": ([.700055, .448932, .368811], [.589293, .269942, .168414], [1.159150, .681454, .533649], 1, 1),
        "pl.4": ([.885868, .611340, .490240], [.775106, .432351, .289843], [1.495164, 1.007696, .820204],
                 1.737239, .786303),
        "pl1.4": ([.491954, .305033, .269663], [.381192, .126044, .069266], [.774461, .366069, .269844],
                  .419017, .940642),
        "lr24": ([.702690, .371137, .294065], [.591928, .192147, .093668], [1.180021, .581105, .417942],
                 .534824, .650924),
        "iso": ([.969150, .703068, .564193], [.858389, .524079, .363796], [1.642436, 1.177670, .977003],
                2.207662, .451711),
    }
    tests = {"ctr": ctr, "pl.4": fam("pl", d, .4), "pl1.4": fam("pl", d, 1.4), "lr24": fam("lowrank", d, 24),
             "iso": np.ones(d)}
    for name, c in tests.items():
        icl, mis, res, inv, cka = want[name]
        m = T.alignment_measures(sol, ctr, c)
        close(T.errors(sol, c)["e_icl"], icl, 6)
        close(m["misalign"], mis, 6)
        close(m["resolvent"], res, 6)
        close(m["inverse"], inv, 6)
        close(m["cka"], cka, 6)


def test_f1_and_f4_theory_columns():
    """The theory curves of Letey et al. 2025, Fig. 1 (lowrank(40) train, d = 80, α = τ = 80) and of the test-time
    context-scaling figure (C_test = C_train, d = 150, κ = 1, α_test grid)."""
    d = 80
    ctr = fam("lowrank", d, 40)
    sol = T.solve(ctr, 80, 80, np.array([.2, .5, 1, 2.2]), .01)
    for c, want in ((ctr, [.620192, .056613, .016760, .016531]), (np.ones(d), [.822685, .544096, .524650, .524575]),
                    (fam("pl", d, .5), [.748350, .365142, .338204, .338073]),
                    (fam("revpl", d, .5), [.897020, .723050, .711096, .711077]),
                    (fam("spike", d, 0, 2), [.620192, .056613, .016760, .016531])):
        close(T.errors(sol, c)["e_icl"], want, 6)
    at = np.array([.1, 10**0.2, 10, 1000])
    for c, want in ((np.ones(150), [4.654617, .697917, .473685, .431876]),
                    (fam("pl", 150, 1), [3.350709, .439970, .275014, .244257]),
                    (fam("pl", 150, 1.5), [1.998623, .230987, .130812, .112134])):
        close(T.errors(T.solve(c, 4, 2, 1, .01), c, at)["e_icl"], want, 6)
    close(T.errors(T.solve(np.ones(150), 4, 2, 1, .01, 1e-4), np.ones(150), .1)["e_icl"], 4.653739, 6)


# ---- cross-checks and structure --------------------------------------------------------------------------------

def test_expanded_form_agrees_on_random_points():
    """e_bias + e_misalign equals the authors' expanded form ``ICL_for_spiked_test`` (a' from (𝓜 + σ𝓜')/κ there)."""
    rng = np.random.default_rng(3)
    d = 40
    ctr = rng.gamma(0.7, size=d)
    ctr[:5] = 0.0                                              # null directions too
    sol = T.solve(ctr, rng.uniform(.1, 5, 50), rng.uniform(.2, 20, 50), rng.uniform(.1, 5, 50),
                  rng.uniform(0, 1, 50), np.r_[np.zeros(25), rng.uniform(1e-3, 2, 25)])
    a = rng.standard_normal((d, d))
    cte = a @ a.T / d
    at = rng.uniform(.1, 50, 50)
    np.testing.assert_allclose(T.e_icl_expanded(sol, cte, at), T.errors(sol, cte, at)["e_icl"], rtol=1e-10)


def test_fixed_point_and_effective_ridge_residuals():
    """Residuals of the fixed point (eq. (17)) and of the effective-ridge equation at the solution, evaluated
    directly from the eigenvalues."""
    lam_i = fam("pl", 200, 1.2)
    tau, alpha, kappa, rho, lam = np.meshgrid([.3, .9, 1.5], [.5, 5], [.3, 1, 4], [.01], [0, .2], indexing="ij")
    sol = T.solve(lam_i, tau, alpha, kappa, rho, lam)
    a, s = sol.a[..., None], sol.sigma[..., None]
    M = (1 / (a * lam_i + s)).mean(-1)
    assert np.all((sol.a > 0) & (sol.a <= 1))
    np.testing.assert_allclose(sol.a, 1 - 1 / kappa + sol.sigma / kappa * M, rtol=1e-12)
    np.testing.assert_allclose(sol.M, M, rtol=1e-13)
    lt = sol.lambda_tilde
    ok = lt > 0
    np.testing.assert_allclose((lt * M)[ok], (1 - tau + tau * lam / np.where(ok, lt, 1))[ok], rtol=1e-10)
    assert np.all(lt[(lam == 0) & (tau > 1)] == 0)
    # M' by a central difference of M(σ) (a re-solved at each σ)
    h = 1e-5 * sol.sigma
    up, dn = (np.array([T._traces(np.atleast_1d(x), np.atleast_1d(1 / k), sol.train.eig, sol.train.weight).M[0]
                        for x, k in zip((sol.sigma + sgn * h).ravel(), kappa.ravel(), strict=True)])
              for sgn in (1, -1))
    np.testing.assert_allclose(sol.M_prime.ravel(), (up - dn) / (2 * h.ravel()), rtol=1e-7)


def test_fixed_point_matches_monte_carlo_resolvent():
    """What the fixed point means: 𝓜_κ(σ) = lim ⟨(F + σ)⁻¹⟩ for F = (1/k) Σ wⱼwⱼᵀ, wⱼ ~ N(0, C_train) (the authors'
    ``M_M2_empirical``). d = 400, 4 draws."""
    rng = np.random.default_rng(0)
    d, kappa, sigma = 400, 0.5, 0.3
    lam_i = two(1.6, .4, d)
    k = int(kappa * d)
    vals = []
    for _ in range(4):
        w = rng.standard_normal((k, d)) * np.sqrt(lam_i)
        F = w.T @ w / k
        vals.append(np.trace(np.linalg.inv(F + sigma * np.eye(d))) / d)
    train = T.train_spectrum(lam_i)
    M = T._traces(np.array([sigma]), np.array([1 / kappa]), train.eig, train.weight).M[0]
    se = np.std(vals, ddof=1) / 2
    assert abs(np.mean(vals) - M) < max(4 * se, 2e-3 * M), (np.mean(vals), M, se)


def test_only_the_diagonal_in_the_train_eigenbasis_matters():
    rng = np.random.default_rng(1)
    d = 12
    spec = fam("pl", d, 1)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    a = rng.standard_normal((d, d))
    cte = a @ a.T
    base = T.evaluate(spec, np.diag(np.diag(cte)), 1.5, 2, .7, .1, .05)["e_icl"]
    np.testing.assert_allclose(T.evaluate(spec, cte, 1.5, 2, .7, .1, .05)["e_icl"], base, rtol=1e-12)
    rot = T.evaluate(q @ np.diag(spec) @ q.T, q @ cte @ q.T, 1.5, 2, .7, .1, .05)["e_icl"]
    np.testing.assert_allclose(rot, base, rtol=1e-9)
    mu = rng.standard_normal(d)
    np.testing.assert_allclose(T.evaluate(spec, cte, 1.5, 2, .7, .1, .05, mu=mu)["e_icl"],
                               T.evaluate(spec, cte + np.outer(mu, mu), 1.5, 2, .7, .1, .05)["e_icl"], rtol=1e-12)


def test_misalignment_is_linear_and_bias_depends_on_trace_only():
    """At fixed c_test, e_ICL − e_misalign is the same for every test (so each κ lies on a unit-slope line against
    the e_misalign axis of Fig. 2), and e_misalign is linear in the test covariance."""
    d = 60
    sol = T.solve(fam("piano", d), 2, 3, np.array([.3, 1, 3]), .01, .01)
    tests = [np.ones(d), fam("pl", d, .7), fam("revpl", d, 1), fam("spike", d, 0, 7)]
    e = [T.errors(sol, c) for c in tests]
    for x in e[1:]:
        np.testing.assert_allclose(x["e_bias"], e[0]["e_bias"], rtol=1e-14)
    mix = 0.3 * tests[1] + 0.7 * tests[2]
    np.testing.assert_allclose(T.errors(sol, mix)["e_misalign"],
                               0.3 * e[1]["e_misalign"] + 0.7 * e[2]["e_misalign"], rtol=1e-12)


# ---- limits ----------------------------------------------------------------------------------------------------

def test_alpha_to_infinity_limit():
    """ρ[1 + κ⟨Ĉ C⁻¹⟩/((κ−1)(τ−1))] (derived); reference values at d = 100, pl(1)/pl(.5), τ = κ = 2."""
    ctr, cte = fam("pl", 100, 1), fam("pl", 100, .5)
    lim = T.limit_alpha_inf(ctr, cte, 2, 2, .01)
    close(lim, 0.0474740, 7)
    e = T.evaluate(ctr, cte, 2, np.array([1e3, 1e5, 1e7]), 2, .01)["e_icl"]
    close(e[:2], [0.05187, 0.047518], [5, 6])
    assert abs(e[2] - lim) < 1e-4
    assert abs(e[2] - lim) < abs(e[1] - lim) < abs(e[0] - lim)
    rng = np.random.default_rng(5)                            # and on other structured points, some singular
    for i in range(6):
        ctr = rng.uniform(.2, 2, 30) * (np.arange(30) >= 10 * (i % 2))
        cte = rng.uniform(0, 2, 30) * (ctr > 0)
        tau, kappa = rng.uniform(1.5, 6), rng.uniform(1.5, 6)
        e = T.evaluate(ctr, cte, tau, 1e7, kappa, .05)["e_icl"]
        assert abs(e - T.limit_alpha_inf(ctr, cte, tau, kappa, .05)) < 1e-4


def test_null_directions_grow_linearly_in_alpha():
    """lowrank(50) train, I test, τ = κ = 2, d = 100: .889 / 1.271 / 5.72 / 50.3 at α = 10..1e4;
    𝒦_i = 1 + E_pre/σ on null directions, so e_ICL/α tends to a positive constant (and the limit formula is inf)."""
    ctr = fam("lowrank", 100, 50)
    alpha = np.array([10, 1e2, 1e3, 1e4, 1e5, 1e6])
    e = T.evaluate(ctr, np.ones(100), 2, alpha, 2, .01)["e_icl"]
    close(e[0], .889, 3)
    close(e[1], 1.271, 3)
    close(e[2], 5.72, 2)
    close(e[3], 50.3, 1)
    slope = np.diff(e) / np.diff(alpha)
    np.testing.assert_allclose(slope[-2:], slope[-1], rtol=1e-3)
    assert slope[-1] > 0
    assert T.limit_alpha_inf(ctr, np.ones(100), 2, 2, .01) == np.inf
    # a test inside the range of C_train stays bounded; its limit is not the full-rank ρ[1 + κ⟨ĈC⁺⟩/((κ−1)(τ−1))] = .02
    # but the rank-r form of limit_alpha_inf: .01 + .01(.5/.75 + .5) = .0216667
    inside = T.evaluate(ctr, ctr, 2, 1e7, 2, .01)["e_icl"]
    close(T.limit_alpha_inf(ctr, ctr, 2, 2, .01), 0.01 + 0.01 * (0.5 / 0.75 + 0.5), 12)
    assert abs(inside - T.limit_alpha_inf(ctr, ctr, 2, 2, .01)) < 1e-4


def test_tau_kappa_to_infinity_and_tau_to_zero():
    """The τ, κ → inf closed form (reference value 0.3587101666), C = I gives ρ + (1+ρ)/(1+ρ+α); τ → 0 gives ρ_test."""
    ctr, cte = fam("pl", 100, 1), fam("pl", 100, .5)
    close(T.limit_tau_kappa_inf(ctr, cte, 2, .01), 0.3587101666, 10)
    close(T.evaluate(ctr, cte, 1e9, 2, 1e9, .01)["e_icl"], 0.3587101670, 9)
    alpha = np.array([.3, 2, 30])
    np.testing.assert_allclose(T.limit_tau_kappa_inf(np.ones(7), np.ones(7), alpha, .1), .1 + 1.1 / (1.1 + alpha),
                               rtol=1e-14)
    e = T.evaluate(ctr, 2 * cte, 1e-7, 2, .5, .01, np.array([0, 1e-3]))["e_icl"]
    np.testing.assert_allclose(e, 2.01, rtol=1e-5)


# ---- families and bad input ------------------------------------------------------------------------------------

def test_families():
    d = 10
    for spec in ("iso", "pl:1", "revpl:0.5", "piano", "lowrank:3", "spike:0.5:4"):
        v = T.family_from_spec(spec, d)
        assert v.shape == (d,) and np.isclose(v.sum(), d) and v.min() >= 0
    np.testing.assert_allclose(T.family_from_spec("pl:1", 3), 3 * np.array([1, 1 / 2, 1 / 3]) / (11 / 6))
    np.testing.assert_allclose(T.family("revpl", 3, 1), T.family("pl", 3, 1)[::-1])
    np.testing.assert_allclose(T.family("piano", 3), [1.5, 1, .5])
    np.testing.assert_allclose(T.family("lowrank", 4, 2), [2, 2, 0, 0])
    np.testing.assert_allclose(T.family("spike", 4, .5, 2), [.5, 2.5, .5, .5])
    np.testing.assert_allclose(T.family("spike", 4, 0, 4), [0, 0, 0, 4])


@pytest.mark.parametrize("bad, match", [
    (np.array([[1.0, 2.0], [0.0, 1.0]]), "symmetric"),
    (np.array([[1.0, 2.0], [2.0, 1.0]]), "semi-definite"),
    (np.zeros(2), "trace"),
    (np.ones(3), "size"),
    (np.array([1.0, -1.0]), "semi-definite"),
    (np.ones((2, 3)), "square"),
])
def test_bad_covariances(bad, match):
    with pytest.raises(UserInputError, match=match):
        T.evaluate(np.ones(2), bad, 2, 1, 1, .01)                 # as the test covariance
    if match != "size":                                           # and as the train covariance
        with pytest.raises(UserInputError, match=match):
            T.solve(bad, 2, 1, 1, .01)


@pytest.mark.parametrize("spec", ["pl", "pl:x", "foo:1", "lowrank:0", "lowrank:1.5", "spike:2:1", "spike:.5:11"])
def test_bad_family_specs(spec):
    with pytest.raises(UserInputError):
        T.family_from_spec(spec, 10)


def test_threshold_and_broadcasting():
    s = T.solve(fam("pl", 20, 1), np.array([[0.5], [1.0], [2.0]]), np.array([1, 2, 4]), 0.7, .01)
    assert s.e_pre.shape == (3, 3)
    assert np.all(np.isinf(s.e_pre[1])) and np.all(np.isfinite(s.e_pre[[0, 2]]))
    # an α_test axis in front of a (τ, α) grid: every entry is the isotropic closed form at its own parameters
    tau, alpha, alpha_test = np.array([[0.5], [2.0]]), np.array([1.0, 2.0, 4.0]), np.array([[[1.0]], [[10.0]]])
    e = T.errors(T.solve(np.full(20, 1.5), tau, alpha, 0.7, .01), np.full(20, 0.5), alpha_test)["e_icl"]
    assert e.shape == (2, 2, 3)
    for i, j, k in np.ndindex(e.shape):
        want = T.icl_scaled_isotropic(tau[j, 0], alpha[k], alpha_test[i, 0, 0], 0.7, .01, 1.5, 0.5)
        assert e[i, j, k] == pytest.approx(want, rel=1e-10), (i, j, k)


def test_chunked_solve_equals_one_block(monkeypatch):
    d = 30
    c = fam("pl", d, 1)
    tau, alpha, kappa = np.meshgrid([.3, 2], [1, 5], np.linspace(.2, 3, 7), indexing="ij")
    one = T.evaluate(c, np.ones(d), tau, alpha, kappa, .01, .05)
    monkeypatch.setattr(T, "CHUNK_ELEMS", 64)                 # two grid points per chunk
    many = T.evaluate(c, np.ones(d), tau, alpha, kappa, .01, .05)
    for k in one:
        np.testing.assert_allclose(many[k], one[k], rtol=1e-12)
