"""A standard pre-LayerNorm transformer (Vaswani et al. with the now-usual pre-LN placement):

    x = Dense(tokens);   for each layer:  x = x + MHA(LN(x));  x = x + MLP(LN(x))   (MLP: Dense, GELU, Dense)
    out = Dense_1(LN(x))

Used as Yang et al. 2024's 4-layer baseline (Figs. 2(b) and 5: d_model = 256, d_ff = 512, 4 layers, H = 8; no
causal mask, no positional embedding, a scalar readout at every position). ``forward_tokens`` takes any token matrix
(b, T, n_in) and returns (b, T); ``__call__`` takes the regression layout and returns the query prediction.
"""

from __future__ import annotations

import equinox as eqx
import jax
from jax import Array

from iclab.models.layers import MLP, Dense, LayerNorm
from iclab.models.softmax import MultiHeadAttention, check_heads
from iclab.models.tokens import param_count, tokens
from iclab.validation import check_int


class PreLNLayer(eqx.Module):
    ln1: LayerNorm
    attention: MultiHeadAttention
    ln2: LayerNorm
    mlp: MLP

    def __init__(self, d_model: int, d_ff: int, *, key: Array, heads: int, causal: bool):
        ka, km = jax.random.split(key)
        self.ln1 = LayerNorm(d_model)
        self.attention = MultiHeadAttention(d_model, key=ka, heads=heads, causal=causal, bias=True, out_proj=True)
        self.ln2 = LayerNorm(d_model)
        self.mlp = MLP(d_model, key=km, kind="gelu", d_ff=d_ff)

    def __call__(self, x: Array) -> Array:
        x = x + self.attention(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class Transformer(eqx.Module):
    """Pre-LN transformer. ``n_in`` is the token size (default d + 1, the regression layout)."""

    embed: Dense
    layers: tuple[PreLNLayer, ...]
    ln_f: LayerNorm
    readout: Dense
    d: int = eqx.field(static=True)
    d_model: int = eqx.field(static=True)
    heads: int = eqx.field(static=True)
    causal: bool = eqx.field(static=True)

    def __init__(self, d: int, *, key: Array, n_layers: int = 4, d_model: int = 256, d_ff: int = 512,
                 heads: int = 8, causal: bool = False, n_in: int | None = None):
        self.d = check_int("d", d, lo=1)
        self.d_model = check_int("d_model", d_model, lo=1)
        self.heads = check_heads(d_model, heads)
        check_int("n_layers", n_layers, lo=1)
        check_int("d_ff", d_ff, lo=1)
        self.causal = bool(causal)
        ke, kr, *kl = jax.random.split(key, 2 + n_layers)
        self.embed = Dense(n_in if n_in is not None else d + 1, d_model, key=ke)
        self.layers = tuple(PreLNLayer(d_model, d_ff, key=k, heads=heads, causal=causal) for k in kl)
        self.ln_f = LayerNorm(d_model)
        self.readout = Dense(d_model, 1, key=kr)

    def forward_tokens(self, z: Array) -> Array:
        """z (b, T, n_in) -> (b, T): a scalar read out at every position."""
        x = self.embed(z)
        for layer in self.layers:
            x = layer(x)
        return self.readout(self.ln_f(x))[..., 0]

    def __call__(self, xs: Array, ys: Array, xq: Array) -> Array:
        """xs (b, ell, d), ys (b, ell), xq (b, d) -> (b,) the prediction at the query token."""
        return self.forward_tokens(tokens(xs, ys, xq))[:, -1]

    @property
    def n_params(self) -> int:
        return param_count(self)

    def __repr__(self) -> str:
        return (f"Transformer(layers={len(self.layers)}, d_model={self.d_model}, heads={self.heads}, "
                f"causal={self.causal}, params={self.n_params})")
