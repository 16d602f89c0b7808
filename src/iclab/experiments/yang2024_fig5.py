"""Yang et al. 2024, Figure 5: the 4-layer transformer baseline trained for the same wall-clock budget with
different numbers of heads H; (a) final training and inference losses against H, (b) training curves. The paper
uses 100 s per run, K = 200 and otherwise Fig. 3's settings (m = 100, tau = 0.01); its N is not stated
(``papers/yang2024.md`` §5): N = 30 (Fig. 2's) here. It reports the smallest final training loss at H = 4 and
slower progress for large H (fewer iterations in the budget).

The budget excludes compilation; the run stops at the first chunk boundary past it, so ``steps_done`` and the
curves' ``time`` are what each H managed. Wall-clock budgets depend on the machine and its load: compare H within
one run only.

Scales: quick: the narrow 4-layer stack of Fig. 2's quick scale (d_model = 32, d_ff = 64, batch 16, Adam lr 3e-3),
H = 1, 2, 4, 8, 16, 32, 30 s per run, one seed; paper: d_model = 256, d_ff = 512, batch 256, lr 1e-4,
H = 1, 2, 4, 8, 16, 32, 64, 100 s per run, three seeds. ``--set`` keys: the data model (N, K, d, m, tau, basis,
unit_norm, n_test), H_values, budget_s, d_model, d_ff, layers, lr, batch, chunk (steps per compiled chunk), seeds.
"""

from __future__ import annotations

from pathlib import Path

from iclab.experiments import Experiment, Point
from iclab.experiments.yang2024_common import DATA, FOUR_LAYER, FOUR_LAYER_QUICK, merge, validate
from iclab.validation import UserInputError, check_int, check_positive

SCALES = {"quick": {"H_values": [1, 2, 4, 8, 16, 32], "budget_s": 30.0, "d_model": FOUR_LAYER_QUICK["d_model"],
                    "d_ff": FOUR_LAYER_QUICK["d_ff"], "lr": FOUR_LAYER_QUICK["lr"], "batch": FOUR_LAYER_QUICK["batch"],
                    "chunk": 5, "seeds": 1},
          "paper": {"H_values": [1, 2, 4, 8, 16, 32, 64], "budget_s": 100.0, "d_model": FOUR_LAYER["d_model"],
                    "d_ff": FOUR_LAYER["d_ff"], "lr": FOUR_LAYER["lr"], "batch": FOUR_LAYER["batch"], "chunk": 20,
                    "seeds": 3}}


def defaults(scale: str) -> dict:
    return {**DATA, "m": 100, "layers": FOUR_LAYER["layers"], **SCALES[scale]}


def points(scale: str, theory_only: bool, overrides: dict) -> list[Point]:
    p = merge(defaults(scale), overrides)
    seeds = check_int("seeds", p["seeds"], lo=1)
    check_positive("budget_s", p["budget_s"])
    out = []
    for H in p["H_values"]:
        cfg = {k: v for k, v in p.items() if k not in ("H_values", "seeds", "chunk")}
        cfg.update(H=int(H), eval_every=check_int("chunk", p["chunk"], lo=1))
        validate(cfg)
        if cfg["d_model"] % cfg["H"]:
            raise UserInputError(f"d_model must be divisible by every H (got d_model {cfg['d_model']}, H {H})")
        out.append(Point(cfg, seeds))
    return out


def compute(config: dict, seed: int) -> dict:
    from iclab.experiments.yang2024_common import train_four_layer_budget

    return train_four_layer_budget(config, seed, config["budget_s"])


FINAL = {"final_train_loss": "training loss", "test_loss_in": "test loss (in domain)",
         "inference_in": "inference loss (in domain)", "inference_ood": "inference loss (out of domain)"}


def plot(df, out_dir: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    from iclab.experiments.figures import save_figure

    final = df.groupby("H")[[*FINAL, "steps_done", "L_star"]].agg(["mean", "sem"]).reset_index()
    final.columns = ["_".join(c).rstrip("_") for c in final.columns]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for col, label in FINAL.items():
        a.errorbar(final["H"], final[f"{col}_mean"], yerr=final[f"{col}_sem"].fillna(0), marker="o", capsize=2,
                   label=label)
    a.set_xscale("log", base=2)
    a.set_yscale("log")
    a.set_xlabel("H (heads per layer)")
    a.set_title(f"(a) final losses, {df['budget_s'].iloc[0]:g} s per run")
    a.legend(fontsize=8)
    for H, sub in df[df["seed"] == df["seed"].min()].groupby("H"):
        row = sub.iloc[0]
        b.plot(row["step"], row["train_loss"], label=f"H = {H} ({row['steps_done']} steps)")
    b.set_yscale("log")
    b.set_xlabel("iteration")
    b.set_ylabel("training loss")
    b.set_title("(b) training curves (first seed)")
    b.legend(fontsize=8)
    fig.suptitle("Yang et al. 2024, Fig. 5: 4-layer transformer under an equal wall-clock budget")
    return save_figure(fig, final, out_dir, "yang2024_fig5")


EXPERIMENT = Experiment(id="yang2024-fig5", title="Yang et al. 2024 Fig. 5: 4-layer losses against H, equal wall-clock",
                        points=points, compute=compute, plot=plot)
