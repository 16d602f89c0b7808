"""Lu et al. 2024 (arXiv 2405.11751) asymptotic theory against reference values, against the authors' own closed
forms (coded independently below, in the arrangement of their code), against Monte Carlo, and against its limits.

The reference values were computed once by a separate implementation of the authors' formulas (checked there
against the authors' stored outputs) and are quoted here to the digits it gives; the ``FIG*`` tables are the theory
curves of Lu et al. 2024, Figs 1, 2 and 4 at the parameters of those figures."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import brentq

from iclab.theory import lu2024 as L

INF = np.inf


def close(got, want, digits):
    """Equal when rounded to ``digits`` decimals (the precision the reference value is quoted to)."""
    np.testing.assert_array_less(np.abs(np.asarray(got) - np.asarray(want)), 0.5 * 10.0 ** -digits + 1e-12)


# ---- independent reference formulas, in the arrangement of the authors' code (M_kappa, ridge_icl, ridgeless_*) --

def M_ref(x, kappa):
    b = x + 1 - 1 / kappa
    return 2 / (b + np.sqrt(b * b + 4 * x / kappa))


def dM_ref(x, kappa):
    return -0.5 * M_ref(x, kappa) ** 2 * (1 + (x + 1 + 1 / kappa) / np.sqrt((x + 1 - 1 / kappa) ** 2 + 4 * x / kappa))


def ridge_ref(xi, tau, alpha, kappa, rho):
    """e_ICL in the variables of the authors' ``ridge_icl`` (c_e = −e_IDG/τ) and e_IDG as derived, given ξ."""
    q = (1 + rho) / alpha
    nu = q + xi
    M, dM = M_ref(nu, kappa), dM_ref(nu, kappa)
    ce = (rho + nu - nu**2 * M - xi * (1 - 2 * nu * M - nu**2 * dM)) / (1 - 2 * xi * M - xi**2 * dM - tau)
    icl = (q + 1) * (1 - 2 * nu * M - nu**2 * dM - ce * (M + xi * dM)) - 2 * (1 - nu * M) + 1 + rho
    m1, m2 = M, -dM
    idg = tau * (rho + nu - nu**2 * m1 - xi * (1 - 2 * nu * m1 + nu**2 * m2)) / (tau - 1 + 2 * xi * m1 - xi**2 * m2)
    return icl, idg, -ce * tau


def ridgeless_ref(tau, alpha, kappa, rho):
    """The authors' ridgeless closed forms: ICL for τ < 1 and both τ > 1 variants (``ridgeless_icl``, ``prop_icl``),
    IDG for τ > 1 and the c-form for τ < 1 (``ridgeless_idg``)."""
    q = (1 + rho) / alpha
    if tau < 1:
        mu = q * M_ref(q, kappa / tau)
        icl = tau * (1 + q) / (1 - tau) * (1 - tau * (1 - mu) ** 2 + mu * (rho / q - 1)) - 2 * tau * (1 - mu) + 1 + rho
        xi = (1 - tau) * q / (tau * mu)
        c = 1 / (1 - kappa / (1 + kappa * xi / (1 - tau)) ** 2)
        num = rho + q - 2 * q * (1 - tau) * (q / xi + 1)
        idg = tau * ((q + xi) ** 2 / xi + num / ((1 - tau) - c * (1 - tau) ** 2))
        return icl, icl, idg
    m = M_ref(q, kappa)
    icl = (1 + q) * (1 - 2 * q * m - q**2 * dM_ref(q, kappa) + m / (tau - 1) * (rho + q - q**2 * m)) \
        - 2 * (1 - q * m) + 1 + rho
    k = 1 / (1 - kappa * (m / (kappa + m)) ** 2)
    icl2 = (k - 1 / (tau - 1)) * (1 + q) * (q * m) ** 2 + (3 - 2 * tau) / (tau - 1) * m * q**2 \
        + ((1 + rho) * m / (tau - 1) + 1) * q + rho * m / (tau - 1) + rho
    idg = tau / (tau - 1) * (rho + q * (1 - q * m))
    return icl, icl2, idg


# ---- reference values of M_κ, ξ and the errors -----------------------------------------------------------------

