"""Closed forms of Mahankali et al. 2023 (arXiv 2307.03576) against hand-computed reference numbers, a least-squares fit
over a larger predictor class, and Monte Carlo of the population loss."""


import jax
import numpy as np
import pytest

from iclab.estimators import bayes_ridge
from iclab.tasks import LinearRegression
from iclab.tasks.nonlinear import ReLUTeacher
from iclab.theory import mahankali2023 as th

KEY = jax.random.PRNGKey(11)

# Thm 1 (x, w ~ N(0, I)), computed by hand from eta* = n/(n + d + 1 + sigma2) and the loss d(1 - eta*) (+ sigma2):
# d, n, sigma2, eta*, loss vs clean w'x_q, loss vs noisy y_q
ETA_TABLE = [
    (5, 20, 0, 0.7692, 1.1538, 1.1538),
    (5, 20, 0.25, 0.7619, 1.1905, 1.4405),
    (5, 20, 0.5, 0.7547, 1.2264, 1.7264),
    (5, 20, 1, 0.7407, 1.2963, 2.2963),
    (5, 10, 0.5, 0.6061, 1.9697, 2.4697),
    (10, 20, 0.5, 0.6349, 3.6508, 4.1508),
    (10, 40, 0, 0.7843, 2.1569, 2.1569),
    (20, 40, 1, 0.6452, 7.0968, 8.0968),
]


@pytest.mark.parametrize("d,n,s2,eta,clean,noisy", ETA_TABLE)
def test_reference_table(d, n, s2, eta, clean, noisy):
    assert th.eta_star(n, d, s2) == pytest.approx(eta, abs=6e-5)
    assert th.min_loss(n, d, s2, target="clean") == pytest.approx(clean, abs=6e-5)
    assert th.min_loss(n, d, s2) == pytest.approx(noisy, abs=6e-5)
    assert th.min_loss(n, d, s2, target="clean") == pytest.approx(d * (1 - eta), abs=d * 6e-5)  # d(1 - eta*)


def test_broadcasting():
    n = np.array([10, 20, 40])
    np.testing.assert_allclose(th.eta_star(n, 5, 0.5), n / (n + 6.5))
    np.testing.assert_allclose(th.eta_star(np.array([[10], [20]]), 5, np.array([0.0, 1.0])),
                               [[10 / 16, 10 / 17], [20 / 26, 20 / 27]], rtol=1e-15)


# A least-squares fit (done once, outside this repository, d = 3, n = 10, sigma2 = 0.5) of the best predictor over 1e6
# prompts in a class strictly larger than one-layer LSA: y_hat = x_q' M v + s m'x_q + sum T_ca b_cab x_q,b with
# s = mean y_i^2, T = (1/n) sum x_i x_i'. Per prior: the fitted diag(M), and the closed-form prediction next to it.
SIGMA_FIT = np.diag([0.25, 1.0, 4.0])
FIT_TABLE = {
    "inverse": ([2.770, 0.691, 0.172], [2.759, 0.690, 0.172]),
    "identity": ([1.174, 0.597, 0.201], [1.177, 0.597, 0.201]),
}


def test_fit_table_linear():
    d, n, s2 = 3, 10, 0.5
    assert th.eta_star(n, d, s2) == pytest.approx(0.6897, abs=6e-5)
    assert th.eta_star(n, d, s2) == pytest.approx(0.689, rel=3e-3)  # fitted 0.689 (isotropic row)
    assert th.min_loss(n, d, s2) == pytest.approx(1.4310, abs=6e-5)
    assert th.min_loss(n, d, s2) == pytest.approx(1.4286, rel=3e-3)  # fitted loss
    for prior, (fitted, predicted) in FIT_TABLE.items():
        gamma = th.preconditioner(SIGMA_FIT, n, s2, prior)
        np.testing.assert_allclose(np.diag(gamma), predicted, atol=6e-4)
        np.testing.assert_allclose(np.diag(gamma), fitted, rtol=5e-3)
        np.testing.assert_allclose(gamma - np.diag(np.diag(gamma)), 0, atol=1e-12)
    # the paper's prior: eta* Sigma^-1, and the minimal loss does not depend on Sigma
    np.testing.assert_allclose(th.preconditioner(SIGMA_FIT, n, s2), th.eta_star(n, d, s2) * np.linalg.inv(SIGMA_FIT))
    assert th.preconditioned_min_loss(SIGMA_FIT, n, s2) == pytest.approx(th.min_loss(n, d, s2), rel=1e-12)


