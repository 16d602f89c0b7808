"""Small building blocks with the initialisation of the authors' flax code (Lu et al. 2024, Figs. 5-6): LeCun-normal
kernels (truncated normal, variance 1/fan_in), zero biases; LayerNorm with eps = 1e-6. Shapes act on the last
axis, so every layer applies to (..., features) arrays."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import Array

_lecun = jax.nn.initializers.lecun_normal()


class Dense(eqx.Module):
    """y = x W + b.  x (..., n_in) -> (..., n_out)."""

    weight: Array  # (n_in, n_out)
    bias: Array | None  # (n_out,)

    def __init__(self, n_in: int, n_out: int, *, key: Array, bias: bool = True):
        self.weight = _lecun(key, (n_in, n_out), jnp.float32)
        self.bias = jnp.zeros((n_out,)) if bias else None

    def __call__(self, x: Array) -> Array:
        y = x @ self.weight
        return y if self.bias is None else y + self.bias


class LayerNorm(eqx.Module):
    """Normalise the last axis to zero mean and unit variance, then scale and shift (learned)."""

    scale: Array
    shift: Array
    eps: float = eqx.field(static=True)

    def __init__(self, n: int, *, eps: float = 1e-6):
        self.scale = jnp.ones((n,))
        self.shift = jnp.zeros((n,))
        self.eps = eps

    def __call__(self, x: Array) -> Array:
        mean = x.mean(-1, keepdims=True)
        var = jnp.mean((x - mean) ** 2, axis=-1, keepdims=True)
        return (x - mean) * jax.lax.rsqrt(var + self.eps) * self.scale + self.shift


MLP_KINDS = ("gelu", "linear", "none")


class MLP(eqx.Module):
    """The feed-forward part of a block, ``kind``:

    - "gelu":   Dense(n -> d_ff), GELU, Dense(d_ff -> n)  (a standard transformer MLP)
    - "linear": one Dense(n -> n), no activation: what the authors' code computes with one MLP layer
                (their code inserts GELU only *between* MLP layers, so a single layer is linear)
    """

    layers: tuple[Dense, ...]
    kind: str = eqx.field(static=True)

    def __init__(self, n: int, *, key: Array, kind: str = "gelu", d_ff: int | None = None):
        k1, k2 = jax.random.split(key)
        self.kind = kind
        if kind == "gelu":
            d_ff = d_ff or n
            self.layers = (Dense(n, d_ff, key=k1), Dense(d_ff, n, key=k2))
        else:
            self.layers = (Dense(n, n, key=k1),)

    def __call__(self, x: Array) -> Array:
        if self.kind == "gelu":
            return self.layers[1](jax.nn.gelu(self.layers[0](x)))
        return self.layers[0](x)