def test_M_kappa_reference_values():
    close(L.M_kappa(0.1, 0.5), 5.4221443851, 10)
    close(L.M_kappa(1.0, 2.0), 0.5615528128, 10)
    close(L.M_kappa_prime(1.0, 2.0), -0.3488746876, 10)
    assert L.M_kappa(0.5, INF) == pytest.approx(2 / 3, rel=1e-15)
    assert L.M_kappa_prime(0.5, INF) == pytest.approx(-1 / 1.5**2, rel=1e-15)


def test_ridgeless_reference_values():
    e = L.evaluate(2.0, 1.0, 0.5, 0.01)
    close(e["e_icl"], 1.23399, 5)
    close(e["e_idg"], 0.60956, 5)
    e = L.evaluate(0.5, 10.0, 0.5, 0.01)
    close(e["e_icl"], 0.82085, 5)
    close(e["e_idg"], 0.24634, 5)


@pytest.mark.parametrize("tau, xi, icl, idg", [(2.0, 0.18021, 1.0714, 0.5085), (0.5, 1.83468, 1.1804, 0.7413)])
def test_ridge_reference_values(tau, xi, icl, idg):
    e = L.evaluate(tau, 1.0, 0.5, 0.01, 0.1)
    close(e["xi"], xi, 5)
    close(e["e_icl"], icl, 4)
    close(e["e_idg"], idg, 4)


def test_kappa_inf_ridge_reference_values():
    e = L.evaluate(0.8, 10.0, INF, 0.01, 0.1)
    close(e["xi"], 0.568811, 6)
    close(e["e_icl"], 0.45367, 5)
    close(e["e_idg"], 0.45367, 5)
    # the κ = inf closed form is the root of the ξ equation
    x = e["xi"]
    assert 1 - 0.8 + 0.8 * 0.1 / x == pytest.approx(x * L.M_kappa(1.01 / 10 + x, INF), rel=1e-13)


def test_gtask_joint_limit_reference_values():
    kappa = np.array([0.2, 0.5, 0.9, 1.1, 2.0])
    a = 1e5
    close(L.g_task(0.2 * a, a, kappa, 0.01), [0.8396, 0.5248, 0.1050, 0.0, 0.0], 4)
    close(L.g_task_joint_limit(kappa, 0.01, c=0.2), [0.8396, 0.5248, 0.1050, 0.0, 0.0], 4)
    np.testing.assert_allclose(L.g_task_joint_limit(kappa, 0.01), np.maximum(1 - kappa, 0))


def test_bayes_ridge_reference_value():
    close(L.e_bayes_ridge(10.0, 0.01), 0.0111, 4)


# ---- theory values of Lu et al. 2024, Figs 1, 2 and 4 -------------------------------------------------------------

TAU1 = np.array([0.2, 0.5, 0.85, 1.15, 1.5, 2.0])
FIG1_ICL = {1: [1.0385, 1.2611, 3.1790, 3.6679, 1.6635, 1.2340],
            10: [0.8643, 0.8208, 2.2279, 2.7748, 1.2236, 0.8912],
            100: [0.8202, 0.7016, 4.0872, 5.5651, 2.0300, 1.2725]}
FIG1_IDG = {1: [0.8012, 0.8018, 2.1165, 2.3367, 0.9143, 0.6096],
            10: [0.5507, 0.2463, 0.4265, 0.4309, 0.1686, 0.1124],
            100: [0.5047, 0.1221, 0.1201, 0.1150, 0.0450, 0.0300]}


@pytest.mark.parametrize("alpha", [1, 10, 100])
def test_fig1_tables(alpha):  # Fig. 1A-B: κ = 0.5, ρ = 0.01, ridgeless
    close(L.e_icl(TAU1, alpha, 0.5, 0.01), FIG1_ICL[alpha], 4)
    close(L.e_idg(TAU1, alpha, 0.5, 0.01), FIG1_IDG[alpha], 4)


def test_fig1_other_points():  # Fig. 1A-B: τ → ∞ values and the minima over τ < 1
    icl, idg = L.limit_tau_inf(np.array([1.0, 10.0, 100.0]), 0.5, 0.01)
    close(icl, [0.8045, 0.5588, 0.5150], 4)
    close(idg, [0.3048, 0.0562, 0.0150], 4)
    tau = np.linspace(0.2, 0.8, 6001)
    for alpha, t_min, e_min in [(10, 0.400, 0.7922), (100, 0.435, 0.6615)]:
        e = L.e_icl(tau, alpha, 0.5, 0.01)
        close(tau[e.argmin()], t_min, 3)
        close(e.min(), e_min, 4)
    assert np.all(np.diff(L.e_icl(np.linspace(1e-3, 0.99, 500), 1, 0.5, 0.01)) > 0)


