"""Asymptotic theory of in-context learning by linear attention (Lu, Letey, Zavatone-Veth, Maiti, Pehlevan 2024).

The reduced model Γ* is pretrained by ridge regression (ridge λ) on n = τd² contexts of length ℓ = αd whose tasks
come from a pool of k = κd vectors (κ = inf: a fresh task per context); labels carry noise of variance ρ. As
d → ∞ its test errors on fresh tasks (ICL) and on pool tasks (IDG) have closed forms in (τ, α, κ, ρ, λ).

Every public function is pure numpy in float64 and broadcasts over all of its parameters; scalar inputs give
numpy scalars. Notation (that of the authors' code): q = (1+ρ)/α, F = (1/k)Σ wⱼwⱼᵀ with Marchenko–Pastur
spectrum of ratio κ, ν = q + ξ with ξ the self-consistent effective ridge, and the spectral traces (all at x > 0)

    M(x)  = tr(F+x)⁻¹/d                 (M_kappa)
    t(x)  = tr F(F+x)⁻¹/d  = κM/(κ+M)    (= 1 − xM, without the cancellation)
    S2(x) = tr F²(F+x)⁻²/d              (= 1 − 2xM − x²M')
    m2(x) = tr(F+x)⁻²/d    = −M'(x)

We evaluate the general-λ errors through these positive quantities (and the root identity for ξ), so that no
formula subtracts nearly equal numbers except at the genuine interpolation threshold τ = 1.

Sources. Lu et al. 2024 is arXiv 2405.11751 (PNAS 122(28), e2502599122, 2025). The equation numbers of its body
could not be checked, so formulas cite the function of the authors' public code they come from
(Pehlevan-Group/incontext-asymptotics-experiments, ``theory_runs/common.py``: ``M_kappa``, ``S_Wishart_derivative``,
``ridge_icl``, ``ridgeless_icl``, ``ridgeless_idg``; the follow-up's ``prop_icl``), or say "derived here" where the
authors' code has no counterpart, and reference values cite the paper's figure.
"""

from __future__ import annotations

import numpy as np

from iclab.validation import UserInputError, check_choice, check_nonnegative, check_positive

__all__ = [
    "M_kappa", "M_kappa_prime", "xi", "evaluate", "e_icl", "e_idg", "g_task",
    "limit_tau_inf", "limit_alpha_inf", "icl_alpha_slope", "g_task_joint_limit",
    "e_bayes_ridge", "e_gd", "alpha_star", "nonmonotone_map",
]


# --------------------------------------------------------------------------------------------------------------
# Marchenko–Pastur spectral functions


def _mp(x, invk):
    """M(x) and s(x) = sqrt(b² + 4x/κ), b = x + 1 − 1/κ, for the MP law of ratio κ = 1/invk (invk = 0: κ = inf).

    M is the positive root of (x/κ)M² + bM − 1 = 0; we take the cancellation-free branch by the sign of b.
    """
    b = x + 1.0 - invk
    s = np.sqrt(b * b + 4.0 * x * invk)
    with np.errstate(divide="ignore", invalid="ignore"):
        M = np.where(b >= 0, 2.0 / (b + s), (s - b) / (2.0 * x * invk))
    return M, s


def _traces(x, invk):
    """(M, t, S2, m2, t/s) at x: see the module docstring. Shapes broadcast."""
    M, s = _mp(x, invk)
    u = M * invk                         # M/κ
    t = M / (1.0 + u)                    # tr F(F+x)^-1 / d
    ts = t / s                           # tr F(F+x)^-2 / d
    m2 = M * (1.0 + u) / s               # tr (F+x)^-2 / d = -M'
    # S2 = t (s - x)/s with s - x = ((1-1/κ)² + 2x(1+1/κ))/(s + x): a sum of non-negative terms.
    S2 = ts * ((1.0 - invk) ** 2 + 2.0 * x * (1.0 + invk)) / (s + x)
    return M, t, S2, m2, ts


def _invk(kappa):
    with np.errstate(divide="ignore"):
        return 1.0 / kappa  # 0 for kappa = inf


def M_kappa(x, kappa):
    """Stieltjes transform M_κ(x) = lim tr(F + x I)⁻¹/d of the MP law with ratio κ, at x ≥ 0 (the authors'
    ``M_kappa``).

    κ = inf gives 1/(1 + x). Shapes broadcast; x = 0 gives κ/(κ−1) for κ > 1 and inf for κ ≤ 1.
    """
    x = check_nonnegative("x", x)
    kappa = check_positive("kappa", kappa, allow_inf=True)
    return _mp(x, _invk(kappa))[0][()]


