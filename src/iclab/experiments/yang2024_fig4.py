"""Yang et al. 2024, Figure 4: the one-layer model's training loss (the exact population loss, ``papers/yang2024.md``
§3-§4.2) against iterations for several numbers of heads H: below N, H = N, the default H = 64 and a very large H.
Other settings as in Fig. 2 (N = 30, K = 200, d = 100, m = 20, tau = 0.01). The paper reports that H < N
plateaus, H = N descends slowly, H = 64 converges and H = 400 is unstable; its exact H grid is unknown.

The excess L - L* is recorded too (the plot's lower panel), since L* is the floor every curve is heading to. A run
whose loss becomes non-finite is kept as a row with ``diverged = 1`` and the error message (no curve).

Scales: quick: H = 4, 16, 30, 64, 400, 2000 Adam steps at lr 1e-3, one seed; paper: H = 4, 8, 16, 30, 64, 128,
400, 20000 steps at lr 1e-4 (the paper's Adam rate), three seeds. ``--set`` keys: the data model (N, K, d, m, tau,
basis, unit_norm), H_values, steps, lr, optimizer (adam | gd: the paper's two-rate GD, eq. 10, with ``gamma``),
beta, loss (population | sampled), batch, seeds.
"""

from __future__ import annotations

from pathlib import Path

from iclab.experiments import Experiment, Point
from iclab.experiments.yang2024_common import DATA, ONE_LAYER, merge, stack_runs, validate
from iclab.validation import check_int

SCALES = {"quick": {"H_values": [4, 16, 30, 64, 400], "steps": 2000, "lr": 1e-3, "seeds": 1},
          "paper": {"H_values": [4, 8, 16, 30, 64, 128, 400], "steps": 20000, "lr": 1e-4, "seeds": 3}}


def defaults(scale: str) -> dict:
    one = {k: v for k, v in ONE_LAYER.items() if k not in ("H", "eval_every")}
    return {**DATA, **one, **SCALES[scale]}


def points(scale: str, theory_only: bool, overrides: dict) -> list[Point]:
    p = merge(defaults(scale), overrides)
    seeds = check_int("seeds", p["seeds"], lo=1)
    base = {k: v for k, v in p.items() if k not in ("H_values", "seeds")}
    return [Point(validate({**base, "H": int(H), "eval_every": max(1, p["steps"] // 40)}), seeds)
            for H in p["H_values"]]


def compute(config: dict, seed: int) -> dict:
    from iclab.experiments.yang2024_common import train_one_layer
    from iclab.train import NonFiniteLossError

    try:
        return {**train_one_layer(config, seed), "diverged": 0}
    except NonFiniteLossError as err:
        return {"diverged": 1, "error": str(err)}


def plot(df, out_dir: Path) -> list[Path]:
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    from iclab.experiments.figures import save_figure

    rows = []
    for H, sub in df.groupby("H"):
        ok = sub[sub["diverged"] == 0]
        if ok.empty:
            rows.append({"H": H, "step": np.nan, "population_loss": np.nan, "excess": np.nan, "diverged": 1})
            continue
        steps = np.asarray(ok["step"].iloc[0])
        loss, excess = stack_runs(ok["population_loss"]).mean(0), stack_runs(ok["excess"]).mean(0)
        rows += [{"H": H, "step": int(s), "population_loss": a, "excess": b, "L_star": float(ok["L_star"].mean()),
                  "diverged": int(sub["diverged"].max())}
                 for s, a, b in zip(steps, loss, excess, strict=True)]
    table = pd.DataFrame(rows)
    N = int(df["N"].iloc[0])
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.5, 7), sharex=True)
    for H, c in table.dropna(subset=["step"]).groupby("H"):
        label = f"H = {H}" + (" (< N)" if H < N else " (= N)" if H == N else "")
        top.plot(c["step"], c["population_loss"], label=label)
        bottom.plot(c["step"], c["excess"] / c["L_star"], label=label)
    for H in table[table["diverged"] == 1]["H"].unique():
        top.plot([], [], " ", label=f"H = {H}: diverged")
    if "L_star" in table:
        top.axhline(table["L_star"].mean(), color="k", ls="--", lw=0.8, label="L*")
    top.set_yscale("log")
    top.set_ylabel("training (population) loss")
    top.legend(fontsize=8)
    bottom.set_yscale("log")
    bottom.set_ylabel("(L - L*) / L*")
    bottom.set_xlabel("iteration")
    top.set_title(f"Yang et al. 2024, Fig. 4: 1-layer model, N = {N}")
    return save_figure(fig, table, out_dir, "yang2024_fig4")


EXPERIMENT = Experiment(id="yang2024-fig4", title="Yang et al. 2024 Fig. 4: 1-layer training loss for several H",
                        points=points, compute=compute, plot=plot)