def test_fig1_panel_c():  # Fig. 1C: κ = inf, α = 10, ρ = 0.01
    tau = np.array([0.2, 0.5, 0.85, 1.0, 1.15, 1.5, 2.0])
    table = {1e-5: [0.8538, 0.6576, 0.8141, 16.93, 0.7792, 0.3052, 0.2035],
             0.1: [0.8525, 0.6359, 0.4279, 0.3607, 0.3094, 0.2366, 0.1894],
             1.0: [0.8509, 0.6652, 0.5440, 0.5116, 0.4865, 0.4456, 0.4109]}
    for lam, row in table.items():
        got = L.e_icl(tau, 10, INF, 0.01, lam)
        close(got[[0, 1, 2, 4, 5, 6]], np.array(row)[[0, 1, 2, 4, 5, 6]], 4)
        close(got[3], row[3], 2 if lam == 1e-5 else 4)


A_IDG = np.array([1, 5.6, 6.15, 7.4, 100, 1000])
A_ICL = np.array([2.35, 5.5, 9.62, 22.7, 100, 1000])
FIG2 = {  # panel: (which, tau, rho, alphas, {kappa: row}); alphas are the simulated points of Fig. 2
    "A": ("idg", 0.5, 0.5, A_IDG, {0.1: [1.3674, 1.1666, 1.1628, 1.1562, 1.1272, 1.1252],
                                    0.3: [1.7992, 1.4971, 1.4965, 1.4988, 1.6911, 1.7432],
                                    0.5: [1.9914, 1.6613, 1.6623, 1.6706, 2.8740, 7.2291],
                                    0.7: [2.0929, 1.7169, 1.7127, 1.7093, 2.1133, 2.3530],
                                    2: [2.2841, 1.7795, 1.7617, 1.7298, 1.5576, 1.5433]}),
    "B": ("icl", 0.5, 0.1, A_ICL, {0.2: [1.3897, 1.4817, 1.6764, 2.3647, 6.5658, 55.65],
                                    0.4: [1.3246, 1.2667, 1.2982, 1.5072, 2.9181, 19.30],
                                    0.5: [1.3009, 1.1962, 1.1759, 1.2278, 1.6147, 3.6014],
                                    0.6: [1.2829, 1.1469, 1.0962, 1.0702, 1.1151, 1.1853],
                                    1.5: [1.2210, 1.0139, 0.9195, 0.8300, 0.7695, 0.7520]}),
    "C": ("icl", 20, 0.5, A_ICL, {0.25: [1.4377, 1.4162, 1.4458, 1.5970, 2.6014, 14.44],
                                   0.75: [1.1802, 1.0430, 0.9883, 0.9756, 1.2718, 5.2120],
                                   1: [1.1132, 0.9399, 0.8553, 0.7779, 0.7842, 1.1901],
                                   1.1: [1.0941, 0.9122, 0.8213, 0.7323, 0.6936, 0.7541],
                                   2: [1.0111, 0.8099, 0.7132, 0.6228, 0.5676, 0.5541]}),
}


@pytest.mark.parametrize("panel", "ABC")
def test_fig2_tables(panel):
    which, tau, rho, alphas, rows = FIG2[panel]
    for kappa, row in rows.items():
        got = L.evaluate(tau, alphas, kappa, rho)["e_" + which]
        for g, w in zip(got, row, strict=True):
            close(g, w, 2 if w > 10 else 4)


