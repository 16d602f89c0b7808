"""Yang et al. 2024, Figure 2: training loss and in-domain / out-of-domain inference loss against iterations for
(a) the one-layer multi-head softmax model (H = 64, trained on the exact population loss (9), Sec. 3) and (b) the
4-layer transformer baseline (H = 8, trained on fresh prompts). N = 30, K = 200, d = 100, m = 20; tau is not
stated in the paper (0.01 here, Fig. 3's value). Inference loss: (1/K)|yhat - yhat*|^2 on 200 test prompts,
lambda ~ N(0, I) in domain and N(1, 4I) out of domain.

Scales. quick: one run each; the 1-layer model runs 3000 Adam steps at lr 1e-3 (it reaches the ridge limit);
the 4-layer model is shrunk to d_model = 64, d_ff = 128 with batch 32 and 2000 Adam steps at lr 1e-3. The former
quick stack (d_model = 32, d_ff = 64, batch 16, lr 3e-3, 300 steps) stayed flat at the loss of copying the N
prompt labels and predicting 0 elsewhere (about 40 L*). paper: the paper's 4-layer stack (d_model = 256,
d_ff = 512, batch 256, Adam lr 1e-4) for 5000 steps, the 1-layer model at lr 1e-4 for 30000 steps, three runs.

``--set`` keys: the fields of :class:`Settings` (the data model, the 4-layer stack, and per model its heads,
steps, learning rate, ...; ``runs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iclab.claims import Claim, in_range
from iclab.experiment import Experiment, Point
from iclab.experiments.figures import pyplot, save_figure
from iclab.experiments.yang2024_common import (
    FourLayerSettings,
    OneLayerSettings,
    check_heads,
    data_config,
    fall,
    four_layer_step_flops,
    mean_sem,
    stack_runs,
    train_four_layer,
    train_one_layer,
)
from iclab.experiments.yang2024_fig4 import cost as one_layer_cost
from iclab.settings import SCALE_DOC, param

FALL = 10.0  # the training and in-domain inference losses must fall at least this many times over the run
CONVERGED = 1.01  # the 1-layer model ends within 1% of L*
ONE_LAYER = OneLayerSettings()  # the 1-layer model's fixed training choices (beta, optimizer, gamma, batch)


@dataclass(frozen=True)
class Settings(FourLayerSettings):
    """Fig. 2: the data model and the 4-layer stack (inherited), and each model's heads and training."""

    H_1layer: int = param(64, lo=1, doc="heads of the 1-layer model")
    steps_1layer: int = param(3000, lo=1, doc="Adam steps of the 1-layer model")
    lr_1layer: float = param(1e-3, lo=0, lo_open=True, doc="learning rate of the 1-layer model")
    loss_1layer: str = param("population", choices=("population", "sampled"),
                             doc="1-layer training loss: the exact population loss (9) or fresh prompts")
    H_4layer: int = param(8, lo=1, doc="heads per layer of the 4-layer model")
    steps_4layer: int = param(2000, lo=1, doc="Adam steps of the 4-layer model")
    lr_4layer: float = param(1e-3, lo=0, lo_open=True, doc="learning rate of the 4-layer model")
    batch_4layer: int = param(32, lo=1, doc="prompts per step of the 4-layer model")
    eval_every_4layer: int = param(100, lo=1, doc="steps between evaluations of the 4-layer model")
    runs: int = param(1, lo=1, doc="independent runs (dictionary, initialisation, prompts) per model")
    scale: str = param("quick", choices=("quick", "paper"), doc=SCALE_DOC)

    def __post_init__(self):
        super().__post_init__()
        check_heads(self.d_model, [self.H_4layer], "H_4layer")


# quick scale (a 2-core laptop): a narrower 4-layer stack and smaller batches; paper scale is the paper's
# d_model = 256, d_ff = 512, batch 256. Measured (Fig. 2(b)): the former quick stack (d_model 32, d_ff 64,
# batch 16, lr 3e-3, 300 steps) stays at the loss of copying the N prompt labels (about 40 L*); this one falls
# 11x (training loss) and 16x (in-domain inference loss) in 2000 steps.
SETTINGS = {"quick": Settings(d_model=64, d_ff=128),
            "paper": Settings(steps_1layer=30000, lr_1layer=1e-4, steps_4layer=5000, lr_4layer=1e-4,
                              batch_4layer=256, runs=3, scale="paper")}


