"""Yang et al. 2024, Figure 4: the one-layer model's training loss (the exact population loss (9), in closed form
by Lemma 5) against iterations for several numbers of heads H: below N, H = N, the default H = 64 and a very large H.
Other settings as in Fig. 2 (N = 30, K = 200, d = 100, m = 20, tau = 0.01). The paper reports that H < N
plateaus, H = N descends slowly, H = 64 converges and H = 400 is unstable; its exact H grid is unknown.

The excess L - L* is recorded too (the plot's lower panel), since L* is the floor every curve is heading to. A run
whose loss becomes non-finite is kept as a row with ``diverged = 1`` and the error message (no curve).

Optimiser. The paper's (Sec. 3): Adam, Q^(0) entries N(0, 1), w^(0) = 0, on the exact population loss (so the batch
size of 256 plays no role). Quick scale runs Adam at lr 1e-3, ten times the paper's 1e-4, so that H = 64 reaches
L* within 1% in 2000 steps (measured: 1.004 L*); at 1e-4 it needs about ten times the steps and H = 400 alone
would take about 20 CPU-minutes. The two-rate GD of eq. (10) (``--set optimizer=gd``) was measured too: at
eta = 4 it reaches only 1.031 L* at H = 64 in 2000 steps (its rate is set by the smallest eigenvalue of
C_k^T G C_k, which is small because the softmax columns are nearly collinear), so it cannot show the 1% claim
within the quick budget.

Scales: quick: H = 4, 16, 30, 64, 400, 2000 Adam steps at lr 1e-3, one run; paper: H = 4, 8, 16, 30, 64, 128,
400, 20000 steps at lr 1e-4 (the paper's Adam rate), three runs. ``--set`` keys: the fields of :class:`Settings`:
the data model (N, K, d, m, tau, basis, unit_norm, n_test), H_values, steps, lr, optimizer (adam | gd: the paper's
two-rate GD, eq. (10), with ``gamma``), beta, loss (population | sampled), batch, runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iclab.claims import Claim, in_range
from iclab.experiment import Experiment, Point
from iclab.experiments.figures import pyplot, save_figure
from iclab.experiments.yang2024_common import (
    OneLayerSettings,
    data_config,
    mean_sem,
    stack_runs,
    steps_to_reach,
    train_one_layer,
)
from iclab.settings import SCALE_DOC, param
from iclab.train import NonFiniteLossError

# Claim criteria (quick-scale budget; see ``claims``)
PLATEAU_FACTOR = 1.05  # every H < N ends at least this factor above L*
NEAR = 1.1  # "reaching" the floor: L <= 1.1 L*, for the speed comparison
SLOWER = 1.5  # H = N needs at least this many times the steps of H = 64 to reach NEAR L*
CONVERGED = 1.01  # H = 64 ends within 1% of L*


@dataclass(frozen=True)
class Settings(OneLayerSettings):
    """Fig. 4: the data model and the one-layer training (inherited), the head counts and the runs."""

    steps: int = param(2000, lo=1, doc="optimiser steps")
    H_values: tuple[int, ...] = param((4, 16, 30, 64, 400), lo=1, doc="numbers of heads H, one point each")
    runs: int = param(1, lo=1, doc="independent runs (dictionary, initialisation) per H")
    scale: str = param("quick", choices=("quick", "paper"), doc=SCALE_DOC)


SETTINGS = {"quick": Settings(),
            "paper": Settings(H_values=(4, 8, 16, 30, 64, 128, 400), steps=20000, lr=1e-4, runs=3, scale="paper")}


def points(s: Settings, theory_only: bool) -> list[Point]:
    base = {**data_config(s), "beta": s.beta, "optimizer": s.optimizer, "lr": s.lr, "gamma": s.gamma,
            "loss": s.loss, "batch": s.batch, "steps": s.steps, "scale": s.scale}
    return [Point({**base, "H": H, "eval_every": max(1, s.steps // 40)}, s.runs) for H in s.H_values]


def compute(config: dict, seed: int) -> dict:
    try:
        return {**train_one_layer(config, seed), "diverged": 0}
    except NonFiniteLossError as err:
        return {"diverged": 1, "error": str(err)}


def _ratios(df, H: int):
    """Per-seed (steps, L / L*) of the runs with H heads that did not diverge: list of (steps, ratio) arrays."""
    sub = df[(df["H"] == H) & (df["diverged"] == 0)]
    return [(np.asarray(r["step"], float), np.asarray(r["population_loss"], float) / r["L_star"])
            for _, r in sub.iterrows()]


def claims(df, scale: str) -> list[Claim]:
    """Fig. 4's claims (Yang et al. 2024, Sec. 5, Fig. 4): H < N plateaus above L*, H = N is slower than H = 64, H = 64
    converges, H = 400 is unstable. Values are means over seeds of per-seed numbers (SE with >= 2 seeds)."""
    N = int(df["N"].iloc[0])
    Hs = sorted(int(h) for h in df["H"].unique())
    out = []
    low = [h for h in Hs if h < N]
    if low:
        finals = [float(np.mean([r[-1] for _, r in _ratios(df, h)])) for h in low]
        worst = int(np.argmin(finals))
        out.append(in_range(
            "h_below_n_plateau", f"Fig. 4: with H < N = {N} heads the training loss plateaus away from the minimum "
            f"L*; value: the smallest final L / L* over H = {low} (at H = {low[worst]})", finals[worst],
            lo=PLATEAU_FACTOR, target=f"final L / L* >= {PLATEAU_FACTOR:g} for every H < N"))

    def reach(h):
        return mean_sem([steps_to_reach(s, r, NEAR) for s, r in _ratios(df, h)])

    if N in Hs and 64 in Hs:
        (n_steps, _), (s64, _) = reach(N), reach(64)
        ratio = n_steps / s64 if np.isfinite(s64) and s64 > 0 else float("nan")
        out.append(in_range(
            "h_equal_n_slower", f"Fig. 4: H = N = {N} keeps descending slowly, slower than the default H = 64; "
            f"value: steps to reach {NEAR:g} L* at H = N over those at H = 64 ({n_steps:g} / {s64:g})", ratio,
            lo=SLOWER, target=f"ratio >= {SLOWER:g}"))
    if 64 in Hs:
        final, se = mean_sem([r[-1] for _, r in _ratios(df, 64)])
        out.append(in_range("h64_converges", "Fig. 4: the default H = 64 converges to the minimum L*; value: final "
                            "L / L*", final, se, hi=CONVERGED, target=f"final L / L* <= {CONVERGED:g}"))
    big = [h for h in Hs if h > 64]
    for h in big:
        sub = df[df["H"] == h]
        diverged = float(sub["diverged"].mean())
        if diverged > 0 or 64 not in Hs:
            speed = float("inf") if diverged > 0 else float("nan")
        else:
            speed = reach(h)[0] / reach(64)[0]
        out.append(Claim(
            f"h{h}_unstable", f"Fig. 4: a very large H = {h} is unstable (diverges, or converges more slowly "
            f"than H = 64); value: steps to reach {NEAR:g} L* at H = {h} over those at H = 64 (inf if diverged)",
            speed, None, "diverged, or ratio > 1",
            None if np.isnan(speed) else bool(diverged > 0 or speed > 1)))
    return out


def cost(config: dict) -> float:
    """CPU-seconds of one (config, seed): compilation plus per-step time, linear in H (the H softmaxes of size
    K x N and the products Q_h v_k dominate). Fitted to 2000-step runs (K = 200, N = 30, d = 100, one core,
    under load): H = 64 13 s, H = 400 106 s."""
    K, N, d = config["K"], config["N"], config["d"]
    per_head = 1.3e-4 * (K * d * (d + N)) / (200 * 100 * 130)
    return 3.0 + config["steps"] * (2e-4 + config["H"] * per_head)


def plot(df, out_dir: Path) -> list[Path]:
    import pandas as pd  # lazily: `iclab reproduce list` imports every figure module (pandas: +0.5 s measured)

    plt = pyplot()
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
    bottom.legend(fontsize=7)
    bottom.set_xlabel("iteration")
    opt = df["optimizer"].iloc[0]
    opt = f"Adam lr {df['lr'].iloc[0]:g}" if opt == "adam" else f"two-rate GD eta_Q {df['lr'].iloc[0]:g}"
    top.set_title(f"Yang et al. 2024, Fig. 4: 1-layer model, N = {N}")
    fig.text(0.01, 0.005, f"scale {df['scale'].iloc[0]}; d = {df['d'].iloc[0]}, N = {N}, K = {df['K'].iloc[0]}, "
             f"m = {df['m'].iloc[0]}, tau = {df['tau'].iloc[0]:g}; {opt}, population loss; "
             f"{df['seed'].nunique()} seed(s) per H", fontsize=7)
    return save_figure(fig, table, out_dir, "yang2024_fig4")


EXPERIMENT = Experiment(id="yang2024-fig4", title="Yang et al. 2024 Fig. 4: 1-layer training loss for several H",
                        points=points, settings=SETTINGS, compute=compute, plot=plot, claims=claims, kind="training",
                        description="1-layer multi-head softmax attention: population loss against iterations "
                                    "for several H", cost=cost)