def test_fit_table_relu():
    # the same fit for a 2-layer ReLU teacher (k = 4) + noise, d = 3, n = 10, sigma2 = 0.5: formula (MC) 0.401, fitted
    # diag(M) 0.396, 0.397, 0.398. Our exact moments (Stein's lemma) give 0.4.
    m = th.relu_teacher_moments(3, 0.5)
    eta = th.nonlinear_eta_star(10, m["beta_sq"], m["y2x2"])
    assert eta == pytest.approx(0.401, abs=2e-3)
    for fitted in (0.396, 0.397, 0.398):
        assert eta == pytest.approx(fitted, rel=0.012)


def test_ahn_zfb_formula_and_linear_limit_of_nonlinear():
    cov = th.make_cov(4, 10.0, rotate=True, seed=1)
    n, s2 = 7, 0.3
    expected = np.linalg.inv((n + 1) / n * cov + (np.trace(cov) + s2) / n * np.eye(4))
    np.testing.assert_allclose(th.preconditioner(cov, n, s2, "identity"), expected, rtol=1e-10)
    np.testing.assert_allclose(th.preconditioner(np.eye(4), n, s2, "identity"), th.eta_star(n, 4, s2) * np.eye(4))
    # linear f: beta_f = w, E|w|^2 = d, E[y^2 |x|^2] = d (d + 2 + sigma2)  ->  eta* of Thm 1
    d = 5
    assert th.nonlinear_eta_star(n, d, d * (d + 2 + s2)) == pytest.approx(th.eta_star(n, d, s2), rel=1e-12)
    loss = th.nonlinear_gd_loss(th.eta_star(n, d, s2), n, d, d * (d + 2 + s2), d + s2)
    assert loss == pytest.approx(th.min_loss(n, d, s2), rel=1e-12)


def test_make_cov():
    cov = th.make_cov(5, 10.0, rotate=True, seed=3)
    lam = np.linalg.eigvalsh(cov)
    assert lam.max() / lam.min() == pytest.approx(10.0)
    assert np.prod(lam) == pytest.approx(1.0)
    assert np.abs(cov - np.diag(np.diag(cov))).max() > 0.1


# --- Monte Carlo of the population loss -----------------------------------------------------------------------
def _gd_features(p):
    """v (b, d) and the product x_q v' (b, d, d) in float64."""
    xs, ys, xq = (np.asarray(a, dtype=np.float64) for a in (p.xs, p.ys, p.xq))
    v = np.einsum("bi,bid->bd", ys, xs) / xs.shape[1]
    return v, xq, np.asarray(p.yq, dtype=np.float64), np.asarray(p.w, dtype=np.float64)


def _mc_mean(a):
    return a.mean(), a.std(ddof=1) / np.sqrt(a.size)


@pytest.mark.parametrize("d,n,s2", [(5, 20, 0.5), (3, 4, 1.0)])
def test_monte_carlo_isotropic_gd_loss_and_argmin(d, n, s2):
    p = LinearRegression.mahankali2023(d, n, s2).sample(KEY, 200_000)
    v, xq, yq, w = _gd_features(p)
    pred1 = np.einsum("bd,bd->b", v, xq)  # y_hat at eta = 1
    eta = th.eta_star(n, d, s2)
    for target, t, exact in (("noisy", yq, th.min_loss(n, d, s2)),
                             ("clean", np.einsum("bd,bd->b", w, xq), th.min_loss(n, d, s2, target="clean"))):
        mean, se = _mc_mean((eta * pred1 - t) ** 2)
        assert abs(mean - exact) < 4 * se, (target, mean, exact, se)
    # the MC loss is quadratic in eta; its minimiser is E[pred1 y] / E[pred1^2]
    eta_mc = np.mean(pred1 * yq) / np.mean(pred1**2)
    assert eta_mc == pytest.approx(eta, rel=0.015)
    # and eta* is not the MC minimiser by accident: moving it by 10% costs what the quadratic says
    for e in (0.9 * eta, 1.1 * eta):
        assert np.mean((e * pred1 - yq) ** 2) > np.mean((eta * pred1 - yq) ** 2)