def points(s: Settings, theory_only: bool) -> list[Point]:
    scale = s.scale
    one = {**data_config(s), "H": s.H_1layer, "beta": ONE_LAYER.beta, "optimizer": ONE_LAYER.optimizer,
           "lr": s.lr_1layer, "gamma": ONE_LAYER.gamma, "loss": s.loss_1layer, "batch": ONE_LAYER.batch,
           "steps": s.steps_1layer, "eval_every": max(1, s.steps_1layer // 30), "model": "one_layer", "scale": scale}
    four = {**data_config(s), "H": s.H_4layer, "layers": s.layers, "d_model": s.d_model, "d_ff": s.d_ff,
            "lr": s.lr_4layer, "batch": s.batch_4layer, "steps": s.steps_4layer, "eval_every": s.eval_every_4layer,
            "model": "four_layer", "scale": scale}
    return [Point(one, s.runs), Point(four, s.runs)]


def compute(config: dict, seed: int) -> dict:
    cfg = dict(config)
    if cfg.pop("model") == "one_layer":
        return train_one_layer(cfg, seed)
    return train_four_layer(cfg, seed)


CURVES = {"train_loss": "training loss", "inference_in": "inference loss (in domain)",
          "inference_ood": "inference loss (out of domain)"}


def curves(df):
    """Long table of the plotted curves: model, step, quantity, mean and sem over seeds."""
    import pandas as pd  # lazily: `iclab reproduce list` imports every figure module (pandas: +0.5 s measured)

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
    plt = pyplot()
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
            if c["sem"].notna().any():
                ax.fill_between(c["step"], c["mean"] - c["sem"], c["mean"] + c["sem"], alpha=0.2,
                                label=f"{label}: ± SE over seeds")
        ax.axhline(sub["L_star"].iloc[0], color="k", ls="--", lw=0.8, label="L* (population loss floor)")
        ax.set_yscale("log")
        ax.set_xlabel("iteration")
        ax.set_title(titles[model].format(H=int(df[df["model"] == model]["H"].iloc[0])))
        ax.legend(fontsize=8)
    r = df.iloc[0]
    fig.suptitle("Yang et al. 2024, Fig. 2: training and inference losses")
    four = df[df["model"] == "four_layer"]
    stack = (f"; 4-layer: d_model {four['d_model'].iloc[0]}, d_ff {four['d_ff'].iloc[0]}, batch "
             f"{four['batch'].iloc[0]}, Adam lr {four['lr'].iloc[0]:g}") if not four.empty else ""
    fig.text(0.01, 0.005, f"scale {r['scale']}; d = {r['d']}, N = {r['N']}, K = {r['K']}, m = {r['m']}, "
             f"tau = {r['tau']:g}; {df['seed'].nunique()} seed(s) per model{stack}", fontsize=7)
    return save_figure(fig, table, out_dir, "yang2024_fig2")


def claims(df, scale: str) -> list[Claim]:
    """Fig. 2's claims (Yang et al. 2024, Sec. 5, Fig. 2): in both panels the training and in-domain inference losses
    fall together (>= 10x from the first record, after ``eval_every`` steps, to the last), and the out-of-domain
    inference loss stays above the in-domain one; the 1-layer model reaches L*. Values: means over seeds (SE with
    >= 2 seeds)."""
    out = []
    for model, name in (("one_layer", "(a) 1-layer"), ("four_layer", "(b) 4-layer")):
        sub = df[df["model"] == model]
        if sub.empty:
            continue
        tag = "1layer" if model == "one_layer" else "4layer"
        for col, what in (("train_loss", "training loss"), ("inference_in", "in-domain inference loss")):
            v, se = mean_sem([fall(r) for r in sub[col]])
            out.append(in_range(f"{tag}_{col}_falls", f"Fig. 2{name}: the {what} falls as training proceeds; "
                                f"value: first record / last record", v, se, lo=FALL,
                                target=f"falls >= {FALL:g}x"))
        v, se = mean_sem([ood[-1] / ind[-1] for ood, ind in zip(sub["inference_ood"], sub["inference_in"],
                                                                   strict=True)])
        out.append(in_range(f"{tag}_ood_above_in", f"Fig. 2{name}: the out-of-domain inference loss (lambda ~ "
                            "N(1, 4I)) is higher than the in-domain one; value: their ratio at the end", v, se,
                            lo=1.0, target="ratio >= 1"))
        if model == "one_layer":
            v, se = mean_sem([r["population_loss"][-1] / r["L_star"] for _, r in sub.iterrows()])
            out.append(in_range("1layer_converges", "Fig. 2(a): the 1-layer model's training loss converges to "
                                "the minimum L* (Theorem 1); value: final L / L*", v, se, hi=CONVERGED,
                                target=f"<= {CONVERGED:g}"))
    return out


def cost(config: dict) -> float:
    """CPU-seconds of one (config, seed): the 1-layer part as Fig. 4's; the 4-layer part from its FLOPs per step
    (training steps, plus the evaluations' forward passes at a third of a step's FLOPs per prompt) at
    ``FLOPS_PER_CPU_S``."""
    if config["model"] == "one_layer":
        return one_layer_cost(config)
    flops = four_layer_step_flops(config)
    evals = config["steps"] // config["eval_every"] * 2 * config["n_test"] / config["batch"] / 3
    return 10.0 + (config["steps"] + evals) * flops / FLOPS_PER_CPU_S


# The quick stack (d_model 64, batch 32: 9.55 GFLOP a step) ran its 2000 steps in 552 s of wall clock on 2 cores
# (the whole figure; so at most 1104 CPU-seconds): at least 1.7e10 FLOPs per CPU-second. The narrow stack of
# Fig. 5 (d_model 32) reaches 7.7e9 (``yang2024_fig5.FLOPS_PER_CPU_S``): small matrices use the cores less well.
FLOPS_PER_CPU_S = 1.7e10


EXPERIMENT = Experiment(id="yang2024-fig2", title="Yang et al. 2024 Fig. 2: losses against iterations",
                        points=points, settings=SETTINGS, compute=compute, plot=plot, claims=claims, kind="training",
                        description="1-layer and 4-layer transformers: training and in/out-of-domain inference "
                                    "losses against iterations", cost=cost)
