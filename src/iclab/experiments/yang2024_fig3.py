"""Yang et al. 2024, Figure 3: the performance gap (1/K)|yhat* - yhat_best|^2 between the trained transformer's
limit (ridge over the basis with regulariser m tau) and the "best" predictor (ridge with N tau), against N, for
m = 100, tau = 0.01 (K = 200 assumed; ``papers/yang2024.md`` §4.3, §5). Both predictors are closed forms, so no
training is needed; the gap is exactly 0 at N = m.

Per N and draw: a fresh dictionary (the same draws at every N: common random numbers), the exact expectation of
the gap over lambda ~ N(0, I) and the noise (``gap``), the same out of domain, lambda ~ N(1, 4I) (``gap_ood``),
and the gap of one sampled prompt (``gap_sampled``, as the spec's reference table was computed). The plot shows
the mean over draws with error bars (standard error of the mean).

Scales: quick: N = 50, 60, ..., 150 and 95, 105, 100 draws; paper: N = 50, 55, ..., 150, 200 draws (the spec's
reference). ``--theory-only`` skips the sampled prompt. ``--set`` keys: N_values, K, m, d, tau, basis, unit_norm,
draws.
"""

from __future__ import annotations

from pathlib import Path

from iclab.experiments import Experiment, Point
from iclab.experiments.yang2024_common import DATA, merge, validate
from iclab.validation import check_int

SCALES = {"quick": {"N_values": [50, 60, 70, 80, 90, 95, 100, 105, 110, 120, 130, 140, 150], "draws": 100},
          "paper": {"N_values": list(range(50, 151, 5)), "draws": 200}}


def defaults(scale: str) -> dict:
    return {"K": 200, "m": 100, "d": DATA["d"], "tau": 0.01, "basis": "gaussian", "unit_norm": True,
            **SCALES[scale]}


def points(scale: str, theory_only: bool, overrides: dict) -> list[Point]:
    p = merge(defaults(scale), overrides)
    check_int("draws", p["draws"], lo=2)
    out = []
    for N in p["N_values"]:
        cfg = {k: v for k, v in p.items() if k != "N_values"}
        cfg.update(N=int(N), sampled=not theory_only)
        validate({**cfg, "n_test": 1})
        out.append(Point(cfg, 1))
    return out


def compute(config: dict, seed: int) -> dict:
    import jax
    import numpy as np

    from iclab.experiments.yang2024_common import draw_reps
    from iclab.tasks.templates import sample_coefficients
    from iclab.theory import yang2024 as Y

    N, K, m, tau = config["N"], config["K"], config["m"], config["tau"]
    reps_all = draw_reps(seed, config["draws"], K, config["d"], m, config["basis"], config["unit_norm"])
    rng = np.random.default_rng([seed, N])
    gap, gap_ood, sampled = [], [], []
    for reps in reps_all:
        A, best = Y.target_matrix(reps, N, tau), Y.best_matrix(reps, N, tau)
        gap.append(Y.expected_inference_loss(best, reps, N, tau))
        gap_ood.append(Y.expected_inference_loss(best, reps, N, tau, 1.0, 4.0))
        if config["sampled"]:
            lam = np.asarray(sample_coefficients(jax.random.PRNGKey(rng.integers(2**31)), 1, m))[0]
            y = (reps[:N] + np.sqrt(tau) * rng.normal(size=(N, m))) @ lam
            sampled.append(float(np.sum((y @ (A - best)) ** 2) / K))
    out = {}
    for name, vals in (("gap", gap), ("gap_ood", gap_ood), ("gap_sampled", sampled)):
        if vals:
            v = np.asarray(vals)
            out.update({name: float(v.mean()), f"{name}_sd": float(v.std(ddof=1)),
                        f"{name}_sem": float(v.std(ddof=1) / np.sqrt(len(v)))})
    return out


def plot(df, out_dir: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    from iclab.experiments.figures import save_figure

    df = df.sort_values("N")
    cols = ["N", "m", "K", "tau", "draws"] + [c for c in df.columns if c.startswith("gap")]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(df["N"], df["gap"], yerr=df["gap_sem"], marker="o", ms=3, capsize=2,
                label="E gap, in domain (exact per draw)")
    if "gap_sampled" in df and df["gap_sampled"].notna().any():
        ax.errorbar(df["N"], df["gap_sampled"], yerr=df["gap_sampled_sem"], marker="x", ms=4, capsize=2, ls=":",
                    label="one sampled prompt per draw")
    ax.axvline(float(df["m"].iloc[0]), color="k", ls="--", lw=0.8, label="N = m")
    ax.set_xlabel("N (labelled tokens)")
    ax.set_ylabel(r"$\frac{1}{K}\|\hat y^\star - \hat y^{best}\|^2$")
    ax.set_title(f"Yang et al. 2024, Fig. 3 (m = {int(df['m'].iloc[0])}, tau = {df['tau'].iloc[0]:g})")
    ax.legend(fontsize=8)
    return save_figure(fig, df[cols], out_dir, "yang2024_fig3")


def agreement(df):
    """The sampled gap (Monte Carlo over prompts) against the exact expectation, per N."""
    import numpy as np
    import pandas as pd

    from iclab.experiments.figures import agreement_frame

    df = df.sort_values("N")
    if "gap_sampled" not in df:
        return agreement_frame([])
    sem = np.sqrt(df["gap_sampled_sem"] ** 2 + df["gap_sem"] ** 2)
    return pd.DataFrame({"quantity": [f"gap N={n}" for n in df["N"]], "sim_mean": df["gap_sampled"],
                         "sim_sem": df["gap_sampled_sem"], "theory": df["gap"],
                         "z": (df["gap_sampled"] - df["gap"]) / sem.where(sem > 0, np.inf)})


EXPERIMENT = Experiment(id="yang2024-fig3", title="Yang et al. 2024 Fig. 3: gap to the best ridge predictor against N",
                        points=points, compute=compute, plot=plot, supports_theory_only=True, agreement=agreement)
