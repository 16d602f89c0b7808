"""The batch layout shared by tasks, estimators and models."""

from typing import NamedTuple

from jax import Array


class Prompts(NamedTuple):
    """A batch of in-context regression prompts.

    xs: (batch, ell, d)  context inputs
    ys: (batch, ell)     context labels
    xq: (batch, d)       query input
    yq: (batch,)         query target (noisy, like the context labels)
    w:  (batch, d)       the task vector of each prompt (for estimators that know the prior, and diagnostics)
    """

    xs: Array
    ys: Array
    xq: Array
    yq: Array
    w: Array