def M_kappa_prime(x, kappa):
    """Derivative M'_κ(x) = −M(1 + M/κ)/sqrt((x+1−1/κ)² + 4x/κ) < 0, at x > 0 (the authors'
    ``S_Wishart_derivative``, in an equivalent form)."""
    x = check_positive("x", x)
    kappa = check_positive("kappa", kappa, allow_inf=True)
    invk = _invk(kappa)
    M, s = _mp(x, invk)
    return (-M * (1.0 + M * invk) / s)[()]


# --------------------------------------------------------------------------------------------------------------
# The effective ridge ξ: the self-consistent equation of Lu et al. 2024 that the authors' ``ridge_icl`` solves
# with fsolve (their ``eps``)


def _xi_kappa_inf(tau, q, lam):
    """Closed form for κ = inf: the positive root of τξ² − bξ − τλ(1+q) = 0, b = (1−τ)(1+q) + τλ."""
    b = (1.0 - tau) * (1.0 + q) + tau * lam
    r = np.sqrt(b * b + 4.0 * tau * tau * lam * (1.0 + q))
    with np.errstate(divide="ignore", invalid="ignore"):
        big = (b + r) / (2.0 * tau)
        small = 2.0 * tau * lam * (1.0 + q) / (r - b)
    return np.where(b >= 0, big, np.where(r - b > 0, small, 0.0))


def _xi_ridgeless(tau, q, invk):
    """λ → 0⁺: ξ = (1−τ)/(τ M_{κ/τ}(q)) for τ < 1, and 0 for τ ≥ 1."""
    below = tau < 1.0
    Mt, _ = _mp(q, invk * tau)           # ratio κ/τ
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(below, (1.0 - tau) / (tau * Mt), 0.0)


def _xi_newton(tau, q, invk, lam, *, max_iter=100):
    """Root ξ > 0 of h(ξ) = ξ A(ξ) + τλ, A = 1 − τ − ξM(ν), ν = q + ξ (the ξ equation times ξ), for λ > 0 and 1-d
    arrays.

    A has two exact forms: 1 − τ − ξM, and t(ν) + qM(ν) − τ (as ξM = 1 − t − qM); we take the second when ξM ≥ 1/2,
    so that neither subtracts nearly equal numbers, even when ξ ≫ q (τ → 0) or ξ ≪ q (τ = 1, tiny λ).
    h(0) = τλ > 0 and h is concave (ξ²M(q+ξ) = E_s ξ²/(s+q+ξ) is convex), so the root is unique and Newton
    started to its right decreases monotonically onto it. The κ = inf root is such a start (Jensen, E s = 1 gives
    ξM(q+ξ) ≥ ξ/(1+q+ξ)). A bracket [lo, hi] with bisection guards against rounding.
    """
    x = _xi_kappa_inf(tau, q, lam)
    lo, hi = np.zeros_like(x), x.copy()
    idx = np.arange(x.size)
    for _ in range(max_iter):
        t_, q_, k_, l_, x_ = tau[idx], q[idx], invk[idx], lam[idx], x[idx]
        M, t, _, m2, ts = _traces(q_ + x_, k_)
        xm = x_ * M
        A = np.where(xm < 0.5, (1.0 - t_) - xm, t + q_ * M - t_)
        h = x_ * A + t_ * l_
        dh = A - x_ * (ts + q_ * m2)
        pos = h > 0
        lo[idx] = np.where(pos, x_, lo[idx])
        hi[idx] = np.where(pos, hi[idx], x_)
        with np.errstate(divide="ignore", invalid="ignore"):
            new = x_ - h / dh
        bad = ~np.isfinite(new) | (new <= lo[idx]) | (new > hi[idx])
        new = np.where(bad, 0.5 * (lo[idx] + hi[idx]), new)
        solved = np.abs(h) <= 1e-15 * (np.abs(1.0 - t_) * x_ + t_ * l_ + x_ * xm)  # relative to h's terms
        x[idx] = np.where(solved, x_, new)
        done = solved | (np.abs(new - x_) <= 4e-16 * x_)
        idx = idx[~done]
        if idx.size == 0:
            break
    return x


