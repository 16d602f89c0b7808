"""Linear-regression prompts y = <x, w> + eps, with every normalisation explicit.

Conventions:

- Lu et al. 2024:        x ~ N(0, I/d), w on the sphere |w| = sqrt(d) (the authors' linear-model simulations) or
                         N(0, I) (their dMMSE and Transformer code), eps ~ N(0, rho); a finite pool of k tasks
                         (balanced or uniform assignment) or fresh tasks (kappa = inf).
- Mahankali et al. 2023: x ~ N(0, Sigma), w ~ N(0, Sigma^-1) (the prior of their Thm 2) or N(0, I) (Ahn et al. 2023;
                         Zhang, Frei, Bartlett 2024), eps ~ N(0, sigma^2), fresh task per prompt.

All sampling is pure: a JAX key in, arrays out; the task object is an Equinox module (a PyTree), so ``sample``
can run inside ``jit``/``vmap``/``lax.scan``.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from iclab.tasks.base import Prompts
from iclab.validation import check_choice, check_int, check_nonnegative, check_positive, check_spd

PRIORS = ("gaussian", "sphere")
PRIOR_COVS = ("identity", "inverse")


class LinearRegression(eqx.Module):
    """Linear-regression prompts with context length ``ell`` in dimension ``d``.

    x = sqrt(x_scale) * Sigma^(1/2) z with z ~ N(0, I_d); w ~ prior; y = <x, w> + N(0, noise).
    ``prior`` is "gaussian" (w ~ N(0, C)) or "sphere" (w uniform on the sphere of radius sqrt(d), then mapped by
    C^(1/2)); C = I ("identity") or Sigma^-1 ("inverse").
    """

    d: int = eqx.field(static=True)
    ell: int = eqx.field(static=True)
    noise: float = eqx.field(static=True)
    x_scale: float = eqx.field(static=True)
    prior: str = eqx.field(static=True)
    prior_cov: str = eqx.field(static=True)
    cov_sqrt: Array | None  # (d, d) Sigma^(1/2), None for the identity
    cov: Array | None  # (d, d) Sigma, None for the identity

    def __init__(self, d: int, ell: int, *, noise: float = 0.0, x_scale: float = 1.0, cov=None,
                 prior: str = "gaussian", prior_cov: str = "identity"):
        self.d = check_int("d", d, lo=1)
        self.ell = check_int("ell", ell, lo=1)
        self.noise = float(check_nonnegative("noise", noise))
        self.x_scale = float(check_positive("x_scale", x_scale))
        self.prior = check_choice("prior", prior, PRIORS)
        self.prior_cov = check_choice("prior_cov", prior_cov, PRIOR_COVS)
        if cov is None:
            self.cov = self.cov_sqrt = None
        else:
            cov = check_spd("cov", cov, self.d)
            vals, vecs = np.linalg.eigh(cov)
            self.cov = jnp.asarray(cov)
            self.cov_sqrt = jnp.asarray((vecs * np.sqrt(vals)) @ vecs.T)

    # --- the papers' conventions -------------------------------------------------------------------------
    @classmethod
    def lu2024(cls, d: int, ell: int, rho: float, *, prior: str = "sphere") -> LinearRegression:
        """Lu et al.: x ~ N(0, I/d), |w|^2 = d (sphere, as in their linear simulations) or w ~ N(0, I)."""
        return cls(d, ell, noise=rho, x_scale=1.0 / d, prior=prior)

    @classmethod
    def mahankali2023(cls, d: int, n: int, sigma2: float, *, cov=None, prior_cov: str = "inverse"):
        """Mahankali et al.: x ~ N(0, Sigma), w ~ N(0, Sigma^-1) (``prior_cov="inverse"``) or N(0, I)."""
        return cls(d, n, noise=sigma2, x_scale=1.0, cov=cov, prior="gaussian", prior_cov=prior_cov)

    # --- sampling ------------------------------------------------------------------------------------------
    def sample_tasks(self, key: Array, n: int) -> Array:
        """n task vectors from the prior: (n, d)."""
        # the (n, d) draw is small; drawn flat, XLA rounds the sphere normalisation differently (1 ulp)
        z = jax.random.normal(key, (n, self.d))
        if self.prior == "sphere":
            z = z * jnp.sqrt(self.d) / jnp.linalg.norm(z, axis=-1, keepdims=True)
        if self.prior_cov == "inverse" and self.cov is not None:
            # w = Sigma^(-1/2) z  has covariance Sigma^-1
            z = jnp.linalg.solve(self.cov_sqrt, z.T).T
        return z

    def sample_inputs(self, key: Array, shape: tuple[int, ...]) -> Array:
        """Inputs x with covariance x_scale * Sigma: shape + (d,)."""
        z = normal(key, (*shape, self.d)) * jnp.sqrt(self.x_scale)
        return z if self.cov_sqrt is None else z @ self.cov_sqrt.T

    def sample(self, key: Array, batch: int, *, pool: Array | None = None, assignment: str = "uniform") -> Prompts:
        """A batch of prompts. With ``pool`` (k, d) each prompt takes a task from the pool ("uniform": i.i.d.
        uniform index; "balanced": every task used batch // k or batch // k + 1 times, in random order);
        without it every prompt gets a fresh task (kappa = inf)."""
        k_task, k_x, k_eps = jax.random.split(key, 3)
        if pool is None:
            w = self.sample_tasks(k_task, batch)
        else:
            w = pool[task_indices(k_task, batch, pool.shape[0], assignment)]
        x = self.sample_inputs(k_x, (batch, self.ell + 1))  # (batch, ell+1, d)
        y = jnp.einsum("bld,bd->bl", x, w)
        y = y + jnp.sqrt(self.noise) * normal(k_eps, y.shape)
        return Prompts(xs=x[:, :-1], ys=y[:, :-1], xq=x[:, -1], yq=y[:, -1], w=w)


def normal(key: Array, shape: tuple[int, ...]) -> Array:
    """Standard normals of ``shape``, drawn as one flat vector and reshaped.

    The numbers equal ``jax.random.normal(key, shape)`` bit for bit (threefry's counter is the row-major index), but
    XLA CPU vectorises the 1-D draw far better than a multi-axis one with short minor axes such as (batch, ell+1, d):
    measured 4.5x faster for (256, 11, 10) on one core, which made sampling the largest part of a training step.
    """
    return jax.random.normal(key, (math.prod(shape),)).reshape(shape)


def task_indices(key: Array, batch: int, k: int, assignment: str = "uniform") -> Array:
    """Pool index of each of ``batch`` prompts: (batch,) ints in [0, k)."""
    check_choice("assignment", assignment, ("uniform", "balanced"))
    if assignment == "uniform":
        return jax.random.randint(key, (batch,), 0, k)
    return jax.random.permutation(key, jnp.arange(batch) % k)


def sample_pool(task: LinearRegression, key: Array, k: int) -> Array:
    """A finite pool of k tasks from the task's prior: (k, d). (Lu et al.'s task diversity kappa = k / d.)"""
    return task.sample_tasks(key, check_int("k", k, lo=1))
