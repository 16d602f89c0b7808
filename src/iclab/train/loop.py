"""Seed ensembles trained as one compiled program: ``vmap`` over seeds inside ``lax.scan`` over steps.

Two entry points, one call shape each:

- :func:`train_fresh`: fresh prompts every step, ``sample(key) -> batch``; ``evaluate(model, key) -> metrics``;
- :func:`train_fixed`: per-seed stored data (a pretraining set, a task pool) stacked along a leading seed axis
  (:func:`per_seed` builds it from the seeds' dataset keys); ``sample(key, data) -> batch`` sees one seed's data
  (:func:`iclab.train.minibatches` draws minibatches of it); ``evaluate(model, key, data)``.

Both take ``init(key) -> model`` and ``loss(model, batch) -> scalar``, and may stop early: ``stop_when(progress)``
is asked at every record (:func:`step_budget`, :func:`time_budget`, :func:`loss_target`).

**Compiled programs are reused across calls.** The chunk, evaluation and set-up programs are module-level
``eqx.filter_jit`` functions whose static arguments are the callables (``init``, ``loss``, ``sample``,
``evaluate``, the optimizer), the model's structure and the chunk length; arrays are traced. So pass module-level
functions, or ``jax.tree_util.Partial(function, *args)`` / ``eqx.Module`` callables for functions of data (their
arrays are traced arguments, their other arguments part of the cache key): a second run with the same functions,
hyper-parameters and shapes (another seed, another dictionary of the same size) then compiles nothing. A closure
defined inside a function is a new object on every call: it compiles anew each time. Optimisers come from
:func:`iclab.train.make_optimizer`, which returns the same object for the same hyper-parameters.

Per seed s the keys are split from PRNGKey(s): (init, data, eval, dataset). The batch of step t is
``sample(fold_in(data_key, t))``, so a run is reproducible and resumes exactly; evaluation uses the separate
eval key (the same held-out set at every evaluation), never the training stream.

Steps run in compiled chunks of at most ``chunk`` steps. A *record* closes every ``eval_every`` steps (every chunk
when ``eval_every = 0``) and at the end: it stores the mean minibatch loss of the window, the ``evaluate`` metrics
and, with ``checkpoint``, a checkpoint. Because chunks restart at each record, a run resumed from a checkpoint
executes the same compiled steps as an uninterrupted one (bit for bit on CPU).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as ProgressBar

from iclab.train.checkpoint import load_checkpoint, read_meta, save_checkpoint
from iclab.validation import UserInputError, check_int, check_positive, check_real


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or inf; the last good checkpoint (if any) is kept."""


@dataclass
class TrainResult:
    """The outcome of one training call (S seeds, R records).

    model: the trained models stacked along a leading seed axis; history: (S, R) arrays with ``step``,
    ``train_loss`` (mean minibatch loss of the record's window) and the evaluate metrics, records of a resumed
    checkpoint included; final_loss: (S,) ``train_loss`` of the last record; steps: the step reached (fewer than
    asked when ``stop_when`` ended the run); record_time: (records written by this call,) seconds of training at
    each, compilation excluded; wall_time: seconds of the training loop, compilation included; compile_time: the
    seconds of it spent compiling.
    """

    model: Any
    history: dict[str, np.ndarray]
    final_loss: np.ndarray
    seeds: tuple[int, ...]
    steps: int
    wall_time: float
    steps_per_s: float
    compile_time: float = 0.0
    record_time: np.ndarray = field(default_factory=lambda: np.zeros(0))
    opt_state: Any = field(default=None, repr=False)

    def seed_model(self, i: int):
        """The model of the i-th seed of the ensemble (by position)."""
        return jax.tree_util.tree_map(lambda x: x[i] if eqx.is_array(x) else x, self.model)


@dataclass(frozen=True)
class Progress:
    """What ``stop_when`` sees at a record: the step reached, the seconds of training so far (compilation
    excluded) and the (S,) mean minibatch loss of the record's window."""

    step: int
    elapsed: float
    train_loss: np.ndarray


StopWhen = Callable[[Progress], bool]


def step_budget(steps: int) -> StopWhen:
    """Stop at the first record at or after ``steps`` steps."""
    steps = check_int("steps", steps, lo=1)
    return lambda p: p.step >= steps


