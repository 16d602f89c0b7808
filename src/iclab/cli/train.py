"""``iclab train``: train a seed ensemble of attention models from a YAML spec or from options.

    iclab train spec.yaml
    iclab train --model softmax_2block_mlp --task lu2024 --d 10 --steps 2000 --seeds 4 --n-train 400

Writes ``metrics.csv`` (one row per seed and record: step, train_loss, test errors), ``run.json`` (the resolved
config, the model's repr and parameter count, timings) and the final checkpoint (``checkpoint/``, safe format:
numpy leaves + JSON) into ``--out``. A spec holds the same keys as the options (``n_train`` as ``n_train``) plus
``model_options`` (a mapping of model keyword options); options given on the command line override the spec.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer

from iclab.cli.apps import app
from iclab.validation import UserInputError, load_yaml_mapping


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
    from iclab.train import NonFiniteLossError
    from iclab.train.checkpoint import read_meta
    from iclab.train.run import RunConfig, run, run_config

    options = read_spec(spec, RunConfig) if spec is not None else {}
    given = {"model": model, "task": task, "d": d, "ell": ell, "noise": noise, "kappa": kappa, "n_train": n_train,
             "steps": steps, "seeds": seeds, "batch": batch, "optimizer": optimizer, "lr": lr, "schedule": schedule,
             "eval_every": eval_every, "n_test": n_test, "out": str(out) if out is not None else None}
    options.update({k: v for k, v in given.items() if v is not None})
    model_options = options.get("model_options", {})
    if isinstance(model_options, dict):  # (run_config refuses anything else)
        options["model_options"] = {**model_options, **{k: v for k, v in (("heads", heads), ("width", width))
                                                         if v is not None}}
    config = run_config(options)
    try:
        summary = run(config, progress=progress)
    except NonFiniteLossError as e:
        typer.echo(f"iclab: {e}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        checkpoint = Path(config.out) / "checkpoint"
        meta = read_meta(checkpoint)
        kept = (f"last checkpoint: step {meta['step']} of {config.steps} in {checkpoint}; run the same command "
                "again to resume from it") if meta else "no checkpoint was written yet"
        typer.echo(f"iclab: training interrupted; {kept}", err=True)
        raise
    typer.echo(f"{summary['model_repr']}: {config.steps} steps x {len(summary['seeds'])} seeds in "
               f"{summary['wall_time']:.1f} s; final train loss {summary['final_loss_mean']:.4g}; "
               f"wrote {summary['out']}")
    return 0


def read_spec(path: Path, config_class) -> dict:
    """A spec file's mapping; its keys must be fields of ``config_class``."""
    spec = load_yaml_mapping(path, "of options")
    names = [f.name for f in dataclasses.fields(config_class)]
    unknown = sorted(set(spec) - set(names))
    if unknown:
        raise UserInputError(f"spec key must be one of {', '.join(names)} (got {unknown[0]!r})")
    return spec
