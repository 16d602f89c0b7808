"""Softmax-attention models in the authors' (post-LayerNorm) style (Lu et al. 2024, Figs. 5-6).

``SoftmaxAttentionModel``: input Dense(d+1 -> h) with bias, ``n_blocks`` blocks, then Dense(h -> 1) on the query
(last) token. No positional embedding. One block (``post-LN``):

    a = attention(x) (+ x with ``residual``);   y = LN1(a)
    mlp = "none":   out = LN2(a + y)            (the authors' code with n_mlp_layers = 0, model_type 2)
    otherwise:      out = LN2(y + MLP(y))

With ``layernorm=False`` both LNs are the identity. Configurations of the paper (:func:`lu2024_model`):

- model_type 2 (Fig. 5B): 1 block, single head, causal, no MLP;
- model_type 3 (Fig. 5C, Fig. 6): 2 blocks with an MLP;  model_type 4 (Fig. 5D): 3 blocks.

**Where the authors' code differs from a textbook block**: its one-layer "MLP" is a single Dense(h) with no
activation (GELU is only inserted before a second MLP layer), so their "softmax + MLP" blocks have no pointwise
nonlinearity outside softmax and LayerNorm. Here ``mlp="gelu"`` (Dense, GELU, Dense) is the default of the model
and ``mlp="linear"`` is their variant, used to match their figures.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import Array

from iclab.models.layers import MLP, MLP_KINDS, Dense, LayerNorm
from iclab.models.tokens import param_count, tokens
from iclab.validation import UserInputError, check_choice, check_int


def check_heads(width: int, heads: int) -> int:
    check_int("heads", heads, lo=1)
    if width % heads:
        raise UserInputError(f"width must be divisible by heads (got width {width}, heads {heads})")
    return heads


class MultiHeadAttention(eqx.Module):
    """Softmax attention over the token axis. x (b, T, n) -> (b, T, n); scores scaled by 1/sqrt(n / heads).

    out_proj: a final Dense(n -> n) mixing the heads (standard; the authors' single-head block has none).
    """

    q: Dense
    k: Dense
    v: Dense
    out: Dense | None
    heads: int = eqx.field(static=True)
    causal: bool = eqx.field(static=True)

    def __init__(self, n: int, *, key: Array, heads: int = 1, causal: bool = False, bias: bool = False,
                 out_proj: bool = False):
        self.heads = check_heads(n, heads)
        kq, kk, kv, ko = jax.random.split(key, 4)
        self.q = Dense(n, n, key=kq, bias=bias)
        self.k = Dense(n, n, key=kk, bias=bias)
        self.v = Dense(n, n, key=kv, bias=bias)
        self.out = Dense(n, n, key=ko, bias=bias) if out_proj else None
        self.causal = bool(causal)

    def __call__(self, x: Array, *, last: bool = False) -> Array:
        """x (b, T, n) -> (b, T, n); with ``last`` only the last token's output, (b, 1, n).

        ``last`` computes the query projection, scores and softmax of the last row only (keys and values still
        come from every token): ``self(x)[:, -1:]`` at about 1/T of the query-side work, equal up to float32
        rounding (the matmul kernel sums a one-row product in another order; tests/models bound the difference).
        A model that reads out only the last token needs nothing else from its final block.
        """
        b, t, n = x.shape
        split = lambda y: y.reshape(b, y.shape[1], self.heads, n // self.heads)
        q, k, v = split(self.q(x[:, -1:] if last else x)), split(self.k(x)), split(self.v(x))
        scores = jnp.einsum("bshe,bthe->bhst", q, k) / math.sqrt(n // self.heads)
        if self.causal and not last:  # the last row of the causal mask is all True
            scores = jnp.where(jnp.tril(jnp.ones((t, t), bool)), scores, -jnp.inf)
        att = jax.nn.softmax(scores, axis=-1)
        y = jnp.einsum("bhst,bthe->bshe", att, v).reshape(b, q.shape[1], n)
        return y if self.out is None else self.out(y)


class PostLNBlock(eqx.Module):
    """One block of the authors' model (see the module docstring). x (b, T, h) -> (b, T, h)."""

    attention: MultiHeadAttention
    ln1: LayerNorm | None
    ln2: LayerNorm | None
    mlp: MLP | None
    residual: bool = eqx.field(static=True)

    def __init__(self, width: int, *, key: Array, heads: int = 1, causal: bool = True, residual: bool = True,
                 layernorm: bool = True, mlp: str = "gelu", d_ff: int | None = None):
        ka, km = jax.random.split(key)
        self.attention = MultiHeadAttention(width, key=ka, heads=heads, causal=causal)
        self.ln1 = LayerNorm(width) if layernorm else None
        self.ln2 = LayerNorm(width) if layernorm else None
        self.mlp = None if mlp == "none" else MLP(width, key=km, kind=mlp, d_ff=d_ff)
        self.residual = bool(residual)

    def __call__(self, x: Array, *, last: bool = False) -> Array:
        """x (b, T, h) -> (b, T, h); with ``last`` only the last token's output (b, 1, h) (every step after the
        attention acts on each token separately)."""
        a = self.attention(x, last=last) + ((x[:, -1:] if last else x) if self.residual else 0.0)
        y = self.ln1(a) if self.ln1 is not None else a
        out = a + y if self.mlp is None else y + self.mlp(y)
        return self.ln2(out) if self.ln2 is not None else out


class SoftmaxAttentionModel(eqx.Module):
    """model(xs (b, ell, d), ys (b, ell), xq (b, d)) -> (b,). Width h (default d)."""

    embed: Dense
    blocks: tuple[PostLNBlock, ...]
    readout: Dense
    d: int = eqx.field(static=True)
    width: int = eqx.field(static=True)
    heads: int = eqx.field(static=True)
    causal: bool = eqx.field(static=True)
    mlp: str = eqx.field(static=True)

    def __init__(self, d: int, *, key: Array, n_blocks: int = 1, width: int | None = None, heads: int = 1,
                 causal: bool = True, residual: bool = True, layernorm: bool = True, mlp: str = "gelu",
                 d_ff: int | None = None):
        self.d = check_int("d", d, lo=1)
        self.width = check_int("width", width if width is not None else d, lo=1)
        self.heads = check_heads(self.width, heads)
        self.causal = bool(causal)
        self.mlp = check_choice("mlp", mlp, MLP_KINDS)
        check_int("n_blocks", n_blocks, lo=1)
        if d_ff is not None:
            check_int("d_ff", d_ff, lo=1)
        ke, kr, *kb = jax.random.split(key, 2 + n_blocks)
        self.embed = Dense(d + 1, self.width, key=ke)
        self.blocks = tuple(PostLNBlock(self.width, key=k, heads=heads, causal=causal, residual=residual,
                                        layernorm=layernorm, mlp=mlp, d_ff=d_ff) for k in kb)
        self.readout = Dense(self.width, 1, key=kr)

    def __call__(self, xs: Array, ys: Array, xq: Array) -> Array:
        x = self.embed(tokens(xs, ys, xq))
        for block in self.blocks[:-1]:
            x = block(x)
        # only the query token is read out, so the final block computes that token alone: forward+backward
        # 1.4-1.6x faster at the Lu Fig. 5 settings (benchmarks/bench_train.py --parts), equal up to float32
        # rounding (tests/models/test_attention_models.py)
        x = self.blocks[-1](x, last=True)
        return self.readout(x[:, -1])[:, 0]

    @property
    def n_params(self) -> int:
        return param_count(self)

    def __repr__(self) -> str:
        return (f"SoftmaxAttentionModel(d={self.d}, blocks={len(self.blocks)}, width={self.width}, "
                f"heads={self.heads}, causal={self.causal}, mlp={self.mlp}, params={self.n_params})")