def time_budget(seconds: float) -> StopWhen:
    """Stop at the first record after ``seconds`` of training (compilation excluded): a wall-clock budget."""
    seconds = float(check_positive("seconds", seconds))
    return lambda p: p.elapsed >= seconds


def loss_target(loss: float) -> StopWhen:
    """Stop at the first record whose window-mean training loss is <= ``loss`` for every seed."""
    loss = float(check_real("loss", loss, allow_inf=False))
    return lambda p: bool(np.all(p.train_loss <= loss))


@dataclass(frozen=True)
class Checkpointing:
    """Write a checkpoint into ``directory`` at every record and, with ``resume``, continue from the one found
    there (same seeds required); ``meta``: JSON-serialisable data stored with it (``iclab train`` keeps its
    config there)."""

    directory: Path | str
    resume: bool = True
    meta: dict[str, Any] = field(default_factory=dict)


def seed_keys(seed) -> jax.Array:
    """(4, 2) keys of one seed: init, data, eval, dataset."""
    return jax.random.split(jax.random.PRNGKey(seed), 4)


def per_seed(build: Callable[[jax.Array], Any], seeds: int | Sequence[int]) -> Any:
    """``build(dataset key)`` of every seed (the fourth key of :func:`seed_keys`), stacked along a leading seed
    axis: the ``data`` of :func:`train_fixed`."""
    return _build_data(np.asarray(_seeds(seeds), np.uint32), build)


def train_fresh(init: Callable[[jax.Array], eqx.Module], loss: Callable[[eqx.Module, Any], jax.Array],
                sample: Callable[[jax.Array], Any], *, seeds: int | Sequence[int], steps: int | None,
                optimizer: optax.GradientTransformation,
                evaluate: Callable[[eqx.Module, jax.Array], dict[str, jax.Array]] | None = None,
                eval_every: int = 0, chunk: int = 100, stop_when: StopWhen | None = None,
                checkpoint: Checkpointing | None = None, progress: str | None = None) -> TrainResult:
    """Train one model per seed on fresh batches ``sample(fold_in(data key, t))``, all seeds in one program.

    init(key) -> model; loss(model, batch) -> scalar; sample(key) -> batch (any PyTree); evaluate(model, key)
    -> dict of scalars, run at every record. ``steps``: the run's length (``None``: until ``stop_when``);
    ``progress``: the label of a progress bar (None: no bar). Raises :class:`NonFiniteLossError` on a NaN or inf
    loss or parameter.
    """
    return _train(init, loss, sample, None, seeds=seeds, steps=steps, optimizer=optimizer, evaluate=evaluate,
                  eval_every=eval_every, chunk=chunk, stop_when=stop_when, checkpoint=checkpoint, progress=progress)


def train_fixed(init: Callable[[jax.Array], eqx.Module], loss: Callable[[eqx.Module, Any], jax.Array], data: Any,
                sample: Callable[[jax.Array, Any], Any], *, seeds: int | Sequence[int], steps: int | None,
                optimizer: optax.GradientTransformation,
                evaluate: Callable[[eqx.Module, jax.Array, Any], dict[str, jax.Array]] | None = None,
                eval_every: int = 0, chunk: int = 100, stop_when: StopWhen | None = None,
                checkpoint: Checkpointing | None = None, progress: str | None = None) -> TrainResult:
    """Train one model per seed on its own stored data, all seeds in one program.

    data: a PyTree whose leaves carry a leading seed axis (S, ...), e.g. from :func:`per_seed`; seed i's batch of
    step t is ``sample(fold_in(data key, t), data_i)`` (:func:`iclab.train.minibatches`), its evaluation
    ``evaluate(model, eval key, data_i)``. Everything else as :func:`train_fresh`.
    """
    n = len(_seeds(seeds))
    sizes = {x.shape[0] if np.ndim(x) else None for x in jax.tree_util.tree_leaves(data)}
    if sizes != {n}:
        raise UserInputError(f"data must carry a leading seed axis of length {n} on every leaf "
                             f"(got leading sizes {sorted(sizes, key=str)})")
    return _train(init, loss, sample, data, seeds=seeds, steps=steps, optimizer=optimizer, evaluate=evaluate,
                  eval_every=eval_every, chunk=chunk, stop_when=stop_when, checkpoint=checkpoint, progress=progress)


