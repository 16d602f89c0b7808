"""Mahankali et al. Theorem 2 in training: with x ~ N(0, Sigma) one-layer LSA learns one step of *preconditioned* GD
(Mahankali, Hashimoto, Ma 2023, Theorem 2), for both priors:

- ``inverse`` (the paper's w ~ N(0, Sigma^-1)): Gamma* = eta* Sigma^-1, eta* = n / (n + d + 1 + sigma2);
- ``identity`` (w ~ N(0, I); Ahn et al. 2023, Theorem 1 and Zhang, Frei, Bartlett 2024, Theorem 4.1 at
  sigma2 = 0): Gamma* = ((n+1)/n Sigma + (tr Sigma + sigma2)/n I)^-1.

Sigma has condition number ``cond`` (eigenvalues geometric around 1), rotated by a fixed Haar matrix (``cov_seed``)
unless ``rotate`` is false. Figure: learned and predicted preconditioner as a heat-map pair and their spectra for each
prior, and test losses (trained LSA, one-step GD at Gamma*, Bayes ridge) against n.
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
from iclab.tasks import LinearRegression
from iclab.theory import mahankali2023 as th


@dataclass(frozen=True)
class Settings(common.TrainSettings):
    prior: tuple[str, ...] = param(("inverse", "identity"), choices=th.PRIORS,
                                   doc="task priors: inverse w ~ N(0, Sigma^-1) (the paper's), identity w ~ N(0, I)")
    sigma2: float = param(0.5, lo=0, doc="label noise variance σ²")
    cond: float = param(10.0, lo=1, doc="condition number of Sigma (eigenvalues geometric around 1)")
    rotate: bool = param(True, doc="rotate Sigma by a fixed Haar matrix (else diagonal)")
    cov_seed: int = param(0, lo=0, doc="seed of the Haar rotation")


SETTINGS = {
    "quick": Settings(n=(20,), steps=1200, lr=0.03),
    "paper": Settings(n=(10, 20, 40), steps=4000, batch=2000, lr=0.03, n_test=65536),
}


def points(s: Settings, theory_only: bool) -> list[Point]:
    cov = {"d": s.d, "sigma2": s.sigma2, "cond": s.cond, "rotate": s.rotate, "cov_seed": s.cov_seed}
    out = [Point({"kind": "curve", "prior": p, **cov, "n_grid": common.n_grid(s.n), "n_test": s.n_test})
           for p in s.prior]
    if not theory_only:
        tcfg = common.train_config(s)
        out += [Point({"kind": "train", "n": n, "prior": p, **cov, **tcfg}) for n in s.n for p in s.prior]
    return out


def compute(config: dict[str, Any], seed: int) -> dict[str, Any]:
    d, s2, prior = config["d"], config["sigma2"], config["prior"]
    cov = common.covariance(config)
    prior_cov = np.linalg.inv(cov) if prior == "inverse" else np.eye(d)
    if config["kind"] == "curve":
        ns = config["n_grid"]
        test = LinearRegression.mahankali2023(d, max(ns), s2, cov=cov, prior_cov=prior).sample(
            common.test_key(max(ns)), config["n_test"])
        return {"gd_curve": [th.preconditioned_min_loss(cov, n, s2, prior) for n in ns],
                "bayes_curve": [common.ridge_test_loss(common.prefix(test, n), s2, prior_cov) for n in ns]}
    n = config["n"]
    task = LinearRegression.mahankali2023(d, n, s2, cov=cov, prior_cov=prior)
    fit = common.train_lsa(task, d, config, seed)
    test = task.sample(common.test_key(n), config["n_test"])
    gamma_star = th.preconditioner(cov, n, s2, prior)
    gamma_mean = fit["gamma"].mean(axis=0)
    return {"rel_frob": th.relative_frobenius(fit["gamma"], gamma_star).tolist(),
            "gamma_hat": gamma_mean.tolist(), "gamma_star": gamma_star.tolist(),
            "eig_hat": np.linalg.eigvalsh((gamma_mean + gamma_mean.T) / 2).tolist(),
            "eig_star": np.linalg.eigvalsh(gamma_star).tolist(), "non_gd": fit["non_gd"],
            "final_train_loss": fit["final_train_loss"], "test_loss": common.lsa_test_losses(fit["model"], test),
            "loss_star": th.preconditioned_min_loss(cov, n, s2, prior),
            "gd_loss_mc": common.gd_test_loss(gamma_star, test),
            "bayes_loss_mc": common.ridge_test_loss(test, s2, prior_cov), "train_seconds": fit["train_seconds"]}


def plot(df, out_dir: Path) -> list[Path]:
    plt = pyplot()
    curves = df[df["kind"] == "curve"]
    train = common.train_rows(df)
    lsa = common.lsa_label(train)
    priors = sorted(curves["prior"].unique(), reverse=True)  # inverse first
    fig, axes = plt.subplots(len(priors), 4, figsize=(17, 4 * len(priors)), squeeze=False)
    rows = []
    labels = {"inverse": "w ~ N(0, Sigma^-1): eta* Sigma^-1", "identity": "w ~ N(0, I): Ahn/ZFB Gamma*"}
    for i, prior in enumerate(priors):
        ax_l, ax_t, ax_s, ax_loss = axes[i]
        c = curves[curves["prior"] == prior].iloc[0]
        ax_loss.plot(c["n_grid"], c["gd_curve"], color="C0", label="one-step GD at Gamma* (exact)")
        ax_loss.plot(c["n_grid"], c["bayes_curve"], color="C1", ls="--", label="Bayes ridge (MC)")
        for n, g, b in zip(c["n_grid"], c["gd_curve"], c["bayes_curve"], strict=True):
            rows.append({"series": "theory", "prior": prior, "n": int(n), "gd_loss": g, "bayes_loss_mc": b})
        sub = train[train["prior"] == prior]
        sub = sub.sort_values("n") if len(sub) else sub
        for _, r in sub.iterrows():
            tl, rf = np.asarray(r["test_loss"]), np.asarray(r["rel_frob"])
            ax_loss.errorbar(r["n"], tl.mean(), yerr=tl.std(), fmt="o", color="C2", label=lsa)
            rows.append({"series": "lsa", "prior": prior, "n": int(r["n"]), "seed": int(r["seed"]),
                         "test_loss_mean": tl.mean(), "test_loss_sd": tl.std(), "loss_star": r["loss_star"],
                         "rel_frob_mean": rf.mean(), "rel_frob_max": rf.max(), "eig_hat": r["eig_hat"],
                         "eig_star": r["eig_star"]})
        ax_loss.set(xlabel="context length n", ylabel="test MSE (noisy target)", ylim=(0, None),
                    title=f"test loss ({prior} prior)")
        if len(sub):
            r = sub.iloc[-1]  # the largest n
            hat, star = np.asarray(r["gamma_hat"]), np.asarray(r["gamma_star"])
            lim = np.abs(star).max()
            for ax, mat, name in ((ax_l, hat, "learned u0 W11' + w21 u'"), (ax_t, star, "predicted Gamma*")):
                im = ax.imshow(mat, cmap="RdBu_r", vmin=-lim, vmax=lim)
                ax.set_title(f"{name}\n(n={int(r['n'])}, mean of seeds)", fontsize=9)
                fig.colorbar(im, ax=ax, fraction=0.046)
            ax_t.set_xlabel(labels[prior], fontsize=8)
            ax_l.set_xlabel(f"rel. Frobenius error {np.mean(r['rel_frob']):.3f} (max {np.max(r['rel_frob']):.3f})",
                            fontsize=8)
            k = np.arange(1, len(r["eig_star"]) + 1)
            for j, (_, rr) in enumerate(sub.iterrows()):
                ax_s.plot(k, rr["eig_star"], color=f"C{j}", label=f"predicted, n={int(rr['n'])}")
                ax_s.plot(k, rr["eig_hat"], "o", color=f"C{j}", label=f"learned, n={int(rr['n'])}")
            ax_s.set(xlabel="index", ylabel="eigenvalue", yscale="log", title="spectra")
    legends(fig, axes.ravel(), inside=lambda lab: True, fontsize=7)
    fig.suptitle("Mahankali et al. Thm 2: trained 1-layer LSA = one step of preconditioned GD")
    foot = common.footer(df, SETTINGS, "Gamma* and its loss in closed form (Thm 2, exact at finite n); Bayes ridge by "
                         "Monte Carlo; learned eigenvalues: symmetric part of the seed-mean Gamma")
    return save_figure(fig, rows, out_dir, "mahankali2023-preconditioned", dpi=110, footer=foot)


def claims(df, scale: str) -> list[Claim]:
    """Thm 2: the trained LSA's preconditioner is Gamma* for either prior, and it predicts like one
    step of GD preconditioned by Gamma*."""
    train = common.train_rows(df)
    if not len(train):
        return [in_range("gamma", "Thm 2: needs trained points (not a theory-only run)", None, hi=0.05)]
    out = []
    for prior, sub in train.groupby("prior"):
        worst = max(float(np.max(r["rel_frob"])) for _, r in sub.iterrows())
        what = "eta* Sigma^-1" if prior == "inverse" else "((n+1)/n Sigma + (tr Sigma + σ²)/n I)^-1"
        out.append(in_range(f"gamma-{prior}", f"Thm 2, prior {prior}: the learned preconditioner equals "
                            f"Gamma* = {what}; largest relative Frobenius error over points and seeds", worst,
                            hi=0.05, target="<= 5%"))
    loss = max(float(np.max(np.abs(np.asarray(r["test_loss"]) / r["gd_loss_mc"] - 1))) for _, r in train.iterrows())
    out.append(in_range("loss-is-gd", "Thm 2: the trained LSA predicts like one GD step preconditioned by Gamma*: "
                        "largest |LSA test loss / GD-at-Gamma* test loss − 1| on the same test prompts", loss,
                        hi=0.02, target="<= 2%"))
    return out


def agreement(df):
    """Relative Frobenius error of the learned preconditioner (theory 0) and the LSA test loss against the minimum."""
    return common.agreement_table(df, lambda r: f"n={r['n']} prior={r['prior']}",
                                  {"rel_frob": ("rel_frob", 0.0, "0: Gamma* of Thm 2 exactly", 0.05),
                                   "test_loss": ("test_loss", "gd_loss_mc", "GD at Gamma*, same test prompts", 0.02)})


EXPERIMENT = Experiment(
    id="mahankali2023-preconditioned",
    title="Mahankali et al. 2023, Thm 2: learned preconditioner of 1-layer LSA under both priors",
    settings=SETTINGS, points=points, compute=compute, plot=plot, supports_theory_only=True, agreement=agreement,
    claims=claims, kind="training",
    description="trained 1-layer LSA learns preconditioned GD under both priors (Thm 2)",
    cost=common.cost, notes=common.NOTES,
)
