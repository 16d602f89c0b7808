"""Mahankali et al. experiments: sweep points, the LSA read-out, and trained LSA against the closed forms.

Fast tests train one small configuration per family end to end (points -> compute -> plot). The acceptance grids of
issue 4 (d = 5; 5 seeds; fresh batch per step) are ``slow``.
"""

import jax
import numpy as np
import pandas as pd
import pytest

from iclab import sweep
from iclab.experiments import get_experiment
from iclab.experiments import mahankali2023_common as common
from iclab.experiments.figures import AGREEMENT_COLUMNS
from iclab.models import LinearSelfAttention
from iclab.sweep.reproduce import run_experiment
from iclab.tasks import LinearRegression
from iclab.theory import mahankali2023 as th
from iclab.train import seed_keys
from iclab.validation import UserInputError

SMALL = {"d": 3, "n": [10], "runs": 2, "steps": 400, "batch": 512, "n_test": 8192}


def _run(exp_id, tmp_path, overrides):
    """points -> sweep -> plot; returns [(config, metrics)] of the training points and the plotted CSV."""
    exp = get_experiment(exp_id)
    df = sweep.run(exp.compute, exp.plan("quick", False, overrides), name=exp_id, progress=False)
    assert not df.attrs.get("failed")
    files = exp.plot(df, tmp_path)
    assert {f.suffix for f in files} == {".png", ".csv"} and all(f.stat().st_size > 0 for f in files)
    agree = exp.agreement(df)
    assert list(agree.columns) == AGREEMENT_COLUMNS and len(agree) > 0 and agree["runs"].notna().all()
    train = df[df["kind"] == "train"]
    metrics = [{k: r[k] for k in train.columns} for _, r in train.iterrows()]
    return [(m, m) for m in metrics], pd.read_csv([f for f in files if f.suffix == ".csv"][0])


# --- points and parameters -------------------------------------------------------------------------------------
@pytest.mark.parametrize("exp_id,n_train", [("mahankali2023-isotropic", 4), ("mahankali2023-preconditioned", 2),
                                            ("mahankali2023-nonlinear", 3)])
def test_points_quick_and_theory_only(exp_id, n_train):
    exp = get_experiment(exp_id)
    pts = exp.plan("quick", False, {})
    train = [p for p in pts if p.config["kind"] == "train"]
    assert len(train) == n_train and all(p.config["seeds"] == 5 for p in train)  # settings runs, config key seeds
    assert all(p.config["kind"] == "curve" for p in exp.plan("quick", True, {}))
    assert len(exp.plan("paper", False, {})) > len(pts)
    with pytest.raises(ValueError, match="--set key must be one of"):
        exp.plan("quick", False, {"nn": 3})
    with pytest.raises(UserInputError, match=r"n must be an integer >= 1 \(got 0\)"):
        exp.plan("quick", False, {"n": 0})
    with pytest.raises(UserInputError, match="steps must be an integer >= 1"):
        exp.plan("quick", False, {"steps": -5})
    with pytest.raises(UserInputError, match="runs must be an integer >= 1"):
        exp.plan("quick", False, {"runs": 0})