def _xi(tau, q, invk, lam):
    """ξ for broadcast arrays (no validation): closed forms for λ = 0 and κ = inf, Newton otherwise."""
    tau, q, invk, lam = map(np.asarray, (tau, q, invk, lam))
    if tau.ndim == 0 and lam.ndim == 0 and lam == 0:   # fast path (Fig 3 maps): ridgeless, one τ
        shape = np.broadcast_shapes(q.shape, invk.shape)
        return _xi_ridgeless(tau, q, invk) if tau < 1 else np.zeros(shape)
    tau, q, invk, lam = np.broadcast_arrays(tau, q, invk, lam)
    out = _xi_ridgeless(tau, q, invk)
    fresh = invk == 0
    if fresh.any():
        out[fresh] = _xi_kappa_inf(tau[fresh], q[fresh], lam[fresh])
    solve = (lam > 0) & ~fresh
    if solve.any():
        out[solve] = _xi_newton(tau[solve], q[solve], invk[solve], lam[solve])
    return out


def _params(tau, alpha, kappa, rho, lam):
    return (check_positive("tau", tau), check_positive("alpha", alpha),
            check_positive("kappa", kappa, allow_inf=True), check_nonnegative("rho", rho),
            check_nonnegative("lam", lam))


def xi(tau, alpha, kappa, rho, lam=0.0):
    """Effective ridge ξ > 0 solving 1 − τ + τλ/ξ = ξ M_κ(q + ξ), q = (1+ρ)/α (the authors' ``ridge_icl``);
    ξ = 0 for λ = 0, τ ≥ 1, and (1−τ)/(τ M_{κ/τ}(q)) for λ = 0, τ < 1 (the ridgeless limit of that equation)."""
    tau, alpha, kappa, rho, lam = _params(tau, alpha, kappa, rho, lam)
    return _xi(tau, (1.0 + rho) / alpha, _invk(kappa), lam)[()]


# --------------------------------------------------------------------------------------------------------------
# Test errors: e_icl is the authors' ``ridge_icl``; e_idg at λ > 0 is derived here (the authors' code has none) and
# reduces to their ``ridgeless_idg`` at λ = 0. The ridgeless closed forms (``ridgeless_icl``, ``ridgeless_idg``) are
# these formulas at the closed-form ξ.


def _errors(tau, q, rho, invk, lam):
    """(ξ, e_icl, e_idg) for broadcast arrays, no validation.

    With ν = q + ξ: e_idg = τ N/D, N = ρ + q S2 + ν² t/s, and D = τ − tr(F+q)²(F+ν)⁻²/d, which the root
    equation turns into τλ/ξ + ξ(t/s + q m2) (positive; D = τ − 1 when ξ = 0, i.e. λ = 0 and τ ≥ 1).
    e_icl = 1 + ρ − 2t + (1+q) S2 + (1+q)(N/D)(t/s + q m2). At λ = 0, τ = 1 both errors are +inf.
    """
    x = _xi(tau, q, invk, lam)
    nu = q + x
    _, t, S2, m2, ts = _traces(nu, invk)
    c = ts + q * m2                                   # tr (F+q)(F+ν)^-2 / d
    N = rho + q * S2 + nu * nu * ts
    with np.errstate(divide="ignore", invalid="ignore"):
        D = np.where(x > 0, tau * lam / x + x * c, tau - 1.0)
        r = np.where(D > 0, N / D, np.inf)            # e_idg / τ
        e_idg = tau * r
        e_icl = 1.0 + rho - 2.0 * t + (1.0 + q) * S2 + (1.0 + q) * r * c
    return x, e_icl, e_idg


def evaluate(tau, alpha, kappa, rho, lam=0.0) -> dict[str, np.ndarray]:
    """All asymptotic quantities at once: ``{"xi", "e_icl", "e_idg", "g_task"}``, arrays of the broadcast shape.

    tau > 0, alpha > 0, kappa > 0 (inf: fresh tasks), rho ≥ 0 (noise variance), lam ≥ 0 (0: ridgeless limit).
    """
    tau, alpha, kappa, rho, lam = _params(tau, alpha, kappa, rho, lam)
    invk = _invk(kappa)
    x, icl, idg = _errors(tau, (1.0 + rho) / alpha, rho, invk, lam)
    with np.errstate(invalid="ignore"):
        g = _g_task(icl, idg, tau, invk, lam)
    return {"xi": np.asarray(x), "e_icl": np.asarray(icl), "e_idg": np.asarray(idg), "g_task": np.asarray(g)}


