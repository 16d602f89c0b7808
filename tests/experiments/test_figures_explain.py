"""Every registered figure explains itself: built at a tiny scale from real (shrunk) computations, each plotted
artist with data has a label that a legend shows (or a colour bar), and the figure carries a footer naming its
scale. Also the shared helpers of :mod:`iclab.experiments.figures` that make this so."""

import matplotlib
import numpy as np
import pytest

from iclab import sweep
from iclab.experiments import available, get_experiment
from iclab.experiments import figures as F

YANG = {"N": 6, "K": 20, "d": 8, "m": 4, "n_test": 10}  # Yang et al. data sizes small enough for seconds
# tiny settings per figure (--set overrides): each builds in seconds
TINY = {
    "lu2024-fig1": ("quick", {"d": 8, "runs": 2, "n_theory": 40}),
    "lu2024-fig2": ("quick", {"d": 10, "runs": 2, "n_theory": 60}),
    "lu2024-fig3": ("quick", {"n_kappa": 21, "n_rho": 6, "n_alpha": 150}),
    "lu2024-fig4": ("quick", {"d": 10, "runs": 2, "d_dmmse": 13, "n_test": 16, "n_kappa_dmmse": 4, "n_theory": 40}),
    "lu2024-fig4-demo": ("demo", {"d": 8, "runs": 2, "n_test": 16, "n_theory": 30}),
    # training is faked (fake_training): the closed forms and Monte Carlo baselines are real
    "mahankali2023-isotropic": ("quick", {"d": 2, "n": [4, 8], "sigma2": [0.0, 0.5], "runs": 2, "n_test": 32}),
    "mahankali2023-preconditioned": ("quick", {"d": 2, "n": [4, 8], "runs": 2, "n_test": 32}),
    "mahankali2023-nonlinear": ("quick", {"d": 2, "n": [4], "width": [1, 2], "runs": 2, "n_test": 32}),
    "yang2024-fig3": ("quick", {"N_values": [8, 10, 12], "m": 10, "K": 20, "runs": 3}),
    # the reduced model is solved in closed form; the trained searches compile for tens of seconds
    "lu2024-fig5": ("quick", {"models": "lsa_reduced", "d_lsa": [4, 5], "runs": 2}),
    "lu2024-fig6": ("quick", {"d": [4], "runs": 2, "steps": 5, "n_test": 64, "kappas": [0.5, 2.0], "dmmse_runs": 2,
                              "dmmse_n_test": 64}),
    "yang2024-fig2": ("quick", {**YANG, "steps_1layer": 10, "steps_4layer": 10, "d_model": 8, "d_ff": 16,
                                "batch_4layer": 4, "eval_every_4layer": 5}),
    "yang2024-fig4": ("quick", {**YANG, "H_values": [1, 12], "steps": 20}),
    "yang2024-fig5": ("quick", {**YANG, "H_values": [1, 2], "d_model": 8, "d_ff": 16, "batch": 4, "chunk": 5,
                                "runs": 2, "budget_gflop": 0.01}),
    "letey2025-fig1": ("quick", {"d": 12, "alpha_tau": 6.0, "runs": 2, "kappa": [0.5, 1.0]}),
    "letey2025-spike": ("quick", {"d": 12, "runs": 2, "kappa": [0.5, 1.0, 2.1]}),
    "letey2025-test-scaling": ("quick", {"d": 12, "runs": 2, "n_alpha_test": 5}),
    "letey2025-alignment": ("quick", {}),
    "lu2024-finite-size": ("quick", {"ds": "8,12,16", "taus": "2", "alphas": "10", "target_se": 0.05, "min_runs": 4,
                                     "batches": 4}),
}


# the two 4-layer Yang figures compile a 4-layer stack (36–43 s each even at tiny settings): run with -m slow, so
# the fast suite stays under CI's 15 min; every other figure is checked in the fast suite
SLOW = {"yang2024-fig2", "yang2024-fig5"}


