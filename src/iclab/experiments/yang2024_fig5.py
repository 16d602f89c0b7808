"""Yang et al. 2024, Figure 5: the 4-layer transformer baseline trained under an equal budget with different
numbers of heads H; (a) final training and inference losses against H, (b) training curves. The paper gives
every run 100 s of wall-clock, K = 200 and otherwise Fig. 3's settings (m = 100, tau = 0.01); its N is not
stated (Sec. 5): N = 30 (Fig. 2's) here. It reports the smallest final training loss at
H = 4 and slower progress for large H (fewer iterations in the budget).

Budget. ``budget=flops`` (default): every run gets the same number of floating-point operations,
``budget_gflop`` x 1e9 = steps x FLOPs per step, with FLOPs per step counted analytically
(:func:`iclab.experiments.yang2024_common.step_flops`: matrix products plus the H softmaxes), so the budget is
machine-independent. With d_model fixed the products do not depend on H; only the softmaxes (H x T x T scores
per layer) do, so large H gets somewhat fewer steps. ``budget=wall``: the paper's ``budget_s`` seconds of wall
clock per run, compilation excluded; it depends on the machine and its load, so compare H within one run only.
Either way the run stops at a chunk boundary, so ``steps_done`` is what each H managed.

Scales: quick: a narrow 4-layer stack (d_model = 32, d_ff = 64, batch 16, Adam lr 3e-3), H = 1, 4, 16, 32,
the FLOPs of 600 steps at H = 1 per run (about 140 CPU-seconds), three runs; paper: d_model = 256,
d_ff = 512, batch 256, lr 1e-4, H = 1, 2, 4, 8, 16, 32, 64, 100 s of wall clock per run, three runs.
``--set`` keys: the fields of :class:`Settings`: the data model (N, K, d, m, tau, basis, unit_norm, n_test),
H_values, budget (flops | wall), budget_gflop, budget_s, d_model, d_ff, layers, lr, batch, chunk (steps per
compiled chunk), runs.
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
    check_heads,
    data_config,
    four_layer_step_flops,
    train_four_layer_budget,
)
from iclab.settings import SCALE_DOC, param

QUICK_STEPS_H1 = 600  # the quick budget: the FLOPs of this many steps at H = 1
SMALL_H, LARGE_H = 4, 16  # the claim compares the best H <= 4 with every H >= 16


@dataclass(frozen=True)
class Settings(FourLayerSettings):
    """Fig. 5: the data model (m = 100, Fig. 3's) and the 4-layer stack (inherited), the head counts, the budget
    and the training."""

    m: int = param(100, lo=1, doc="basis functions (size of a representation)")
    d_model: int = param(32, lo=1, doc="model width (divisible by every H)")
    d_ff: int = param(64, lo=1, doc="MLP width")
    H_values: tuple[int, ...] = param((1, 4, 16, 32), lo=1, doc="numbers of heads H, one point each")
    budget: str = param("flops", choices=("flops", "wall"),
                        doc="equal FLOPs (budget_gflop) or equal wall-clock seconds (budget_s) per run")
    budget_gflop: float = param(0.0, lo=0, doc=f"GFLOP per run; 0: those of {QUICK_STEPS_H1} steps at H = 1")
    budget_s: float = param(30.0, lo=0, lo_open=True, doc="wall-clock seconds per run (budget=wall)")
    lr: float = param(3e-3, lo=0, lo_open=True, doc="Adam learning rate")
    batch: int = param(16, lo=1, doc="prompts per step")
    chunk: int = param(20, lo=1, doc="steps per compiled chunk (and per training-curve record)")
    runs: int = param(3, lo=1, doc="independent runs (dictionary, initialisation, prompts) per H")
    scale: str = param("quick", choices=("quick", "paper"), doc=SCALE_DOC)

    def __post_init__(self):
        super().__post_init__()
        check_heads(self.d_model, self.H_values)


# quick: Fig. 5 runs 12 of these (4 H x 3 runs), so its quick stack is narrow and cheap; paper: the paper's stack
SETTINGS = {"quick": Settings(),
            "paper": Settings(H_values=(1, 2, 4, 8, 16, 32, 64), budget="wall", budget_s=100.0, d_model=256,
                              d_ff=512, lr=1e-4, batch=256, scale="paper")}


def points(s: Settings, theory_only: bool) -> list[Point]:
    base = {**data_config(s), "layers": s.layers, "budget": s.budget, "budget_gflop": s.budget_gflop,
            "budget_s": s.budget_s, "d_model": s.d_model, "d_ff": s.d_ff, "lr": s.lr, "batch": s.batch}
    out = [Point({**base, "H": H, "eval_every": s.chunk, "scale": s.scale}, s.runs) for H in s.H_values]
    if s.budget == "flops" and s.budget_gflop == 0:  # default: the FLOPs of QUICK_STEPS_H1 steps at H = 1
        gflop = QUICK_STEPS_H1 * four_layer_step_flops({**out[0].config, "H": 1}) / 1e9
        for pt in out:
            pt.config["budget_gflop"] = round(gflop, 3)
    return out


def budget_steps(config: dict) -> int:
    """Steps of one run under the FLOP budget: floor(budget / FLOPs per step), whole chunks, at least one chunk."""
    steps = int(config["budget_gflop"] * 1e9 // four_layer_step_flops(config))
    chunk = config["eval_every"]
    return max(chunk, steps - steps % chunk)


def compute(config: dict, seed: int) -> dict:
    if config["budget"] == "flops":
        return train_four_layer_budget(config, seed, max_steps=budget_steps(config))
    return train_four_layer_budget(config, seed, budget_s=config["budget_s"])


FINAL = {"final_train_loss": "training loss (last chunk)", "test_loss_in": "test loss (in domain)",
         "inference_in": "inference loss (in domain)", "inference_ood": "inference loss (out of domain)"}


def final_table(df):
    """Mean and SEM over seeds of the final losses, steps done and L*, per H."""
    final = df.groupby("H")[[*FINAL, "steps_done", "L_star"]].agg(["mean", "sem"]).reset_index()
    final.columns = ["_".join(c).rstrip("_") for c in final.columns]
    return final


def claims(df, scale: str) -> list[Claim]:
    """Fig. 5(a): the smallest final training loss is at small H. Value: the gap between the lowest mean final
    training loss at H >= 16 and the lowest at H <= 4 (positive when small H wins); it holds when the gap exceeds
    twice its standard error (the SEs over seeds of the two means, in quadrature)."""
    t = final_table(df).set_index("H")
    small, large = t[t.index <= SMALL_H], t[t.index >= LARGE_H]
    out = []
    if small.empty or large.empty:
        return out
    hs, hl = small["final_train_loss_mean"].idxmin(), large["final_train_loss_mean"].idxmin()
    gap = float(large.loc[hl, "final_train_loss_mean"] - small.loc[hs, "final_train_loss_mean"])
    se = float(np.hypot(small.loc[hs, "final_train_loss_sem"], large.loc[hl, "final_train_loss_sem"]))
    budget = (f"{df['budget_gflop'].iloc[0]:g} GFLOP" if df["budget"].iloc[0] == "flops"
              else f"{df['budget_s'].iloc[0]:g} s wall")
    out.append(in_range(
        "small_h_best", f"Fig. 5(a): under an equal budget ({budget} per run) the final training loss is smallest "
        f"at small H (the paper: H = 4); value: best final loss over H >= {LARGE_H} (H = {hl}) minus best over "
        f"H <= {SMALL_H} (H = {hs})", gap, None if np.isnan(se) else se, lo=0.0,
        target="gap > 2 SE (error bars over seeds separate them)"))
    if out[0].holds is not None:  # in_range checks gap >= 0; the claim is a separation by 2 SE
        out[0] = Claim(**{**out[0].__dict__, "holds": bool(gap > 2 * se)})
    best_h = int(t["final_train_loss_mean"].idxmin())
    out.append(in_range(
        "best_h_small", f"Fig. 5(a): the H with the smallest mean final training loss is small (<= {SMALL_H}); "
        f"value: that H", best_h, hi=SMALL_H))
    return out


def cost(config: dict) -> float:
    """CPU-seconds of one (config, seed): compilation plus steps x FLOPs per step at ``FLOPS_PER_CPU_S``."""
    if config["budget"] == "wall":
        return 10.0 + config["budget_s"]
    return 10.0 + budget_steps(config) * four_layer_step_flops(config) / FLOPS_PER_CPU_S


# Measured: the narrow stack (d_model 32, d_ff 64, batch 16, H = 8, K = 200: 1.88 GFLOP a step by step_flops)
# ran 800 steps, 8 evaluations and its compilation in 196 CPU-seconds (process time, all threads). Wider stacks
# use the cores better (the Fig. 2 quick stack, d_model 64, ran about twice as many FLOPs per CPU-second), so
# this overestimates their cost.
FLOPS_PER_CPU_S = 7.7e9


def plot(df, out_dir: Path) -> list[Path]:
    plt = pyplot()
    final = final_table(df)
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.3))
    for col, label in FINAL.items():
        a.errorbar(final["H"], final[f"{col}_mean"], yerr=final[f"{col}_sem"].fillna(0), marker="o", capsize=2,
                   label=label + " (mean ± SE over seeds)")
    a.axhline(final["L_star_mean"].mean(), color="k", ls="--", lw=0.8, label="L* (population loss floor)")
    a.set_xscale("log", base=2)
    a.set_yscale("log")
    a.set_xlabel("H (heads per layer)")
    budget = (f"{df['budget_gflop'].iloc[0]:g} GFLOP" if df["budget"].iloc[0] == "flops"
              else f"{df['budget_s'].iloc[0]:g} s wall clock")
    a.set_title(f"(a) final losses, {budget} per run")
    a.legend(fontsize=7)
    for H, sub in df[df["seed"] == df["seed"].min()].groupby("H"):
        row = sub.iloc[0]
        b.plot(row["step"], row["train_loss"], label=f"H = {H} ({row['steps_done']} steps)")
    b.set_yscale("log")
    b.set_xlabel("iteration")
    b.set_ylabel("training loss (chunk mean)")
    b.set_title("(b) training curves (first seed)")
    b.legend(fontsize=7)
    r = df.iloc[0]
    fig.suptitle("Yang et al. 2024, Fig. 5: 4-layer transformer under an equal budget")
    fig.text(0.01, 0.005, f"scale {r['scale']}; d = {r['d']}, N = {r['N']}, K = {r['K']}, m = {r['m']}, "
             f"tau = {r['tau']:g}; d_model {r['d_model']}, d_ff {r['d_ff']}, {r['layers']} layers, batch "
             f"{r['batch']}, Adam lr {r['lr']:g}; {df['seed'].nunique()} seeds per H", fontsize=7)
    return save_figure(fig, final, out_dir, "yang2024_fig5")


EXPERIMENT = Experiment(id="yang2024-fig5", title="Yang et al. 2024 Fig. 5: 4-layer losses against H, equal budget",
                        points=points, settings=SETTINGS, compute=compute, plot=plot, claims=claims, kind="training",
                        description="4-layer transformer trained with an equal FLOP (or wall-clock) budget for "
                                    "several H", cost=cost)
