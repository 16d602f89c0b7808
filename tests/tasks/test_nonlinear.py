"""Nonlinear rotation-invariant prompts (Mahankali et al. 2023, Thm 3): the sampled stream, the exact beta_f,
moments and rotation invariance."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from iclab.tasks.nonlinear import ReLUTeacher, RotatedFunction, haar_orthogonal
from iclab.theory.mahankali2023 import moments_from_samples, relu_teacher_moments

KEY = jax.random.PRNGKey(3)


def test_relu_teacher_jitted_against_numpy_from_the_documented_draws():
    """The jitted sampler against the teacher computed here in numpy from the same jax.random draws: the key splits
    into (function, x, noise) keys, the function key into (u, a); f(x) = width^-1/2 sum_j a_j ReLU(u_j'x) with
    u ~ N(0, weight_var I), y = f(x) + sqrt(sigma2) N(0, 1), and w = beta_f = width^-1/2 sum_j a_j u_j / 2."""
    d, ell, width, s2, wv, batch = 5, 20, 4, 0.25, 0.3, 64
    p = jax.jit(lambda k: ReLUTeacher(d, ell, width, sigma2=s2, weight_var=wv).sample(k, batch))(KEY)
    k_f, k_x, k_eps = jax.random.split(KEY, 3)
    k_u, k_a = jax.random.split(k_f)
    u = np.sqrt(wv) * np.asarray(jax.random.normal(k_u, (batch, width, d)), np.float64)
    a = np.asarray(jax.random.normal(k_a, (batch, width)), np.float64)
    x = np.asarray(jax.random.normal(k_x, (batch, ell + 1, d)), np.float64)
    f = np.einsum("blj,bj->bl", np.maximum(np.einsum("bld,bjd->blj", x, u), 0.0), a) / np.sqrt(width)
    y = f + np.sqrt(s2) * np.asarray(jax.random.normal(k_eps, (batch, ell + 1)), np.float64)
    beta = np.einsum("bj,bjd->bd", a, u) / (2 * np.sqrt(width))
    for got, want in ((p.xs, x[:, :-1]), (p.xq, x[:, -1]), (p.ys, y[:, :-1]), (p.yq, y[:, -1]), (p.w, beta)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_relu_teacher_w_is_the_best_linear_fit():
    # v = (1/ell) sum y_i x_i estimates beta_f of the prompt's own function: E|v - beta_f|^2 = (E y^2|x|^2 - |beta|^2)
    # / ell (independent points). A wrong beta_f (e.g. u instead of u/2) would leave an O(|beta|^2) error.
    d, ell = 5, 4000
    task = ReLUTeacher(d, ell, 4, sigma2=0.1)
    p = task.sample(KEY, 64)
    v = jnp.einsum("bi,bid->bd", p.ys, p.xs) / ell
    err = float(jnp.mean(jnp.sum((v - p.w) ** 2, -1)))
    m = relu_teacher_moments(d, 0.1)
    expected = (m["y2x2"] - m["beta_sq"]) / ell
    assert 0.6 * expected < err < 1.5 * expected


@pytest.mark.parametrize("width,sigma2,weight_var", [(1, 0.0, None), (16, 0.25, 0.5)])
def test_relu_teacher_moments_match_closed_form(width, sigma2, weight_var):
    d = 5
    task = ReLUTeacher(d, 8, width, sigma2=sigma2, weight_var=weight_var)
    p = task.sample(KEY, 60_000)
    mc = moments_from_samples(p.xs, p.ys)
    exact = relu_teacher_moments(d, sigma2, weight_var)
    for k in ("beta_sq", "y2x2", "y2"):
        assert abs(mc[k] - exact[k]) < 4 * mc[f"{k}_se"] + 1e-3 * exact[k], (k, mc[k], exact[k])
    # beta_f written to Prompts.w has the same second moment
    np.testing.assert_allclose(float(jnp.mean(jnp.sum(p.w**2, -1))), exact["beta_sq"], rtol=0.03)


def test_haar_orthogonal_moments():
    d = 4
    q = haar_orthogonal(KEY, 50_000, d)
    np.testing.assert_allclose(jnp.einsum("bij,bkj->bik", q[:5], q[:5]), np.broadcast_to(np.eye(d), (5, d, d)),
                               atol=1e-5)
    # Haar: E Q = 0, E Q_ij^2 = 1/d, E Q_ij^4 = 3/(d(d+2)); plain QR without the sign fix has E Q_ii != 0
    assert float(jnp.abs(jnp.mean(q, 0)).max()) < 0.01
    np.testing.assert_allclose(float(jnp.mean(q[:, 0, 0] ** 2)), 1 / d, rtol=0.02)
    np.testing.assert_allclose(float(jnp.mean(q[:, 1, 2] ** 4)), 3 / (d * (d + 2)), rtol=0.05)


def test_rotated_function_is_rotation_invariant():
    # g is far from invariant (it looks at coordinates 0 and 1 only); g(U x) must be invariant in law
    d = 4
    g = lambda z: jax.nn.relu(z[..., 0]) + z[..., 1] ** 2
    beta = jnp.array([0.5, 0.0, 0.0, 0.0])  # E[g(z) z] = e_0 / 2
    ell = 2000
    p = RotatedFunction(g, d, ell, sigma2=0.2, beta=beta).sample(KEY, 100)
    v = jnp.einsum("bi,bid->bd", p.ys, p.xs) / ell
    # w = U' beta is each prompt's own best linear fit: the residual is sampling noise, E[y^2 |x|^2] / ell (a wrong
    # rotation, U beta instead of U' beta, would add about 2 |beta|^2 = 0.5)
    err = float(jnp.mean(jnp.sum((v - p.w) ** 2, -1)))
    expected = float(jnp.mean(p.ys**2 * jnp.sum(p.xs**2, -1))) / ell
    assert 0.6 * expected < err < 1.5 * expected
    # over many prompts E[w w'] = |beta|^2 / d I and E[y^2 x x'] is isotropic (without U, E[y^2 x_1^2] = 15 + 0.2
    # + ... against E[y^2 x_2^2] = 3.9: far from isotropic)
    p = RotatedFunction(g, d, 2, sigma2=0.2, beta=beta).sample(KEY, 40_000)
    ww = np.asarray(jnp.einsum("bi,bj->ij", p.w, p.w) / p.w.shape[0])
    np.testing.assert_allclose(ww, 0.25 / d * np.eye(d), atol=0.005)
    yxx = np.asarray(jnp.einsum("bl,bli,blj->ij", p.ys**2, p.xs, p.xs) / p.ys.size)
    scale = np.mean(np.diag(yxx))
    np.testing.assert_allclose(yxx / scale, np.eye(d), atol=0.06)


def test_rotated_function_without_beta_and_bad_input():
    task = RotatedFunction(lambda z: jnp.sin(z[..., 0]), 3, 5)
    assert bool(jnp.isnan(task.sample(KEY, 4).w).all())
    with pytest.raises(ValueError, match="fn must"):
        RotatedFunction(3.0, 3, 5)
    with pytest.raises(ValueError, match="beta must"):
        RotatedFunction(jnp.sum, 3, 5, beta=[1.0, 2.0])
    with pytest.raises(ValueError, match="fn must map"):
        RotatedFunction(lambda z: z, 3, 5).sample(KEY, 2)
    with pytest.raises(ValueError, match="width"):
        ReLUTeacher(3, 5, 0)
    with pytest.raises(ValueError, match="sigma2"):
        ReLUTeacher(3, 5, 2, sigma2=-1.0)