def _params():
    # a figure registered without tiny settings fails here, so that no figure escapes this test
    return [pytest.param(f, marks=pytest.mark.slow) if f in SLOW else f for f in available()]


def fake_training(monkeypatch):
    """Replace LSA training (seconds of JIT compile per point) by a read-out of eta = 0.5: Gamma = 0.5 I for every
    seed, test loss 1.0; everything else in the Mahankali computes stays real."""
    from iclab.experiments import mahankali2023_common as common

    def train_lsa(task, d, tcfg, seed):
        s = tcfg["seeds"]
        return {"model": s, "gamma": np.stack([0.5 * np.eye(d)] * s), "eta_hat": [0.5] * s, "offdiag": [0.0] * s,
                "non_gd": [0.0] * s, "final_train_loss": [1.0] * s, "train_seconds": 0.0}

    monkeypatch.setattr(common, "train_lsa", train_lsa)
    monkeypatch.setattr(common, "lsa_test_losses", lambda models, prompts: [1.0] * models)


def build(fig, tmp_path, monkeypatch):
    """Run the figure at its tiny settings and plot it; returns (the table, the matplotlib figure)."""
    if fig not in TINY:
        raise NotImplementedError(f"no tiny settings for {fig} yet")
    import matplotlib.pyplot as plt

    if fig.startswith("mahankali"):
        fake_training(monkeypatch)

    scale, over = TINY[fig]
    exp = get_experiment(fig)
    df = sweep.run(exp.compute, exp.plan(scale, False, over), name=fig, progress=False)
    assert not df.attrs.get("failed")
    closed = []
    monkeypatch.setattr(plt, "close", lambda f=None: closed.append(f))  # keep the figure to inspect it
    exp.plot(df, tmp_path)
    assert len(closed) >= 1
    return df, closed[0]


@pytest.mark.parametrize("fig", _params())
def test_every_mark_is_explained(fig, tmp_path, monkeypatch):
    _, f = build(fig, tmp_path, monkeypatch)
    assert F.unexplained_artists(f) == []
    # the scale is named in a footer, the suptitle or a panel title (DESIGN: "every figure states its scale")
    texts = [t.get_text() for t in f.texts] + [a.get_title() for a in f.axes]
    texts += [f._suptitle.get_text()] if f._suptitle is not None else []
    assert any("scale" in t.lower() for t in texts), "no text naming the scale"
    footer = [t.get_text() for t in f.texts if t.get_text().startswith("scale: ")]
    if fig.startswith(("lu2024-fig1", "lu2024-fig2", "lu2024-fig4")):
        # the tiny run is at --set sizes: the footer says so, and names d and the runs
        d = TINY[fig][1]["d"]
        assert "custom (--set)" in footer[0] and f"d = {d}" in footer[0] and "2 runs" in footer[0]
        labels = {t.get_text() for lg in f.legends for t in lg.get_texts()}
        assert any(lab.startswith("Γ* simulation, d = ") or lab.startswith("iclab Γ* simulation, d = ")
                   for lab in labels), labels
        assert any("d → ∞" in lab for lab in labels), labels


def test_unexplained_artists_finds_unlabelled_marks():
    plt = F.pyplot()
    fig, (a, b) = plt.subplots(1, 2)
    a.plot([0, 1], [0, 1], label="theory")
    a.errorbar([0, 1], [0, 1], yerr=[0.1, 0.1], fmt="o")          # no label
    a.axvline(1.0, color="red")                                    # a reference line, unnamed
    im = b.pcolormesh(np.arange(3), np.arange(3), np.ones((3, 3)))   # no colour bar yet
    a.legend()
    missing = F.unexplained_artists(fig)
    assert len(missing) == 3 and sum("errorbar" in m for m in missing) == 1
    fig.colorbar(im, ax=b)
    a.lines[-1].set_label("κ = 1")
    a.containers[0].set_label("simulation")
    assert len(F.unexplained_artists(fig)) == 2                    # labelled, but not yet in a legend
    a.legend()
    assert F.unexplained_artists(fig) == []
    plt.close(fig)


