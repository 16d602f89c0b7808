"""K/Q/V linear attention, softmax blocks and the pre-LN transformer against naive numpy formulas and invariances."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from iclab.models import MODELS, LinearAttention, SoftmaxAttentionModel, Transformer, build_model, tokens
from iclab.models.layers import MLP
from iclab.models.softmax import MultiHeadAttention
from iclab.tasks import LinearRegression

D, ELL, B = 4, 5, 3


@pytest.fixture(scope="module")
def batch():
    return LinearRegression.lu2024(D, ELL, 0.1, prior="gaussian").sample(jax.random.PRNGKey(0), B)


def test_tokens_layout(batch):
    z = np.asarray(tokens(batch.xs, batch.ys, batch.xq))
    assert z.shape == (B, ELL + 1, D + 1)
    np.testing.assert_array_equal(z[:, :ELL, :D], batch.xs)
    np.testing.assert_array_equal(z[:, :ELL, D], batch.ys)
    np.testing.assert_array_equal(z[:, ELL, :D], batch.xq)
    assert np.all(z[:, ELL, D] == 0)  # query label slot 0


@pytest.mark.parametrize("mask", [False, True])
def test_linear_attention_matches_full_matrix_formula(batch, mask):
    """Dense_1((1/sqrt h)(ZW_Q+b_Q)(ZW_K+b_K)^T(ZW_V+b_V))[last row]  (the linear-attention model of Lu et al.
    2024's Transformer code, model_type 1)."""
    m = LinearAttention(D, key=jax.random.PRNGKey(1), width=3, mask_query=mask)
    m = jax.tree_util.tree_map(lambda x: x + 0.1 if x.ndim == 1 else x, m)  # nonzero biases
    z = np.asarray(tokens(batch.xs, batch.ys, batch.xq))
    p = lambda layer: (np.asarray(layer.weight), np.asarray(layer.bias))
    (wq, bq), (wk, bk), (wv, bv), (wr, br) = p(m.q), p(m.k), p(m.v), p(m.readout)
    want = []
    for zb in z:
        a = (zb @ wq + bq) @ (zb @ wk + bk).T / np.sqrt(3)
        if mask:
            a[:, -1] = 0.0
        want.append(((a @ (zb @ wv + bv)) @ wr + br)[-1, 0])
    np.testing.assert_allclose(m(batch.xs, batch.ys, batch.xq), want, rtol=2e-5, atol=1e-6)
    assert m.n_params == 3 * (5 * 3 + 3) + 3 + 1


def naive_mha(x, wq, wk, wv, heads, causal):
    t, n = x.shape
    e = n // heads
    out = np.zeros((t, n))
    for h in range(heads):
        sl = slice(h * e, (h + 1) * e)
        q, k, v = x @ wq[:, sl], x @ wk[:, sl], x @ wv[:, sl]
        s = q @ k.T / np.sqrt(e)
        if causal:
            s = np.where(np.tril(np.ones((t, t))) > 0, s, -np.inf)
        a = np.exp(s - s.max(1, keepdims=True))
        out[:, sl] = (a / a.sum(1, keepdims=True)) @ v
    return out


@pytest.mark.parametrize("causal", [False, True])
def test_multihead_attention_matches_naive(causal):
    x = jax.random.normal(jax.random.PRNGKey(2), (2, 5, 6))
    m = MultiHeadAttention(6, key=jax.random.PRNGKey(3), heads=3, causal=causal)
    want = [naive_mha(np.asarray(xb), np.asarray(m.q.weight), np.asarray(m.k.weight), np.asarray(m.v.weight), 3,
                      causal) for xb in x]
    np.testing.assert_allclose(m(x), np.stack(want), rtol=1e-4, atol=1e-5)


def test_causal_mask_hides_the_future():
    """With a causal mask, a token's output does not depend on later tokens."""
    m = MultiHeadAttention(4, key=jax.random.PRNGKey(4), heads=2, causal=True)
    x = jax.random.normal(jax.random.PRNGKey(5), (1, 6, 4))
    y = x.at[0, 4:].set(7.0)
    np.testing.assert_allclose(m(x)[0, :4], m(y)[0, :4], rtol=1e-6)
    assert not np.allclose(m(x)[0, 4:], m(y)[0, 4:])


@pytest.mark.parametrize("name,kw", [("softmax", {"causal": False}), ("transformer", {"d_model": 8, "d_ff": 16,
                                                                                      "heads": 2})])
def test_non_causal_models_ignore_context_order(batch, name, kw):
    m = build_model(name, D, key=jax.random.PRNGKey(6), **kw)
    perm = jnp.array([3, 0, 4, 1, 2])
    np.testing.assert_allclose(m(batch.xs, batch.ys, batch.xq), m(batch.xs[:, perm], batch.ys[:, perm], batch.xq),
                               rtol=1e-4, atol=1e-5)


def test_causal_two_block_model_sees_context_order(batch):
    """On a permuted context the causal model equals the naive causal forward of the permuted tokens, which differs
    from the forward of the original order (a causal mask makes the sum order-dependent)."""
    m = build_model("softmax_2block_mlp", D, key=jax.random.PRNGKey(7))
    perm = jnp.array([3, 0, 4, 1, 2])
    got = np.asarray(m(batch.xs[:, perm], batch.ys[:, perm], batch.xq))
    z = np.asarray(tokens(batch.xs[:, perm], batch.ys[:, perm], batch.xq), float)
    np.testing.assert_allclose(got, [naive_softmax_model(m, zb) for zb in z], rtol=1e-4, atol=1e-5)
    z0 = np.asarray(tokens(batch.xs, batch.ys, batch.xq), float)
    assert np.abs(got - np.array([naive_softmax_model(m, zb) for zb in z0])).max() > 1e-3


def test_authors_mlp_is_affine_gelu_is_not():
    x, y = jax.random.normal(jax.random.PRNGKey(8), (2, 6))
    lin = MLP(6, key=jax.random.PRNGKey(9), kind="linear")
    gelu = MLP(6, key=jax.random.PRNGKey(9), kind="gelu")
    zero = jnp.zeros(6)
    np.testing.assert_allclose(lin(x + y) - lin(y), lin(x) - lin(zero), rtol=1e-5, atol=1e-6)
    assert not np.allclose(gelu(x + y) - gelu(y), gelu(x) - gelu(zero), atol=1e-3)
    # both against their numpy formulas: x W + b, and Dense(GELU(Dense(x))) with the tanh GELU
    (w, b), (w1, b1), (w2, b2) = (dense_np(layer) for layer in (*lin.layers, *gelu.layers))
    xn = np.asarray(x, float)
    np.testing.assert_allclose(lin(x), xn @ w + b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gelu(x), gelu_np(xn @ w1 + b1) @ w2 + b2, rtol=1e-5, atol=1e-6)


def test_parameter_counts():
    h = D  # width = d (as in the authors' Transformer code)
    m2 = build_model("softmax_1block", D, key=jax.random.PRNGKey(0))
    # embed (d+1)h + h; attention 3h^2; two LayerNorms 4h; readout h + 1
    assert m2.n_params == (D + 1) * h + h + 3 * h * h + 4 * h + h + 1
    m3 = build_model("softmax_2block_mlp", D, key=jax.random.PRNGKey(0))
    assert m3.n_params == (D + 1) * h + h + 2 * (3 * h * h + 4 * h + h * h + h) + h + 1
    t = Transformer(D, key=jax.random.PRNGKey(0), n_layers=4, d_model=256, d_ff=512, heads=8)  # Yang's baseline
    per_layer = 4 * (256 * 256 + 256) + 2 * 2 * 256 + (256 * 512 + 512) + (512 * 256 + 256)
    assert t.n_params == (D + 1) * 256 + 256 + 4 * per_layer + 2 * 256 + 257
    assert "layers=4" in repr(t) and "blocks=2" in repr(m3)


def naive_pre_ln_transformer(t, z):
    """The pre-LN transformer on one token matrix z (T, n_in) in numpy float64, every position: embed; per layer
    x += OutProj(MHA(LN1(x))) and x += Dense(GELU(Dense(LN2(x)))) (biases everywhere); out = Dense_1(LN_f(x))."""
    we, be = dense_np(t.embed)
    x = z @ we + be
    for layer in t.layers:
        att = layer.attention
        (wq, bq), (wk, bk), (wv, bv), (wo, bo) = (dense_np(p) for p in (att.q, att.k, att.v, att.out))
        y = layer_norm_np(x, layer.ln1)
        tt, n = y.shape
        e = n // att.heads
        heads = []
        for h in range(att.heads):
            sl = slice(h * e, (h + 1) * e)
            q, k, v = (y @ wq + bq)[:, sl], (y @ wk + bk)[:, sl], (y @ wv + bv)[:, sl]
            s = q @ k.T / np.sqrt(e)
            if att.causal:
                s = np.where(np.tril(np.ones((tt, tt))) > 0, s, -np.inf)
            a = np.exp(s - s.max(1, keepdims=True))
            heads.append((a / a.sum(1, keepdims=True)) @ v)
        x = x + np.concatenate(heads, axis=1) @ wo + bo
        (w1, b1), (w2, b2) = (dense_np(p) for p in layer.mlp.layers)
        x = x + gelu_np(layer_norm_np(x, layer.ln2) @ w1 + b1) @ w2 + b2
    wr, br = dense_np(t.readout)
    return (layer_norm_np(x, t.ln_f) @ wr + br)[:, 0]


@pytest.mark.parametrize("causal", [False, True])
def test_transformer_forward_tokens_every_position(causal):
    t = Transformer(3, key=jax.random.PRNGKey(0), n_layers=2, d_model=8, d_ff=16, heads=2, n_in=7, causal=causal)
    t = jax.tree_util.tree_map(lambda x: x + 0.05 if x.ndim == 1 else x, t)  # nonzero biases, scales and shifts
    z = jax.random.normal(jax.random.PRNGKey(1), (2, 9, 7))
    want = np.stack([naive_pre_ln_transformer(t, zb) for zb in np.asarray(z, float)])
    np.testing.assert_allclose(t.forward_tokens(z), want, rtol=1e-4, atol=1e-5)
    # the regression call reads the query token (the last position) of the same forward
    r = Transformer(D, key=jax.random.PRNGKey(2), n_layers=2, d_model=8, d_ff=16, heads=2, causal=causal)
    shapes = {3: (2, ELL, D), 4: (2, ELL), 5: (2, D)}
    xs, ys, xq = (jax.random.normal(jax.random.PRNGKey(i), s) for i, s in shapes.items())
    zr = np.asarray(tokens(xs, ys, xq), float)
    np.testing.assert_allclose(r(xs, ys, xq), [naive_pre_ln_transformer(r, zb)[-1] for zb in zr], rtol=1e-4, atol=1e-5)


def test_bad_input():
    with pytest.raises(ValueError, match="width must be divisible by heads"):
        SoftmaxAttentionModel(4, key=jax.random.PRNGKey(0), width=6, heads=4)
    with pytest.raises(ValueError, match="width must be divisible by heads"):
        Transformer(4, key=jax.random.PRNGKey(0), d_model=10, heads=3)
    with pytest.raises(ValueError, match="model must be one of"):
        build_model("gpt5", 4, key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="option of model lsa"):
        build_model("lsa", 4, key=jax.random.PRNGKey(0), heads=2)
    with pytest.raises(ValueError, match="mlp must be one of"):
        build_model("softmax", 4, key=jax.random.PRNGKey(0), mlp="relu")
    assert set(MODELS) >= {"lsa", "linear_attention", "softmax_1block", "softmax_2block_mlp", "transformer"}


def dense_np(layer):
    """(W, b) of a Dense layer as float64 numpy (b = 0 without a bias)."""
    return np.asarray(layer.weight, float), np.asarray(layer.bias, float) if layer.bias is not None else 0.0


def layer_norm_np(x, norm):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + norm.eps) * np.asarray(norm.scale, float) + np.asarray(norm.shift, float)


