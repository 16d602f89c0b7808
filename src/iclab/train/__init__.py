"""Training: optax optimisers, seed ensembles compiled as one program, fixed or fresh data, checkpoints.

- :func:`train_ensemble` / :class:`TrainResult` (:mod:`.loop`)
- :func:`fixed_sampler`, :func:`minibatches` (:mod:`.data`): fixed pretraining sets
- :func:`make_optimizer`, :func:`schedule` (:mod:`.optim`)
- :func:`save_checkpoint`, :func:`load_checkpoint` (:mod:`.checkpoint`)
- :func:`cpu_seconds`, :func:`gpu_seconds` (:mod:`.cost`): measured-rate estimates for paper-scale dry runs
"""

from iclab.train.checkpoint import load_checkpoint, save_checkpoint
from iclab.train.cost import cpu_seconds, gpu_seconds
from iclab.train.data import fixed_sampler, minibatches
from iclab.train.loop import NonFiniteLossError, TrainResult, seed_keys, train_ensemble
from iclab.train.optim import make_optimizer, schedule

__all__ = ["NonFiniteLossError", "TrainResult", "cpu_seconds", "fixed_sampler", "gpu_seconds", "load_checkpoint",
           "make_optimizer", "minibatches", "save_checkpoint", "schedule", "seed_keys", "train_ensemble"]