def test_overrides_and_bad_values():
    exp = get_experiment("mahankali2023-isotropic")
    pts = exp.plan("quick", False, {"n": 7, "sigma2": [0.1, 0.2, 0.3], "d": 2, "runs": "3"})
    train = [p.config for p in pts if p.config["kind"] == "train"]
    assert sorted(c["sigma2"] for c in train) == [0.1, 0.2, 0.3] and {c["n"] for c in train} == {7}
    assert {c["seeds"] for c in train} == {3} and {c["d"] for c in train} == {2}
    with pytest.raises(UserInputError, match="sigma2 must be >= 0"):
        exp.plan("quick", False, {"sigma2": -1})
    pre = get_experiment("mahankali2023-preconditioned")
    assert [p.config["prior"] for p in pre.plan("quick", True, {"prior": "identity"})] == ["identity"]
    assert [p.config["prior"] for p in pre.plan("quick", True, {"prior": "identity,inverse"})] == ["identity",
                                                                                                  "inverse"]
    with pytest.raises(UserInputError, match="prior must be one of inverse, identity"):
        pre.plan("quick", False, {"prior": "flat"})
    with pytest.raises(UserInputError, match="cond must be >= 1"):
        pre.plan("quick", False, {"cond": 0.5})
    with pytest.raises(UserInputError, match="width must be an integer >= 1"):
        get_experiment("mahankali2023-nonlinear").plan("quick", False, {"width": 0})
    with pytest.raises(UserInputError, match="weight_var must be > 0"):
        get_experiment("mahankali2023-nonlinear").plan("quick", False, {"weight_var": 0})


def test_test_prompts_use_a_key_no_training_stream_uses():
    test = common.test_key(20)
    for s in range(20):
        data_key = seed_keys(s)[1]
        for t in range(3):
            assert not np.array_equal(jax.random.fold_in(data_key, t), test)
        assert not np.array_equal(data_key, test)


# --- the LSA read-out against the model itself -------------------------------------------------------------------
@pytest.mark.parametrize("mask_query", [True, False])
def test_read_lsa_matches_the_model_prediction(mask_query):
    # y_hat = x_q' Gamma v + u' T W11 x_q + u0 s w21' x_q with T over the context (and the query when unmasked)
    d, n = 3, 6
    model = LinearSelfAttention(d, key=jax.random.PRNGKey(1), mask_query=mask_query)
    p = LinearRegression.mahankali2023(d, n, 0.3).sample(jax.random.PRNGKey(2), 5)
    kq, pv = np.asarray(model.W_KQ, dtype=float), np.asarray(model.W_PV, dtype=float)
    gamma = th.read_lsa(kq, pv)["gamma"]
    xs, ys, xq = (np.asarray(a, dtype=float) for a in (p.xs, p.ys, p.xq))
    v = np.einsum("bi,bid->bd", ys, xs) / n
    u, u0, w11, w21 = pv[d, :d], pv[d, d], kq[:d, :d], kq[d, :d]
    xx = xs if mask_query else np.concatenate([xs, xq[:, None]], axis=1)
    t = np.einsum("bid,bie->bde", xx, xx) / n
    expected = (np.einsum("ba,ac,bc->b", xq, gamma, v) + np.einsum("a,bac,ce,be->b", u, t, w11, xq)
                + u0 * np.mean(ys**2, 1) * (xq @ w21))
    np.testing.assert_allclose(np.asarray(model(p.xs, p.ys, p.xq)), expected, rtol=2e-4, atol=2e-5)


def test_zfb_init_is_gd_with_no_other_terms():
    model = common.zfb_init(4, jax.random.PRNGKey(0), 0.5)
    out = th.read_lsa(np.asarray(model.W_KQ), np.asarray(model.W_PV))
    assert out["non_gd"] == 0 and np.linalg.norm(out["gamma"]) == pytest.approx(0.25, rel=1e-5)
    np.testing.assert_allclose(out["gamma"], out["gamma"].T, atol=1e-7)
    assert np.linalg.eigvalsh(out["gamma"]).min() > 0