def _g_task(icl, idg, tau, invk, lam):
    """e_icl − e_idg (the gap plotted in Lu et al. 2024, Fig. 4) with its exact special values.

    - κ = ∞: the pretraining tasks are fresh, so IDG tests on fresh tasks too: e_ICL = e_IDG and g_task = 0
      exactly, not the rounding residue of two equal sums (±1e-16).
    - Ridgeless threshold λ = 0, τ = 1, κ < ∞ (the interpolation peak of Lu et al. 2024, Fig. 1): both errors are
      +∞, and g_task → +∞ from both sides. From τ > 1 (the ``prop_icl`` and ``ridgeless_idg`` forms):
      g_task = A + (ρ + q − q²m*)((1+q)m* − 1)/(τ − 1) with A finite and m* = M_κ(q); the coefficient is positive
      because qm* < 1 and (1+q)M_κ(q) > 1 (Jensen: M_κ(q) = E 1/(s+q) > 1/(E s + q), E s = 1 for the
      MP law of ratio κ < ∞, which has variance 1/κ > 0). From τ < 1 the same factor (1+q)M_κ(q) − τ → (1+q)m* − 1
      multiplies N/D with D → 0⁺ (see :func:`_errors`). So +∞, not the NaN of ∞ − ∞.
    """
    g = icl - idg
    g = np.where((lam == 0) & (tau == 1) & np.isnan(g), np.inf, g)
    return np.where(invk == 0, 0.0, g)


def e_icl(tau, alpha, kappa, rho, lam=0.0):
    """Asymptotic ICL error (fresh test tasks) of Γ* (the authors' ``ridge_icl``; ``ridgeless_icl`` at lam = 0)."""
    return evaluate(tau, alpha, kappa, rho, lam)["e_icl"][()]


def e_idg(tau, alpha, kappa, rho, lam=0.0):
    """Asymptotic in-distribution error (test tasks from the pretraining pool) of Γ* (derived here for lam > 0;
    the authors' ``ridgeless_idg`` at lam = 0)."""
    return evaluate(tau, alpha, kappa, rho, lam)["e_idg"][()]


def g_task(tau, alpha, kappa, rho, lam=0.0):
    """Task-generalisation gap e_icl − e_idg (the authors' ``gtask``; Lu et al. 2024, Fig. 4)."""
    return evaluate(tau, alpha, kappa, rho, lam)["g_task"][()]


# --------------------------------------------------------------------------------------------------------------
# Limits (derived here from the formulas above) and reference estimators (one-step GD; Bayes ridge)


def limit_tau_inf(alpha, kappa, rho):
    """Ridgeless τ → inf: (e_icl, e_idg) with Γ* → [F(F+q)⁻¹, 0] (derived here: ξ = 0 and N/D → 0)."""
    alpha = check_positive("alpha", alpha)
    kappa = check_positive("kappa", kappa, allow_inf=True)
    rho = check_nonnegative("rho", rho)
    q = (1.0 + rho) / alpha
    _, t, S2, _, _ = _traces(q, _invk(kappa))
    return ((1.0 + q) * S2 - 2.0 * t + 1.0 + rho)[()], (rho + q * t)[()]


def limit_alpha_inf(tau, kappa, rho):
    """Ridgeless α → inf (ρ > 0): (e_icl, e_idg) limits, derived here (q → 0 in the formulas above).

    e_icl is +inf where κ ≤ min(τ, 1) (it grows linearly, see :func:`icl_alpha_slope`). e_idg → ρτ/(τ−1) for
    τ > 1; for τ < 1 the limit is the IDG formula at q = 0 when κ > τ (ξ → (1−τ)(κ−τ)/(τκ)), and NaN
    (no closed form known; it diverges at κ = τ) when κ ≤ τ.
    """
    tau = check_positive("tau", tau)
    kappa = check_positive("kappa", kappa, allow_inf=True)
    rho = check_nonnegative("rho", rho)
    tau, kappa, rho = np.broadcast_arrays(tau, kappa, rho)
    invk = _invk(kappa)
    with np.errstate(divide="ignore", invalid="ignore"):
        big = rho * (1.0 + 1.0 / ((1.0 - invk) * (tau - 1.0)))                   # τ > 1, κ > 1
        small = 1.0 - tau + rho + tau * rho / ((1.0 - tau) * (1.0 - tau * invk))  # τ < 1, κ > τ
        icl = np.where(tau > 1, np.where(kappa > 1, big, np.inf), np.where(kappa > tau, small, np.inf))
        icl = np.where(tau == 1, np.inf, icl)
        x0 = (1.0 - tau) * (1.0 - tau * invk) / tau                              # ξ at q = 0, τ < 1 < κ/τ
        _, t, S2, m2, ts = _traces(np.where(x0 > 0, x0, 1.0), invk)
        idg_small = tau * (rho + x0 * x0 * ts) / (x0 * ts)
        idg = np.where(tau > 1, rho * tau / (tau - 1.0), np.where((tau < 1) & (kappa > tau), idg_small, np.nan))
    return icl[()], idg[()]


