"""Nonlinear rotation-invariant regression prompts (Mahankali et al. 2023, Thm 3).

x ~ N(0, I_d); a fresh random function f per prompt whose law is rotation invariant (x -> f(Ux) has the law of f
for every orthogonal U); y = f(x) + eps with eps ~ N(0, sigma2) on every label, query included.

- :class:`ReLUTeacher`: f(x) = k^-1/2 sum_j a_j ReLU(u_j' x), u_j ~ N(0, weight_var I_d), a_j ~ N(0, 1);
  invariant because the rows u_j are isotropic Gaussian (u_j' U has the law of u_j').
- :class:`RotatedFunction`: f(x) = g(U x) for a user-supplied g and a Haar-random rotation U per prompt.

``Prompts.w`` holds beta_f = E_x[f(x) x], the first Hermite coefficient (best linear fit) of the prompt's function,
which is what the optimal one-layer LSA learns about f (:func:`iclab.theory.mahankali2023.nonlinear_eta_star`).
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import Array

from iclab.tasks.base import Prompts
from iclab.validation import check_int, check_nonnegative, check_positive


def _labels(f_vals: Array, key: Array, sigma2: float) -> Array:
    return f_vals + jnp.sqrt(sigma2) * jax.random.normal(key, f_vals.shape)


def _split(x: Array, y: Array, beta: Array) -> Prompts:
    return Prompts(xs=x[:, :-1], ys=y[:, :-1], xq=x[:, -1], yq=y[:, -1], w=beta)


class ReLUTeacher(eqx.Module):
    """Random one-hidden-layer ReLU networks of width ``width`` as in-context regression tasks.

    f(x) = width^-1/2 sum_j a_j ReLU(u_j' x), u_j ~ N(0, weight_var I_d) (default weight_var = 1/d, so |u_j| ~ 1),
    a_j ~ N(0, 1); y = f(x) + N(0, sigma2). Exact moments: :func:`iclab.theory.mahankali2023.relu_teacher_moments`.
    """

    d: int = eqx.field(static=True)
    ell: int = eqx.field(static=True)
    width: int = eqx.field(static=True)
    sigma2: float = eqx.field(static=True)
    weight_var: float = eqx.field(static=True)

    def __init__(self, d: int, ell: int, width: int, *, sigma2: float = 0.0, weight_var: float | None = None):
        self.d = check_int("d", d, lo=1)
        self.ell = check_int("ell", ell, lo=1)
        self.width = check_int("width", width, lo=1)
        self.sigma2 = float(check_nonnegative("sigma2", sigma2))
        self.weight_var = 1.0 / self.d if weight_var is None else float(check_positive("weight_var", weight_var))

    def sample_functions(self, key: Array, batch: int) -> tuple[Array, Array]:
        """First-layer rows u (batch, width, d) and output weights a (batch, width)."""
        k_u, k_a = jax.random.split(key)
        u = jnp.sqrt(self.weight_var) * jax.random.normal(k_u, (batch, self.width, self.d))
        return u, jax.random.normal(k_a, (batch, self.width))

    def sample(self, key: Array, batch: int) -> Prompts:
        """Prompts: xs (batch, ell, d), ys (batch, ell), xq (batch, d), yq (batch,), w = beta_f (batch, d)."""
        k_f, k_x, k_eps = jax.random.split(key, 3)
        u, a = self.sample_functions(k_f, batch)
        x = jax.random.normal(k_x, (batch, self.ell + 1, self.d))
        hidden = jax.nn.relu(jnp.einsum("bld,bjd->blj", x, u))
        f_vals = jnp.einsum("blj,bj->bl", hidden, a) / jnp.sqrt(self.width)
        beta = jnp.einsum("bj,bjd->bd", a, u) / (2 * jnp.sqrt(self.width))  # Stein: E[ReLU(u'x) x] = u / 2
        return _split(x, _labels(f_vals, k_eps, self.sigma2), beta)


def haar_orthogonal(key: Array, batch: int, d: int) -> Array:
    """Haar-distributed orthogonal matrices (batch, d, d): QR of a Gaussian matrix with the signs of R's diagonal
    moved into Q (without that fix Q is not Haar)."""
    q, r = jnp.linalg.qr(jax.random.normal(key, (batch, d, d)))
    return q * jnp.sign(jnp.diagonal(r, axis1=-2, axis2=-1))[:, None, :]


class RotatedFunction(eqx.Module):
    """f(x) = g(U x) with U Haar-random per prompt: any g becomes a rotation-invariant task.

    g maps (..., d) -> (...) and must be jittable. ``beta`` (d,) is g's first Hermite coefficient E[g(z) z],
    z ~ N(0, I) (then beta_f = U' beta is written to ``Prompts.w``); if not given, ``w`` is NaN: estimate what
    you need from the samples (:func:`iclab.theory.mahankali2023.moments_from_samples` needs no beta).
    """

    fn: Callable[[Array], Array] = eqx.field(static=True)
    d: int = eqx.field(static=True)
    ell: int = eqx.field(static=True)
    sigma2: float = eqx.field(static=True)
    beta: Array | None

    def __init__(self, fn: Callable[[Array], Array], d: int, ell: int, *, sigma2: float = 0.0, beta=None):
        if not callable(fn):
            raise ValueError(f"fn must be a callable (..., d) -> (...) (got {type(fn).__name__})")
        self.fn = fn
        self.d = check_int("d", d, lo=1)
        self.ell = check_int("ell", ell, lo=1)
        self.sigma2 = float(check_nonnegative("sigma2", sigma2))
        if beta is not None:
            beta = jnp.asarray(beta, dtype=float)
            if beta.shape != (self.d,):
                raise ValueError(f"beta must have shape ({self.d},) (got {beta.shape})")
        self.beta = beta

    def sample(self, key: Array, batch: int) -> Prompts:
        """A batch of prompts in the layout of :class:`iclab.tasks.Prompts`; w = U' beta (NaN without beta)."""
        k_u, k_x, k_eps = jax.random.split(key, 3)
        rot = haar_orthogonal(k_u, batch, self.d)
        x = jax.random.normal(k_x, (batch, self.ell + 1, self.d))
        f_vals = self.fn(jnp.einsum("bij,blj->bli", rot, x))
        if f_vals.shape != x.shape[:2]:
            raise ValueError(f"fn must map (..., d) to (...) (got output shape {f_vals.shape} for {x.shape})")
        if self.beta is None:
            beta = jnp.full((batch, self.d), jnp.nan)
        else:
            beta = jnp.einsum("bij,i->bj", rot, self.beta)
        return _split(x, _labels(f_vals, k_eps, self.sigma2), beta)