@pytest.mark.parametrize("panel, which, tau, rho, cases", [
    ("A", "idg", 0.5, 0.5, [(0.1, None, None), (0.3, 6.152, 1.4965), (0.5, 5.617, None), (0.7, 7.408, 1.7093),
                            (2, None, None)]),
    ("B", "icl", 0.5, 0.1, [(0.2, 2.308, 1.3897), (0.4, 5.466, 1.2667), (0.5, 9.603, 1.1760), (0.6, 22.55, 1.0702),
                            (1.5, None, None)]),
    ("C", "icl", 20, 0.5, [(0.25, 4.675, 1.4148), (0.75, 16.73, 0.9692), (1, 45.00, 0.7597), (1.1, 78.95, 0.6925),
                           (1.15, 108.2, None), (2, None, None)]),
])
def test_fig2_alpha_star(panel, which, tau, rho, cases):  # the minimisers α* marked in Fig. 2
    kappa = np.array([c[0] for c in cases])
    a, e = L.alpha_star(tau, kappa, rho, which=which, alpha_max=1e5)
    for (k, a_ref, e_ref), ai, ei in zip(cases, a, e, strict=True):
        if a_ref is None:
            assert np.isnan(ai), (panel, k)
            continue
        digits = 4 - int(np.floor(np.log10(a_ref))) - 1   # 4 significant figures as quoted
        close(ai, a_ref, digits)
        if e_ref is not None:
            # within one unit of the last quoted digit: the reference rounds some minima up (e.g. B, κ = 0.5:
            # e* = 1.1760, yet its own table gives 1.1759 at α = 9.62 next to α*; the minimum is 1.175947).
            assert abs(ei - e_ref) <= 1e-4 + 1e-12, (panel, k, ei)
    if panel == "A":  # the reference quotes 1.6613 at κ = 0.5; the minimum is 1.661250 ≤ e(5.6) = 1.6613 (table)
        assert e[2] <= L.e_idg(0.5, 5.6, 0.5, 0.5) and abs(e[2] - 1.6613) <= 1e-4


FIG4 = {6: [1.5972, 1.7742, 1.7205, 1.2616, 0.9853, 0.7822, 0.4003, 0.1346, 0.0635, 0.0121],
        10: [1.0763, 1.0306, 0.7788, 0.4635, 0.3090, 0.2140, 0.0838, 0.0239, 0.0109, 0.0020],
        20: [0.9888, 0.9044, 0.6131, 0.3053, 0.1605, 0.0877, 0.0232, 0.0056, 0.0025, 0.0004],
        40: [0.9636, 0.8676, 0.5634, 0.2513, 0.0998, 0.0392, 0.0071, 0.0015, 0.0007, 0.0001]}


@pytest.mark.parametrize("alpha", [6, 10, 20, 40])
def test_fig4_gtask_table(alpha):  # Fig. 4: τ = 0.2α, ρ = 0.01
    kappa = np.array([0.1, 0.2, 0.5, 0.8, 1, 1.2, 2, 5, 10, 50])
    close(L.g_task(0.2 * alpha, alpha, kappa, 0.01), FIG4[alpha], 4)


def test_fig4_cpu_demo_theory_row():  # the authors' quick Fig. 4 demo: α = 10, τ = 10, ρ = 0.01, λ = 1e-6
    kappa = np.array([0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.6, 2, 4, 8, 16, 32])
    row = [0.8253, 0.6310, 0.4385, 0.2742, 0.1636, 0.1016, 0.0492, 0.0301, 0.0092, 0.0037, 0.0017, 0.0008]
    close(L.g_task(10, 10, kappa, 0.01, 1e-6), row, 4)
    close(L.g_task(10, 10, kappa, 0.01), row, 4)


@pytest.mark.parametrize("tau, lam, xi, icl, idg", [
    (0.5, 0.1, 1.8347, 1.1804, 0.7413), (0.5, 1.0, 3.2531, 0.9884, 0.6246), (2.0, 0.1, 0.18021, 1.0714, 0.5085),
    (2.0, 1.0, 1.3699, 0.8731, 0.4213), (2.0, 0.0, None, 1.2340, 0.6096)])
def test_ridge_theory_at_simulated_points(tau, lam, xi, icl, idg):  # κ = 0.5, α = 1, ρ = 0.01 (λ > 0 checks)
    e = L.evaluate(tau, 1.0, 0.5, 0.01, lam)
    if xi is not None:
        close(e["xi"], xi, 4 if xi > 1 else 5)
    close(e["e_icl"], icl, 4)
    close(e["e_idg"], idg, 4)


# ---- independent formulas --------------------------------------------------------------------------------------

