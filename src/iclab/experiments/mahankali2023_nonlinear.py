"""Mahankali et al. Theorem 3 in training: on rotation-invariant nonlinear targets one-layer LSA still learns one step
of plain GD, with eta* = n E|beta_f|^2 / (E[y^2 |x|^2] + (n-1) E|beta_f|^2) (Mahankali, Hashimoto, Ma
2023, Theorem 3; this eta* is derived as the best step size over one-step GD predictors, the paper's own display
was not available).

Teachers: random one-hidden-layer ReLU networks of several widths (:class:`iclab.tasks.nonlinear.ReLUTeacher`).
Their moments are exact by Stein's lemma (:func:`iclab.theory.mahankali2023.relu_teacher_moments`) and independent
of the width; each point also estimates them by Monte Carlo from its test prompts, as one would for a teacher
without a closed form. Baselines against n: one-step GD at eta* (exact) and ridge regression matched to the first
two moments (prior variance E|beta_f|^2 / d per coordinate, noise E y^2 - E|beta_f|^2; the Bayes predictor if f
were linear with Gaussian noise), by Monte Carlo.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from iclab.claims import Claim, in_range
from iclab.experiment import Experiment, Point
from iclab.experiments import mahankali2023_common as common
from iclab.experiments.figures import legends, pyplot, save_figure
from iclab.settings import param
from iclab.tasks.nonlinear import ReLUTeacher
from iclab.theory import mahankali2023 as th


@dataclass(frozen=True)
class Settings(common.TrainSettings):
    width: tuple[int, ...] = param((1, 4, 16), lo=1, doc="hidden widths of the random ReLU teachers")
    sigma2: float = param(0.25, lo=0, doc="label noise variance σ²")
    weight_var: float | None = param(None, lo=0, lo_open=True,
                                     doc="variance of the teachers' output weights (none: the ReLUTeacher default)")


SETTINGS = {
    "quick": Settings(n=(20,), width=(1, 4, 16)),
    "paper": Settings(n=(10, 20, 40), width=(1, 4, 16, 64), steps=4000, batch=2000, n_test=65536),
}


def _task(config, n):
    return ReLUTeacher(config["d"], n, config["width"], sigma2=config["sigma2"], weight_var=config["weight_var"])


def _ridge(prompts, moments, d):
    b = moments["beta_sq"]
    return common.ridge_test_loss(prompts, max(moments["y2"] - b, 0.0), b / d * np.eye(d))


def points(s: Settings, theory_only: bool) -> list[Point]:
    base = {"d": s.d, "sigma2": s.sigma2, "weight_var": s.weight_var}
    out = [Point({"kind": "curve", "width": w, **base, "n_grid": common.n_grid(s.n), "n_test": s.n_test})
           for w in s.width]
    if not theory_only:
        tcfg = common.train_config(s)
        out += [Point({"kind": "train", "n": n, "width": w, **base, **tcfg}) for n in s.n for w in s.width]
    return out


def compute(config: dict[str, Any], seed: int) -> dict[str, Any]:
    d, s2 = config["d"], config["sigma2"]
    m = th.relu_teacher_moments(d, s2, config["weight_var"])
    if config["kind"] == "curve":
        ns = config["n_grid"]
        test = _task(config, max(ns)).sample(common.test_key(max(ns)), config["n_test"])
        etas = [th.nonlinear_eta_star(n, m["beta_sq"], m["y2x2"]) for n in ns]
        gd = [th.nonlinear_gd_loss(e, n, m["beta_sq"], m["y2x2"], m["y2"]) for e, n in zip(etas, ns, strict=True)]
        return {"eta_curve": etas, "gd_curve": gd,
                "ridge_curve": [_ridge(common.prefix(test, n), m, d) for n in ns]}
    n = config["n"]
    task = _task(config, n)
    fit = common.train_lsa(task, d, config, seed)
    test = task.sample(common.test_key(n), config["n_test"])
    eta = th.nonlinear_eta_star(n, m["beta_sq"], m["y2x2"])
    mc = th.moments_from_samples(test.xs, test.ys) if n >= 2 else None
    eta_mc = th.nonlinear_eta_star(n, mc["beta_sq"], mc["y2x2"]) if mc and mc["beta_sq"] > 0 else float("nan")
    return {"eta_hat": fit["eta_hat"], "offdiag": fit["offdiag"], "non_gd": fit["non_gd"],
            "final_train_loss": fit["final_train_loss"], "test_loss": common.lsa_test_losses(fit["model"], test),
            "eta_star": eta, "eta_star_mc": eta_mc, "beta_sq_mc": mc["beta_sq"] if mc else float("nan"),
            "y2x2_mc": mc["y2x2"] if mc else float("nan"),
            "loss_star": th.nonlinear_gd_loss(eta, n, m["beta_sq"], m["y2x2"], m["y2"]),
            "gd_loss_mc": common.gd_test_loss(eta * np.eye(d), test), "ridge_loss_mc": _ridge(test, m, d),
            "train_seconds": fit["train_seconds"]}


def plot(df, out_dir: Path) -> list[Path]:
    plt = pyplot()
    curves = df[df["kind"] == "curve"].sort_values("width")
    train = common.train_rows(df)
    lsa = common.lsa_label(train)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    rows = []
    for i, (_, c) in enumerate(curves.iterrows()):
        w, col = int(c["width"]), f"C{i}"
        axes[2].plot(c["n_grid"], c["gd_curve"], color=col, label=f"GD at eta*, width {w}")
        axes[2].plot(c["n_grid"], c["ridge_curve"], color=col, ls="--", label=f"matched ridge (MC), width {w}")
        for n, e, g, r in zip(c["n_grid"], c["eta_curve"], c["gd_curve"], c["ridge_curve"], strict=True):
            rows.append({"series": "theory", "width": w, "n": int(n), "eta_star": e, "gd_loss": g,
                         "ridge_loss_mc": r})
        if i == 0:
            axes[1].plot(c["n_grid"], c["eta_curve"], color="k", label="eta* (all widths)")
        sub = train[train["width"] == w]
        for _, r in sub.iterrows():
            eh, tl = np.asarray(r["eta_hat"]), np.asarray(r["test_loss"])
            axes[0].errorbar(w, eh.mean(), yerr=eh.std(), fmt="o", color=col, label=lsa)
            axes[1].errorbar(r["n"] * (1 + 0.02 * (i - len(curves) / 2)), eh.mean(), yerr=eh.std(), fmt="o",
                             color=col, label=f"learned, width {w}")
            axes[2].errorbar(r["n"], tl.mean(), yerr=tl.std(), fmt="o", color=col, label=lsa)
            rows.append({"series": "lsa", "width": w, "n": int(r["n"]), "seed": int(r["seed"]),
                         "eta_hat_mean": eh.mean(), "eta_hat_sd": eh.std(), "eta_star": r["eta_star"],
                         "eta_star_mc": r["eta_star_mc"], "test_loss_mean": tl.mean(), "test_loss_sd": tl.std(),
                         "loss_star": r["loss_star"], "gd_loss_mc": r["gd_loss_mc"],
                         "ridge_loss_mc": r["ridge_loss_mc"], "offdiag_max": float(np.max(r["offdiag"]))})
    for n in sorted(train["n"].unique()) if len(train) else []:
        axes[0].axhline(train[train["n"] == n]["eta_star"].iloc[0], color="gray", ls=":", label=f"eta*, n={int(n)}")
    axes[0].set(xlabel="teacher width k", ylabel="learned eta_hat = tr(Gamma)/d", xscale="log",
                title="learned step size (dots) against the predicted eta* (lines)")
    axes[1].set(xlabel="context length n", ylabel="step size", title="eta* against n (width-independent)")
    axes[2].set(xlabel="context length n", ylabel="test MSE (noisy target)", ylim=(0, None),
                title="test loss: trained LSA (dots)")
    legends(fig, axes, inside=lambda lab: lab != lsa, fontsize=7)
    fig.suptitle("Mahankali et al. Thm 3: on random ReLU teachers 1-layer LSA = one plain GD step at eta*")
    foot = common.footer(df, SETTINGS, "eta* and GD loss in closed form from the teacher's exact moments (Thm 3); "
                         "matched ridge by Monte Carlo")
    return save_figure(fig, rows, out_dir, "mahankali2023-nonlinear", dpi=120, footer=foot)


def claims(df, scale: str) -> list[Claim]:
    """Thm 3: on nonlinear (ReLU) teachers the trained LSA is still one plain GD step, at the eta*
    given by the teacher's moments, whatever the width."""
    train = common.train_rows(df)
    if not len(train):
        return [in_range("eta-hat", "Thm 3: needs trained points (not a theory-only run)", None, hi=0.03)]
    eta = max(float(np.max(np.abs(np.asarray(r["eta_hat"]) / r["eta_star"] - 1))) for _, r in train.iterrows())
    mc = max(abs(float(r["eta_star_mc"]) / r["eta_star"] - 1) for _, r in train.iterrows())
    loss = max(float(np.max(np.abs(np.asarray(r["test_loss"]) / r["gd_loss_mc"] - 1))) for _, r in train.iterrows())
    return [
        in_range("eta-hat", "Thm 3: the learned step size equals eta* = n E|β_f|² / (E[y²|x|²] + (n−1) "
                 "E|β_f|²) at every teacher width; largest |eta_hat/eta* − 1| over points and seeds", eta, hi=0.03,
                 target="<= 3%"),
        in_range("moments", "eta* from moments estimated on the test prompts matches the exact (Stein) eta*; "
                 "largest relative difference", mc, hi=0.05, target="<= 5%"),
        in_range("loss-is-gd", "Thm 3: the trained LSA predicts like one plain GD step at eta*: largest |LSA test "
                 "loss / GD-at-eta* test loss − 1| on the same prompts", loss, hi=0.02, target="<= 2%"),
    ]


def agreement(df):
    """eta_hat against eta* (exact), one row per trained point."""
    return common.agreement_table(df, lambda r: f"n={r['n']} width={r['width']}",
                                  {"eta_hat": ("eta_hat", "eta_star", "eta* of Thm 3", 0.03)})


EXPERIMENT = Experiment(
    id="mahankali2023-nonlinear",
    title="Mahankali et al. 2023, Thm 3: learned step size of 1-layer LSA on random ReLU teachers",
    settings=SETTINGS, points=points, compute=compute, plot=plot, supports_theory_only=True, agreement=agreement,
    claims=claims, kind="training",
    description="trained 1-layer LSA on ReLU teachers is one plain GD step at eta* (Thm 3)",
    cost=common.cost, notes=common.NOTES,
)