def _seeds(seeds) -> tuple[int, ...]:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        return tuple(range(check_int("seeds", seeds, lo=1)))
    out = tuple(check_int("seed", s, lo=0) for s in seeds)
    if not out:
        raise UserInputError("seeds must be a positive integer or a non-empty list of seeds (got [])")
    if len(set(out)) != len(out):
        raise UserInputError(f"seeds must be distinct (got {list(out)})")
    return out


def _segments(start: int, steps: int | None, every: int, chunk: int) -> Iterator[tuple[int, int, bool]]:
    """(t0, length, closes_record) from ``start`` to ``steps`` (forever if None); records every ``every`` steps
    and at the end."""
    t = start
    while steps is None or t < steps:
        rec_end = (t // every + 1) * every if steps is None else min((t // every + 1) * every, steps)
        while t < rec_end:
            n = min(chunk, rec_end - t)
            yield t, n, t + n == rec_end
            t += n


def _train(init, loss, sample, data, *, seeds, steps, optimizer, evaluate, eval_every, chunk, stop_when, checkpoint,
           progress) -> TrainResult:
    seeds = _seeds(seeds)
    if steps is None and stop_when is None:
        raise UserInputError("steps must be given unless stop_when ends the run (got None)")
    steps = None if steps is None else check_int("steps", steps, lo=1)
    chunk = check_int("chunk", chunk, lo=1)
    every = check_int("eval_every", eval_every, lo=0) or chunk
    n_seeds = len(seeds)

    data_keys, eval_keys, params, static, opt_state = _setup(np.asarray(seeds, np.uint32), init, optimizer)
    fns = {"static": static, "loss": loss, "sample": sample, "optimizer": optimizer}

    history: dict[str, list] = {"step": [], "train_loss": []}
    start = 0
    ckpt = Path(checkpoint.directory) if checkpoint is not None else None
    saved = read_meta(ckpt) if ckpt is not None and checkpoint.resume else None
    if saved is not None:
        if tuple(saved["seeds"]) != seeds:
            raise UserInputError(f"seeds must match the checkpoint in {ckpt} (got {list(seeds)}, "
                                 f"checkpoint has {saved['seeds']})")
        if steps is not None and saved["step"] > steps:
            raise UserInputError(f"steps must be >= the checkpoint's step {saved['step']} (got {steps})")
        (params, opt_state), saved = load_checkpoint(ckpt, (params, opt_state))
        start = int(saved["step"])
        history = {k: list(v) for k, v in saved["history"].items()}

    compile_s, compiled = 0.0, set()

    def ready(fn, *args, **kw):
        """Compile ``fn`` for these arguments outside the training clock (a cache lookup once compiled)."""
        nonlocal compile_s
        key = (fn, kw.get("length"))
        if key not in compiled:
            c0 = time.perf_counter()
            fn.lower(*args, **kw).compile()
            compile_s += time.perf_counter() - c0
            compiled.add(key)
        return fn(*args, **kw)

    t_start = time.perf_counter()
    t = start
    window: list[np.ndarray] = []
    record_time: list[float] = []
    last_good = start if (ckpt is not None and start > 0) else None
    bar = _progress(progress, steps, start)
    first = None  # (step, time) at the end of the first chunk
    try:
        for t0, length, closes in _segments(start, steps, every, chunk):
            new_p, new_s, values, finite = ready(_run_chunk, params, opt_state, data_keys, data,
                                                 jnp.asarray(t0, jnp.int32), length=length, **fns)
            finite = np.asarray(finite)
            if not finite.all():
                values = np.asarray(values)
                bad = [seeds[i] for i in np.flatnonzero(~finite)]
                rows = np.flatnonzero(~np.isfinite(values).all(axis=1))
                at = t0 + (int(rows[0]) if rows.size else length - 1)
                where = f"; last good checkpoint: step {last_good} in {ckpt}" if last_good is not None else ""
                raise NonFiniteLossError(f"training diverged: non-finite loss or parameters at step {at} "
                                         f"for seed(s) {bad}{where}")
            params, opt_state = new_p, new_s
            t = t0 + length
            window.append(np.asarray(values))
            if bar is not None:  # steps/s after the first chunk, which includes compilation
                now = time.perf_counter()
                first = first or (t, now)
                rate = (t - first[0]) / (now - first[1]) if now > first[1] else 0.0
                bar[0].update(bar[1], completed=t, loss=float(window[-1][-1].mean()), sps=rate)
            if not closes:
                continue
            mean_loss = np.concatenate(window).mean(axis=0)
            window = []
            history["step"].append([t] * n_seeds)
            history["train_loss"].append(mean_loss.tolist())
            if evaluate is not None:
                metrics = ready(_evaluate, params, eval_keys, data, static=static, evaluate=evaluate)
                for k, v in metrics.items():
                    history.setdefault(k, []).append(np.asarray(v, dtype=float).reshape(n_seeds).tolist())
            if ckpt is not None:
                save_checkpoint(ckpt, (params, opt_state),
                                {"step": t, "seeds": list(seeds), "steps": steps, "history": history,
                                 "meta": checkpoint.meta})
                last_good = t
            elapsed = time.perf_counter() - t_start - compile_s
            record_time.append(elapsed)
            if stop_when is not None and stop_when(Progress(t, elapsed, mean_loss)):
                break
    finally:
        if bar is not None:
            bar[0].stop()
    wall = time.perf_counter() - t_start
    hist = {k: np.asarray(v, dtype=float).T for k, v in history.items()}  # (S, n_records)
    hist["step"] = hist["step"].astype(int)
    return TrainResult(model=eqx.combine(params, static), history=hist, final_loss=hist["train_loss"][:, -1],
                       seeds=seeds, steps=t, wall_time=wall,
                       steps_per_s=(t - start) / wall if wall > 0 else math.inf, compile_time=compile_s,
                       record_time=np.asarray(record_time), opt_state=opt_state)


@eqx.filter_jit
def _setup(seeds, init, optimizer):
    """Keys, stacked initial models and optimiser states, built in one compiled program."""
    keys = jax.vmap(seed_keys)(seeds)  # (S, 4, 2): init, data, eval, dataset
    params, static = eqx.partition(eqx.filter_vmap(init)(keys[:, 0]), eqx.is_inexact_array)
    opt_state = jax.vmap(optimizer.init)(params)
    return keys[:, 1], keys[:, 2], params, static, opt_state


@eqx.filter_jit
def _build_data(seeds, build):
    return jax.vmap(build)(jax.vmap(seed_keys)(seeds)[:, 3])


@eqx.filter_jit
def _run_chunk(params, opt_state, data_keys, data, t0, *, length, static, loss, sample, optimizer):
    """``length`` optimiser steps t0, t0 + 1, ... of every seed (vmapped); data is None for fresh prompts.
    Returns the new parameters and optimiser states, the (length, S) losses and (S,) all-finite flags."""

    def one_step(p, s, data_key, d, t):
        key = jax.random.fold_in(data_key, t)
        batch = sample(key) if d is None else sample(key, d)
        value, grads = jax.value_and_grad(lambda q: loss(eqx.combine(q, static), batch))(p)
        updates, s = optimizer.update(grads, s, p)
        return optax.apply_updates(p, updates), s, value

    def body(carry, t):
        p, s = carry
        p, s, value = jax.vmap(one_step, in_axes=(0, 0, 0, None if data is None else 0, None))(p, s, data_keys,
                                                                                              data, t)
        return (p, s), value

    (p, s), values = jax.lax.scan(body, (params, opt_state), t0 + jnp.arange(length))
    finite = jnp.all(jnp.isfinite(values), axis=0)
    for leaf in jax.tree_util.tree_leaves(p):
        finite &= jnp.all(jnp.isfinite(leaf.reshape(leaf.shape[0], -1)), axis=1)
    return p, s, values, finite


@eqx.filter_jit
def _evaluate(params, eval_keys, data, *, static, evaluate):
    """evaluate(model, key[, data]) of every seed: a dict of (S,) metrics."""

    def one(p, key, d):
        model = eqx.combine(p, static)
        return evaluate(model, key) if d is None else evaluate(model, key, d)

    return jax.vmap(one, in_axes=(0, 0, None if data is None else 0))(params, eval_keys, data)


def _progress(label: str | None, total: int | None, start: int):
    if label is None:
        return None
    bar = ProgressBar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("loss {task.fields[loss]:.4g}"), TextColumn("{task.fields[sps]:.0f} steps/s"),
                      TimeRemainingColumn())
    task = bar.add_task(label, total=total, completed=start, loss=float("nan"), sps=0.0)
    bar.start()
    return bar, task
