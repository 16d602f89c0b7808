"""Lu et al. 2024, Figure 6: the task-diversity transition of a trained 2-block softmax + MLP model
(``papers/lu2024.md`` §8.6): g_task = e_ICL − e_IDG against κ = k/d at fixed τ, α = 1, ρ = 0.01.

Also trained: the reduced linear-attention class (Γ), whose g_task has the ridgeless Γ* theory curve (§5.5) as
its d → ∞ reference. Each point is one model at one d with every (κ, run) member in one compiled program; a run's
members share nested task pools (the first k tasks of one pool). Outputs: ``fig6.png`` and its CSV.

Quick scale: d ∈ {6, 8}, τ = 4, 2 runs, 1500 full-batch AdamW steps. Paper scale: d ∈ {20, 40, 80}, τ = 10, the
k lists of §8.6, 10 runs, 10⁴ steps (the authors: 10⁵ iterations at lr 1e-4).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from iclab.experiments import Experiment, Point
from iclab.experiments import lu2024_common as C
from iclab.experiments import lu2024_transformers as T
from iclab.validation import UserInputError

K_PAPER = {20: [*range(2, 21, 2), 23, 28, 35, 45, 57, 69, 82, 96, 109, 123],
           40: [*range(2, 39, 4), 40, 43, 46, 50, 54, 59, 64, 69, 75, 81, 88, 95, 103, 112, 121, 131, 142, 154, 167,
                180, 195, 211, 229, 248, 268],
           80: [*range(2, 51, 4), 75, 100, 142, 159, 178, 200, 225, 252, 283, 317, 356]}
QUICK = {"d": [6.0, 8.0], "tau": 4.0, "runs": 2, "steps": 1500, "n_test": 1000, "lr": 1e-2, "lr_lsa": 0.1,
         "kappas": [0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0]}
PAPER = {"d": [20.0, 40.0, 80.0], "tau": 10.0, "runs": 10, "steps": 10000, "n_test": 10000, "lr": 1e-3,
         "lr_lsa": 0.1, "kappas": []}  # empty: the k lists of §8.6
SETTINGS = {"quick": QUICK, "paper": PAPER}
FIG_MODELS = ("softmax_2block_mlp", "lsa_reduced")


def points(scale: str, theory_only: bool, overrides: dict) -> list[Point]:
    overrides = dict(overrides)
    mlp = overrides.pop("mlp", "linear")
    if mlp not in ("linear", "gelu"):
        raise UserInputError(f"mlp must be one of linear, gelu (got {mlp!r})")
    s = C.settings(SETTINGS, scale, overrides)
    pts = []
    for model in FIG_MODELS:
        for d in s["d"]:
            d = int(d)
            kappas = s["kappas"] or [k / d for k in K_PAPER.get(d, [])]
            if not kappas:
                raise UserInputError(f"kappas must be given for d = {d} (the paper's k lists cover d = 20, 40, 80)")
            cfg = {"figure": "fig6", "model": model, "d": d, "alpha": T.ALPHA, "rho": T.RHO,
                   "taus": [s["tau"]] * len(kappas), "kappas": [C.kappa_config(float(k)) for k in kappas],
                   "runs": s["runs"], "steps": s["steps"], "lr": s["lr_lsa"] if model == "lsa_reduced" else s["lr"],
                   "n_test": s["n_test"], "batch": 0,
                   "model_options": {"mlp": mlp} if model == "softmax_2block_mlp" else {}}
            pts.append(Point(cfg))
    return pts


def plot(df, out_dir: Path) -> list[Path]:
    from matplotlib.ticker import NullFormatter

    members = T.member_table(df)
    models = [m for m in FIG_MODELS if m in set(members["model"])]
    fig, axes = C.new_figure(len(models), width=5.2)
    records = []
    tau = float(members["tau"].iloc[0])
    for ax, model in zip(axes, models, strict=True):
        for c, d in enumerate(sorted(set(members["d"]))):
            g = members[(members["model"] == model) & (members["d"] == d)]
            stats = g.groupby("kappa").agg(g=("g_task", "mean"), sd=("g_task", "std"), icl=("e_icl", "mean"),
                                           idg=("e_idg", "mean"))
            color = C.PALETTE[c % len(C.PALETTE)]
            ax.errorbar(stats.index, stats["g"], yerr=stats["sd"], color=color, marker="o", ms=3, label=f"d={d}")
            sim = C.sim_records(model, f"d={d}", "kappa", stats.index, stats["g"], stats["sd"], metric="g_task")
            records += [{**r, "e_icl": float(a), "e_idg": float(b)}
                        for r, a, b in zip(sim, stats["icl"], stats["idg"], strict=True)]
        if model == "lsa_reduced":
            theory = _theory(tau)
            if theory is not None:
                ax.plot(theory[0], theory[1], color="k", lw=1, label="Γ* theory (d→∞)")
                records += C.curve_records(model, "theory", "kappa", theory[0], theory[1], metric="g_task")
        ax.axvline(1.0, color="red", ls=":", lw=1)
        ax.set(xscale="log", xlabel="κ = k/d", ylabel="g_task = e_ICL − e_IDG", title=f"{T.LABELS[model]}, τ={tau:g}")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=7)
    return C.save(fig, out_dir, "fig6", records)


def _theory(tau: float):
    try:
        from iclab.theory import lu2024
    except ImportError:  # pragma: no cover
        return None
    kappa = np.geomspace(0.05, 20, 200)
    return kappa, np.asarray(lu2024.evaluate(tau, T.ALPHA, kappa, T.RHO, 0.0)["g_task"])


EXPERIMENT = Experiment(id="lu2024-fig6", title="Lu et al. 2024 Fig. 6: task-diversity transition, 2-block softmax",
                        points=points, compute=T.train_point, plot=plot)