def gelu_np(h):
    """GELU in its tanh form (jax.nn.gelu's default)."""
    return 0.5 * h * (1 + np.tanh(np.sqrt(2 / np.pi) * (h + 0.044715 * h**3)))


def naive_softmax_model(m, z):
    """The post-LN model of the authors' Transformer code (Lu et al. 2024) on one token matrix z (T, d+1), every
    block on every token (numpy float64): embed, then per block a = MHA(x) + x, y = LN(a), out = LN(y + MLP(y))
    (or LN(a + y) without MLP)."""
    w, ln = dense_np, layer_norm_np

    we, be = w(m.embed)
    x = z @ we + be
    for blk in m.blocks:
        att = blk.attention
        a = naive_mha(x, *(np.asarray(p.weight, float) for p in (att.q, att.k, att.v)), att.heads, att.causal) + x
        y = ln(a, blk.ln1)
        if blk.mlp is None:
            x = ln(a + y, blk.ln2)
        elif blk.mlp.kind == "linear":
            wm, bm = w(blk.mlp.layers[0])
            x = ln(y + y @ wm + bm, blk.ln2)
        else:  # Dense, GELU, Dense
            (w1, b1), (w2, b2) = w(blk.mlp.layers[0]), w(blk.mlp.layers[1])
            x = ln(y + gelu_np(y @ w1 + b1) @ w2 + b2, blk.ln2)
    wr, br = w(m.readout)
    return (x[-1] @ wr + br)[0]