def test_M_matches_authors_forms_and_finite_difference():
    x = np.geomspace(1e-6, 1e3, 50)[:, None]
    kappa = np.array([1e-4, 0.1, 0.5, 0.999, 1.0, 2.0, 50.0])
    M = L.M_kappa(x, kappa)
    ok = x + 1 - 1 / kappa >= 0                                       # the authors' direct form cancels for b < 0
    np.testing.assert_allclose(M[ok], np.broadcast_to(M_ref(x, kappa), M.shape)[ok], rtol=1e-13)
    np.testing.assert_allclose(M, M_ref(x, kappa), rtol=1e-6)
    terms = np.stack([(x / kappa) * M**2, (x + 1 - 1 / kappa) * M, -np.ones_like(M)])
    # M solves (x/κ)M² + bM − 1 = 0: relative residual
    assert (np.abs(terms.sum(0)) <= 1e-14 * np.abs(terms).sum(0)).all()
    np.testing.assert_allclose(L.M_kappa_prime(x, kappa), dM_ref(x, kappa), rtol=1e-6)
    x = x[x[:, 0] > 1e-3]
    h = 1e-5 * x
    fd = (L.M_kappa(x + h, kappa) - L.M_kappa(x - h, kappa)) / (2 * h)
    np.testing.assert_allclose(L.M_kappa_prime(x, kappa), fd, rtol=1e-6)
    # and near x = 0 for κ > 1 the MP moments: M(0) = κ/(κ-1), M'(0) = -E s^-2 = -(κ/(κ-1))³
    np.testing.assert_allclose(L.M_kappa_prime(1e-12, 2.0), -8.0, rtol=1e-9)
    np.testing.assert_allclose(L.M_kappa(x, 1e15), 1 / (1 + x), rtol=1e-12)


def test_M_small_kappa_small_x_is_stable():
    # κ → 0: F = 0 on almost all directions, so M → 1/x; the authors' direct form cancels catastrophically here
    np.testing.assert_allclose(L.M_kappa(1e-8, 1e-10), 1e8, rtol=1e-6)
    assert np.isfinite(L.M_kappa(np.geomspace(1e-12, 1, 20), 1e-12)).all()
    assert L.M_kappa(0.0, 2.0) == pytest.approx(2.0)


@pytest.mark.parametrize("kappa, x", [(0.5, 0.1), (2.0, 1.0), (1.5, 0.3)])
def test_M_against_empirical_spectrum(kappa, x):
    """M_κ(x) = lim (1/d) tr(F + x)^-1, F = (1/k) Σ w wᵀ: the empirical spectrum at d = 400."""
    rng = np.random.default_rng(0)
    d = 400
    k = int(kappa * d)
    W = rng.standard_normal((k, d))
    ev = np.linalg.eigvalsh(W.T @ W / k)
    emp = np.mean(1 / (ev + x))
    assert emp == pytest.approx(L.M_kappa(x, kappa), rel=5e-3)
    emp2 = np.mean(1 / (ev + x) ** 2)
    assert emp2 == pytest.approx(-L.M_kappa_prime(x, kappa), rel=1e-2)


def test_bayes_ridge_against_stieltjes_and_monte_carlo():
    alpha = np.array([0.3, 1.0, 2.5, 10.0])
    rho = np.array([[0.01], [0.5], [1.0]])
    np.testing.assert_allclose(L.e_bayes_ridge(alpha, rho), rho * (1 + L.M_kappa(rho / alpha, alpha) / alpha),
                               rtol=1e-12)
    np.testing.assert_allclose(L.e_bayes_ridge(alpha, 0.0), np.maximum(1 - alpha, 0), atol=1e-15)
    # Monte Carlo: error of the posterior mean = ρ + ρ tr(XXᵀ + ρ)^-1 / d, X: d × ℓ with N(0, 1/d) entries
    rng = np.random.default_rng(1)
    d, a, r = 400, 0.5, 0.1
    X = rng.standard_normal((d, int(a * d))) / np.sqrt(d)
    mc = r + r * np.mean(1 / (np.linalg.eigvalsh(X @ X.T) + r))
    assert mc == pytest.approx(L.e_bayes_ridge(a, r), rel=1e-2)


