"""Template tasks of Yang et al. 2024 (labels y_k = lambda^T (f(v_k) + eps_k), their eq. (1)): the dictionary, the
bases, the sampled stream and the moments of the labels."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpy.polynomial import chebyshev, legendre

from iclab.tasks.templates import (
    BASES,
    TemplateTask,
    basis_features,
    make_dictionary,
    multi_indices,
    sample_coefficients,
)

KEY = jax.random.PRNGKey(0)


def test_gaussian_dictionary_shapes_and_unit_norm():
    dic = make_dictionary(KEY, 50, 10, 7)
    assert dic.tokens.shape == (50, 10) and dic.reps.shape == (50, 7) and (dic.K, dic.d, dic.m) == (50, 10, 7)
    np.testing.assert_allclose(jnp.linalg.norm(dic.tokens, axis=1), 1.0, rtol=1e-6)
    raw = make_dictionary(KEY, 50, 10, 7, unit_norm=False)
    assert np.std(np.linalg.norm(raw.tokens, axis=1)) > 0.1  # raw N(0, I) tokens
    big = make_dictionary(KEY, 4000, 3, 5)
    np.testing.assert_allclose(np.cov(np.asarray(big.reps).T), np.eye(5), atol=0.08)  # f(v_k) ~ N(0, I_m)


def test_labels_have_noise_inside_the_representation():
    """y_k = lam^T (z_k + eps_k): given lam, y_k - lam^T z_k ~ N(0, tau |lam|^2); E y y^T = Z^T Z + m tau I."""
    dic = make_dictionary(KEY, 12, 4, 6)
    tau, N = 0.3, 5
    task = TemplateTask(dic, N, tau)
    p = task.sample(jax.random.PRNGKey(1), 100_000)
    assert p.lam.shape == (100_000, 6) and p.y.shape == (100_000, 12)
    resid = (p.y - p.lam @ dic.reps.T) / jnp.linalg.norm(p.lam, axis=1, keepdims=True)
    np.testing.assert_allclose(jnp.var(resid, axis=0), tau, rtol=0.02)
    reps = np.asarray(dic.reps, np.float64)
    second = np.asarray(p.y.T @ p.y) / len(p.y)
    want = reps @ reps.T + 6 * tau * np.eye(12)
    np.testing.assert_allclose(second, want, atol=0.05 * np.abs(want).max())
    # fixed lam: the noise is fresh per prompt and per token, the mean is lam^T z_k
    lam = jnp.ones((20_000, 6))
    q = task.labels(jax.random.PRNGKey(2), lam)
    np.testing.assert_allclose(q.y.mean(0), np.asarray(dic.reps).sum(1), atol=0.05)  # sd 1.34/sqrt(2e4)


def test_coefficient_domains():
    lam = sample_coefficients(KEY, 100_000, 3, "ood")
    np.testing.assert_allclose(lam.mean(0), 1.0, atol=0.03)
    np.testing.assert_allclose(lam.var(0), 4.0, rtol=0.03)
    lam = sample_coefficients(KEY, 100_000, 3)
    np.testing.assert_allclose(lam.mean(0), 0.0, atol=0.02)
    np.testing.assert_allclose(lam.var(0), 1.0, rtol=0.03)
    with pytest.raises(ValueError, match="domain must be"):
        sample_coefficients(KEY, 2, 3, "shifted")


@pytest.mark.parametrize("domain, mean, var", [("in", 0.0, 1.0), ("ood", 1.0, 4.0)])
def test_sampling_is_jittable_and_follows_the_documented_stream(domain, mean, var):
    """The jitted sampler against labels computed here from the same jax.random draws: the key splits into
    (coefficient, noise) keys; lambda = mean + sqrt(var) N(0, I_m); y_k = lambda^T (z_k + sqrt(tau) eps_k)."""
    dic = make_dictionary(KEY, 20, 3, 4)
    tau, batch = 0.1, 8
    p = jax.jit(lambda k: TemplateTask(dic, 6, tau).sample(k, batch, domain=domain))(KEY)
    k_lam, k_eps = jax.random.split(KEY)
    lam = mean + np.sqrt(var) * np.asarray(jax.random.normal(k_lam, (batch, 4)), np.float64)
    eps = np.sqrt(tau) * np.asarray(jax.random.normal(k_eps, (batch, 20, 4)), np.float64)
    y = np.einsum("bkm,bm->bk", np.asarray(dic.reps, np.float64)[None] + eps, lam)
    np.testing.assert_allclose(p.lam, lam, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p.y, y, rtol=1e-5, atol=1e-5)


def test_explicit_bases_against_numpy():
    x = jnp.linspace(-1, 1, 9)[:, None]
    j = np.arange(5)
    leg = legendre.legvander(np.asarray(x[:, 0]), 4) * np.sqrt(2 * j + 1)
    np.testing.assert_allclose(basis_features(x, 5, "legendre"), leg, rtol=1e-5, atol=1e-6)
    cheb = chebyshev.chebvander(np.asarray(x[:, 0]), 4) * np.where(j == 0, 1, np.sqrt(2))
    np.testing.assert_allclose(basis_features(x, 5, "chebyshev"), cheb, rtol=1e-5, atol=1e-6)
    xs = np.asarray(x[:, 0])
    four = np.stack([np.ones(9), *[np.sqrt(2) * f(np.pi * i * xs) for i in (1, 2) for f in (np.cos, np.sin)]], 1)
    np.testing.assert_allclose(basis_features(x, 5, "fourier"), four, atol=1e-6)
    np.testing.assert_allclose(basis_features(x, 3, "monomial"), np.stack([np.ones(9), xs * np.sqrt(3),
                                                                           xs**2 * np.sqrt(5)], 1), atol=1e-6)


@pytest.mark.parametrize("basis", ["fourier", "legendre", "monomial"])
def test_bases_have_unit_mean_square_on_the_cube(basis):
    """Scaled to E f_j(x)^2 = 1 for x uniform on [-1, 1]^d, like the Gaussian features (tau means the same)."""
    x = jax.random.uniform(KEY, (400_000, 2), minval=-1, maxval=1)
    ms = np.asarray(jnp.mean(basis_features(x, 6, basis) ** 2, 0))
    np.testing.assert_allclose(ms, 1.0, rtol=0.02)


def test_multi_indices_and_explicit_dictionary():
    assert multi_indices(2, 6) == [(0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2)]
    assert multi_indices(1, 3) == [(0,), (1,), (2,)]
    dic = make_dictionary(KEY, 30, 1, 4, basis="legendre", unit_norm=False)
    assert float(jnp.abs(dic.tokens).max()) <= 1 and len(np.unique(np.asarray(dic.tokens))) == 30
    np.testing.assert_allclose(dic.reps, basis_features(dic.tokens, 4, "legendre"), rtol=1e-5, atol=1e-6)
    sph = make_dictionary(KEY, 30, 2, 5, basis="fourier")
    np.testing.assert_allclose(jnp.linalg.norm(sph.tokens, axis=1), 1.0, rtol=1e-6)


def test_bad_input():
    dic = make_dictionary(KEY, 10, 3, 2)
    with pytest.raises(ValueError, match="N must be an integer in"):
        TemplateTask(dic, 10, 0.1)
    with pytest.raises(ValueError, match="tau must be"):
        TemplateTask(dic, 3, -0.1)
    with pytest.raises(ValueError, match="m must be"):
        make_dictionary(KEY, 10, 3, 0)
    with pytest.raises(ValueError, match="basis must be one of"):
        make_dictionary(KEY, 10, 3, 2, basis="wavelet")
    with pytest.raises(ValueError, match="d must be >= 2"):
        make_dictionary(KEY, 10, 1, 2, basis="legendre")
    assert set(BASES) == {"gaussian", "fourier", "chebyshev", "legendre", "monomial"}