@pytest.mark.parametrize("name,kw", [("softmax_2block_mlp", {}), ("softmax_1block", {}),
                                     ("softmax_3block_mlp", {"heads": 2}), ("softmax", {"causal": False})])
def test_softmax_model_reads_the_last_token_of_a_full_forward(batch, name, kw):
    """The final block computes only the query token (a speed-up); the output must equal a naive forward that
    runs every block on every token, and the gradient the JAX forward without the shortcut."""
    m = build_model(name, D, key=jax.random.PRNGKey(11), **kw)
    m = jax.tree_util.tree_map(lambda x: x + 0.05 if x.ndim == 1 else x, m)  # nonzero biases and shifts
    z = np.asarray(tokens(batch.xs, batch.ys, batch.xq), float)
    want = [naive_softmax_model(m, zb) for zb in z]
    np.testing.assert_allclose(m(batch.xs, batch.ys, batch.xq), want, rtol=1e-4, atol=1e-5)

    def full(model):
        x = model.embed(tokens(batch.xs, batch.ys, batch.xq))
        for blk in model.blocks:
            x = blk(x)
        return jnp.sum(model.readout(x[:, -1])[:, 0] ** 2)

    g_fast = jax.grad(lambda model: jnp.sum(model(batch.xs, batch.ys, batch.xq) ** 2))(m)
    for a, b in zip(jax.tree_util.tree_leaves(g_fast), jax.tree_util.tree_leaves(jax.grad(full)(m)), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * float(np.abs(b).max()))
    x = jax.random.normal(jax.random.PRNGKey(12), (2, 6, m.width))
    att = m.blocks[-1].attention
    np.testing.assert_allclose(att(x, last=True), att(x)[:, -1:], rtol=1e-5, atol=1e-6)
    assert att(x, last=True).shape == (2, 1, m.width)