def icl_alpha_slope(tau, kappa, rho):
    """Slope of the linear growth of the ridgeless e_icl in α for κ < min(τ, 1) (0 elsewhere; derived here). The
    boundary κ = min(τ, 1) is the red line of the authors' heat maps, Lu et al. 2024, Fig. 3."""
    tau = check_positive("tau", tau)
    kappa = check_positive("kappa", kappa, allow_inf=True)
    rho = check_nonnegative("rho", rho)
    with np.errstate(divide="ignore", invalid="ignore"):
        hi = (1.0 - kappa) * rho / ((1.0 + rho) * (tau - 1.0))
        lo = (tau - kappa) * rho / ((1.0 - tau) * (1.0 + rho))
        out = np.where(tau > 1, np.where(kappa < 1, hi, 0.0), np.where(kappa < tau, lo, 0.0))
    return out[()]


def g_task_joint_limit(kappa, rho, c=np.inf):
    """g_task when τ = cα → inf: (1−κ)₊ (1 + ρ/(c(1+ρ))); c = inf is the double limit (1−κ)₊ (derived here).

    This is the memorisation → ICL transition at κ = 1 of Lu et al. 2024 (abstract; Fig. 4 uses c = 0.2)."""
    kappa = check_positive("kappa", kappa, allow_inf=True)
    rho = check_nonnegative("rho", rho)
    c = check_positive("c", c, allow_inf=True)
    return (np.maximum(1.0 - kappa, 0.0) * (1.0 + rho / (c * (1.0 + rho))))[()]


def e_bayes_ridge(alpha, rho):
    """Asymptotic ICL error of the Bayes posterior mean (XXᵀ + ρI)⁻¹Xy for w ~ N(0, I): ρ(1 + S_W(ρ, α)) (the
    authors' ``bayes_estimator.py``).

    S_W(c, α) = 2/(c + α − 1 + sqrt((c + α − 1)² + 4c)) = M_α(c/α)/α; ρ·S_W is evaluated without cancellation,
    so ρ = 0 gives the noiseless (1 − α)₊.
    """
    alpha = check_positive("alpha", alpha)
    rho = check_nonnegative("rho", rho)
    b = rho + alpha - 1.0
    r = np.sqrt(b * b + 4.0 * rho)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho_sw = np.where(b > 0, 2.0 * rho / (b + r), 0.5 * (r - b))
    return (rho + rho_sw)[()]


def e_gd(alpha, rho, eta=None):
    """Error of one gradient step ŷ = η x·(d/ℓ)Σ yᵢxᵢ on fresh tasks: 1 + ρ − 2η + η²(1+q).

    The step is in the "d/ℓ" convention (x ~ N(0, I/d), so η = 1 is unbiased): the estimator is
    ``iclab.estimators.gd_one_step(..., eta, scale="d/t")``, or ``eta * d`` with the default ``scale="1/t"``.

    eta=None uses the optimal step η = 1/(1+q), giving ρ + (1+ρ)/(1+ρ+α), the κ, τ → inf limit of Γ* (derived
    here: Γ* → [I, 0]/(1+q)).
    """
    alpha = check_positive("alpha", alpha)
    rho = check_nonnegative("rho", rho)
    q = (1.0 + rho) / alpha
    if eta is None:
        return (rho + q / (1.0 + q))[()]
    eta = check_nonnegative("eta", eta)
    return (1.0 + rho - 2.0 * eta + eta * eta * (1.0 + q))[()]


# --------------------------------------------------------------------------------------------------------------
# Non-monotonicity in context length (Lu et al. 2024, Figs 2 and 3)


def _first_valley(e, tol):
    """Index along the last axis of the first local minimum (a fall by > tol, then a rise by > tol); 0 if none."""
    d = np.diff(e, axis=-1)
    fell = np.logical_or.accumulate(d < -tol, axis=-1)
    rise = np.zeros_like(fell)
    rise[..., 1:] = (d[..., 1:] > tol) & fell[..., :-1]      # rise at step j after a fall at a step < j
    return np.where(rise.any(axis=-1), rise.argmax(axis=-1), 0)


