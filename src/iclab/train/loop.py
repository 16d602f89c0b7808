"""Seed ensembles trained as one compiled program: ``vmap`` over seeds inside ``lax.scan`` over steps.

Per seed s the keys are split from PRNGKey(s): (init, data, eval, dataset). The batch of step t is
``sample(fold_in(data_key, t))``, so a run is reproducible and resumes exactly; evaluation uses the separate
eval key (the same held-out set at every evaluation), never the training stream.

Steps run in compiled chunks of at most ``chunk`` steps. A *record* closes every ``eval_every`` steps (every chunk
when ``eval_every = 0``) and at the end: it stores the mean minibatch loss of the window, the ``evaluate`` metrics
and, with ``checkpoint_dir``, a checkpoint. Because chunks restart at each record, a run resumed from a checkpoint
executes the same compiled steps as an uninterrupted one (bit for bit on CPU).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from iclab.train.checkpoint import load_checkpoint, read_meta, save_checkpoint
from iclab.validation import UserInputError, check_int


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or inf; the last good checkpoint (if any) is kept."""


@dataclass
class TrainResult:
    """model: the trained models stacked along a leading seed axis; history: (seeds, n_records) arrays with
    ``step``, ``train_loss`` and the evaluate metrics; final_loss: (seeds,) mean minibatch loss of the last window."""

    model: Any
    history: dict[str, np.ndarray]
    final_loss: np.ndarray
    seeds: tuple[int, ...]
    steps: int
    wall_time: float
    steps_per_s: float
    opt_state: Any = field(default=None, repr=False)
    data: Any = field(default=None, repr=False)  # the per-seed pretraining sets (stacked), when ``dataset`` is given

    def seed_model(self, i: int):
        """The model of the i-th seed of the ensemble (by position)."""
        return jax.tree_util.tree_map(lambda x: x[i] if eqx.is_array(x) else x, self.model)


def seed_keys(seed) -> jax.Array:
    """(4, 2) keys of one seed: init, data, eval, dataset."""
    return jax.random.split(jax.random.PRNGKey(seed), 4)


def _seeds(seeds) -> tuple[int, ...]:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        return tuple(range(check_int("seeds", seeds, lo=1)))
    out = tuple(check_int("seed", s, lo=0) for s in seeds)
    if not out:
        raise UserInputError("seeds must be a positive integer or a non-empty list of seeds (got [])")
    if len(set(out)) != len(out):
        raise UserInputError(f"seeds must be distinct (got {list(out)})")
    return out


