"""One-layer multi-head softmax attention with token-specific output weights (Yang et al. 2024, §2.3).

    yhat_k = sum_h w[h, k] * y^T softmax(V^T Q_h v_k),   k = 1..K      (Yang et al. 2024, formula (8))

V = (v_1..v_N) are the prompt tokens, y their labels; the softmax runs over the N prompt tokens. The only trainable
parameters are Q_h (d x d) and w_h (K) for every head. Because w is per token, the model belongs to one dictionary:
its tokens are passed at call time (they are fixed data, not parameters). ``yhat = coef^T y`` is linear in the
labels with coef = :meth:`coefficients` (N, K). :func:`population_loss` is the model's exact population loss
(Lemma 5), the objective the paper trains on; its constants come from :func:`iclab.theory.yang2024.problem`.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import Array

from iclab.theory.yang2024 import Problem, excess_loss
from iclab.validation import check_int, check_positive


def attention_coefficients(Q, w, tokens, N: int):
    """The coefficients of formula (8): yhat = coef^T y with coef[:, k] = sum_h w[h, k] softmax(V^T Q_h v_k).

    Q: (H, d, d), w: (H, K), tokens: (K, d) -> (N, K). The softmax runs over the N prompt tokens.
    """
    keys = jnp.einsum("id,hde->hie", tokens[:N], Q)  # (H, N, d): v_i^T Q_h
    s = jax.nn.softmax(jnp.einsum("hie,ke->hki", keys, tokens), axis=-1)  # (H, K, N)
    return jnp.einsum("hk,hki->ik", w, s)


def population_loss(Q, w, tokens, prob: Problem):
    """The exact population loss L(Q, w) (Lemma 5, eq. 36), differentiable in (Q, w); dtype follows Q."""
    dtype = jnp.result_type(Q)
    A, G = jnp.asarray(prob.A, dtype), jnp.asarray(prob.G, dtype)
    return excess_loss(attention_coefficients(Q, w, tokens, A.shape[0]), A, G) + prob.L_star


class TemplateAttention(eqx.Module):
    """Q: (H, d, d), w: (H, K); N (static) prompt tokens."""

    Q: Array
    w: Array
    N: int = eqx.field(static=True)

    def __init__(self, d: int, *, key: Array, K: int, N: int, heads: int = 64, beta: float = 1.0,
                 dtype=jnp.float32):
        """The paper's initialisation (§3): Q_h entries i.i.d. N(0, beta^2), w = 0. ``heads`` is H."""
        H = check_int("heads", heads, lo=1)
        d = check_int("d", d, lo=1)
        K = check_int("K", K, lo=2)
        self.N = check_int("N", N, lo=1, hi=K - 1)
        self.Q = float(check_positive("beta", beta)) * jax.random.normal(key, (H, d, d), dtype)
        self.w = jnp.zeros((H, K), dtype)

    def coefficients(self, tokens: Array) -> Array:
        """coef[:, k] = sum_h w[h, k] softmax(V^T Q_h v_k): tokens (K, d) -> (N, K)."""
        return attention_coefficients(self.Q, self.w, tokens, self.N)

    def __call__(self, tokens: Array, y_prompt: Array) -> Array:
        """Predictions for all K tokens: tokens (K, d), y_prompt (..., N) -> (..., K)."""
        return y_prompt @ self.coefficients(tokens)
