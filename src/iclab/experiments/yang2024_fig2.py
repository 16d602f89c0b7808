"""Yang et al. 2024, Figure 2: training loss and in-domain / out-of-domain inference loss against iterations for
(a) the one-layer multi-head softmax model (H = 64, trained on the exact population loss, ``papers/yang2024.md``
§3) and (b) the 4-layer transformer baseline (H = 8, trained on fresh prompts). N = 30, K = 200, d = 100, m = 20;
tau is not stated in the paper (0.01 here, Fig. 3's value). Inference loss: (1/K)|yhat - yhat*|^2 on 200 test
prompts, lambda ~ N(0, I) in domain and N(1, 4I) out of domain.

Scales. quick: one seed each; the 1-layer model runs 3000 Adam steps at lr 1e-3 (it reaches the ridge limit);
the 4-layer model is shrunk to d_model = 32, d_ff = 64 with batch 16 and 300 steps at lr 3e-3 (it only starts
to learn: its curves show the trend, not the paper's endpoint). paper: the paper's 4-layer stack (d_model = 256,
d_ff = 512, batch 256, Adam lr 1e-4) for 5000 steps, the 1-layer model at lr 1e-4 for 30000 steps, three seeds.

``--set`` keys: the data model (N, K, d, m, tau, basis, unit_norm, n_test), ``seeds``, and per model
``H_1layer``, ``steps_1layer``, ``lr_1layer``, ``loss_1layer`` (population | sampled), ``H_4layer``,
``steps_4layer``, ``lr_4layer``, ``batch_4layer``, ``d_model``, ``d_ff``, ``layers``.
"""

from __future__ import annotations

from pathlib import Path

from iclab.experiments import Experiment, Point
from iclab.experiments.yang2024_common import DATA, FOUR_LAYER, FOUR_LAYER_QUICK, ONE_LAYER, merge, stack_runs, validate
from iclab.validation import UserInputError, check_int

SCALES = {
    "quick": {"seeds": 1, "steps_1layer": 3000, "lr_1layer": 1e-3, "steps_4layer": FOUR_LAYER_QUICK["steps"],
              "lr_4layer": FOUR_LAYER_QUICK["lr"], "batch_4layer": FOUR_LAYER_QUICK["batch"],
              "d_model": FOUR_LAYER_QUICK["d_model"], "d_ff": FOUR_LAYER_QUICK["d_ff"],
              "eval_every_4layer": FOUR_LAYER_QUICK["eval_every"]},
    "paper": {"seeds": 3, "steps_1layer": 30000, "lr_1layer": 1e-4, "steps_4layer": FOUR_LAYER["steps"],
              "lr_4layer": FOUR_LAYER["lr"], "batch_4layer": FOUR_LAYER["batch"], "d_model": FOUR_LAYER["d_model"],
              "d_ff": FOUR_LAYER["d_ff"], "eval_every_4layer": FOUR_LAYER["eval_every"]},
}


def defaults(scale: str) -> dict:
    return {**DATA, "H_1layer": ONE_LAYER["H"], "loss_1layer": ONE_LAYER["loss"], "H_4layer": FOUR_LAYER["H"],
            "layers": FOUR_LAYER["layers"], **SCALES[scale]}


def points(scale: str, theory_only: bool, overrides: dict) -> list[Point]:
    p = merge(defaults(scale), overrides)
    data = {k: p[k] for k in DATA}
    one = validate({**data, **ONE_LAYER, "model": "one_layer", "H": p["H_1layer"], "steps": p["steps_1layer"],
                    "lr": p["lr_1layer"], "loss": p["loss_1layer"],
                    "eval_every": max(1, p["steps_1layer"] // 30)})
    four = validate({**data, **FOUR_LAYER, "model": "four_layer", "H": p["H_4layer"], "steps": p["steps_4layer"],
                     "lr": p["lr_4layer"], "batch": p["batch_4layer"], "d_model": p["d_model"], "d_ff": p["d_ff"],
                     "layers": p["layers"], "eval_every": p["eval_every_4layer"]})
    if four["d_model"] % four["H"]:
        raise UserInputError(f"d_model must be divisible by H_4layer (got d_model {four['d_model']}, H {four['H']})")
    seeds = check_int("seeds", p["seeds"], lo=1)
    return [Point(one, seeds), Point(four, seeds)]


def compute(config: dict, seed: int) -> dict:
    from iclab.experiments.yang2024_common import train_four_layer, train_one_layer

    cfg = dict(config)
    if cfg.pop("model") == "one_layer":
        return train_one_layer(cfg, seed)
    return train_four_layer(cfg, seed)


CURVES = {"train_loss": "training loss", "inference_in": "inference loss (in domain)",
          "inference_ood": "inference loss (out of domain)"}


def curves(df):
    """Long table of the plotted curves: model, step, quantity, mean and sem over seeds."""
    import numpy as np
    import pandas as pd

    rows = []
    for model, sub in df.groupby("model"):
        steps = np.asarray(sub["step"].iloc[0])
        for col in CURVES:
            vals = stack_runs(sub[col])
            sem = vals.std(0, ddof=1) / np.sqrt(len(vals)) if len(vals) > 1 else np.full(vals.shape[1], np.nan)
            rows += [{"model": model, "step": int(s), "quantity": col, "mean": m, "sem": e,
                      "L_star": float(sub["L_star"].mean())} for s, m, e in zip(steps, vals.mean(0), sem, strict=True)]
    return pd.DataFrame(rows)


def plot(df, out_dir: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    from iclab.experiments.figures import save_figure

    table = curves(df)
    titles = {"one_layer": "(a) 1-layer, H = {H}", "four_layer": "(b) 4-layer, H = {H}"}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, model in zip(axes, ("one_layer", "four_layer"), strict=True):
        sub = table[table["model"] == model]
        if sub.empty:
            continue
        for col, label in CURVES.items():
            c = sub[sub["quantity"] == col]
            ax.plot(c["step"], c["mean"], label=label)
            ax.fill_between(c["step"], c["mean"] - c["sem"].fillna(0), c["mean"] + c["sem"].fillna(0), alpha=0.2)
        ax.axhline(sub["L_star"].iloc[0], color="k", ls="--", lw=0.8, label="L* (population loss floor)")
        ax.set_yscale("log")
        ax.set_xlabel("iteration")
        ax.set_title(titles[model].format(H=int(df[df["model"] == model]["H"].iloc[0])))
        ax.legend(fontsize=8)
    fig.suptitle("Yang et al. 2024, Fig. 2: training and inference losses")
    return save_figure(fig, table, out_dir, "yang2024_fig2")


EXPERIMENT = Experiment(id="yang2024-fig2", title="Yang et al. 2024 Fig. 2: losses against iterations",
                        points=points, compute=compute, plot=plot)
