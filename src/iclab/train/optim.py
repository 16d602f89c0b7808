"""Optimisers and learning-rate schedules by name (optax)."""

from __future__ import annotations

from functools import lru_cache

import optax

from iclab.validation import check_choice, check_int, check_nonnegative, check_positive

OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULES = ("constant", "cosine", "warmup_cosine", "linear")


def schedule(lr: float, steps: int, *, kind: str = "constant", warmup: int = 0,
             final_fraction: float = 0.0) -> optax.Schedule:
    """Learning rate against step: constant, cosine decay, warmup + cosine, or linear decay to lr*final_fraction."""
    lr = float(check_positive("lr", lr))
    steps = check_int("steps", steps, lo=1)
    kind = check_choice("schedule", kind, SCHEDULES)
    warmup = check_int("warmup", warmup, lo=0, hi=steps)
    final = lr * float(check_nonnegative("final_fraction", final_fraction))
    if kind == "constant":
        return optax.constant_schedule(lr)
    if kind == "cosine":
        return optax.cosine_decay_schedule(lr, steps, alpha=final / lr)
    if kind == "linear":
        return optax.linear_schedule(lr, final, steps)
    return optax.warmup_cosine_decay_schedule(0.0, lr, max(warmup, 1), steps, end_value=final)


@lru_cache(maxsize=64)
def make_optimizer(name: str = "adamw", lr: float = 1e-3, *, steps: int = 1, schedule_kind: str = "constant",
                   warmup: int = 0, weight_decay: float = 1e-4, b1: float = 0.9, b2: float = 0.999,
                   momentum: float = 0.0, clip: float | None = None) -> optax.GradientTransformation:
    """An optax optimiser. ``adamw`` defaults are the optax ones with weight decay 1e-4 (the optimiser of Lu et
    al. 2024's Transformer experiments, Figs. 5-6, in the authors' code).

    clip: optional global gradient-norm clipping (Ahn et al. clip at 1000).
    Memoised: equal arguments return the same object, so the training programs compiled for it are reused
    (:mod:`iclab.train.loop`).
    """
    name = check_choice("optimizer", name, OPTIMIZERS)
    sched = schedule(lr, steps, kind=schedule_kind, warmup=warmup)
    if name == "adamw":
        opt = optax.adamw(sched, b1=b1, b2=b2, weight_decay=float(check_nonnegative("weight_decay", weight_decay)))
    elif name == "adam":
        opt = optax.adam(sched, b1=b1, b2=b2)
    else:
        opt = optax.sgd(sched, momentum=float(check_nonnegative("momentum", momentum)) or None)
    if clip is not None:
        opt = optax.chain(optax.clip_by_global_norm(float(check_positive("clip", clip))), opt)
    return opt
