"""Lu et al. 2024, Figure 5: sample-wise double descent in τ for trained attention models (``papers/lu2024.md``
§8.5), the interpolation threshold from the final training loss, and its scaling n* ∝ d^a (panel D).

Models: the reduced linear-attention class (Γ, the solvable model itself, trained by gradient descent), linear
attention with K, Q, V (model_type 1), one softmax block (model_type 2) and two softmax blocks with an MLP
(model_type 3; the authors' linear "MLP" by default, ``--set mlp=gelu`` for a GELU MLP). α = 1, κ = ∞, ρ = 0.01.
Reference curves: the ridgeless Γ* theory (§5.5), the Bayes-ridge and optimally scaled one-step-GD errors at
α = 1. Outputs: ``fig5.png`` (+ CSV of every plotted point), ``fig5_thresholds.png``, ``thresholds.csv`` (τ* per
model, d and run) and ``fit.csv`` (a, its standard error, b, per model).

Quick scale: d ∈ {4, 6, 8}, 2 runs, 1500 full-batch AdamW steps (cosine decay). The paper's grids (§8.5) are
used at paper scale with 10⁴ steps (the authors ran 10⁴–10⁵ iterations at lr 1e-4); expect hours on a GPU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from iclab.experiments import Experiment, Point
from iclab.experiments import lu2024_common as C
from iclab.experiments import lu2024_transformers as T
from iclab.validation import UserInputError

LINEAR_TAUS = [0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0]
QUICK = {"d": [4.0, 6.0, 8.0], "runs": 2, "steps": 1500, "n_test": 1000, "lr_lsa": 0.1, "lr_linear": 1e-2,
         "lr_softmax": 1e-2, "tau_groups": 1,
         "taus_lsa": LINEAR_TAUS, "taus_linear": LINEAR_TAUS,
         "taus_softmax1": [0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0],
         "taus_softmax2": [1.0, 2.0, 3.0, 4.0, 6.0, 8.0]}
PAPER = {"d": [20.0, 40.0, 80.0], "runs": 5, "steps": 10000, "n_test": 10000, "lr_lsa": 0.1, "lr_linear": 1e-3,
         "lr_softmax": 1e-3, "tau_groups": 4,
         "taus_lsa": LINEAR_TAUS,
         "taus_linear": [round(0.5 + 0.05 * i, 2) for i in range(21)] + [2.0, 2.5, 3.0, 5.0],
         "taus_softmax1": [round(0.1 * i, 1) for i in range(1, 62)],
         "taus_softmax2": [0.5, 1.0, 1.5] + [float(t) for t in range(2, 16)]}
SETTINGS = {"quick": QUICK, "paper": PAPER}
FIG_MODELS = {"lsa_reduced": ("taus_lsa", "lr_lsa"), "linear_attention": ("taus_linear", "lr_linear"),
              "softmax_1block": ("taus_softmax1", "lr_softmax"), "softmax_2block_mlp": ("taus_softmax2", "lr_softmax")}
MLP_KINDS = ("linear", "gelu")


def points(scale: str, theory_only: bool, overrides: dict) -> list[Point]:
    overrides = dict(overrides)
    mlp = overrides.pop("mlp", "linear")
    if mlp not in MLP_KINDS:
        raise UserInputError(f"mlp must be one of {', '.join(MLP_KINDS)} (got {mlp!r})")
    models = overrides.pop("models", ",".join(FIG_MODELS))
    models = [m.strip() for m in (models if isinstance(models, list) else str(models).split(","))]
    for m in models:
        if m not in FIG_MODELS:
            raise UserInputError(f"models must be a comma list of {', '.join(FIG_MODELS)} (got {m!r})")
    s = C.settings(SETTINGS, scale, overrides)
    pts = []
    for model in models:
        taus_key, lr_key = FIG_MODELS[model]
        taus = sorted(s[taus_key])
        for group in np.array_split(np.asarray(taus), min(s["tau_groups"], len(taus))):
            for d in s["d"]:
                cfg = {"figure": "fig5", "model": model, "d": int(d), "alpha": T.ALPHA, "rho": T.RHO,
                       "taus": [float(t) for t in group], "kappas": ["inf"] * len(group), "runs": s["runs"],
                       "steps": s["steps"], "lr": s[lr_key], "n_test": s["n_test"], "batch": 0,
                       "model_options": {"mlp": mlp} if model == "softmax_2block_mlp" else {}}
                pts.append(Point(cfg))
    return pts


def plot(df, out_dir: Path) -> list[Path]:
    members = T.member_table(df)
    per_run, fits = T.thresholds(members)
    models = [m for m in FIG_MODELS if m in set(members["model"])]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(models), figsize=(4.6 * len(models), 8.0), squeeze=False)
    axes = axes.reshape(-1)
    records = []
    ds = sorted(set(members["d"]))
    theory = _theory()
    for j, model in enumerate(models):
        ax_e, ax_l = axes[j], axes[len(models) + j]
        for c, d in enumerate(ds):
            g = members[(members["model"] == model) & (members["d"] == d)]
            stats = g.groupby("tau").agg(e=("e_icl", "mean"), e_sd=("e_icl", "std"), l=("train_loss", "median"))
            color = C.PALETTE[c % len(C.PALETTE)]
            ax_e.errorbar(stats.index, stats["e"], yerr=stats["e_sd"], color=color, marker="o", ms=3,
                          label=f"d={d}")
            ax_l.semilogy(stats.index, stats["l"], color=color, marker="o", ms=3, label=f"d={d}")
            t_star = per_run[(per_run["model"] == model) & (per_run["d"] == d)]["tau_star"]
            if np.isfinite(t_star).any():
                ax_l.axvline(np.nanmean(t_star), color=color, ls=":", lw=1)
            records += C.sim_records(model, f"d={d}", "tau", stats.index, stats["e"], stats["e_sd"], metric="e_icl")
            records += C.curve_records(model, f"d={d}", "tau", stats.index, stats["l"], metric="train_loss_median",
                                       source="simulation")
        if theory is not None and model in ("lsa_reduced", "linear_attention"):
            ax_e.plot(theory["tau"], theory["e_icl"], color="k", lw=1, label="Γ* theory (d→∞)")
        if theory is not None:
            for name, value, ls in (("Bayes ridge", theory["bayes"], "--"), ("one-step GD", theory["gd"], "-.")):
                ax_e.axhline(value, color="grey", ls=ls, lw=1, label=name if j == 0 else None)
        ax_e.set(title=T.LABELS[model], xlabel="τ = n/d²", ylabel="test error (ICL)", ylim=(0, None))
        ax_e.set_ylim(0, min(ax_e.get_ylim()[1], 25))
        ax_l.set(xlabel="τ = n/d²", ylabel="final training loss")
        ax_e.legend(fontsize=7)
    files = C.save(fig, out_dir, "fig5", records)
    files.append(_plot_thresholds(per_run, fits, out_dir))
    files += [T.save_table(per_run, out_dir, "thresholds"), T.save_table(fits, out_dir, "fit")]
    return files


def _theory():
    try:
        from iclab.theory import lu2024
    except ImportError:  # pragma: no cover - theory is optional for the trained-model figure
        return None
    tau = np.linspace(0.3, 4.0, 300)
    tau = tau[np.abs(tau - 1) > 0.02]
    out = lu2024.evaluate(tau, T.ALPHA, np.inf, T.RHO, 0.0)
    return {"tau": tau, "e_icl": np.asarray(out["e_icl"]), "bayes": float(lu2024.e_bayes_ridge(T.ALPHA, T.RHO)),
            "gd": float(lu2024.e_gd(T.ALPHA, T.RHO))}


def _plot_thresholds(per_run, fits, out_dir: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    for c, (model, g) in enumerate(per_run.groupby("model", sort=False)):
        color = C.PALETTE[c % len(C.PALETTE)]
        ax.loglog(g["d"], g["n_star"], "o", color=color, ms=4, alpha=0.7)
        f = fits[fits["model"] == model].iloc[0]
        if np.isfinite(f["a"]):
            dd = np.geomspace(g["d"].min(), g["d"].max(), 20)
            ax.loglog(dd, np.exp(f["b"]) * dd ** f["a"], color=color,
                      label=f"{T.LABELS[model]}: a = {f['a']:.2f} ± {f['se_a']:.2f}")
    ax.set(xlabel="d", ylabel="interpolation threshold n*", title="n* = e^b d^a (paper: a ≈ 2)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(out_dir) / "fig5_thresholds.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


EXPERIMENT = Experiment(id="lu2024-fig5", title="Lu et al. 2024 Fig. 5: double descent in τ for trained attention",
                        points=points, compute=T.train_point, plot=plot)
