"""Shared pieces of the Mahankali et al. experiments: training settings, LSA training from the ZFB start, test
losses.

Training (a reproduction design: the paper's Theorems 1-3 concern the global minimiser of the population loss and
name no optimiser; the set-up follows Ahn et al. 2023 and Zhang, Frei and Bartlett 2024): one-layer LSA
(:class:`iclab.models.LinearSelfAttention`, query masked, 1/n normalisation), loss E (y_hat - y_q)^2 against the
noisy target without 1/2 (the convention of :mod:`iclab.theory.mahankali2023`), Adam with a cosine-decaying learning
rate, a fresh batch every step, the ``runs`` models of one point trained as one vmapped program
(:func:`iclab.train.train_fresh`).

Initialisation: Zhang-Frei-Bartlett's, W_PV = s e e' and W_KQ = s [[A, 0], [0, 0]] with A = Theta Theta' / |.|_F,
Theta Gaussian per seed, so u = w21 = 0 at the start. From a dense random start, training under the w ~ N(0, I) prior
often stalls in a poor stationary point that uses the rank-one route w21 u' to GD (3 of 5 seeds at d = 5, n = 20,
condition number 10: loss 4.15 against the optimum 2.01); from the ZFB start, u and w21 receive no population
gradient and training reaches the optimum.

Test losses are Monte-Carlo averages over one fixed set of test prompts per point, shared by the LSA, one-step GD
and Bayes ridge (paired), drawn from :func:`test_key`, a key that no training stream uses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from iclab.estimators import gd_one_step
from iclab.experiments import figures as F
from iclab.models import LinearSelfAttention
from iclab.settings import param
from iclab.theory.mahankali2023 import make_cov, posterior_mean_predictions, read_lsa
from iclab.train import fresh_prompts, make_optimizer, train_fresh

TEST_KEY_SEED = 20230707  # test prompts: fold_in(PRNGKey(TEST_KEY_SEED), n); training uses split(PRNGKey(seed))

#: ``Experiment.notes`` of the three experiments (the same model and loss)
NOTES = {"model": "LSA, query masked, 1/n; Adam + cosine decay; ZFB initialisation; fresh batch each step",
         "loss": "MSE against the noisy query target, no 1/2"}


@dataclass(frozen=True)
class TrainSettings:
    """The settings the three experiments share: the dimension, the trained context lengths and the training
    budget. Each experiment adds its data parameters and grid."""

    d: int = param(5, lo=1, doc="input dimension")
    n: tuple[int, ...] = param((20,), lo=1, doc="context lengths of the trained points")
    runs: int = param(5, lo=1, doc="LSA models trained per point, as one vmapped program")
    steps: int = param(1000, lo=1, doc="Adam steps")
    batch: int = param(500, lo=1, doc="fresh prompts per step")
    lr: float = param(0.01, lo=0, lo_open=True, doc="peak learning rate (cosine decay to 0)")
    init_scale: float = param(0.5, lo=0, lo_open=True, doc="scale s of the Zhang-Frei-Bartlett start")
    mask_query: bool = param(True, doc="leave the query token out of the attention statistics")
    n_test: int = param(16384, lo=2, doc="test prompts per point, shared by the LSA and the baselines")


def train_config(s: TrainSettings) -> dict[str, Any]:
    """The training parameters a trained point carries in its config (``runs`` is stored as ``seeds``)."""
    return {"seeds": s.runs, "steps": s.steps, "batch": s.batch, "lr": s.lr, "init_scale": s.init_scale,
            "mask_query": s.mask_query, "n_test": s.n_test}


def n_grid(ns, lo: int = 2) -> list[int]:
    """A dense grid of context lengths for the baseline curves: lo .. max(ns) (about 16 values) plus ns."""
    hi = max(max(ns), lo)
    grid = np.unique(np.round(np.geomspace(lo, hi, 16)).astype(int))
    return sorted(set(grid.tolist()) | set(ns))


def test_key(n: int):
    return jax.random.fold_in(jax.random.PRNGKey(TEST_KEY_SEED), n)


def covariance(cfg: dict[str, Any]) -> np.ndarray:
    """Sigma of a config: condition number ``cond``, rotated by a Haar matrix from ``cov_seed`` if ``rotate``."""
    return make_cov(cfg["d"], cfg["cond"], rotate=cfg["rotate"], seed=cfg["cov_seed"])


def prefix(prompts, n: int):
    """The same prompts cut to their first n context examples (contexts are i.i.d., so this is a length-n sample)."""
    return prompts._replace(xs=prompts.xs[:, :n], ys=prompts.ys[:, :n])


def zfb_init(d: int, key, scale: float, mask_query: bool = True):
    """LSA at the Zhang-Frei-Bartlett start: W_PV = s e_{d+1} e_{d+1}', W_KQ = s [[A, 0], [0, 0]], |A|_F = 1."""
    model = LinearSelfAttention(d, key=key, init_scale=0.0, mask_query=mask_query)
    theta = jax.random.normal(key, (d, d))
    a = theta @ theta.T
    w_kq = jnp.zeros((d + 1, d + 1)).at[:d, :d].set(scale * a / jnp.linalg.norm(a))
    w_pv = jnp.zeros((d + 1, d + 1)).at[d, d].set(scale)
    return eqx.tree_at(lambda m: (m.w_kq, m.w_pv), model, (w_kq, w_pv))