@pytest.mark.parametrize("prior", ["inverse", "identity"])
def test_monte_carlo_preconditioner_is_the_least_squares_fit(prior):
    # Independent of the derivation: fit y_q ~ x_q' Gamma v over all d^2 entries of Gamma by least squares
    d, n, s2 = 3, 10, 0.5
    cov = th.make_cov(d, 8.0, rotate=True, seed=2)
    p = LinearRegression.mahankali2023(d, n, s2, cov=cov, prior_cov=prior).sample(KEY, 300_000)
    v, xq, yq, _ = _gd_features(p)
    feats = np.einsum("ba,bc->bac", xq, v).reshape(len(yq), d * d)
    fit = np.linalg.lstsq(feats, yq, rcond=None)[0].reshape(d, d)
    gamma = th.preconditioner(cov, n, s2, prior)
    assert th.relative_frobenius(fit, gamma) < 0.03
    # the exact loss of any Gamma matches its Monte-Carlo loss (here: the fitted one, and a perturbed one)
    for g in (gamma, gamma + 0.1 * np.eye(d)):
        mean, se = _mc_mean((np.einsum("ba,ac,bc->b", xq, g, v) - yq) ** 2)
        assert abs(mean - th.gd_loss(g, cov, n, s2, prior)) < 4 * se
    assert th.gd_loss(gamma + 0.1 * np.eye(d), cov, n, s2, prior) > th.gd_loss(gamma, cov, n, s2, prior)


def test_monte_carlo_relu_teacher_loss_and_argmin():
    d, n, s2 = 5, 20, 0.25
    p = ReLUTeacher(d, n, 4, sigma2=s2).sample(KEY, 200_000)
    v, xq, yq, _ = _gd_features(p)
    pred1 = np.einsum("bd,bd->b", v, xq)
    m = th.relu_teacher_moments(d, s2)
    eta = th.nonlinear_eta_star(n, m["beta_sq"], m["y2x2"])
    mean, se = _mc_mean((eta * pred1 - yq) ** 2)
    assert abs(mean - th.nonlinear_gd_loss(eta, n, m["beta_sq"], m["y2x2"], m["y2"])) < 4 * se
    assert np.mean(pred1 * yq) / np.mean(pred1**2) == pytest.approx(eta, rel=0.03)
    # the moments estimated from samples give the same eta* (the Monte-Carlo route for teachers without a closed form)
    mc = th.moments_from_samples(p.xs[:50_000], p.ys[:50_000])
    assert th.nonlinear_eta_star(n, mc["beta_sq"], mc["y2x2"]) == pytest.approx(eta, rel=0.03)


# --- reading LSA weights ------------------------------------------------------------------------------------
def test_read_lsa_recovers_gamma_modulo_scale():
    rng = np.random.default_rng(0)
    d = 4
    gamma = rng.normal(size=(d, d))
    for c in (1.0, -0.3, 7.0):
        w_pv = np.zeros((d + 1, d + 1))
        w_pv[d, d] = c
        w_pv[:d] = rng.normal(size=(d, d + 1))  # rows other than the last never reach the prediction
        w_kq = np.zeros((d + 1, d + 1))
        w_kq[:d, :d] = gamma.T / c
        w_kq[:, d] = rng.normal(size=d + 1)  # the last column meets the query's zero label
        out = th.read_lsa(w_kq, w_pv)
        np.testing.assert_allclose(out["gamma"], gamma, rtol=1e-12)
        assert out["eta"] == pytest.approx(np.trace(gamma) / d)
        assert out["non_gd"] == 0
    off = gamma - np.diag(np.diag(gamma))
    assert out["offdiag"] == pytest.approx(np.abs(off).max())
    stacked = th.read_lsa(np.stack([w_kq, 2 * w_kq]), np.stack([w_pv, w_pv]))
    assert stacked["gamma"].shape == (2, d, d) and stacked["eta"][1] == pytest.approx(2 * stacked["eta"][0])
    w_pv[d, 0] = 1.0
    assert th.read_lsa(w_kq, w_pv)["non_gd"] > 0
    # the rank-one route to GD: (u'x_i)(y_i w21'x_q) contributes x_q' w21 u' v
    a, b = rng.normal(size=d), rng.normal(size=d)
    w_kq, w_pv = np.zeros((d + 1, d + 1)), np.zeros((d + 1, d + 1))
    w_kq[d, :d], w_pv[d, :d] = a, b
    out = th.read_lsa(w_kq, w_pv)
    np.testing.assert_allclose(out["gamma"], np.outer(a, b))
    assert out["non_gd"] == 0


