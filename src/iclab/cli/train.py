"""``iclab train``: train a seed ensemble of attention models from a YAML spec or from options.

    iclab train spec.yaml
    iclab train --model softmax_2block_mlp --task lu2024 --d 10 --steps 2000 --seeds 4 --n-train 400

Writes ``metrics.csv`` (one row per seed and record: step, train_loss, test errors), ``run.json`` (the resolved
config, the model's repr and parameter count, timings) and the final checkpoint (``checkpoint/``, safe format:
numpy leaves + JSON) into ``--out``. A spec holds the same keys as the options (``n_train`` as ``n_train``) plus
``model_options`` (a mapping of model keyword options); options given on the command line override the spec.
"""

from __future__ import annotations

import math
from pathlib import Path

import typer

from iclab.cli.apps import app
from iclab.validation import UserInputError

DEFAULTS = {"model": "lsa", "task": "lu2024", "d": 8, "ell": None, "noise": 0.01, "kappa": math.inf, "n_train": 0,
            "steps": 1000, "seeds": 1, "batch": 256, "optimizer": "adamw", "lr": 1e-3, "schedule": "constant",
            "weight_decay": 1e-4, "chunk": 100, "eval_every": 0, "n_test": 2000, "model_options": {},
            "out": "iclab-train"}
TASKS = ("lu2024", "mahankali2023")
MAX_SEEDS = 10_000  # one ensemble is one compiled program: more seeds than this are better split into runs