def test_gd_reference():
    alpha, rho = np.array([1.0, 10.0, 100.0]), 0.01
    q = (1 + rho) / alpha
    etas = np.linspace(0, 2, 2001)[:, None]
    assert np.allclose(L.e_gd(alpha, rho, etas).min(axis=0), L.e_gd(alpha, rho), atol=1e-6)
    np.testing.assert_allclose(L.e_gd(alpha, rho, 1 / (1 + q)), L.e_gd(alpha, rho), rtol=1e-14)
    # Γ* at τ, κ → inf is the optimally scaled one-step GD, Γ* = [I, 0]/(1 + q)
    np.testing.assert_allclose(L.e_icl(1e9, alpha, INF, rho), L.e_gd(alpha, rho), rtol=1e-7)


# ---- hypothesis properties -------------------------------------------------------------------------------------

pos = lambda lo, hi: st.floats(lo, hi, allow_nan=False, allow_infinity=False)
logu = lambda lo, hi: pos(np.log10(lo), np.log10(hi)).map(lambda v: 10.0**v)


@given(tau=logu(0.02, 50), alpha=logu(0.05, 500), kappa=logu(0.02, 100), rho=logu(1e-3, 2), lam=logu(1e-8, 1e3))
def test_xi_solves_its_equation(tau, alpha, kappa, rho, lam):
    x = L.xi(tau, alpha, kappa, rho, lam)
    q = (1 + rho) / alpha
    lhs, rhs = 1 - tau + tau * lam / x, x * L.M_kappa(q + x, kappa)
    scale = abs(1 - tau) + tau * lam / x + rhs
    assert x > 0 and abs(lhs - rhs) <= 1e-12 * scale


@given(tau=logu(0.02, 50), alpha=logu(0.05, 500), kappa=logu(0.02, 100), rho=logu(1e-3, 2), lam=logu(1e-6, 10))
def test_general_formula_matches_authors_form(tau, alpha, kappa, rho, lam):
    """Our cancellation-free arrangement against the authors' (``ridge_icl``), at the same ξ."""
    e = L.evaluate(tau, alpha, kappa, rho, lam)
    icl, idg, _ = ridge_ref(float(e["xi"]), tau, alpha, kappa, rho)
    assert e["e_icl"] == pytest.approx(icl, rel=1e-7)
    assert e["e_idg"] == pytest.approx(idg, rel=1e-7)


@given(tau=logu(0.05, 20), alpha=logu(0.1, 300), kappa=logu(0.05, 50), rho=logu(1e-3, 2))
def test_ridgeless_matches_authors_closed_forms(tau, alpha, kappa, rho):
    if abs(tau - 1) < 0.02 or abs(kappa - tau) < 1e-3:
        return
    e = L.evaluate(tau, alpha, kappa, rho)
    icl, icl2, idg = ridgeless_ref(tau, alpha, kappa, rho)
    assert e["e_icl"] == pytest.approx(icl, rel=1e-8)
    assert e["e_icl"] == pytest.approx(icl2, rel=1e-7)
    assert e["e_idg"] == pytest.approx(idg, rel=1e-7)


@given(tau=logu(0.05, 20), alpha=logu(0.1, 300), kappa=st.one_of(logu(0.05, 50), st.just(INF)), rho=logu(1e-3, 2))
def test_ridge_to_ridgeless(tau, alpha, kappa, rho):
    """λ → 0⁺ (root solve) agrees with the λ = 0 closed forms on both sides of τ = 1 (≤ 1e-5 at λ = 1e-10)."""
    if abs(tau - 1) < 0.05:
        return
    a, b = L.evaluate(tau, alpha, kappa, rho, 1e-10), L.evaluate(tau, alpha, kappa, rho, 0.0)
    for key in ("e_icl", "e_idg"):
        assert a[key] == pytest.approx(b[key], rel=1e-5)


@given(tau=logu(0.02, 50), alpha=logu(0.05, 500), rho=logu(1e-3, 2), lam=st.one_of(st.just(0.0), logu(1e-6, 10)))
def test_kappa_inf_icl_equals_idg(tau, alpha, rho, lam):
    e = L.evaluate(tau, alpha, INF, rho, lam)
    assert e["e_icl"] == pytest.approx(e["e_idg"], rel=1e-10)
    # and κ → inf is continuous: a huge finite pool (Newton path) gives the same
    assert L.e_icl(tau, alpha, 1e9, rho, lam) == pytest.approx(e["e_icl"], rel=1e-6)


