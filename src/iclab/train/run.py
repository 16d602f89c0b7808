"""``iclab train`` as a library call: a typed run configuration, its task and data, training that resumes from the
run's own checkpoint, and the output files.

:func:`run_config` turns ``{option: value}`` (a YAML spec's keys, then the command line's) into a :class:`RunConfig`
through the settings grammar (:func:`iclab.settings.apply_overrides`: ``kappa`` accepts ``inf``); :func:`run`
trains it and writes into ``out``:

- ``metrics.csv``: one row per seed and record: step, train_loss, ``test_icl`` (fresh tasks), ``test_idg`` (the
  seed's pool, finite κ), ``bayes_ridge_icl`` (the Bayes-optimal predictor on the same prompts, noise > 0);
- ``run.json``: the resolved config, the model's repr and parameter count, the seeds, timings, final losses;
- ``checkpoint/``: the latest checkpoint (safe format: numpy leaves + JSON), whose metadata holds the config, so
  that running the same config again resumes it and a different one is refused.

Data per seed: a task pool of k = round(κ d) tasks (κ finite) from the seed's dataset key, and with ``n_train`` a
fixed pretraining set of that many prompts (minibatches of ``batch``, full batch when batch >= n_train); else fresh
prompts every step.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax.tree_util import Partial

from iclab.estimators import bayes_ridge
from iclab.models import MODELS, build_model
from iclab.settings import apply_overrides, json_number, param
from iclab.tasks import LinearRegression, sample_pool
from iclab.train.checkpoint import read_meta
from iclab.train.data import fresh_prompts, minibatches
from iclab.train.footprint import check_training
from iclab.train.loop import Checkpointing, per_seed, train_fixed, train_fresh
from iclab.train.optim import OPTIMIZERS, SCHEDULES, make_optimizer
from iclab.validation import UserInputError, check_int

TASKS = ("lu2024", "mahankali2023")
MAX_SEEDS = 10_000  # one ensemble is one compiled program: more seeds than this are better split into runs


@dataclass(frozen=True)
class RunConfig:
    """One ``iclab train`` run (the fields are its options; the order is that of ``run.json``'s config)."""

    model: str = param("lsa", choices=tuple(MODELS), doc="model name (iclab.models.MODELS)")
    task: str = param("lu2024", choices=TASKS, doc="lu2024 (x ~ N(0, I/d)) or mahankali2023 (x ~ N(0, I))")
    d: int = param(8, lo=1, doc="token dimension")
    ell: int | None = param(None, lo=1, doc="context length (none: d)")
    noise: float = param(0.01, lo=0, doc="label-noise variance")
    kappa: float = param(math.inf, lo=0, lo_open=True, allow_inf=True,
                         doc="task diversity k/d of a fixed pool per seed; inf: fresh tasks")
    n_train: int = param(0, lo=0, doc="fixed pretraining set size per seed; 0: fresh prompts every step")
    steps: int = param(1000, lo=1, doc="optimiser steps")
    seeds: tuple[int, ...] = param((0,), lo=0, doc="the seeds (run_config also takes a count)")
    batch: int = param(256, lo=1, doc="prompts per step (full batch if >= n_train)")
    optimizer: str = param("adamw", choices=OPTIMIZERS, doc="optimiser")
    lr: float = param(1e-3, lo=0, lo_open=True, doc="learning rate")
    schedule: str = param("constant", choices=SCHEDULES, doc="learning-rate schedule")
    weight_decay: float = param(1e-4, lo=0, doc="AdamW weight decay")
    chunk: int = param(100, lo=1, doc="steps per compiled chunk")
    eval_every: int = param(0, lo=0, doc="steps between evaluations and checkpoints (0: every chunk)")
    n_test: int = param(2000, lo=1, doc="held-out prompts per evaluation")
    model_options: dict[str, Any] = dataclasses.field(default_factory=dict)  # the model's keyword options
    out: str = param("iclab-train", doc="output directory")

    def __post_init__(self):
        if len(set(self.seeds)) != len(self.seeds):
            raise UserInputError(f"seeds must be distinct (got {list(self.seeds)})")

    @property
    def context_length(self) -> int:
        return self.d if self.ell is None else self.ell

    @property
    def pool_size(self) -> int | None:
        """k = round(κ d) tasks (at least 1), None for κ = ∞ (fresh tasks)."""
        return None if math.isinf(self.kappa) else max(1, round(self.kappa * self.d))

    def as_json(self) -> dict[str, Any]:
        """The config as written to run.json and the checkpoint (ell resolved, κ = ∞ as "inf")."""
        out = dataclasses.asdict(self)
        out.update(ell=self.context_length, kappa=json_number(self.kappa), seeds=list(self.seeds))
        return out


def run_config(options: Mapping[str, Any]) -> RunConfig:
    """A :class:`RunConfig` from ``{option: value}``: unknown names are refused, scalars follow the settings
    grammar, ``seeds`` is a count (seeds 0..n-1) or a list (a comma list in text), ``model_options`` a mapping."""
    options = dict(options)
    model_options = options.pop("model_options", {})
    if not isinstance(model_options, Mapping):
        raise UserInputError(f"model_options must be a mapping (got {model_options!r})")
    if "seeds" in options:
        options["seeds"] = parse_seeds(options["seeds"])
    config = apply_overrides(RunConfig(), options)
    return dataclasses.replace(config, model_options=dict(model_options))


def parse_seeds(value) -> list[int]:
    """Seeds from a count (``4`` or ``"4"``: seeds 0..3) or a list (``[0, 5]`` or ``"0,5"``)."""
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if len(parts) == 1:
            return list(range(check_int("seeds", _int(parts[0]), lo=1, hi=MAX_SEEDS)))
        return [check_int("seed", _int(p), lo=0) for p in parts]
    if isinstance(value, (list, tuple)):
        return [check_int("seed", v, lo=0) for v in value]
    return list(range(check_int("seeds", value, lo=1, hi=MAX_SEEDS)))


def _int(text: str):
    try:
        return int(text)
    except ValueError:
        raise UserInputError(f"seeds must be an integer or a comma list of integers (got {text!r})") from None


# ---- task, data and metrics (module-level, see iclab.train.loop on compiled-program reuse) ------------------------


def make_task(config: RunConfig) -> LinearRegression:
    ell = config.context_length
    if config.task == "lu2024":
        return LinearRegression.lu2024(config.d, ell, config.noise)
    return LinearRegression.mahankali2023(config.d, ell, config.noise, prior_cov="identity")


def _init_model(name: str, d: int, options: dict[str, Any], key):
    return build_model(name, d, key=key, **options)


def _mse(model, p):
    return jnp.mean((model(p.xs, p.ys, p.xq) - p.yq) ** 2)


def _seed_data(task, k: int | None, n_train: int, key):
    """One seed's stored data: its task pool (k, d) (a (1, d) placeholder at κ = ∞) and its pretraining set of
    n_train prompts (None when training on fresh prompts)."""
    k_pool, k_data = jax.random.split(key)
    pool = sample_pool(task, k_pool, k) if k is not None else jnp.zeros((1, task.d))
    prompts = task.sample(k_data, n_train, pool=pool if k is not None else None) if n_train else None
    return {"pool": pool, "prompts": prompts}


def _from_pool(task, batch: int, key, data):
    return task.sample(key, batch, pool=data["pool"])


def _from_set(draw, key, data):
    return draw(key, data["prompts"])


def _metrics(task, n_test: int, idg: bool, model, key, data=None):
    """test_icl (fresh tasks), test_idg (the seed's pool) and bayes_ridge_icl (noise > 0) on held-out prompts."""
    k1, k2 = jax.random.split(key)
    test = task.sample(k1, n_test)
    out = {"test_icl": _mse(model, test)}
    if idg:
        out["test_idg"] = _mse(model, task.sample(k2, n_test, pool=data["pool"]))
    if task.noise > 0:  # the Bayes-optimal predictor for a Gaussian prior on the same held-out prompts
        pred = bayes_ridge(test.xs, test.ys, test.xq, task.noise, prefixes=[task.ell])[:, -1]
        out["bayes_ridge_icl"] = jnp.mean((pred - test.yq) ** 2)
    return out


def run(config: RunConfig, *, progress: bool = True) -> dict[str, Any]:
    """Train ``config`` (resuming from ``out/checkpoint`` when it holds a run of the same config) and write
    metrics.csv, run.json and the checkpoint into ``config.out``. Returns run.json's content."""
    d, ell, k, n_train = config.d, config.context_length, config.pool_size, config.n_train
    task = make_task(config)
    options = dict(config.model_options)
    init = Partial(_init_model, config.model, d, options)
    heads = options.get("heads", 1)
    check_training(init, d=d, ell=ell, seeds=len(config.seeds), batch=config.batch, n_train=n_train,
                   n_test=config.n_test, heads=heads if isinstance(heads, int) else 1)  # shapes only
    init(jax.random.PRNGKey(0))  # the model's own checks of its options, before any data is drawn

    out_dir = Path(config.out)
    saved = read_meta(out_dir / "checkpoint")
    if saved is not None and saved.get("meta", {}).get("config") != config.as_json():
        raise UserInputError(f"out must be a new directory or hold a run of the same config to resume ({out_dir} "
                             "holds a different run)")
    out_dir.mkdir(parents=True, exist_ok=True)
    optimizer = make_optimizer(config.optimizer, config.lr, steps=config.steps, schedule_kind=config.schedule,
                               weight_decay=config.weight_decay)
    common = {"seeds": config.seeds, "steps": config.steps, "optimizer": optimizer, "chunk": config.chunk,
              "eval_every": config.eval_every, "progress": config.model if progress else None,
              "checkpoint": Checkpointing(out_dir / "checkpoint", meta={"config": config.as_json()}),
              "evaluate": Partial(_metrics, task, config.n_test, k is not None)}
    if k is None and not n_train:
        res = train_fresh(init, _mse, fresh_prompts(task, config.batch), **common)
    else:
        data = per_seed(Partial(_seed_data, task, k, n_train), config.seeds)
        sample = (Partial(_from_set, minibatches(config.batch if config.batch < n_train else None)) if n_train
                  else Partial(_from_pool, task, config.batch))
        res = train_fixed(init, _mse, data, sample, **common)

    rows = [{"seed": seed, **{key: v[i, j].item() for key, v in res.history.items()}}
            for i, seed in enumerate(res.seeds) for j in range(res.history["step"].shape[1])]
    pd.DataFrame(rows).to_csv(out_dir / "metrics.csv", index=False)
    model0 = res.seed_model(0)
    summary = {"config": config.as_json(), "model_repr": repr(model0), "n_params": int(model0.n_params),
               "seeds": list(res.seeds), "wall_time": res.wall_time, "steps_per_s": res.steps_per_s,
               "final_loss": np.asarray(res.final_loss).tolist(),
               "final_loss_mean": float(np.mean(res.final_loss)), "out": str(out_dir)}
    (out_dir / "run.json").write_text(json.dumps(summary, indent=1))
    return summary