def _which_error(which, tau, q, rho, invk, lam):
    _, icl, idg = _errors(tau, q, rho, invk, lam)
    return icl if which == "icl" else idg


def alpha_star(tau, kappa, rho, lam=0.0, which="icl", *, alpha_min=1e-2, alpha_max=1e4, n_grid=600):
    """First local minimiser α* of e_icl (or e_idg) over context length, and the error there.

    Returns ``(alpha_star, e_star)`` of the broadcast shape of (tau, kappa, rho, lam), NaN where the curve has no
    interior local minimum on [alpha_min, alpha_max] (monotone there). A log grid of n_grid points locates the
    first valley; golden-section search in log α refines it (relative accuracy about 1e-8).
    """
    which = check_choice("which", which, ("icl", "idg"))
    tau, _, kappa, rho, lam = _params(tau, 1.0, kappa, rho, lam)
    check_positive("alpha_min", alpha_min)
    if not alpha_max > alpha_min:
        raise UserInputError(f"alpha_max must be > alpha_min (got {alpha_max!r})")
    tau, invk, rho, lam = np.broadcast_arrays(tau, _invk(kappa), rho, lam)
    grid = np.geomspace(alpha_min, alpha_max, n_grid)
    f = lambda a, i=...: _which_error(which, tau[i], (1.0 + rho[i]) / a, rho[i], invk[i], lam[i])
    e = f(grid, (..., None))
    j = _first_valley(e, 0.0)
    found = j > 0
    la = np.log(grid)
    a, b = la[np.maximum(j - 1, 0)], la[np.minimum(j + 1, n_grid - 1)]
    g = (np.sqrt(5.0) - 1.0) / 2.0
    c, d_ = b - g * (b - a), a + g * (b - a)
    fc, fd = f(np.exp(c)), f(np.exp(d_))
    for _ in range(60):
        left = fc < fd                      # minimum in [a, d]
        b = np.where(left, d_, b)
        a = np.where(left, a, c)
        c_new = np.where(left, b - g * (b - a), d_)
        d_new = np.where(left, c, a + g * (b - a))
        fd_new = np.where(left, fc, f(np.exp(d_new)))
        fc_new = np.where(left, f(np.exp(c_new)), fd)
        c, d_, fc, fd = c_new, d_new, fc_new, fd_new
    a_star = np.exp(0.5 * (a + b))
    e_star = f(a_star)
    return np.where(found, a_star, np.nan)[()], np.where(found, e_star, np.nan)[()]


def nonmonotone_map(tau, kappa, rho, alpha, which="icl", lam=0.0, *, tol=1e-5, max_elems=2**17):
    """Figure 3 pixel map: for each (κ, ρ), the α-grid index of the first local minimum of the error curve.

    kappa: (K,), rho: (R,), alpha: (A,) increasing grid; scalar tau and lam. Returns int array (K, R); 0 where
    the curve is monotone within ``tol`` (no fall by more than tol followed by a rise by more than tol).
    Evaluated in chunks of about ``max_elems`` points, which bounds memory and keeps temporaries in cache.
    """
    which = check_choice("which", which, ("icl", "idg"))
    tau, _, kappa, rho, lam = _params(tau, 1.0, kappa, rho, lam)
    alpha = check_positive("alpha", alpha)
    if tau.ndim or lam.ndim or kappa.ndim != 1 or rho.ndim != 1 or alpha.ndim != 1:
        raise ValueError("nonmonotone_map needs scalar tau and lam and 1-d kappa, rho, alpha")
    if alpha.size > 1 and np.any(np.diff(alpha) <= 0):
        raise UserInputError("alpha must be strictly increasing")
    # rows are (κ, ρ) pairs; chunks of about max_elems points keep the ~40 temporaries in cache
    kk, rr = np.meshgrid(_invk(kappa), rho, indexing="ij")
    kk, rr = kk.reshape(-1, 1), rr.reshape(-1, 1)
    out = np.empty(kk.shape[0], dtype=np.int64)
    step = max(1, max_elems // alpha.size)
    for i in range(0, out.size, step):
        r = rr[i:i + step]
        out[i:i + step] = _first_valley(_which_error(which, tau, (1.0 + r) / alpha, r, kk[i:i + step], lam), tol)
    return out.reshape(kappa.size, rho.size)