def test_legends_share_one_entry_per_label_and_save_places_them(tmp_path, monkeypatch):
    plt = F.pyplot()
    monkeypatch.setattr(plt, "close", lambda f=None: None)  # keep the Agg canvas to measure the layout
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for ax in axes:
        for c in ("C0", "C1"):
            ax.plot([0, 1], [1, 2], color=c, label=f"α = {c}")
            ax.errorbar([0.5], [1.5], yerr=[0.1], fmt="o", color=c, label=F.sim_label("Γ* simulation", 30, 5))
    F.legends(fig, axes, inside=lambda lab: lab.startswith("α"), extra=[F.proxy("lines: theory (d → ∞)")])
    shared = [t.get_text() for t in fig.legends[0].get_texts()]
    assert shared == ["Γ* simulation, d = 30, mean ± std of 5 runs", "lines: theory (d → ∞)"]
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["α = C0", "α = C1"]
    footer = F.footer_text("quick", "d = 30", "", "5 runs per point")
    assert footer == "scale: quick · d = 30 · 5 runs per point"
    F.save_figure(fig, [{"x": 1}], tmp_path, "f", footer=footer)
    # the figure legend sits above the footer and below the panels
    (lg,) = fig.legends
    renderer = fig.canvas.get_renderer()
    text_top = fig.texts[0].get_window_extent(renderer).y1
    assert lg.get_window_extent(renderer).y0 >= text_top - 1
    assert min(ax.get_tightbbox(renderer).y0 for ax in axes) >= lg.get_window_extent(renderer).y1 - 1


def test_labels_footer_and_scale_name():
    assert F.sim_label("Γ* simulation", [30, 30], [5, 3]) == "Γ* simulation, d = 30, mean ± std of 3–5 runs"
    assert F.sim_label("dMMSE", 20, 1, spread="") == "dMMSE, d = 20, mean of 1 run"
    assert F.sim_label("trained LSA", runs=5, unit="trained seed") == "trained LSA, mean ± std of 5 trained seeds"
    settings = {"quick": {"d": 30, "runs": 5}, "paper": {"d": 100, "runs": 10}}
    assert F.scale_name(settings, {"d": 100, "runs": 10}) == "paper"
    assert F.scale_name(settings, {"d": 30, "runs": None}) == "quick"
    assert F.scale_name(settings, {"d": 24, "runs": 5}) == "custom (--set)"
    wrapped = F._wrap("scale: quick · " + "x" * 50 + " · tail", 40)
    assert wrapped.split("\n") == ["scale: quick", "x" * 50, "tail"]


def test_agreement_rows_by_reference_kind():
    # same-meaning reference: z with the combined SE, severity |z|/3
    r = F.agreement_row("g", 1.0058, 0.0091, 1.010, d=32, runs=20, reference="authors", ref_sem=0.0091)
    assert r["z"] == pytest.approx((1.0058 - 1.010) / (0.0091 * np.sqrt(2))) and r["severity"] == pytest.approx(
        abs(r["z"]) / 3)
    # d → ∞ limit: no z, the excess in % against the band
    r = F.agreement_row("e", 1.2, 0.01, 1.0, d=20, runs=2, reference="theory (d → ∞)", band=0.5)
    assert np.isnan(r["z"]) and r["excess_pct"] == pytest.approx(20.0) and r["severity"] == pytest.approx(0.4)
    r = F.agreement_row("e", 3.0, 0.1, 1.0, band=float("nan"))
    assert np.isnan(r["severity"]) and r["excess_pct"] == pytest.approx(200.0)
    # a stated tolerance
    r = F.agreement_row("eta", 0.63, 0.001, 0.625, tol=0.0125)
    assert np.isnan(r["z"]) and r["severity"] == pytest.approx(0.4)
    assert list(F.agreement_frame([]).columns) == F.AGREEMENT_COLUMNS


def test_matplotlib_backend_is_headless():
    assert matplotlib.get_backend().lower() == "agg"
