"""Estimators at every prefix against per-prefix numpy solves, Monte Carlo against the specs' closed forms
(Mahankali et al. 2023, Theorem 1's optimal step; the Bayes ridge error in Lu et al. 2024's scaling), and the
chunked dMMSE against a brute-force softmax."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from iclab.estimators import bayes_ridge, dmmse, dmmse_errors, gd_one_step, gd_optimal_step, least_squares, ridge
from iclab.estimators.dmmse_mc import sample_last_stats
from iclab.experiments.solvable_points import dmmse_point
from iclab.tasks.lu2024 import sample_contexts


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


def prompts(b=3, ell=7, d=4, rho=0.1, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((b, d))
    xs, ys, xq, yq = sample_contexts(rng, w, ell, rho)
    return xs, ys, xq, yq, w


def per_prefix(xs, ys, xq, fit):
    """Reference: a separate numpy fit at every prefix length t."""
    b, ell, _ = xs.shape
    return np.array([[xq[i] @ fit(xs[i, :t], ys[i, :t], t) for t in range(1, ell + 1)] for i in range(b)])


def test_ridge_ls_gd_match_per_prefix_solves():
    xs, ys, xq, *_ = prompts()
    d = xs.shape[2]
    ref = per_prefix(xs, ys, xq, lambda x, y, t: np.linalg.solve(x.T @ x + 0.3 * np.eye(d), x.T @ y))
    np.testing.assert_allclose(ridge(xs, ys, xq, 0.3), ref, rtol=1e-10)
    ref = per_prefix(xs, ys, xq, lambda x, y, t: np.linalg.lstsq(x, y, rcond=None)[0])  # min-norm while t < d
    np.testing.assert_allclose(least_squares(xs, ys, xq), ref, rtol=1e-7, atol=1e-9)
    p = np.diag([1.0, 2.0, 0.5, 3.0])
    eta = np.linspace(0.5, 1.0, 7)
    ref = per_prefix(xs, ys, xq, lambda x, y, t: eta[t - 1] * p @ (x.T @ y) / t)
    np.testing.assert_allclose(gd_one_step(xs, ys, xq, eta, precond=p), ref, rtol=1e-12)
    # a subset of prefixes and several queries per prompt
    xq3 = np.stack([xq, 2 * xq], axis=1)
    out = ridge(xs, ys, xq3, 0.3, prefixes=[2, 7])
    assert out.shape == (3, 2, 2)
    np.testing.assert_allclose(out[:, :, 1], 2 * ridge(xs, ys, xq, 0.3)[:, [1, 6]], rtol=1e-12)


def test_one_step_gd_optimal_step_and_loss_mahankali_table():
    """Mahankali et al. 2023, the isotropic case (their Theorem 1): the optimal step eta* = n / (n + d + 1 +
    sigma^2); d = 5, n = 20, sigma^2 = 0.5 -> eta* = 20 / 26.5 = 0.7547, loss vs noisy y_q = 1.7264."""
    d, n, s2 = 5, 20, 0.5
    eta = gd_optimal_step(n, d, s2)
    assert eta == pytest.approx(0.7547, abs=5e-5)
    rng = np.random.default_rng(0)
    w = rng.standard_normal((100_000, d))
    x = rng.standard_normal((100_000, n + 1, d))
    y = np.einsum("bld,bd->bl", x, w) + math.sqrt(s2) * rng.standard_normal((100_000, n + 1))
    err = (y[:, n] - np.asarray(gd_one_step(x[:, :n], y[:, :n], x[:, n], eta, prefixes=[n]))[:, 0]) ** 2
    assert abs(err.mean() - 1.7264) < 4 * err.std() / math.sqrt(err.size)
    # the optimum is a minimum: 10% off in either direction is worse (same samples)
    for other in (0.9 * eta, 1.1 * eta):
        worse = (y[:, n] - np.asarray(gd_one_step(x[:, :n], y[:, :n], x[:, n], other, prefixes=[n]))[:, 0]) ** 2
        assert worse.mean() > err.mean()


def test_bayes_ridge_lu_scaling_matches_asymptotic_error():
    """Bayes ridge in Lu et al. 2024's scaling (x ~ N(0, I/d)): asymptotic ICL error rho (1 + S_W(rho, alpha)) with
    S_W the Marchenko–Pastur Stieltjes transform, = 0.0111 at alpha = 10, rho = 0.01."""
    d, alpha, rho = 60, 10, 0.01
    ell = alpha * d
    rng = np.random.default_rng(1)
    w = rng.standard_normal((400, d))
    xs, ys, xq, yq = sample_contexts(rng, w, ell, rho)
    basis = np.broadcast_to(np.eye(d), (400, d, d))  # queries e_1..e_d read off w_hat itself
    w_hat = np.asarray(bayes_ridge(xs, ys, basis, rho, prefixes=[ell]))[:, 0]
    excess = np.sum((w - w_hat) ** 2, axis=1) / d  # E (y_q - y_hat)^2 - rho, exactly, for x_q ~ N(0, I/d)
    s_w = 2 / (rho + alpha - 1 + math.sqrt((rho + alpha - 1) ** 2 + 4 * rho))
    assert rho + excess.mean() == pytest.approx(0.0111, abs=5e-5)  # the spec's rounded value
    assert excess.mean() == pytest.approx(rho * s_w, rel=0.05)  # finite d = 60: O(1/d) off


def brute_dmmse(xs, ys, xq, pool, noise):
    """Every prefix, by a plain softmax over the whole pool (float64 numpy)."""
    r = ys[..., None] - np.einsum("bld,kd->blk", xs, pool)
    ll = -np.cumsum(r**2, axis=1) / (2 * noise)
    p = np.exp(ll - ll.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return np.einsum("blk,kd,bd->bl", p, pool, xq)


@pytest.mark.parametrize("chunk", [3, 1024])
def test_dmmse_matches_brute_force_all_prefixes(chunk):
    xs, ys, xq, _, _ = prompts(b=4, ell=9, d=3, rho=0.2)
    pool = np.random.default_rng(5).standard_normal((10, 3))
    got = dmmse(xs, ys, xq, pool, 0.2, chunk=chunk)
    np.testing.assert_allclose(got, brute_dmmse(xs, ys, xq, pool, 0.2), rtol=1e-10, atol=1e-12)
    # sufficient-statistics path (one prefix with ell > d) agrees with the residual path
    np.testing.assert_allclose(dmmse(xs, ys, xq, pool, 0.2, prefixes=[9], chunk=chunk)[:, 0], got[:, -1],
                               rtol=1e-9, atol=1e-12)
    # padding rows masked out change nothing
    padded = np.concatenate([pool, 5 * np.ones((6, 3))])
    mask = np.arange(16) < 10
    np.testing.assert_allclose(dmmse(xs, ys, xq, padded, 0.2, chunk=chunk, pool_mask=mask), got, rtol=1e-10)


def test_dmmse_limits_and_large_pool():
    xs, ys, xq, _, w = prompts(b=2, ell=6, d=4, rho=0.05)
    pool = np.random.default_rng(2).standard_normal((5, 4))
    np.testing.assert_allclose(dmmse(xs, ys, xq, pool[:1], 0.05), np.tile(xq @ pool[0], (6, 1)).T, rtol=1e-12)
    flat = dmmse(xs, ys, xq, pool, 1e12)  # no information: the pool mean
    np.testing.assert_allclose(flat, np.tile(xq @ pool.mean(0), (6, 1)).T, rtol=1e-6)
    big = np.random.default_rng(3).standard_normal((2**16, 4))  # 2^16 tasks, scored 4096 at a time
    got = jax.jit(lambda a, b, c, p: dmmse(a, b, c, p, 0.05, chunk=4096))(xs, ys, xq, big)
    np.testing.assert_allclose(got, brute_dmmse(xs, ys, xq, big, 0.05), rtol=1e-9, atol=1e-12)


def test_sample_last_stats_same_law_as_raw_contexts():
    d, ell, rho, n = 3, 5, 0.3, 20_000
    w = np.tile([0.5, -1.0, 2.0], (n, 1))
    s, b = sample_last_stats(np.random.default_rng(0), w, ell, rho)
    xs, ys, _, _ = sample_contexts(np.random.default_rng(1), w, ell, rho)
    s2, b2 = np.einsum("nld,nle->nde", xs, xs), np.einsum("nld,nl->nd", xs, ys)
    for a, c in [(s[:, 0, 0], s2[:, 0, 0]), (s[:, 0, 2], s2[:, 0, 2]), (b[:, 1], b2[:, 1]),
                 (np.einsum("nd,nd->n", b, b), np.einsum("nd,nd->n", b2, b2))]:
        assert stats.ks_2samp(a, c).pvalue > 1e-3
    np.testing.assert_allclose(s.mean(0), ell / d * np.eye(d), atol=0.05)


@pytest.mark.parametrize("chunk", [3, 1024])
def test_numpy_monte_carlo_path_matches_brute_force(chunk):
    """dmmse_errors' numpy scoring from the statistics (S, b) of whole contexts equals the plain softmax over the
    pool at the last prefix, with the online log-sum-exp split over chunks or not."""
    from iclab.estimators.dmmse_mc import _last_prefix

    xs, ys, xq, _, _ = prompts(b=4, ell=9, d=3, rho=0.2)
    pool = np.random.default_rng(5).standard_normal((10, 3))
    s, b = np.einsum("bld,ble->bde", xs, xs), np.einsum("bld,bl->bd", xs, ys)
    got = _last_prefix(s, b, xq, pool, 0.2, chunk=chunk)
    np.testing.assert_allclose(got, brute_dmmse(xs, ys, xq, pool, 0.2)[:, -1], rtol=1e-10, atol=1e-12)


def test_dmmse_errors_protocol():
    out = dmmse_errors(8, 4, 1, 0.01, 300, seed=0)
    assert set(out) == {"e_icl", "e_idg", "g_task"}
    assert out["g_task"] == pytest.approx(out["e_icl"] - out["e_idg"])
    assert 0.005 < out["e_idg"] < 0.05  # the posterior collapses onto the true pool task: about rho
    assert 0.5 < out["e_icl"] < 2.5  # the nearest of 8 pool tasks to a fresh one (-> 2 + rho as d grows)
    assert dmmse_errors(8, 0.5, 1, 0.01, 50, seed=0)["e_idg"] > 0  # ell < d


@pytest.mark.parametrize(("call", "name"), [
    (lambda a: ridge(*a, 0.0), "lam must"), (lambda a: ridge(*a, 1.0, prefixes=[0]), "prefixes must"),
    (lambda a: ridge(a[0], a[1][:, :3], a[2], 1.0), "need xs"), (lambda a: dmmse(*a, np.ones((2, 4)), 0.0), "noise"),
    (lambda a: dmmse(*a, np.ones((2, 3)), 0.1), "pool must"), (lambda a: bayes_ridge(*a, -1.0), "noise must"),
])
def test_estimators_bad_input(call, name):
    xs, ys, xq, *_ = prompts()
    with pytest.raises(ValueError, match=name):
        call((xs, ys, xq))


@pytest.mark.parametrize(("change", "name"), [
    ({"kappa": math.inf}, "kappa must be finite"), ({"rho": 0.0}, "rho must"), ({"n_test": 0}, "n_test must"),
    ({"d": 1}, "d must"), ({"kappa": 0.01}, "kappa must be >= 1/d"), ({"alpha": 0.0}, "alpha must"),
])
def test_dmmse_errors_bad_input(change, name):
    with pytest.raises(ValueError, match=name):
        dmmse_errors(**({"d": 8, "alpha": 2, "kappa": 1, "rho": 0.1, "n_test": 10} | change), seed=0)


def test_dmmse_point_per_seed_is_the_brute_force_posterior_mean():
    """Per seed, the errors dmmse_point reports are those of the brute-force posterior mean on that seed's draws
    (pool, then for ICL and IDG in turn: tasks, queries, target noise, context statistics (S, b), the order of
    the authors' protocol, one batch of n_test <= 256 prompts): softmax over the pool of
    −(wᵀSw − 2wᵀb)/(2ρ), squared error against the noisy target."""
    d, ell, k, rho, n_test = 4, 8, 8, 0.5, 100
    for seed in range(3):
        got = dmmse_point({"d": d, "alpha": 2.0, "kappa": 2, "rho": rho, "n_test": n_test}, seed)
        rng = np.random.default_rng(seed)
        pool = rng.standard_normal((k, d))
        for name in ("e_icl", "e_idg"):
            tasks = rng.standard_normal((n_test, d)) if name == "e_icl" else pool[rng.integers(0, k, n_test)]
            xq = rng.standard_normal((n_test, d)) / math.sqrt(d)
            yq = np.einsum("bd,bd->b", xq, tasks) + math.sqrt(rho) * rng.standard_normal(n_test)
            s, b = sample_last_stats(rng, tasks, ell, rho)
            ll = -(np.einsum("kd,bde,ke->bk", pool, s, pool) - 2 * b @ pool.T) / (2 * rho)
            post = np.exp(ll - ll.max(1, keepdims=True))
            post /= post.sum(1, keepdims=True)
            assert got[name] == pytest.approx(np.mean((yq - np.einsum("bk,kd,bd->b", post, pool, xq)) ** 2),
                                              rel=1e-10), (seed, name)
        assert got["g_task"] == pytest.approx(got["e_icl"] - got["e_idg"], rel=1e-12)


def test_dmmse_point_has_the_law_of_a_brute_force_pipeline():
    """The sweep adapter (κ as text, extra keys ignored) over 300 seeds against 300 pools scored by a pipeline that
    shares no code with the library: pool w ~ N(0, I), raw contexts token by token, the posterior mean by the
    brute-force softmax over the pool, the squared error against the noisy target. Means within 4 standard errors
    (about 2% for ICL, 1% for IDG). It also refuses a config without a key, or with κ = "inf", in one line."""
    d, ell, k, rho, n_test, runs = 4, 8, 4, 0.1, 200, 300
    config = {"kind": "dmmse", "d": d, "alpha": 2.0, "kappa": "1", "rho": rho, "n_test": n_test}
    lib = np.array([[dmmse_point(config, s)[m] for m in ("e_icl", "e_idg")] for s in range(runs)])
    rng = np.random.default_rng(7)
    hand = np.empty((runs, 2))
    for r in range(runs):
        pool = rng.standard_normal((k, d))
        for j, tasks in enumerate((rng.standard_normal((n_test, d)), pool[rng.integers(0, k, n_test)])):
            x = rng.standard_normal((n_test, ell + 1, d)) / math.sqrt(d)
            y = np.einsum("nld,nd->nl", x, tasks) + math.sqrt(rho) * rng.standard_normal((n_test, ell + 1))
            pred = brute_dmmse(x[:, :ell], y[:, :ell], x[:, ell], pool, rho)[:, -1]
            hand[r, j] = np.mean((y[:, ell] - pred) ** 2)
    z = (lib.mean(0) - hand.mean(0)) / np.sqrt((lib.var(0, ddof=1) + hand.var(0, ddof=1)) / runs)
    assert np.all(np.abs(z) < 4), (lib.mean(0), hand.mean(0), z)
    with pytest.raises(ValueError, match="config must contain d, alpha, kappa, rho, n_test"):
        dmmse_point({"d": 8, "alpha": 2.0, "kappa": 1.0, "rho": 0.1}, 0)
    with pytest.raises(ValueError, match="kappa must be finite"):
        dmmse_point({"d": 8, "alpha": 2.0, "kappa": "inf", "rho": 0.1, "n_test": 20}, 0)


def test_estimators_run_under_jit():
    """Under jax.jit the estimators give the per-prefix numpy solves and the brute-force posterior mean."""
    xs, ys, xq, *_ = prompts()
    d = xs.shape[2]
    f = jax.jit(lambda a, b, c: ridge(a, b, c, 0.3) + least_squares(a, b, c) + gd_one_step(a, b, c, 0.5))
    ref = per_prefix(xs, ys, xq, lambda x, y, t: np.linalg.solve(x.T @ x + 0.3 * np.eye(d), x.T @ y)
                     + np.linalg.lstsq(x, y, rcond=None)[0] + 0.5 * x.T @ y / t)
    np.testing.assert_allclose(f(jnp.asarray(xs), jnp.asarray(ys), jnp.asarray(xq)), ref, rtol=1e-7, atol=1e-9)
    pool = np.random.default_rng(5).standard_normal((6, d))
    got = jax.jit(lambda a, b, c, p: dmmse(a, b, c, p, 0.1))(xs, ys, xq, pool)
    np.testing.assert_allclose(got, brute_dmmse(xs, ys, xq, pool, 0.1), rtol=1e-10, atol=1e-12)