@given(tau=logu(0.05, 20), alpha=logu(0.05, 500), rho=logu(1e-3, 2))
def test_kappa_inf_ridgeless_closed_forms(tau, alpha, rho):  # κ → inf, derived by hand from the closed forms
    if abs(tau - 1) < 0.02:
        return
    q = (1 + rho) / alpha
    if tau > 1:
        want = tau / (tau - 1) * (rho + (1 + rho) / (1 + rho + alpha))
    else:
        want = tau * ((1 + rho) * (1 + q) - tau) / ((1 - tau) * (1 + q)) - 2 * tau / (1 + q) + 1 + rho
    assert L.e_icl(tau, alpha, INF, rho) == pytest.approx(want, rel=1e-10)


@given(alpha=logu(0.05, 500), kappa=st.one_of(logu(0.05, 50), st.just(INF)), rho=logu(1e-3, 2),
       lam=st.one_of(st.just(0.0), logu(1e-6, 10)))
def test_tau_to_zero(alpha, kappa, rho, lam):
    e = L.evaluate(1e-9, alpha, kappa, rho, lam)
    assert e["e_icl"] == pytest.approx(1 + rho, rel=1e-6)
    assert e["e_idg"] == pytest.approx(1 + rho, rel=1e-6)


@given(alpha=logu(0.05, 500), kappa=st.one_of(logu(0.05, 50), st.just(INF)), rho=logu(1e-3, 2))
def test_tau_to_inf(alpha, kappa, rho):
    icl, idg = L.limit_tau_inf(alpha, kappa, rho)
    e = L.evaluate(1e10, alpha, kappa, rho)
    assert e["e_icl"] == pytest.approx(icl, rel=1e-7)
    assert e["e_idg"] == pytest.approx(idg, rel=1e-7)


@given(tau=logu(0.05, 20), kappa=logu(0.05, 50), rho=logu(1e-2, 2))
def test_alpha_to_inf(tau, kappa, rho):
    """Finite limits where κ > min(τ, 1); linear growth with the stated slope where κ < min(τ, 1)."""
    if abs(tau - 1) < 0.05 or abs(kappa - min(tau, 1)) < 0.05 or abs(kappa - tau) < 0.05:
        return
    icl_lim, idg_lim = L.limit_alpha_inf(tau, kappa, rho)
    a = 1e9
    e = L.evaluate(tau, a, kappa, rho)
    if kappa > min(tau, 1):
        assert e["e_icl"] == pytest.approx(icl_lim, rel=1e-4)
    else:
        assert np.isinf(icl_lim)
        slope = L.icl_alpha_slope(tau, kappa, rho)
        assert e["e_icl"] / a == pytest.approx(slope, rel=1e-4)
    if not np.isnan(idg_lim):
        assert e["e_idg"] == pytest.approx(idg_lim, rel=1e-4)
    if tau > 1:
        assert idg_lim == pytest.approx(rho * tau / (tau - 1))


def test_errors_diverge_at_interpolation_threshold():
    e = L.evaluate(1.0, 10.0, 0.5, 0.01)
    assert np.isinf(e["e_icl"]) and np.isinf(e["e_idg"])
    near = L.e_icl(np.array([1 - 1e-6, 1 + 1e-6]), 10.0, 0.5, 0.01)
    assert (near > 1e4).all()
    assert np.isfinite(L.e_icl(1.0, 10.0, 0.5, 0.01, 1e-3))   # any λ > 0 removes the divergence (Fig 1C)


def xi_equation(x, tau, q, kappa, lam):
    """1 − τ + τλ/ξ − ξ M_κ(q + ξ): zero at the effective ridge."""
    return 1 - tau + tau * lam / x - x * M_ref(q + x, kappa)