# --- Bayes ridge -------------------------------------------------------------------------------------------------
def test_bayes_ridge_risk_matches_closed_form():
    # the posterior-mean risk against the noisy target is sigma2 E tr((X'X + sigma2 I)^-1) + sigma2
    d, n, s2 = 5, 8, 0.5
    p = LinearRegression.mahankali2023(d, n, s2).sample(KEY, 100_000)
    pred = th.posterior_mean_predictions(p.xs, p.ys, p.xq, s2)
    mean, se = _mc_mean((pred - np.asarray(p.yq, dtype=float)) ** 2)
    xs = np.asarray(p.xs, dtype=float)
    risk = s2 * np.mean(np.trace(np.linalg.inv(np.einsum("bid,bie->bde", xs, xs) + s2 * np.eye(d)),
                                 axis1=1, axis2=2)) + s2
    assert abs(mean - risk) < 4 * se
    assert mean < th.min_loss(n, d, s2) - 10 * se  # Bayes beats one-step GD (it is outside the LSA class)


def test_bayes_ridge_agrees_with_the_estimators_module():
    # an independent implementation (iclab.estimators, jax, isotropic prior, noise > 0)
    p = LinearRegression.mahankali2023(4, 7, 0.3).sample(KEY, 64)
    ours = th.posterior_mean_predictions(p.xs, p.ys, p.xq, 0.3)
    theirs = np.asarray(bayes_ridge(p.xs, p.ys, p.xq, 0.3, prefixes=[7]))[:, 0]
    np.testing.assert_allclose(ours, theirs, rtol=2e-3, atol=2e-4)


def test_bayes_ridge_kernel_and_primal_forms_agree():
    rng = np.random.default_rng(1)
    d, n = 6, 3
    xs, ys, xq = rng.normal(size=(4, n, d)), rng.normal(size=(4, n)), rng.normal(size=(4, d))
    cov = th.make_cov(d, 5.0, rotate=True)
    for c in (None, cov):
        cmat = np.eye(d) if c is None else c
        w = np.linalg.solve(np.einsum("bid,bie->bde", xs, xs) + 0.3 * np.linalg.inv(cmat),
                            np.einsum("bid,bi->bd", xs, ys)[..., None])[..., 0]
        np.testing.assert_allclose(th.posterior_mean_predictions(xs, ys, xq, 0.3, c),
                                   np.einsum("bd,bd->b", w, xq), rtol=1e-10)
    # noise = 0, n < d: the interpolant fits the context exactly
    pred_ctx = th.posterior_mean_predictions(xs, ys, xs[:, 0], 0.0, cov)
    np.testing.assert_allclose(pred_ctx, ys[:, 0], rtol=1e-8)


def test_bad_input():
    with pytest.raises(ValueError, match="n must be"):
        th.eta_star(0, 5, 0.1)
    with pytest.raises(ValueError, match="n must be an integer"):
        th.eta_star(2.5, 5, 0.1)
    with pytest.raises(ValueError, match="sigma2"):
        th.min_loss(10, 5, -0.1)
    with pytest.raises(ValueError, match="symmetric positive-definite"):
        th.preconditioner(np.array([[1.0, 2.0], [2.0, 1.0]]), 10)
    with pytest.raises(ValueError, match="symmetric"):
        th.preconditioner(np.array([[1.0, 0.5], [0.0, 1.0]]), 10)
    with pytest.raises(ValueError, match="prior"):
        th.preconditioner(np.eye(2), 10, prior="flat")
    with pytest.raises(ValueError, match="gamma must"):
        th.gd_loss(np.eye(3), np.eye(2), 10)
    with pytest.raises(ValueError, match="w_kq and w_pv"):
        th.read_lsa(np.eye(3), np.eye(4))
    with pytest.raises(ValueError, match="xs must"):
        th.moments_from_samples(np.zeros((2, 1, 3)), np.zeros((2, 1)))
