"""Full linear attention with separate K, Q, V projections (Lu et al. 2024, Fig. 5A; the authors' ``model_type=1``):

    f(Z) = Dense_1( (1/sqrt(h)) (Z W_Q + b_Q)(Z W_K + b_K)^T (Z W_V + b_V) )[query row]

Z is the (ell+1, d+1) token matrix; only the query row's output is read, so we compute just that row. As in the
authors' code: no mask (the query attends to itself too), no 1/ell normalisation, no residual, no LayerNorm; both
normalisation choices are options here.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
from jax import Array

from iclab.models.layers import Dense
from iclab.models.tokens import param_count, tokens
from iclab.validation import check_int


class LinearAttention(eqx.Module):
    """model(xs (b, ell, d), ys (b, ell), xq (b, d)) -> (b,). Width h (default d), biases on Q, K, V."""

    q: Dense
    k: Dense
    v: Dense
    readout: Dense
    d: int = eqx.field(static=True)
    width: int = eqx.field(static=True)
    mask_query: bool = eqx.field(static=True)
    normalise: bool = eqx.field(static=True)

    def __init__(self, d: int, *, key: Array, width: int | None = None, bias: bool = True,
                 mask_query: bool = False, normalise: bool = False):
        self.d = check_int("d", d, lo=1)
        self.width = check_int("width", width if width is not None else d, lo=1)
        kq, kk, kv, kr = jax.random.split(key, 4)
        self.q = Dense(d + 1, self.width, key=kq, bias=bias)
        self.k = Dense(d + 1, self.width, key=kk, bias=bias)
        self.v = Dense(d + 1, self.width, key=kv, bias=bias)
        self.readout = Dense(self.width, 1, key=kr)
        self.mask_query = bool(mask_query)
        self.normalise = bool(normalise)

    def __call__(self, xs: Array, ys: Array, xq: Array) -> Array:
        z = tokens(xs, ys, xq)  # (b, L, d+1), L = ell + 1
        if self.mask_query:
            z_kv = z[:, :-1]
        else:
            z_kv = z
        query = self.q(z[:, -1])  # (b, h)
        scores = jax.numpy.einsum("bh,blh->bl", query, self.k(z_kv)) / math.sqrt(self.width)
        out = jax.numpy.einsum("bl,blh->bh", scores, self.v(z_kv))
        if self.normalise:
            out = out / xs.shape[-2]
        return self.readout(out)[:, 0]

    @property
    def n_params(self) -> int:
        return param_count(self)

    def __repr__(self) -> str:
        return (f"LinearAttention(d={self.d}, width={self.width}, bias={self.q.bias is not None}, "
                f"mask_query={self.mask_query}, normalise={self.normalise}, params={self.n_params})")
