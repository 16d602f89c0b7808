"""A rough peak-memory estimate of a training run (``iclab train``), checked before any array is allocated.

The model's parameter count comes from ``jax.eval_shape`` of its constructor (shapes only, nothing allocated).
Per seed, float32 (4 bytes):

- parameters x 6: the parameters, their gradients, two Adam moments, the update and the scan carry's copy;
- the pretraining set: ``n_train`` prompts of (ell + 1) tokens of d + 1 entries;
- activations: ``ACTIVATION_FACTOR`` copies of the largest batch (training batch or held-out set) of prompts,
  and one (ell + 1)^2 attention matrix per prompt and head.

It is an order-of-magnitude guard (a run that needs terabytes is refused in a line instead of ending in an
allocator error), not a prediction of the peak to a few percent.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax

from iclab.resources import check_memory

FLOAT = 4
ACTIVATION_FACTOR = 16


def training_bytes(init: Callable, *, d: int, ell: int, seeds: int, batch: int, n_train: int, n_test: int,
                   heads: int = 1) -> float:
    """Estimated peak bytes of training ``seeds`` models built by ``init(key)`` (see the module docstring)."""
    shapes = jax.eval_shape(init, jax.random.PRNGKey(0))
    n_params = sum(math.prod(x.shape) for x in jax.tree_util.tree_leaves(shapes) if hasattr(x, "shape"))
    prompt = (ell + 1) * (d + 1)
    rows = max(batch, n_test)
    per_seed = (6 * n_params + n_train * prompt + ACTIVATION_FACTOR * rows * prompt
                + rows * heads * (ell + 1) ** 2)
    return float(FLOAT * seeds * per_seed)


def check_training(init: Callable, *, d: int, ell: int, seeds: int, batch: int, n_train: int, n_test: int,
                   heads: int = 1) -> float:
    """Refuse (one line naming d, the seeds and the estimate) a training run that would not fit in memory."""
    need = training_bytes(init, d=d, ell=ell, seeds=seeds, batch=batch, n_train=n_train, n_test=n_test,
                          heads=heads)
    check_memory(need, f"training with d = {d}, ell = {ell}, {seeds} seeds, batch {batch} and n_train {n_train}",
                 "lower d, ell, the seeds, the batch or n_train")
    return need