def mse(model, prompts):
    """Mean squared error of the query predictions against the (noisy) query targets."""
    return jnp.mean((model(prompts.xs, prompts.ys, prompts.xq) - prompts.yq) ** 2)


def train_lsa(task, d: int, tcfg: dict[str, Any], seed: int) -> dict[str, Any]:
    """Train ``tcfg["seeds"]`` LSA models on ``task`` (fresh batch per step) and read them out.

    Training seeds are seed * S .. seed * S + S - 1 (S = tcfg["seeds"]), so sweep seeds never share a stream.
    Returns the stacked models and per-seed lists: eta_hat, offdiag, non_gd, final_train_loss, and gamma (S, d, d).
    """
    from jax.tree_util import Partial

    s = tcfg["seeds"]
    opt = make_optimizer("adam", tcfg["lr"], steps=tcfg["steps"], schedule_kind="cosine")
    t0 = time.perf_counter()
    init = Partial(zfb_init, d, scale=tcfg["init_scale"], mask_query=tcfg["mask_query"])  # init(key)
    res = train_fresh(init, mse, fresh_prompts(task, tcfg["batch"]), seeds=range(seed * s, seed * s + s),
                      steps=tcfg["steps"], optimizer=opt, chunk=min(tcfg["steps"], 500))
    read = read_lsa(res.model.W_KQ, res.model.W_PV)
    return {"model": res.model, "gamma": read["gamma"], "eta_hat": read["eta"].tolist(),
            "offdiag": read["offdiag"].tolist(), "non_gd": read["non_gd"].tolist(),
            "final_train_loss": np.asarray(res.final_loss).tolist(), "train_seconds": time.perf_counter() - t0}


def lsa_test_losses(models, prompts) -> list[float]:
    """Test MSE of each model of a seed-stacked ensemble on the same prompts: (S,) list."""
    return np.asarray(eqx.filter_vmap(lambda m: mse(m, prompts))(models), dtype=float).tolist()


def gd_test_loss(gamma, prompts) -> float:
    """Monte-Carlo test MSE of one-step preconditioned GD x_q' Gamma v on the prompts."""
    pred = gd_one_step(prompts.xs, prompts.ys, prompts.xq, 1.0, precond=np.asarray(gamma, dtype=np.float32),
                       prefixes=[prompts.xs.shape[1]])[:, 0]
    return float(np.mean((np.asarray(pred, dtype=float) - np.asarray(prompts.yq, dtype=float)) ** 2))


