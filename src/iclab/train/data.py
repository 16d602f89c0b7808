"""Training data streams: fresh prompts each step, or minibatches of a fixed pretraining set.

A ``sample`` function maps the step key ``fold_in(data_key, t)`` to one batch (any PyTree). For a pretraining set
that differs per seed, :func:`train_ensemble` takes a ``dataset`` builder and calls ``sample(key, data)``;
:func:`minibatches` makes such a function.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
from jax import Array

from iclab.validation import UserInputError, check_int


def _size(data) -> int:
    sizes = {x.shape[0] for x in jax.tree_util.tree_leaves(data)}
    if len(sizes) != 1:
        raise ValueError(f"dataset leaves must share their leading (example) axis (got sizes {sorted(sizes)})")
    return sizes.pop()


def minibatches(batch_size: int | None = None, *, replace: bool = False) -> Callable[[Array, object], object]:
    """``sample(key, data)`` drawing ``batch_size`` examples of ``data`` (leading axis) from ``key``;
    ``batch_size=None`` gives the full batch (full-batch training: the key is unused)."""
    if batch_size is not None:
        check_int("batch_size", batch_size, lo=1)

    def sample(key: Array, data):
        n = _size(data)
        if batch_size is None:
            return data
        if not replace and batch_size > n:
            raise UserInputError(f"batch_size must be <= the dataset size {n} without replacement (got {batch_size})")
        idx = jax.random.choice(key, n, (batch_size,), replace=replace)
        return jax.tree_util.tree_map(lambda x: x[idx], data)

    return sample


def fixed_sampler(data, batch_size: int | None = None, *, replace: bool = False) -> Callable[[Array], object]:
    """``sample(key)`` over one fixed dataset shared by every seed (minibatch indices from the step key)."""
    _size(data)
    draw = minibatches(batch_size, replace=replace)
    return lambda key: draw(key, data)