def test_broadcasting_and_scalars():
    """Every entry of a broadcast grid equals the reference formulas at its own parameters: ξ by brentq on the ξ
    equation with the authors' M_κ (λ > 0), the ridgeless closed forms (λ = 0, finite κ) or the κ = inf one."""
    assert isinstance(L.e_icl(0.5, 10, 0.5, 0.01), np.floating)
    taus, alphas, kappas, lams, rho = [0.5, 2.0], [1.0, 10.0], [0.5, INF], [0.0, 0.1], 0.01
    out = L.evaluate(np.array(taus)[:, None, None], np.array(alphas)[None, :, None], np.array(kappas), rho,
                     np.array(lams)[:, None, None])
    assert all(v.shape == (2, 2, 2) for v in out.values())
    for (i, tau), (j, alpha), (k, kappa) in itertools.product(enumerate(taus), enumerate(alphas), enumerate(kappas)):
        lam, q = lams[i], (1 + rho) / alpha
        if lam > 0:
            xi = brentq(xi_equation, 1e-12, 1e6, args=(tau, q, kappa, lam), xtol=1e-15)
            icl, idg, _ = ridge_ref(xi, tau, alpha, kappa, rho)
        elif kappa < INF:
            icl, _, idg = ridgeless_ref(tau, alpha, kappa, rho)
        else:   # τ = 0.5 < 1, κ = inf: e_ICL = e_IDG
            icl = idg = tau * ((1 + rho) * (1 + q) - tau) / ((1 - tau) * (1 + q)) - 2 * tau / (1 + q) + 1 + rho
        assert out["e_icl"][i, j, k] == pytest.approx(icl, rel=1e-9), (tau, alpha, kappa, lam)
        assert out["e_idg"][i, j, k] == pytest.approx(idg, rel=1e-9), (tau, alpha, kappa, lam)
    close(out["e_icl"][1, 0, 0], 1.0714, 4)                                   # the reference value above


@pytest.mark.parametrize("kw, name", [
    ({"tau": 0.0}, "tau"), ({"tau": -1.0}, "tau"), ({"alpha": 0.0}, "alpha"), ({"kappa": 0.0}, "kappa"),
    ({"kappa": -2.0}, "kappa"), ({"rho": -0.1}, "rho"), ({"lam": -1e-3}, "lam"), ({"tau": np.nan}, "tau"),
    ({"alpha": np.inf}, "alpha"), ({"rho": np.array([0.1, np.nan])}, "rho")])
def test_bad_input_names_the_parameter(kw, name):
    args = {"tau": 0.5, "alpha": 10.0, "kappa": 0.5, "rho": 0.01, "lam": 0.0} | kw
    with pytest.raises(ValueError, match=f"^{name} must"):
        L.evaluate(**args)


# ---- non-monotonicity (Lu et al. 2024, Figs 2 and 3) -------------------------------------------------------------

def test_nonmonotone_map_matches_alpha_star():
    """Pixels of the Fig 3 map sit at the α* of the Fig 2 curves (ICL, τ = 0.5, ρ = 0.1)."""
    alpha = np.logspace(-2, 3, 500)
    kappa = np.array([0.2, 0.4, 0.5, 0.6, 1.5])
    m = L.nonmonotone_map(0.5, kappa, np.array([0.1]), alpha, which="icl")[:, 0]
    assert m[-1] == 0 and (m[:-1] > 0).all()
    a_star, _ = L.alpha_star(0.5, kappa[:-1], 0.1)
    for i, a in zip(m[:-1], a_star, strict=True):
        assert alpha[i - 1] <= a <= alpha[i + 1]


def test_nonmonotone_map_chunking_is_invisible():
    alpha = np.logspace(-2, 3, 120)
    kappa, rho = np.linspace(0.1, 2.1, 23), np.linspace(0.01, 1, 7)
    a = L.nonmonotone_map(20, kappa, rho, alpha, max_elems=1)
    b = L.nonmonotone_map(20, kappa, rho, alpha)
    np.testing.assert_array_equal(a, b)
    assert (a[kappa < 1] > 0).all()       # κ < min(τ, 1): e_icl diverges in α, so it must turn up


@pytest.mark.parametrize("tau", [1e-8, 0.5, 1.0, 2.0, 1e6])
@pytest.mark.parametrize("lam", [1e-30, 1e-12, 1e6])
@pytest.mark.parametrize("kappa", [1e-6, 0.3, 1.0, 3.0, 1e8])
def test_xi_extreme_parameters(tau, lam, kappa):
    """The root stays exact where ξ ≪ q (τ = 1, tiny λ) and where ξ ≫ q (τ → 0 or huge λ)."""
    x = L.xi(tau, 10.0, kappa, 0.1, lam)
    rhs = x * L.M_kappa(0.11 + x, kappa)
    lhs = 1 - tau + tau * lam / x
    assert abs(lhs - rhs) <= 1e-12 * (abs(1 - tau) + tau * lam / x + rhs)
    assert np.isfinite(L.e_icl(tau, 10.0, kappa, 0.1, lam))