def _boundaries(start: int, steps: int, every: int, chunk: int) -> list[tuple[int, int, bool]]:
    """(t0, length, closes_record) segments from start to steps; records every ``every`` steps and at the end."""
    out = []
    t = start
    while t < steps:
        rec_end = min((t // every + 1) * every, steps)
        while t < rec_end:
            n = min(chunk, rec_end - t)
            out.append((t, n, t + n == rec_end))
            t += n
    return out


def train_ensemble(init: Callable[[jax.Array], eqx.Module], loss: Callable[[eqx.Module, Any], jax.Array],
                   sample: Callable[..., Any], *, seeds: int | Sequence[int], steps: int,
                   optimizer: optax.GradientTransformation, chunk: int = 100,
                   evaluate: Callable[..., dict[str, jax.Array]] | None = None,
                   eval_every: int = 0, checkpoint_dir: Path | str | None = None, progress: bool = True,
                   dataset: Callable[[jax.Array], Any] | None = None, resume: bool = True,
                   meta: dict[str, Any] | None = None, description: str = "train") -> TrainResult:
    """Train one model per seed, all seeds in one vmapped, jit-compiled ``lax.scan`` program.

    init(key) -> model; loss(model, batch) -> scalar; sample(key) -> batch, or sample(key, data) -> batch when a
    per-seed pretraining set ``dataset(key) -> data`` is given (see :func:`iclab.train.minibatches`); ``dataset``
    may also be the data itself, already stacked along a leading seed axis (members that differ in more than
    their key, e.g. in the pretraining-set size, built by the caller).
    evaluate(model, key) -> dict of scalars, run at every record; evaluate(model, key, data) with a ``dataset``.
    With ``checkpoint_dir`` a checkpoint is written at every record and, if ``resume``, training continues from
    the one found there (same seeds required).
    Raises :class:`NonFiniteLossError` on a NaN or inf loss or parameter.
    """
    seeds = _seeds(seeds)
    steps = check_int("steps", steps, lo=1)
    chunk = check_int("chunk", chunk, lo=1)
    eval_every = check_int("eval_every", eval_every, lo=0)
    every = eval_every or chunk
    n_seeds = len(seeds)

    data_keys, eval_keys, params, static, opt_state, data = _setup(np.asarray(seeds, np.uint32), init, optimizer,
                                                                   dataset)

    run_chunk, eval_fn = _compiled(loss, sample, optimizer, static, dataset is not None, evaluate)

    history: dict[str, list] = {"step": [], "train_loss": []}
    start = 0
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    saved = read_meta(ckpt) if ckpt is not None and resume else None
    if saved is not None:
        if tuple(saved["seeds"]) != seeds:
            raise UserInputError(f"seeds must match the checkpoint in {ckpt} (got {list(seeds)}, "
                             f"checkpoint has {saved['seeds']})")
        if saved["step"] > steps:
            raise UserInputError(f"steps must be >= the checkpoint's step {saved['step']} (got {steps})")
        (params, opt_state), saved = load_checkpoint(ckpt, (params, opt_state))
        start = int(saved["step"])
        history = {k: list(v) for k, v in saved["history"].items()}

    t_start = time.perf_counter()
    window: list[np.ndarray] = []
    last_good = start if (ckpt is not None and start > 0) else None
    bar = _progress(progress, description, steps, start)
    first = None  # (step, time) at the end of the first chunk
    try:
        for t0, length, closes in _boundaries(start, steps, every, chunk):
            new_p, new_s, values, finite = run_chunk(params, opt_state, data_keys, data, t0, length)
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
            window.append(np.asarray(values))
            if bar is not None:  # steps/s after the first chunk, which includes compilation
                now = time.perf_counter()
                first = first or (t0 + length, now)
                rate = (t0 + length - first[0]) / (now - first[1]) if now > first[1] else 0.0
                bar[0].update(bar[1], completed=t0 + length, loss=float(window[-1][-1].mean()), sps=rate)
            if closes:
                t = t0 + length
                history["step"].append([t] * n_seeds)
                history["train_loss"].append(np.concatenate(window).mean(axis=0).tolist())
                window = []
                if eval_fn is not None:
                    for k, v in eval_fn(params, eval_keys, data).items():
                        history.setdefault(k, []).append(np.asarray(v, dtype=float).reshape(n_seeds).tolist())
                if ckpt is not None:
                    save_checkpoint(ckpt, (params, opt_state),
                                    {"step": t, "seeds": list(seeds), "steps": steps, "history": history,
                                     "meta": meta or {}})
                    last_good = t
    finally:
        if bar is not None:
            bar[0].stop()
    wall = time.perf_counter() - t_start
    hist = {k: np.asarray(v, dtype=float).T for k, v in history.items()}  # (S, n_records)
    hist["step"] = hist["step"].astype(int)
    return TrainResult(model=eqx.combine(params, static), history=hist, final_loss=hist["train_loss"][:, -1],
                       seeds=seeds, steps=steps, wall_time=wall,
                       steps_per_s=(steps - start) / wall if wall > 0 else float("inf"), opt_state=opt_state,
                       data=data)


@eqx.filter_jit
def _setup(seeds, init, optimizer, dataset):  # dataset: None, a callable, or stacked arrays
    """Keys, stacked initial models, optimiser states and per-seed datasets, built in one compiled program."""
    keys = jax.vmap(seed_keys)(seeds)  # (S, 4, 2): init, data, eval, dataset
    params, static = eqx.partition(eqx.filter_vmap(init)(keys[:, 0]), eqx.is_inexact_array)
    opt_state = jax.vmap(optimizer.init)(params)
    data = jax.vmap(dataset)(keys[:, 3]) if callable(dataset) else dataset
    return keys[:, 1], keys[:, 2], params, static, opt_state, data


_CACHE: dict = {}


def _compiled(loss, sample, optimizer, static, has_data: bool, evaluate):
    """The jitted chunk and evaluation functions, memoised on the (hashable) callables so that repeated runs
    with the same functions and model structure reuse the compiled programs."""
    try:
        key = (loss, sample, optimizer, static, has_data, evaluate)
        hash(key)
    except TypeError:
        key = None
    if key is not None and key in _CACHE:
        return _CACHE[key]

    def one_step(p, s, data_key, d, t):
        key = jax.random.fold_in(data_key, t)
        batch = sample(key, d) if has_data else sample(key)
        value, grads = jax.value_and_grad(lambda q: loss(eqx.combine(q, static), batch))(p)
        updates, s = optimizer.update(grads, s, p)
        return optax.apply_updates(p, updates), s, value

    @partial(jax.jit, static_argnums=5)
    def run_chunk(p, s, dkeys, d, t0, length):
        def body(carry, t):
            p, s = carry
            p, s, value = jax.vmap(one_step, in_axes=(0, 0, 0, 0 if has_data else None, None))(p, s, dkeys, d, t)
            return (p, s), value

        (p, s), values = jax.lax.scan(body, (p, s), t0 + jnp.arange(length))
        finite = jnp.all(jnp.isfinite(values), axis=0)
        for leaf in jax.tree_util.tree_leaves(p):
            finite &= jnp.all(jnp.isfinite(leaf.reshape(leaf.shape[0], -1)), axis=1)
        return p, s, values, finite  # values: (length, S)

    eval_fn = None
    if evaluate is not None:
        if has_data:
            eval_fn = jax.jit(jax.vmap(lambda p, k, d: evaluate(eqx.combine(p, static), k, d)))
        else:
            eval_fn = jax.jit(jax.vmap(lambda p, k, d: evaluate(eqx.combine(p, static), k), in_axes=(0, 0, None)))
    if key is not None:
        if len(_CACHE) >= 32:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = (run_chunk, eval_fn)
    return run_chunk, eval_fn


def _progress(enabled: bool, description: str, total: int, start: int):
    if not enabled:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("loss {task.fields[loss]:.4g}"), TextColumn("{task.fields[sps]:.0f} steps/s"),
                   TimeRemainingColumn())
    task = bar.add_task(description, total=total, completed=start, loss=float("nan"), sps=0.0)
    bar.start()
    return bar, task
