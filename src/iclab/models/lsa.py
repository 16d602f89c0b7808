"""One layer of linear self-attention in the merged parametrisation of Zhang, Frei and Bartlett.

    f(E) = E + W_PV E M (E^T W_KQ E) / n,     y_hat = f(E)[d+1, n+1]      (Mahankali et al. 2023, §2)

with E the (d+1) x (n+1) token matrix (columns [x_i; y_i], query column [x_q; 0]), M = diag(I_n, 0) when the query
is masked out of the key/value sum, and n = ell the context length (the 1/n is optional). Because the query's label
slot is 0, only the last row of W_PV, (u, u0), and the first d columns of W_KQ enter the prediction:

    y_hat = (1/n) sum_i (u.x_i + u0 y_i) (z_i^T W_KQ[:, :d] x_q),     z_i = [x_i; y_i].

The *reduced class* (Lu et al. 2024's reduced model; the "d^2 + d parameters" class of Mahankali et al. 2023)
fixes u = 0, u0 = 1, so the model is linear in its d(d+1) parameters and equals Lu et al.'s y_hat = <Gamma, H_Z>
(see :meth:`LinearSelfAttention.gamma`).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import Array

from iclab.models.tokens import param_count, tokens
from iclab.validation import check_int, check_nonnegative


class LinearSelfAttention(eqx.Module):
    """Linear self-attention, merged W_KQ / W_PV. ``model(xs, ys, xq) -> (batch,)`` predictions.

    Fields: ``w_kq`` (d+1, d+1) [(d+1, d) in the reduced class: the query's zero label makes the last column
    inert]; ``w_pv`` (d+1, d+1), or None in the reduced class. The full matrices are ``W_KQ`` and ``W_PV``.

    mask_query: leave the query token out of the key/value sum (Ahn et al.); False includes it (ZFB).
    normalise:  divide the sum by the context length ell.
    init_scale: standard deviation of the i.i.d. Gaussian initial entries (default 1/sqrt(d+1)).
    reduced:    train only the reduced class (u = 0, u0 = 1): a linear model with d(d+1) parameters.
    """

    w_kq: Array
    w_pv: Array | None
    d: int = eqx.field(static=True)
    mask_query: bool = eqx.field(static=True)
    normalise: bool = eqx.field(static=True)

    def __init__(self, d: int, *, key: Array, mask_query: bool = True, normalise: bool = True,
                 init_scale: float | None = None, reduced: bool = False):
        self.d = check_int("d", d, lo=1)
        scale = 1.0 / math.sqrt(d + 1) if init_scale is None else float(check_nonnegative("init_scale", init_scale))
        k_kq, k_pv = jax.random.split(key)
        self.w_kq = scale * jax.random.normal(k_kq, (d + 1, d if reduced else d + 1))
        self.w_pv = None if reduced else scale * jax.random.normal(k_pv, (d + 1, d + 1))
        self.mask_query = bool(mask_query)
        self.normalise = bool(normalise)

    @property
    def reduced(self) -> bool:
        return self.w_pv is None

    @property
    def W_KQ(self) -> Array:  # noqa: N802 - the papers' name
        """(d+1, d+1) key-query matrix (in the reduced class with a zero last column)."""
        if self.reduced:
            return jnp.concatenate([self.w_kq, jnp.zeros_like(self.w_kq[:, :1])], axis=1)
        return self.w_kq

    @property
    def W_PV(self) -> Array:  # noqa: N802
        """(d+1, d+1) projection-value matrix (in the reduced class the fixed label selector e_{d+1} e_{d+1}^T)."""
        if self.reduced:
            return jnp.zeros((self.d + 1, self.d + 1), self.w_kq.dtype).at[-1, -1].set(1.0)
        return self.w_pv

    def __call__(self, xs: Array, ys: Array, xq: Array) -> Array:
        """xs (batch, ell, d), ys (batch, ell), xq (batch, d) -> (batch,)."""
        ell = xs.shape[-2]
        z = tokens(xs, ys, xq)  # (b, ell+1, d+1)
        kq = self.w_kq[:, : self.d]  # the query token's label slot is 0
        s = jnp.einsum("bid,de,be->bi", z, kq, xq)  # z_i^T W_KQ z_q: (b, ell+1)
        if self.reduced:
            value = jnp.concatenate([ys, jnp.zeros_like(ys[:, :1])], axis=1)
        else:
            value = z @ self.w_pv[-1]  # u.x_i + u0 y_i: (b, ell+1)
        if self.mask_query:
            value = value.at[:, -1].set(0.0)
        out = jnp.sum(value * s, axis=1)
        return out / ell if self.normalise else out

    def gamma(self, ell: int | None = None) -> Array:
        """Lu et al.'s (d, d+1) matrix Gamma with y_hat = x_q^T Gamma h, h = [(d/ell) sum y x; (1/ell) sum y^2].

        Exact in the reduced class (and for any model with u = 0); ignores u otherwise. Without the 1/ell
        normalisation the context length ``ell`` is needed.
        """
        if not self.normalise and ell is None:
            raise ValueError("ell must be given for an unnormalised model (got None)")
        u0 = self.W_PV[-1, -1]
        g = u0 * self.w_kq[:, : self.d].T  # (d, d+1): y_hat = x_q^T g (1/ell) sum y_i z_i
        g = g / jnp.concatenate([jnp.full((self.d,), float(self.d)), jnp.ones((1,))])
        return g if self.normalise else g * ell

    @property
    def n_params(self) -> int:
        return param_count(self)

    def __repr__(self) -> str:
        kind = "reduced" if self.reduced else "full"
        return (f"LinearSelfAttention(d={self.d}, {kind}, mask_query={self.mask_query}, "
                f"normalise={self.normalise}, params={self.n_params})")