def ridge_test_loss(prompts, noise: float, prior_cov=None) -> float:
    """Monte-Carlo test MSE of Bayes ridge (the posterior mean under w ~ N(0, prior_cov), noise variance noise)."""
    pred = posterior_mean_predictions(prompts.xs, prompts.ys, prompts.xq, noise, prior_cov)
    return float(np.mean((pred - np.asarray(prompts.yq, dtype=float)) ** 2))


def train_rows(df):
    """The rows of the trained points (none in a theory-only run)."""
    return df[df["kind"] == "train"] if "kind" in df else df.iloc[:0]


def cost(config: dict[str, Any]) -> float:
    """Estimated CPU seconds of one point on one core: training ≈ 2.5e-7 s × seeds·steps·batch·(n+1)·(d+1)
    (fitted to the quick isotropic points, 35–110 s each on a loaded 2-core machine), a baseline curve ≈ 2 s."""
    if config.get("kind") != "train":
        return 2.0
    return 2.5e-7 * config["seeds"] * config["steps"] * config["batch"] * (config["n"] + 1) * (config["d"] + 1)


def lsa_label(train) -> str:
    """Legend label of the trained-LSA points: ``"trained LSA, d = 5, mean ± std of 5 trained seeds"``."""
    return F.sim_label("trained LSA", train["d"] if len(train) else None,
                       [len(v) for v in train["test_loss"]] if len(train) else None, unit="trained seed")


def footer(df, settings: dict[str, TrainSettings], reference: str) -> str:
    """Footer of a Mahankali figure: the scale (the one of ``settings``, ``{scale: settings}``, that the trained
    points' configs match), d, the training budget, the number of test prompts and what the reference curves are
    (``reference``)."""
    scales = {name: {"d": s.d, **train_config(s)} for name, s in settings.items()}
    train, curves = train_rows(df), df[df["kind"] == "curve"] if "kind" in df else df.iloc[:0]
    rows = train if len(train) else curves
    if not len(rows):
        return F.footer_text("unknown (no rows)")
    r = rows.iloc[0]
    keys = ("d", "seeds", "steps", "batch", "n_test") if len(train) else ("d", "n_test")
    scale = F.scale_name(scales, {k: r[k] for k in keys if k in r}) + ("" if len(train) else " (theory only)")
    budget = (f"{F.runs_text(r['seeds'], 'trained seed')} per point, {int(r['steps'])} Adam steps of batch "
              f"{int(r['batch'])}, error bars ±1 std over seeds" if len(train) else "")
    return F.footer_text(scale, f"d = {int(r['d'])}", budget, f"{int(r['n_test'])} test prompts per point",
                         reference)


def agreement_table(df, tag, quantities: dict[str, tuple[str, Any, str, float]]):
    """Agreement table (:mod:`iclab.experiments.figures`) of the trained points: per point and quantity, the mean and
    sem over seeds of the list column ``sim`` against ``theory`` (a column name or a number), for
    ``quantities = {name: (sim, theory, reference, tol)}``; the quantity reads "name tag(row)".

    Training reaches the theorem's optimum only up to optimisation error, and the seeds share one test set, so the
    rows are judged against a stated tolerance ``tol`` (relative to the reference's value, or absolute when the
    reference is 0) rather than a z over seeds; ``reference`` names what the value is compared with."""
    rows = []
    for _, r in train_rows(df).iterrows():
        for name, (sim, theory, reference, tol) in quantities.items():
            value = r[theory] if isinstance(theory, str) else theory
            absolute = tol * abs(value) if value else tol
            rows.append(F.agreement_row(f"{name} {tag(r)}", *F.mean_sem(r[sim]), value, d=int(r["d"]),
                                        runs=len(r[sim]), reference=f"{reference} (tolerance {tol:.0%})",
                                        tol=absolute))
    return F.agreement_frame(rows)
