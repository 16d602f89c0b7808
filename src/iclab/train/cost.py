"""Estimated CPU time of training runs, from measured step times: ``iclab reproduce FIGURE --scale paper --dry-run``.

One optimiser step of one model on one CPU core is modelled as

    t_step = STEP_OVERHEAD_S + 3 * batch * forward_flops(model, d, ell) / CPU_FLOPS        (forward + backward)

calibrated on the Lu Fig. 5C model (``softmax_2block_mlp``, 3,861 parameters, d = 20, ell = 20, AdamW, a fixed set
of 800 contexts, minibatch indices drawn with replacement), 2-core AMD EPYC, JAX 0.10.2, 2026-12-02:

- marginal step times 2.1 / 3.9 / 13.2 ms at batch 20 / 80 / 320 (one seed, every block on every token;
  measured unloaded the same day for issue 12): 37 us per prompt, i.e. 3 x 222 kFLOP / 37 us = 18 GFLOP/s;
- the forward+backward of one prompt costs 0.15 ms at batch 1 (``benchmarks/bench_train.py --fig5-parts``
  method, under load): the per-step overhead of ~200 small XLA kernels, AdamW and the index draw included;
- the final block computing the query token only cuts the forward FLOPs from 222 k to 157 k; measured 1.4-1.6x
  faster forward+backward, consistent with the FLOP ratio 1.42 that this model predicts.
- check: ``bench_train.py`` (2026-12-02 11:07 UTC, load ~2) measured iclab's engine at 1,323 model-steps/s on
  2 cores (one seed per process: 1.5 ms per step and core) where this model predicts 2.2 ms, so the
  estimates are conservative by about 1.5x on an idle machine (and optimistic under heavy load).

Other models and sizes are extrapolated by their FLOP counts at the same rate: treat the estimates as +-50%
(elementwise work such as LayerNorm and softmax scales with the token count, not the FLOPs). Seeds cost linearly:
a vmapped ensemble measured 0.8-1.3x the per-model-step time of one seed (``bench_train.py``). No GPU rate has
been measured yet (:data:`GPU_STEPS_PER_S` is empty; ``benchmarks/gpu_check.py`` measures one).
"""

from __future__ import annotations

import math

import jax

from iclab.models import MODELS, build_model
from iclab.validation import UserInputError, check_int

CPU_FLOPS = 18e9  # forward+backward FLOP/s of one core on these small models (calibration above)
STEP_OVERHEAD_S = 1.5e-4  # seconds per step and model, independent of the batch (calibration above)
# (model, d, ell, batch) -> measured model-steps/s on one accelerator; filled from benchmarks/gpu_check.py runs
GPU_STEPS_PER_S: dict[tuple[str, int, int, int], float] = {}


def forward_flops(model: str, d: int, ell: int, **options) -> float:
    """Matmul FLOPs (2 per multiply-add) of one prompt's forward pass of model ``model`` (a :data:`MODELS` name
    with its keyword ``options``), counted from the dot_generals of its jaxpr at batch 1 (nothing is compiled).

    For the softmax models (the authors' model types of Lu et al. 2024, Figs. 5-6; width h, T = ell + 1 tokens
    of size d + 1) this is: embed 2T(d+1)h; per block Q, K, V 6Th^2, scores and weighted sum 4T^2 h, linear MLP
    2Th^2; the final block for the query token only (K, V 4Th^2, Q and MLP 2h^2 each, scores and sum 4Th);
    readout 2h.
    """
    if model not in MODELS:
        raise UserInputError(f"model must be one of {', '.join(MODELS)} (got {model!r})")
    d, ell = check_int("d", d, lo=1), check_int("ell", ell, lo=1)
    xs, ys, xq = (jax.ShapeDtypeStruct(s, "float32") for s in ((1, ell, d), (1, ell), (1, d)))
    net = jax.eval_shape(lambda: build_model(model, d, key=jax.random.PRNGKey(0), **options))
    return float(jaxpr_matmul_flops(jax.make_jaxpr(lambda m, a, b, c: m(a, b, c))(net, xs, ys, xq).jaxpr))


def jaxpr_matmul_flops(jaxpr) -> int:
    """2 × (output size) × (contracted size) summed over every dot_general of a jaxpr, nested calls included."""
    total = 0
    for eq in jaxpr.eqns:
        if eq.primitive.name == "dot_general":
            (contract, _), _ = eq.params["dimension_numbers"]
            lhs = eq.invars[0].aval.shape
            total += 2 * math.prod(eq.outvars[0].aval.shape) * math.prod(lhs[i] for i in contract)
        for param in eq.params.values():  # nested calls (pjit, custom_jvp, scan bodies)
            for sub in param if isinstance(param, (list, tuple)) else [param]:
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    total += jaxpr_matmul_flops(inner)
    return total


def step_seconds(model: str, d: int, ell: int, batch: int, **options) -> float:
    """Estimated seconds of one optimiser step of one model on one CPU core (forward + backward + update)."""
    batch = check_int("batch", batch, lo=1)
    return STEP_OVERHEAD_S + 3.0 * batch * forward_flops(model, d, ell, **options) / CPU_FLOPS


def cpu_seconds(model: str, d: int, ell: int, batch: int, steps: int, seeds: int = 1, **options) -> float:
    """Estimated CPU-seconds (one core) to train ``seeds`` models for ``steps`` steps of ``batch`` prompts.

    ``options``: the model's keyword options (:func:`iclab.models.model_options`). See the module docstring for
    the measurement behind it and its accuracy (+-50%)."""
    steps, seeds = check_int("steps", steps, lo=1), check_int("seeds", seeds, lo=1)
    return steps * seeds * step_seconds(model, d, ell, batch, **options)


def gpu_seconds(model: str, d: int, ell: int, batch: int, steps: int, seeds: int = 1) -> float | None:
    """Estimated accelerator seconds from a measured rate of the same (model, d, ell, batch); None if none."""
    rate = GPU_STEPS_PER_S.get((model, d, ell, batch))
    if rate is None:
        return None
    return check_int("steps", steps, lo=1) * check_int("seeds", seeds, lo=1) / rate


def cpu_hours(seconds: float) -> float:
    """Seconds to hours, rounded up to 0.1 h (for printing estimates)."""
    return math.ceil(seconds / 360.0) / 10.0
