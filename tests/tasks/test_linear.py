"""Moments of the linear-regression prompts against the conventions they claim (Lu et al. 2024: x ~ N(0, I/d),
|w|^2 = d; Mahankali et al. 2023, Thm 2: x ~ N(0, Sigma), w ~ N(0, Sigma^-1)), and the random stream they draw."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from iclab.tasks import LinearRegression, sample_pool
from iclab.tasks.linear import task_indices
from iclab.validation import check_spd

KEY = jax.random.PRNGKey(0)


def test_lu2024_moments():
    d, ell, rho = 20, 30, 0.25
    task = LinearRegression.lu2024(d, ell, rho)
    p = task.sample(KEY, 4000)
    assert p.xs.shape == (4000, ell, d) and p.ys.shape == (4000, ell)
    assert p.xq.shape == (4000, d) and p.yq.shape == (4000,) and p.w.shape == (4000, d)
    np.testing.assert_allclose(jnp.linalg.norm(p.w, axis=-1), np.sqrt(d), rtol=1e-5)  # sphere prior
    np.testing.assert_allclose(jnp.mean(jnp.sum(p.xs**2, -1)), 1.0, rtol=0.01)  # E|x|^2 = 1
    np.testing.assert_allclose(jnp.mean(p.ys**2), 1 + rho, rtol=0.02)  # E y^2 = 1 + rho
    resid = p.yq - jnp.einsum("bd,bd->b", p.xq, p.w)
    np.testing.assert_allclose(jnp.var(resid), rho, rtol=0.06)


def test_mahankali_inverse_prior_has_signal_variance_d():
    d = 4
    rng = np.random.default_rng(0)
    a = rng.normal(size=(d, d))
    cov = a @ a.T + 0.5 * np.eye(d)
    task = LinearRegression.mahankali2023(d, 10, 0.0, cov=cov)
    w = task.sample_tasks(KEY, 200_000)
    np.testing.assert_allclose(np.cov(np.asarray(w).T), np.linalg.inv(cov), rtol=0.05, atol=0.02)
    p = task.sample(KEY, 20_000)
    np.testing.assert_allclose(np.cov(np.asarray(p.xq).T), cov, rtol=0.05, atol=0.05)
    np.testing.assert_allclose(jnp.mean(p.yq**2), d, rtol=0.05)  # E <x,w>^2 = tr(Sigma Sigma^-1) = d


def test_pool_assignment():
    task = LinearRegression.lu2024(8, 5, 0.0)
    pool = sample_pool(task, KEY, 7)
    idx = task_indices(KEY, 70, 7, "balanced")
    np.testing.assert_array_equal(np.bincount(np.asarray(idx), minlength=7), 10)
    p = task.sample(KEY, 64, pool=pool)
    dist = jnp.min(jnp.linalg.norm(p.w[:, None] - pool[None], axis=-1), axis=1)
    assert float(dist.max()) == 0.0  # every prompt's task is a pool member


def test_sample_is_jittable_and_follows_the_documented_stream():
    """The jitted sampler against prompts built here from jax.random directly, by the documented recipe: the key
    splits into (task, x, noise) keys; w ~ N(0, I) put on the sphere |w| = sqrt(d); x = N(0, I)/sqrt(d) over
    (batch, ell + 1, d), the last row the query; y = <x, w> + sqrt(rho) N(0, 1). Stored training results depend on
    this stream, so a change of it (or of any normalisation) must show here."""
    d, ell, rho, batch = 6, 4, 0.1, 3
    p = jax.jit(lambda k: LinearRegression.lu2024(d, ell, rho).sample(k, batch))(KEY)
    k_task, k_x, k_eps = jax.random.split(KEY, 3)
    w = np.asarray(jax.random.normal(k_task, (batch, d)), np.float64)
    w *= np.sqrt(d) / np.linalg.norm(w, axis=1, keepdims=True)
    x = np.asarray(jax.random.normal(k_x, (batch, ell + 1, d)), np.float64) / np.sqrt(d)
    y = np.einsum("bld,bd->bl", x, w) + np.sqrt(rho) * np.asarray(jax.random.normal(k_eps, (batch, ell + 1)))
    for got, want in ((p.w, w), (p.xs, x[:, :-1]), (p.xq, x[:, -1]), (p.ys, y[:, :-1]), (p.yq, y[:, -1])):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("mat", "msg"), [
    (np.array([[1.0, 2.0], [0.0, 1.0]]), "non-symmetric"),
    (np.array([[1.0, 0.0], [0.0, -1.0]]), "smallest eigenvalue"),
    (np.eye(3), r"\(2, 2\)"),
])
def test_check_spd_rejects(mat, msg):
    with pytest.raises(ValueError, match=f"^cov must .*{msg}"):
        check_spd("cov", mat, 2)


def test_bad_parameters():
    with pytest.raises(ValueError, match="^noise must be >= 0"):
        LinearRegression(3, 4, noise=-1)
    with pytest.raises(ValueError, match="^ell must be an integer >= 1"):
        LinearRegression(3, 0)
