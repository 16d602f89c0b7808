"""The token matrix of a prompt (Z in Lu et al. 2024, E in Mahankali et al. 2023).

Rows are tokens: ``[x_i, y_i]`` for the ``ell`` context examples, then the query token ``[x_q, 0]`` (label slot 0),
so a prompt becomes an ``(ell + 1, d + 1)`` matrix. This is the transpose of the papers' ``Z``/``E``.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import Array


def tokens(xs: Array, ys: Array, xq: Array) -> Array:
    """Token matrices of a batch of prompts.

    xs: (batch, ell, d), ys: (batch, ell), xq: (batch, d)  ->  (batch, ell + 1, d + 1)
    """
    ctx = jnp.concatenate([xs, ys[..., None]], axis=-1)  # (b, ell, d+1)
    query = jnp.concatenate([xq, jnp.zeros_like(xq[..., :1])], axis=-1)  # (b, d+1)
    return jnp.concatenate([ctx, query[..., None, :]], axis=-2)


def param_count(model) -> int:
    """Number of trainable scalars (inexact array leaves) in an Equinox model."""
    leaves = jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_inexact_array))
    return int(sum(x.size for x in leaves))
