"""Template tasks over a fixed dictionary (Yang, Huang, Liang, Chi 2024).

A dictionary holds K fixed tokens v_k (d-dimensional) and their representations z_k = f(v_k) (m basis
functions). A task is a coefficient vector lambda; every token gets the label

    y_k = lambda^T (z_k + eps_k),   eps_k ~ N(0, tau I_m)   (noise inside the representation, eq. 1),

so the label noise is N(0, tau |lambda|^2). A prompt shows the first N tokens with their labels; the model must
output all K labels (the targets of the first N are the same noisy labels). Per prompt only lambda and the noise
are random; the dictionary is drawn once.

Representations ("basis"):

- ``"gaussian"``: as in the paper's experiments: v_k ~ N(0, I_d) and z_k ~ N(0, I_m) drawn independently (a random
  lookup table);
- ``"fourier"``, ``"chebyshev"``, ``"legendre"``, ``"monomial"``: an explicit basis evaluated at the token, on
  scalar (d = 1) or low-dimensional inputs. Multivariate bases are tensor products of the 1-d functions, the
  multi-indices ordered by total index, then lexicographically; the first m are kept. Each 1-d function is scaled
  to unit mean square under its reference measure (uniform on [-1, 1]; arcsine for Chebyshev) so that tau means
  the same as for Gaussian features.

Tokens are unit-norm by default, as the theory assumes (``unit_norm=False`` keeps them raw). For the explicit
bases the tokens are the inputs themselves: uniform on the unit sphere S^{d-1} (needs d >= 2) when unit-norm,
uniform on the cube [-1, 1]^d otherwise.

Coefficients: ``"in"`` (training and in-domain tests) lambda ~ N(0, I_m); ``"ood"`` lambda ~ N(1_m, 4 I_m).
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import Array

from iclab.validation import UserInputError, check_choice, check_int, check_nonnegative

BASES = ("gaussian", "fourier", "chebyshev", "legendre", "monomial")
DOMAINS = {"in": (0.0, 1.0), "ood": (1.0, 4.0)}  # (mean, variance) of every coefficient


class Dictionary(eqx.Module):
    """The fixed dictionary.

    tokens: (K, d)  the tokens v_k the attention sees
    reps:   (K, m)  their representations z_k = f(v_k) (the paper's Z~ is ``reps.T``)
    """

    tokens: Array
    reps: Array
    basis: str = eqx.field(static=True)

    @property
    def K(self) -> int:
        return self.tokens.shape[0]

    @property
    def d(self) -> int:
        return self.tokens.shape[1]

    @property
    def m(self) -> int:
        return self.reps.shape[1]


@eqx.filter_jit  # one compiled program instead of many eager ops (sizes and flags are static)
def make_dictionary(key: Array, K: int, d: int, m: int, *, basis: str = "gaussian", unit_norm: bool = True,
                    dtype=jnp.float32) -> Dictionary:
    """Draw a dictionary of K distinct tokens in R^d with m-dimensional representations."""
    K = check_int("K", K, lo=2)
    d = check_int("d", d, lo=1)
    m = check_int("m", m, lo=1)
    check_choice("basis", basis, BASES)
    k_tok, k_rep = jax.random.split(key)
    if basis == "gaussian":
        tokens = jax.random.normal(k_tok, (K, d), dtype)
        if unit_norm:
            tokens = tokens / jnp.linalg.norm(tokens, axis=-1, keepdims=True)
        return Dictionary(tokens, jax.random.normal(k_rep, (K, m), dtype), basis)
    if unit_norm:
        if d < 2:
            raise UserInputError("d must be >= 2 for unit-norm tokens with an explicit basis (scalar unit-norm tokens "
                             "are all +-1); pass unit_norm=False for scalar inputs (got d = 1)")
        x = jax.random.normal(k_tok, (K, d), dtype)
        x = x / jnp.linalg.norm(x, axis=-1, keepdims=True)
    else:
        x = jax.random.uniform(k_tok, (K, d), dtype, -1.0, 1.0)
    return Dictionary(x, basis_features(x, m, basis), basis)


def basis_features(x: Array, m: int, basis: str) -> Array:
    """The first m tensor-product basis functions at points x: (..., d) -> (..., m)."""
    check_choice("basis", basis, BASES[1:])
    d = x.shape[-1]
    idx = multi_indices(d, m)
    top = max(max(a) for a in idx) + 1
    table = _basis_1d(x, top, basis)  # (..., d, top)
    cols = [jnp.prod(jnp.stack([table[..., i, a[i]] for i in range(d)], -1), -1) for a in idx]
    return jnp.stack(cols, -1)


def multi_indices(d: int, m: int) -> list[tuple[int, ...]]:
    """The first m multi-indices in d variables, by total index then lexicographically (descending)."""
    out: list[tuple[int, ...]] = []
    total = 0
    while len(out) < m:
        level = [a for a in itertools.product(range(total + 1), repeat=d) if sum(a) == total]
        out.extend(sorted(level, reverse=True))
        total += 1
    return out[:m]


def _basis_1d(x: Array, n: int, basis: str) -> Array:
    """The first n 1-d functions, unit mean square under the reference measure: (...,) -> (..., n)."""
    if basis == "fourier":  # 1, sqrt2 cos(pi x), sqrt2 sin(pi x), sqrt2 cos(2 pi x), ...
        j = jnp.arange(n)
        freq = (j + 1) // 2
        arg = jnp.pi * freq * x[..., None]
        vals = jnp.where(j % 2 == 1, jnp.cos(arg), jnp.sin(arg)) * jnp.sqrt(2.0)
        return jnp.where(j == 0, jnp.ones_like(vals), vals)
    if basis == "monomial":  # sqrt(2j+1) x^j
        j = jnp.arange(n)
        return x[..., None] ** j * jnp.sqrt(2.0 * j + 1)
    # three-term recurrences: T_{j+1} = 2x T_j - T_{j-1};  (j+1) P_{j+1} = (2j+1) x P_j - j P_{j-1}
    cols = [jnp.ones_like(x), x]
    for j in range(1, n - 1):
        if basis == "chebyshev":
            cols.append(2 * x * cols[j] - cols[j - 1])
        else:
            cols.append(((2 * j + 1) * x * cols[j] - j * cols[j - 1]) / (j + 1))
    vals = jnp.stack(cols[:n], -1)
    j = jnp.arange(n)
    scale = jnp.where(j == 0, 1.0, jnp.sqrt(2.0)) if basis == "chebyshev" else jnp.sqrt(2.0 * j + 1)
    return vals * scale


class TemplatePrompts(NamedTuple):
    """A batch of template-task prompts.

    lam: (batch, m)  the task coefficients
    y:   (batch, K)  the noisy labels of all K tokens; the prompt shows ``y[:, :N]``, the targets are all of ``y``
    """

    lam: Array
    y: Array


class TemplateTask(eqx.Module):
    """Prompts over a fixed dictionary: the first N tokens labelled, noise variance tau per representation
    coordinate."""

    dictionary: Dictionary
    N: int = eqx.field(static=True)
    tau: float = eqx.field(static=True)

    def __init__(self, dictionary: Dictionary, N: int, tau: float):
        self.dictionary = dictionary
        self.N = check_int("N", N, lo=1, hi=dictionary.K - 1)
        self.tau = float(check_nonnegative("tau", tau))

    @eqx.filter_jit
    def sample(self, key: Array, batch: int, *, domain: str = "in") -> TemplatePrompts:
        """``batch`` prompts with coefficients from ``domain`` ("in": N(0, I); "ood": N(1, 4I))."""
        k_lam, k_eps = jax.random.split(key)
        lam = sample_coefficients(k_lam, batch, self.dictionary.m, domain, self.dictionary.reps.dtype)
        return self.labels(k_eps, lam)

    def labels(self, key: Array, lam: Array) -> TemplatePrompts:
        """Noisy labels of every token for given coefficients lam (batch, m)."""
        reps = self.dictionary.reps
        eps = jax.random.normal(key, (lam.shape[0], *reps.shape), reps.dtype) * jnp.sqrt(self.tau)
        y = jnp.einsum("bkm,bm->bk", reps[None] + eps, lam)
        return TemplatePrompts(lam=lam, y=y)


def sample_coefficients(key: Array, batch: int, m: int, domain: str = "in", dtype=jnp.float32) -> Array:
    """Task coefficients lambda: (batch, m), i.i.d. N(mean, var) per entry with (mean, var) from ``domain``."""
    mean, var = DOMAINS[check_choice("domain", domain, DOMAINS)]
    return mean + jnp.sqrt(var) * jax.random.normal(key, (batch, m), dtype)