# --- one small trained configuration per family ---------------------------------------------------------------
def test_isotropic_small_training_run(tmp_path):
    # d = 3, n = 10, sigma2 = 0.5: eta* = n / (n + d + 1 + sigma2) = 10/14.5 by hand (a Monte-Carlo least-squares
    # fit of a larger predictor class gave 0.689 and the loss 1.4310); 400 steps of batch 512
    runs, table = _run("mahankali2023-isotropic", tmp_path, {**SMALL, "sigma2": [0.5]})
    (cfg, m), = runs
    eta = 10 / 14.5
    assert m["eta_star"] == pytest.approx(eta, rel=1e-12)
    np.testing.assert_allclose(m["eta_hat"], eta, rtol=0.03)
    assert max(m["offdiag"]) < 0.04 * eta
    np.testing.assert_allclose(m["test_loss"], m["gd_loss_mc"], rtol=0.01)  # same test prompts (paired)
    assert m["loss_star"] == pytest.approx(1.4310, abs=1e-4)  # d (d + 1 + σ²)/(n + d + 1 + σ²) + σ² = 1.43103
    np.testing.assert_allclose(m["test_loss"], m["loss_star"], rtol=0.04)
    assert m["bayes_loss_mc"] < min(m["test_loss"])  # Bayes ridge (the posterior mean) beats one step of GD
    lsa = table[table["series"] == "lsa"]
    assert len(lsa) == 1 and lsa["eta_hat_mean"].iloc[0] == pytest.approx(np.mean(m["eta_hat"]))


def test_preconditioned_small_training_run(tmp_path):
    # the w ~ N(0, I) prior (the harder of the two to train; both are in the slow acceptance test)
    runs, _ = _run("mahankali2023-preconditioned", tmp_path, {**SMALL, "cond": 5.0, "prior": "identity"})
    assert len(runs) == 1
    for cfg, m in runs:
        assert np.max(m["rel_frob"]) < 0.08, cfg["prior"]
        # Gamma* = ((n+1)/n Sigma + (tr Sigma + sigma2)/n I)^-1 (Ahn et al. / ZFB), written out by hand: Sigma has the
        # eigenvalues 5^(-1/2), 1, 5^(1/2) (condition number 5, determinant 1) in a Haar basis
        lam = 5.0 ** np.array([-0.5, 0.0, 0.5])
        want = 1 / ((11 / 10) * lam + (lam.sum() + 0.5) / 10)
        gamma = np.asarray(m["gamma_star"])
        np.testing.assert_allclose(np.linalg.eigvalsh(gamma), np.sort(want), rtol=1e-10)
        sigma = common.covariance(cfg)
        np.testing.assert_allclose(gamma @ sigma, sigma @ gamma, atol=1e-12)  # the same eigenvectors as Sigma
        assert np.abs(gamma - np.diag(np.diag(gamma))).max() > 0.01  # rotated, not diagonal
        np.testing.assert_allclose(m["test_loss"], m["gd_loss_mc"], rtol=0.02)


def test_nonlinear_small_training_run(tmp_path):
    runs, _ = _run("mahankali2023-nonlinear", tmp_path, {**SMALL, "width": [4]})
    (cfg, m), = runs
    # by hand: weight_var = 1/d, so E|beta_f|^2 = 1/4 (Stein) and E[y^2 |x|^2] = (d + 2)/2 + sigma2 d = 3.25;
    # eta* = n E|beta_f|^2 / (E[y^2 |x|^2] + (n - 1) E|beta_f|^2) = 2.5 / 5.5
    eta = 2.5 / 5.5
    assert m["eta_star"] == pytest.approx(eta, rel=1e-12)
    assert m["eta_star_mc"] == pytest.approx(eta, rel=0.05)
    np.testing.assert_allclose(m["eta_hat"], eta, rtol=0.05)
    np.testing.assert_allclose(m["test_loss"], m["gd_loss_mc"], rtol=0.02)


# --- acceptance (issue 4), slow ----------------------------------------------------------------------------------
ACCEPT_TRAIN = {"seeds": 5, "steps": 1500, "batch": 600, "n_test": 65536}
# the isotropic criterion on off-diagonal entries (max of 20 entries < 0.02 eta*) needs less gradient noise at n = 10
# (with batch 600 x 1500 steps the worst seed reached 0.021 eta*): 2000 steps with batch 10000 / n, the same number of
# context tokens per step at every n (the noise of the learned matrix falls with n at a fixed batch)
ACCEPT_ISO = {**ACCEPT_TRAIN, "steps": 2000}


