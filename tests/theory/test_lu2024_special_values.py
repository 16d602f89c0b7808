"""Exact special values of the Lu et al. 2024 theory: g_task = 0 at κ = ∞ (fresh pretraining tasks, so e_ICL = e_IDG)
and g_task = +∞ at the ridgeless threshold τ = 1 (the interpolation peak of their Fig. 1, where both errors
diverge), checked against the authors' ridgeless closed forms."""

import numpy as np
import pytest

from iclab.theory import lu2024 as L


def test_g_task_is_exactly_zero_for_fresh_tasks():
    tau = np.array([0.05, 0.5, 0.999, 1.0, 1.001, 2.0, 50.0])
    for lam in (0.0, 1e-3, 0.1):
        out = L.evaluate(tau, 10.0, np.inf, 0.01, lam)
        assert (out["g_task"] == 0).all() and not np.signbit(out["g_task"]).any(), lam
        finite = np.isfinite(out["e_icl"])
        np.testing.assert_allclose(out["e_icl"][finite], out["e_idg"][finite], rtol=1e-13)  # the residue was ~1e-16


def _ridgeless_gap_coefficient(alpha, kappa, rho):
    """τ > 1: e_ICL − e_IDG = A + C/(τ − 1) with C = (ρ + q − q²m*)((1 + q)m* − 1), m* = M_κ(q); read off the
    authors' ridgeless closed forms (``prop_icl`` and ``ridgeless_idg``), independent of the code's general-λ
    evaluation."""
    q = (1 + rho) / alpha
    m = L.M_kappa(q, kappa)
    return (rho + q - q * q * m) * ((1 + q) * m - 1)


@pytest.mark.parametrize("alpha, kappa, rho", [(10.0, 0.5, 0.01), (1.0, 2.0, 0.5), (100.0, 0.2, 0.1)])
def test_g_task_at_the_ridgeless_threshold_is_plus_infinity(alpha, kappa, rho):
    out = L.evaluate(1.0, alpha, kappa, rho)
    assert np.isinf(out["e_icl"]) and np.isinf(out["e_idg"])
    assert out["g_task"] == np.inf  # not the NaN of inf − inf
    c = _ridgeless_gap_coefficient(alpha, kappa, rho)
    assert c > 0  # so g_task → +∞ as τ → 1⁺
    for eps in (1e-4, 1e-6):
        assert eps * L.g_task(1 + eps, alpha, kappa, rho) == pytest.approx(c, rel=20 * eps)
    # from below, g_task also grows like a positive constant over (1 − τ)
    below = [eps * L.g_task(1 - eps, alpha, kappa, rho) for eps in (1e-5, 1e-7)]
    assert below[0] > 0 and below[1] == pytest.approx(below[0], rel=1e-3)
    assert L.g_task(1.0, alpha, kappa, rho, 1e-3) < np.inf  # any λ > 0 removes the divergence