@app.command("train")
def train_command(
    spec: Path | None = typer.Argument(None, help="YAML spec file (keys as the options below)."),
    model: str | None = typer.Option(None, help="Model name: lsa, lsa_reduced, linear_attention, softmax, "
                                                "softmax_1block, softmax_2block_mlp, softmax_3block_mlp, transformer."),
    task: str | None = typer.Option(None, help="Task: lu2024 (x ~ N(0, I/d)) or mahankali2023 (x ~ N(0, I))."),
    d: int | None = typer.Option(None, help="Token dimension."),
    ell: int | None = typer.Option(None, help="Context length (default d)."),
    noise: float | None = typer.Option(None, help="Label-noise variance."),
    kappa: str | None = typer.Option(None, help="Task diversity k/d of a fixed pool per seed; inf: fresh tasks."),
    n_train: int | None = typer.Option(None, help="Fixed pretraining set size; 0: fresh prompts every step."),
    steps: int | None = typer.Option(None, help="Optimiser steps."),
    seeds: str | None = typer.Option(None, help="Number of seeds, or a comma list of seeds."),
    batch: int | None = typer.Option(None, help="Prompts per step (full batch if >= n-train)."),
    optimizer: str | None = typer.Option(None, help="adamw, adam or sgd."),
    lr: float | None = typer.Option(None, help="Learning rate."),
    schedule: str | None = typer.Option(None, help="constant, cosine, warmup_cosine or linear."),
    heads: int | None = typer.Option(None, help="Attention heads (softmax and transformer models)."),
    width: int | None = typer.Option(None, help="Hidden width (linear_attention, softmax models)."),
    eval_every: int | None = typer.Option(None, help="Steps between evaluations and checkpoints (0: at the end)."),
    n_test: int | None = typer.Option(None, help="Held-out prompts per evaluation."),
    out: Path | None = typer.Option(None, help="Output directory."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
):
    """Train attention models (vmapped seed ensemble, compiled loop) and write metrics and checkpoints."""
    cli = {"model": model, "task": task, "d": d, "ell": ell, "noise": noise, "kappa": kappa, "n_train": n_train,
           "steps": steps, "seeds": seeds, "batch": batch, "optimizer": optimizer, "lr": lr, "schedule": schedule,
           "eval_every": eval_every, "n_test": n_test, "out": str(out) if out is not None else None}
    config = resolve_config(spec, cli)
    if heads is not None:
        config["model_options"]["heads"] = heads
    if width is not None:
        config["model_options"]["width"] = width
    from iclab.train import NonFiniteLossError

    try:
        summary = run_training(config, progress=progress)
    except NonFiniteLossError as e:
        typer.echo(f"iclab: {e}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        from iclab.train.checkpoint import read_meta

        meta = read_meta(Path(config["out"]) / "checkpoint")
        kept = (f"last checkpoint: step {meta['step']} of {config['steps']} in {Path(config['out']) / 'checkpoint'}; "
                "run the same command again to resume from it") if meta else "no checkpoint was written yet"
        typer.echo(f"iclab: training interrupted; {kept}", err=True)
        raise
    typer.echo(f"{summary['model_repr']}: {config['steps']} steps x {len(summary['seeds'])} seeds in "
               f"{summary['wall_time']:.1f} s; final train loss {summary['final_loss_mean']:.4g}; "
               f"wrote {summary['out']}")
    return 0


def resolve_config(spec: Path | None, cli: dict) -> dict:
    """Defaults, then the spec's keys, then the options given on the command line; validated."""
    from iclab.validation import check_choice, check_int, check_nonnegative, check_positive

    config = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULTS.items()}
    if spec is not None:
        config.update(read_spec(spec))
    config.update({k: v for k, v in cli.items() if v is not None})
    check_choice("task", config["task"], TASKS)
    from iclab.models import MODELS

    check_choice("model", config["model"], MODELS)
    config["d"] = check_int("d", config["d"], lo=1)
    config["ell"] = check_int("ell", config["ell"] if config["ell"] is not None else config["d"], lo=1)
    config["noise"] = float(check_nonnegative("noise", config["noise"]))
    kappa = config["kappa"]
    kappa = math.inf if isinstance(kappa, str) and kappa.strip().lower() in ("inf", "infinity") else kappa
    config["kappa"] = float(check_positive("kappa", kappa, allow_inf=True))
    config["n_train"] = check_int("n_train", config["n_train"], lo=0)
    config["steps"] = check_int("steps", config["steps"], lo=1)
    config["seeds"] = parse_seeds(config["seeds"])
    config["batch"] = check_int("batch", config["batch"], lo=1)
    config["lr"] = float(check_positive("lr", config["lr"]))
    config["chunk"] = check_int("chunk", config["chunk"], lo=1)
    config["eval_every"] = check_int("eval_every", config["eval_every"], lo=0)
    config["n_test"] = check_int("n_test", config["n_test"], lo=1)
    if not isinstance(config["model_options"], dict):
        raise UserInputError(f"model_options must be a mapping (got {config['model_options']!r})")
    return config


def read_spec(path: Path) -> dict:
    from iclab.validation import load_yaml_mapping

    spec = load_yaml_mapping(path, "of options")
    unknown = sorted(set(spec) - set(DEFAULTS))
    if unknown:
        raise UserInputError(f"spec key must be one of {', '.join(DEFAULTS)} (got {unknown[0]!r})")
    return spec


def parse_seeds(value) -> list[int]:
    from iclab.validation import check_int

    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if len(parts) == 1:
            return list(range(check_int("seeds", _int(parts[0]), lo=1, hi=MAX_SEEDS)))
        return [check_int("seed", _int(p), lo=0) for p in parts]
    if isinstance(value, list):
        return [check_int("seed", v, lo=0) for v in value]
    return list(range(check_int("seeds", value, lo=1, hi=MAX_SEEDS)))


def _int(text: str):
    try:
        return int(text)
    except ValueError:
        raise UserInputError(f"seeds must be an integer or a comma list of integers (got {text!r})") from None


def run_training(config: dict, *, progress: bool = True) -> dict:
    """Train ``config`` (as resolved by :func:`resolve_config`); writes metrics.csv, run.json, checkpoint/."""
    import json

    import jax
    import jax.numpy as jnp
    import numpy as np
    import pandas as pd

    from iclab.models import build_model
    from iclab.tasks import LinearRegression, sample_pool
    from iclab.train import make_optimizer, minibatches, train_ensemble
    from iclab.train.footprint import check_training

    d, ell, noise = config["d"], config["ell"], config["noise"]
    task = (LinearRegression.lu2024(d, ell, noise) if config["task"] == "lu2024"
            else LinearRegression.mahankali2023(d, ell, noise, prior_cov="identity"))
    options = dict(config["model_options"])
    heads = options.get("heads", 1)
    check_training(lambda key: build_model(config["model"], d, key=key, **options), d=d, ell=ell or d,
                   seeds=len(config["seeds"]), batch=config["batch"], n_train=config["n_train"],
                   n_test=config["n_test"], heads=heads if isinstance(heads, int) else 1)  # shapes only
    build_model(config["model"], d, key=jax.random.PRNGKey(0), **options)
    k = None if math.isinf(config["kappa"]) else max(1, round(config["kappa"] * d))
    n_train, batch = config["n_train"], config["batch"]

    def init(key):
        return build_model(config["model"], d, key=key, **options)

    def mse(model, p):
        return jnp.mean((model(p.xs, p.ys, p.xq) - p.yq) ** 2)

    def dataset(key):
        k_pool, k_data = jax.random.split(key)
        pool = sample_pool(task, k_pool, k) if k is not None else jnp.zeros((1, d))
        prompts = task.sample(k_data, n_train, pool=pool if k is not None else None) if n_train else None
        return {"pool": pool, "prompts": prompts}

    draw = minibatches(batch if batch < n_train else None)

    def sample(key, data):
        if n_train:
            return draw(key, data["prompts"])
        return task.sample(key, batch, pool=data["pool"] if k is not None else None)

    def evaluate(model, key, data):
        k1, k2 = jax.random.split(key)
        test = task.sample(k1, config["n_test"])
        out = {"test_icl": mse(model, test)}
        if k is not None:
            out["test_idg"] = mse(model, task.sample(k2, config["n_test"], pool=data["pool"]))
        if noise > 0:  # the Bayes-optimal predictor for a Gaussian prior on the same held-out prompts
            from iclab.estimators import bayes_ridge

            pred = bayes_ridge(test.xs, test.ys, test.xq, noise, prefixes=[ell])[:, -1]
            out["bayes_ridge_icl"] = jnp.mean((pred - test.yq) ** 2)
        return out

    out_dir = Path(config["out"])
    from iclab.train.checkpoint import read_meta

    previous = read_meta(out_dir / "checkpoint")
    if previous is not None and previous.get("meta", {}).get("config") != _jsonable(config):
        raise UserInputError(f"out must be a new directory or hold a run of the same config to resume ({out_dir} "
                         "holds a different run)")
    out_dir.mkdir(parents=True, exist_ok=True)
    optimizer = make_optimizer(config["optimizer"], config["lr"], steps=config["steps"],
                               schedule_kind=config["schedule"], weight_decay=config["weight_decay"])
    res = train_ensemble(init, mse, sample, seeds=config["seeds"], steps=config["steps"], optimizer=optimizer,
                         chunk=config["chunk"], evaluate=evaluate, eval_every=config["eval_every"],
                         checkpoint_dir=out_dir / "checkpoint", dataset=dataset, progress=progress,
                         meta={"config": _jsonable(config)}, description=config["model"])
    rows = []
    for i, seed in enumerate(res.seeds):
        for j in range(res.history["step"].shape[1]):
            rows.append({"seed": seed, **{key: v[i, j].item() for key, v in res.history.items()}})
    pd.DataFrame(rows).to_csv(out_dir / "metrics.csv", index=False)
    model0 = res.seed_model(0)
    summary = {"config": _jsonable(config), "model_repr": repr(model0), "n_params": int(model0.n_params),
               "seeds": list(res.seeds), "wall_time": res.wall_time, "steps_per_s": res.steps_per_s,
               "final_loss": np.asarray(res.final_loss).tolist(),
               "final_loss_mean": float(np.mean(res.final_loss)), "out": str(out_dir)}
    (out_dir / "run.json").write_text(json.dumps(summary, indent=1))
    return summary


def _jsonable(config: dict) -> dict:
    return {k: ("inf" if isinstance(v, float) and math.isinf(v) else v) for k, v in config.items()}
