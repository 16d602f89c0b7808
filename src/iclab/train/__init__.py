"""Training: optax optimisers, seed ensembles compiled as one program, fresh or stored data, checkpoints.

- :func:`train_fresh` (fresh prompts each step) and :func:`train_fixed` (per-seed stored data), with
  :class:`TrainResult`, ``stop_when`` budgets :func:`step_budget`, :func:`time_budget`, :func:`loss_target`, and
  :class:`Checkpointing` (:mod:`.loop`)
- :func:`fresh_prompts`, :func:`minibatches`, :func:`fixed_sampler` (:mod:`.data`): samplers
- :func:`make_optimizer`, :func:`schedule` (:mod:`.optim`)
- :func:`save_checkpoint`, :func:`load_checkpoint` (:mod:`.checkpoint`)
- :func:`cpu_seconds`, :func:`gpu_seconds` (:mod:`.cost`): measured-rate estimates for paper-scale dry runs
- :mod:`iclab.train.run` (imported on its own): ``iclab train``'s typed config, task, data, resume and
  outputs
"""

from iclab.train.checkpoint import load_checkpoint, save_checkpoint
from iclab.train.cost import cpu_seconds, gpu_seconds
from iclab.train.data import fixed_sampler, fresh_prompts, minibatches
from iclab.train.loop import (
    Checkpointing,
    NonFiniteLossError,
    Progress,
    TrainResult,
    loss_target,
    per_seed,
    seed_keys,
    step_budget,
    time_budget,
    train_fixed,
    train_fresh,
)
from iclab.train.optim import make_optimizer, schedule

__all__ = ["Checkpointing", "NonFiniteLossError", "Progress", "TrainResult", "cpu_seconds", "fixed_sampler",
           "fresh_prompts", "gpu_seconds", "load_checkpoint", "loss_target", "make_optimizer", "minibatches",
           "per_seed", "save_checkpoint", "schedule", "seed_keys", "step_budget", "time_budget", "train_fixed",
           "train_fresh"]