def _train_points(exp_id, overrides):
    exp = get_experiment(exp_id)
    return exp, [p.config for p in exp.plan("paper", False, overrides) if p.config["kind"] == "train"]


def _report(tag, **values):
    print(tag, " ".join(f"{k}={np.round(v, 4).tolist()}" for k, v in values.items()), flush=True)


@pytest.mark.slow
@pytest.mark.parametrize("n", [10, 20, 40])
def test_acceptance_isotropic(n):
    exp, configs = _train_points("mahankali2023-isotropic", {"d": 5, "n": [n], "sigma2": [0.0, 0.25, 0.5, 1.0],
                                                             **ACCEPT_ISO, "batch": 10000 // n})
    assert len(configs) == 4
    worst = {"eta": 0.0, "offdiag": 0.0, "loss": 0.0}
    for cfg in configs:
        m = exp.compute(cfg, 0)
        eta = m["eta_star"]
        err_eta = np.abs(np.asarray(m["eta_hat"]) / eta - 1)
        err_loss = np.abs(np.asarray(m["test_loss"]) / m["loss_star"] - 1)
        _report(f"n={cfg['n']} sigma2={cfg['sigma2']}", eta_rel_err=err_eta,
                offdiag_over_eta=np.asarray(m["offdiag"]) / eta,
                loss_rel_err=err_loss, gd_mc_rel_err=m["gd_loss_mc"] / m["loss_star"] - 1)
        worst = {"eta": max(worst["eta"], err_eta.max()), "offdiag": max(worst["offdiag"], max(m["offdiag"]) / eta),
                 "loss": max(worst["loss"], err_loss.max())}
    _report("worst", **worst)
    assert worst["eta"] < 0.02 and worst["offdiag"] < 0.02 and worst["loss"] < 0.02


@pytest.mark.slow
def test_acceptance_preconditioned():
    exp, configs = _train_points("mahankali2023-preconditioned", {"d": 5, "n": [20], "cond": 10.0, **ACCEPT_TRAIN})
    assert {c["prior"] for c in configs} == {"inverse", "identity"}
    errs = {}
    for cfg in configs:
        m = exp.compute(cfg, 0)
        errs[cfg["prior"]] = np.max(m["rel_frob"])
        _report(cfg["prior"], rel_frob=m["rel_frob"], loss_rel_err=np.asarray(m["test_loss"]) / m["loss_star"] - 1)
    assert max(errs.values()) < 0.05, errs


@pytest.mark.slow
def test_acceptance_nonlinear():
    exp, configs = _train_points("mahankali2023-nonlinear", {"d": 5, "n": [20], "width": [4], **ACCEPT_TRAIN})
    (cfg,) = configs
    m = exp.compute(cfg, 0)
    err = np.abs(np.asarray(m["eta_hat"]) / m["eta_star"] - 1)
    _report("relu width 4", eta_rel_err=err, eta_star=m["eta_star"], eta_star_mc=m["eta_star_mc"])
    assert err.max() < 0.03


@pytest.mark.parametrize("exp_id", ["mahankali2023-preconditioned"])  # the others' theory-only plots: slow below
def test_theory_only_reproduce_end_to_end(exp_id, tmp_path):
    files = run_experiment(exp_id, theory_only=True, overrides={"n": [6], "n_test": 256}, out_dir=tmp_path,
                           store=tmp_path / "store.sqlite", progress=False)
    csv = pd.read_csv([f for f in files if f.suffix == ".csv"][0])
    theory = csv[csv["series"] == "theory"]
    assert len(theory) > 0 and (theory["gd_loss"] > 0).all()


@pytest.mark.slow
@pytest.mark.parametrize("exp_id", ["mahankali2023-isotropic", "mahankali2023-nonlinear"])
def test_theory_only_reproduce_end_to_end_others(exp_id, tmp_path):
    test_theory_only_reproduce_end_to_end(exp_id, tmp_path)
