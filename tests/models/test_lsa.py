"""LinearSelfAttention against the matrix formula of Zhang, Frei, Bartlett 2024 (ZFB), E + W_PV E M (E^T W_KQ E)/n,
and Lu et al. 2024's reduced model y_hat = x_q^T Gamma h, each computed independently in numpy."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from iclab.models import LinearSelfAttention, build_model
from iclab.tasks import LinearRegression

D, ELL, B = 4, 6, 5


@pytest.fixture(scope="module")
def batch():
    return LinearRegression.lu2024(D, ELL, 0.1, prior="gaussian").sample(jax.random.PRNGKey(0), B)


def zfb_prediction(w_kq, w_pv, xs, ys, xq, mask, normalise):
    """[E + W_PV E M (E^T W_KQ E) / n]_{d+1, n+1}, E = (d+1) x (n+1) columns [x_i; y_i], query [x_q; 0]."""
    out = []
    for x, y, q in zip(np.asarray(xs), np.asarray(ys), np.asarray(xq), strict=True):
        e = np.concatenate([np.c_[x, y].T, np.r_[q, 0.0][:, None]], axis=1)
        m = np.diag(np.r_[np.ones(ELL), 0.0 if mask else 1.0])
        f = e + w_pv @ e @ m @ (e.T @ w_kq @ e) / (ELL if normalise else 1.0)
        out.append(f[-1, -1])
    return np.array(out)


@pytest.mark.parametrize("mask", [True, False])
@pytest.mark.parametrize("normalise", [True, False])
def test_matches_zfb_matrix_formula(batch, mask, normalise):
    m = LinearSelfAttention(D, key=jax.random.PRNGKey(1), mask_query=mask, normalise=normalise, init_scale=0.7)
    got = np.asarray(m(batch.xs, batch.ys, batch.xq))
    want = zfb_prediction(np.asarray(m.W_KQ), np.asarray(m.W_PV), batch.xs, batch.ys, batch.xq, mask, normalise)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("normalise", [True, False])
def test_mask_removes_exactly_the_query_term(batch, normalise):
    """Unmasked minus masked is the query's own term of the key/value sum, (u.x_q)(x_q^T W11 x_q)/n, with u the
    last row of W_PV without its label entry and W11 = W_KQ[:d, :d] (the query's label slot is 0), written out here
    from the weights."""
    kw = {"key": jax.random.PRNGKey(2), "normalise": normalise, "init_scale": 0.7}
    masked, unmasked = LinearSelfAttention(D, mask_query=True, **kw), LinearSelfAttention(D, mask_query=False, **kw)
    np.testing.assert_array_equal(masked.W_KQ, unmasked.W_KQ)
    np.testing.assert_array_equal(masked.W_PV, unmasked.W_PV)
    u, w11 = np.asarray(masked.W_PV, np.float64)[-1, :D], np.asarray(masked.W_KQ, np.float64)[:D, :D]
    xq = np.asarray(batch.xq, np.float64)
    term = (xq @ u) * np.einsum("bi,ij,bj->b", xq, w11, xq) / (ELL if normalise else 1)
    assert np.abs(term).max() > 1e-2                      # a term the test can see
    diff = np.asarray(unmasked(batch.xs, batch.ys, batch.xq)) - np.asarray(masked(batch.xs, batch.ys, batch.xq))
    np.testing.assert_allclose(diff, term, rtol=1e-4, atol=1e-5)


def test_reduced_class_is_lu_gamma_model(batch):
    """y_hat = x_q^T Gamma h with h = [(d/ell) sum y x; (1/ell) sum y^2]  (Lu et al. 2024's reduced model)."""
    m = LinearSelfAttention(D, key=jax.random.PRNGKey(3), reduced=True, init_scale=0.5)
    g = np.asarray(m.gamma())
    xs, ys, xq = map(np.asarray, (batch.xs, batch.ys, batch.xq))
    h = np.concatenate([D / ELL * np.einsum("bi,bid->bd", ys, xs), (ys**2).mean(1, keepdims=True)], axis=1)
    want = np.einsum("bd,de,be->b", xq, g, h)
    np.testing.assert_allclose(np.asarray(m(batch.xs, batch.ys, batch.xq)), want, rtol=2e-5, atol=1e-6)
    assert m.n_params == D * (D + 1)
    # the reduced model is the full model with u = 0, u0 = 1
    full = LinearSelfAttention(D, key=jax.random.PRNGKey(3))
    full = eqx.tree_at(lambda t: (t.w_kq, t.w_pv), full, (m.W_KQ, m.W_PV))
    np.testing.assert_allclose(full(batch.xs, batch.ys, batch.xq), m(batch.xs, batch.ys, batch.xq), rtol=1e-5)


def test_one_step_gd_construction(batch):
    """W_PV = c e e^T, W_KQ = diag(eta/c I, 0) realises y_hat = eta x_q . (1/n) sum y_i x_i, the one GD step of
    Mahankali et al. 2023, Thm 1."""
    eta, c = 0.7, 2.5
    m = LinearSelfAttention(D, key=jax.random.PRNGKey(4))
    w_pv = jnp.zeros((D + 1, D + 1)).at[-1, -1].set(c)
    w_kq = jnp.zeros((D + 1, D + 1)).at[:D, :D].set(eta / c * jnp.eye(D))
    m = eqx.tree_at(lambda t: (t.w_kq, t.w_pv), m, (w_kq, w_pv))
    v = np.einsum("bi,bid->bd", np.asarray(batch.ys), np.asarray(batch.xs)) / ELL
    np.testing.assert_allclose(m(batch.xs, batch.ys, batch.xq), eta * np.sum(v * np.asarray(batch.xq), 1),
                               rtol=1e-5, atol=1e-7)


def test_repr_params_and_bad_input():
    m = build_model("lsa", 3, key=jax.random.PRNGKey(0))
    assert m.n_params == 2 * 16 and "LinearSelfAttention(d=3" in repr(m)
    with pytest.raises(ValueError, match="d must be"):
        LinearSelfAttention(0, key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="init_scale"):
        LinearSelfAttention(2, key=jax.random.PRNGKey(0), init_scale=-1)
    with pytest.raises(ValueError, match="ell must be given"):
        LinearSelfAttention(2, key=jax.random.PRNGKey(0), normalise=False, reduced=True).gamma()
