"""Pretrain–test task alignment in the solvable linear-attention model (Letey, Zavatone-Veth, Lu, Pehlevan 2025).

The model, Γ* and the ridge objective are those of Lu et al. (:mod:`iclab.theory.lu2024`); what changes is the task
prior. Pretraining tasks are w ~ N(0, C_train) (pool of k = κd, unnormalised), test tasks w ~ N(μ, C_test) with
second moment Ĉ = C_test + μμᵀ, and the test context length ℓ_test = α_test d may differ from ℓ = αd.
As d → ∞ the errors are deterministic functions of the eigenvalues λ_i of C_train and of the test moments
c̃_i = u_iᵀ Ĉ u_i on its eigenvectors only (derived here from the authors' ``ICL_error``).

Notation: c_tr = ⟨C_train⟩, c_test = ⟨Ĉ⟩ (⟨A⟩ = tr A / d), q_tr = (c_tr + ρ)/α,
r_test = (c_test + ρ)/α_test, σ = q_tr + λ̃ with λ̃ the effective ridge (the authors' code calls λ̃ ``xi`` and σ
``nu``), and the deterministic resolvent

    F_κ(σ) = [a C_train + σ]⁻¹,  a = 1 − 1/κ + (σ/κ) M,  M = ⟨F_κ⟩     (the self-consistent 𝓜_κ of eq. (17))

with f_i = 1/(aλ_i + σ). Everything is evaluated per distinct eigenvalue of C_train (a spectrum with m distinct
values costs O(m) per evaluation) and through positive quantities (identities noted where used), so nothing
subtracts nearly equal numbers except at the genuine ridgeless threshold τ = 1.

Entry points: :func:`solve` (the fixed points, on a broadcast grid of τ, α, κ, ρ, λ) and :func:`errors` (one test,
any α_test; many tests reuse one solve); :func:`evaluate` does both. Covariance families: :func:`family`.

Sources. Letey et al. 2025 is arXiv 2509.26551 (ICLR 2026). Its body was not available to us: the formulas follow
the authors' public code (Pehlevan-Group/task_alignment_governs_icl_preprint; mletey/pretrain-test-icl-alignment-
ICLR26, ``theory.py``), whose functions are named where used, re-derived and evaluated deterministically over the
eigenvalues of C_train where the authors average Monte-Carlo resolvents (``M_M2_empirical``). What their code does
not have (λ > 0, e_IDG, the limits) is marked "derived here". Equation numbers are cited only where a published
summary of the paper quotes them (eq. (17) for 𝓜_κ); F_κ and 𝒦 are the names on the paper's figure axes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from iclab.theory.lu2024 import M_kappa, M_kappa_prime
from iclab.validation import UserInputError, check_int, check_nonnegative, check_positive

__all__ = [
    "TrainSpectrum", "ProjectedTest", "Solution", "FAMILIES", "family", "family_from_spec", "train_spectrum",
    "project_test",
    "solve", "errors", "evaluate", "e_icl_expanded", "alignment_measures", "cka",
    "limit_alpha_inf", "limit_tau_kappa_inf", "icl_scaled_isotropic",
]


# --------------------------------------------------------------------------------------------------------------
# Covariance families of the authors' figure scripts: diagonal spectra of trace d, indices j = 1..d


def _normalise(v: np.ndarray) -> np.ndarray:
    return v * (v.size / v.sum())


def _pl(d: int, p: float) -> np.ndarray:
    return _normalise(np.arange(1, d + 1, dtype=float) ** -float(p))


def _revpl(d: int, p: float) -> np.ndarray:
    return _pl(d, p)[::-1].copy()


def _piano(d: int) -> np.ndarray:
    return 2.0 * (d + 1 - np.arange(1, d + 1, dtype=float)) / (d + 1)


def _lowrank(d: int, r: float) -> np.ndarray:
    r = check_int("lowrank rank r", r, lo=1, hi=d)
    out = np.zeros(d)
    out[:r] = d / r
    return out


def _spike(d: int, f: float, j: float) -> np.ndarray:
    """f everywhere except d − f(d−1) at the 1-based index j (f = 0: the rank-one d e_j e_jᵀ)."""
    j = check_int("spike index j", j, lo=1, hi=d)
    if not 0.0 <= float(f) <= d / (d - 1):
        raise UserInputError(f"spike level f must be in [0, {d / (d - 1):g}] so the spike is >= 0 (got {f!r})")
    out = np.full(d, float(f))
    out[j - 1] = d - float(f) * (d - 1)
    return out


FAMILIES = {"iso": (0, lambda d: np.ones(d)), "pl": (1, _pl), "revpl": (1, _revpl), "piano": (0, _piano),
            "lowrank": (1, _lowrank), "spike": (2, _spike)}
"""name -> (number of parameters, function (d, *params) -> spectrum (d,)); the authors' figure scripts."""


def family(name: str, d: int, *params: float) -> np.ndarray:
    """Diagonal of a covariance family of the authors' figure scripts (trace d): ``iso``, ``pl`` p, ``revpl`` p,
    ``piano``, ``lowrank`` r, ``spike`` f j (j 1-based). Returns the spectrum (d,) in the standard basis, index
    j = 1..d."""
    d = check_int("d", d, lo=2)
    if name not in FAMILIES:
        raise UserInputError(f"covariance family must be one of {', '.join(FAMILIES)} (got {name!r})")
    n_par, fn = FAMILIES[name]
    if len(params) != n_par:
        raise UserInputError(f"covariance family {name} takes {n_par} parameter(s) (got {len(params)})")
    return fn(d, *params)


_SPEC = re.compile(r"^([a-z]+)((?::[^:]+)*)$")


def family_from_spec(text: str, d: int) -> np.ndarray:
    """Parse ``iso``, ``pl:P``, ``revpl:P``, ``piano``, ``lowrank:R``, ``spike:F:J`` into a spectrum (d,)."""
    m = _SPEC.match(text.strip().lower())
    if m is None or m.group(1) not in FAMILIES:
        raise UserInputError(f"covariance must be iso, pl:P, revpl:P, piano, lowrank:R, spike:F:J or a file "
                             f"(got {text!r})")
    try:
        params = [float(p) for p in m.group(2).split(":")[1:]]
    except ValueError:
        raise UserInputError(f"covariance {text!r}: parameters must be numbers") from None
    if any(not np.isfinite(p) for p in params):
        raise UserInputError(f"covariance {text!r}: parameters must be finite")
    return family(m.group(1), d, *params)


# --------------------------------------------------------------------------------------------------------------
# Train spectrum and test moments (computed once; every solve and test reuses them)


def _check_cov(name: str, cov, d: int | None = None) -> np.ndarray:
    """A spectrum (d,) (diagonal, entries >= 0) or a symmetric PSD matrix (d, d), with positive trace."""
    arr = np.asarray(cov, dtype=float)
    if arr.ndim not in (1, 2) or (arr.ndim == 2 and arr.shape[0] != arr.shape[1]):
        raise UserInputError(f"{name} must be a spectrum (d,) or a square matrix (d, d) (got shape {arr.shape})")
    if d is not None and arr.shape[0] != d:
        raise UserInputError(f"{name} must have size d = {d} (got {arr.shape[0]})")
    if arr.shape[0] < 1 or not np.all(np.isfinite(arr)):
        raise UserInputError(f"{name} must be non-empty and finite")
    scale = np.abs(arr).max()
    if arr.ndim == 2:
        if not np.allclose(arr, arr.T, rtol=1e-10, atol=1e-12 * scale):
            raise UserInputError(f"{name} must be symmetric positive semi-definite (got a non-symmetric matrix)")
        low = np.linalg.eigvalsh(arr).min()
    else:
        low = arr.min()
    if low < -1e-10 * scale:
        raise UserInputError(f"{name} must be positive semi-definite (smallest eigenvalue {low:.3g} < 0)")
    if not (np.trace(arr) if arr.ndim == 2 else arr.sum()) > 0:
        raise UserInputError(f"{name} must have a positive trace (got 0)")
    return arr


@dataclass(frozen=True)
class TrainSpectrum:
    """C_train reduced to its distinct eigenvalues, eigendecomposed once.

    ``⟨g(C_train)⟩ = Σ_u weight[u] g(eig[u])`` for any function g, and the eigenvectors of eigenvalue eig[u] are
    ``basis[:, group == u]`` (basis None: the standard basis, C_train was given as a spectrum).
    """

    eig: np.ndarray
    """(m,) distinct eigenvalues λ_u ≥ 0."""
    weight: np.ndarray
    """(m,) fraction of the d eigenvalues equal to eig[u] (sums to 1)."""
    group: np.ndarray
    """(d,) index u of each eigenvector's eigenvalue."""
    basis: np.ndarray | None
    """(d, d) orthonormal eigenvectors as columns, or None for the standard basis."""
    spectrum: np.ndarray
    """(d,) the eigenvalues λ_i in the order of the basis."""

    @property
    def d(self) -> int:
        return self.spectrum.size

    @property
    def c_tr(self) -> float:
        """c_tr = ⟨C_train⟩ (the authors' ``rhotr = trace(Ctr)/d + rho`` is c_tr + ρ)."""
        return float(self.spectrum.mean())


def train_spectrum(c_train) -> TrainSpectrum:
    """Eigendecompose C_train once: a spectrum (d,) is a diagonal matrix; a (d, d) matrix is diagonalised."""
    arr = _check_cov("C_train", c_train)
    if arr.ndim == 2:
        spec, basis = np.linalg.eigh(arr)
        spec = np.maximum(spec, 0.0)                 # rounding of a PSD matrix's zero eigenvalues
    else:
        spec, basis = np.maximum(arr, 0.0), None
    eig, group, counts = np.unique(spec, return_inverse=True, return_counts=True)
    return TrainSpectrum(eig, counts / spec.size, group.ravel(), basis, spec)


@dataclass(frozen=True)
class ProjectedTest:
    """The test second moment Ĉ = C_test + μμᵀ as the theory sees it: its diagonal on C_train's eigenvectors,
    summed per distinct eigenvalue (e_ICL depends on Ĉ only through these; derived here).
    Reusable across solves of the same :class:`TrainSpectrum`."""

    ct: np.ndarray
    """(m,) (1/d) Σ_{i in group u} c̃_i, c̃_i = u_iᵀ Ĉ u_i; sums to c_test = ⟨Ĉ⟩."""

    @property
    def c_test(self) -> float:
        return float(self.ct.sum())


def project_test(train: TrainSpectrum, c_test, mu=None) -> ProjectedTest:
    """The test moments c̃ of Ĉ = C_test + μμᵀ on the train eigenvectors (μ = 0 in all the authors' figures).

    Only the diagonal of Ĉ in C_train's eigenbasis enters, so any symmetric PSD C_test is allowed. A spectrum
    (d,) is a diagonal matrix in the standard basis; a :class:`ProjectedTest` is returned as it is.
    """
    if isinstance(c_test, ProjectedTest):
        return c_test
    arr = _check_cov("C_test", c_test, train.d)
    if mu is not None:
        mu = np.asarray(mu, dtype=float)
        if mu.shape != (train.d,) or not np.all(np.isfinite(mu)):
            raise UserInputError(f"mu must be a finite vector of size d = {train.d} (got shape {mu.shape})")
    if train.basis is None:
        ct = np.diagonal(arr).copy() if arr.ndim == 2 else arr.copy()
        if mu is not None:
            ct += mu * mu
    else:
        u = train.basis
        ct = np.einsum("ij,ij->j", u, (arr @ u) if arr.ndim == 2 else arr[:, None] * u)
        if mu is not None:
            ct += (u.T @ mu) ** 2
    return ProjectedTest(np.bincount(train.group, weights=ct, minlength=train.eig.size) / train.d)


# --------------------------------------------------------------------------------------------------------------
# The fixed point a(σ) and the traces of F_κ (Letey et al. 2025, eq. (17); the authors' ``ICL_error``: FR, M)


def _solve_a(sigma, invk, eig, w, *, max_iter=200):
    """a ∈ (0, 1] with g(a) = a(1 + T/κ) − 1 = 0, T = ⟨C f⟩, f = 1/(aC + σ) (the fixed point divided through:
    a = 1/(1+δ)).

    g(0) = −1, g(1) ≥ 0, g' = 1 + σ⟨C f²⟩/κ > 0 and g'' < 0, so Newton from a = 0 rises monotonically onto the
    root; the bracket [lo, hi] with bisection guards against rounding. sigma, invk: 1-d arrays of one size.
    """
    a = np.where(invk == 0, 1.0, 0.0)
    lo, hi = np.zeros_like(a), np.ones_like(a)
    idx = np.flatnonzero(invk > 0)
    for _ in range(max_iter):
        if idx.size == 0:
            break
        s, k, a_ = sigma[idx, None], invk[idx], a[idx]
        f = 1.0 / (a_[:, None] * eig + s)
        T = f @ (w * eig)
        S2l = (f * f) @ (w * eig)
        g = a_ * (1.0 + k * T) - 1.0
        dg = 1.0 + k * s[:, 0] * S2l
        neg = g < 0
        lo[idx] = np.where(neg, a_, lo[idx])
        hi[idx] = np.where(neg, hi[idx], a_)
        new = a_ - g / dg
        bad = ~np.isfinite(new) | (new < lo[idx]) | (new > hi[idx])
        new = np.where(bad, 0.5 * (lo[idx] + hi[idx]), new)
        a[idx] = new
        done = (np.abs(new - a_) <= 4e-16 * new) | (g == 0) | (hi[idx] - lo[idx] <= 4e-16 * hi[idx])
        idx = idx[~done]
    return a


@dataclass(frozen=True)
class _Traces:
    """Traces of F_κ at σ (eq. (17) and its σ-derivative), each (N,) unless noted; the identities are derived in
    :func:`_traces` and :func:`solve`."""

    a: np.ndarray
    f: np.ndarray      # (N, m) 1/(aλ + σ)
    M: np.ndarray      # ⟨F_κ⟩
    m2: np.ndarray     # ⟨F_2⟩ = −M'
    t: np.ndarray      # ⟨aC F_κ⟩ = 1 − σM
    u: np.ndarray      # κ a' = M + σM' = a⟨C f²⟩/(1 + σ⟨C f²⟩/κ)
    S2: np.ndarray     # 1 − 2σM − σ²M' = ⟨(aCf)²⟩ + σ² a'⟨C f²⟩
    ap: np.ndarray     # a' = da/dσ


def _traces(sigma, invk, eig, w) -> _Traces:
    """All traces at σ. a' follows from differentiating a(1 + T/κ) = 1: a' = (a/κ) S2λ / (1 + σ S2λ/κ) with
    S2λ = ⟨C f²⟩, which equals the authors' (M + σM')/κ (in ``FR2``; as M − σ⟨f²⟩ = a S2λ) without the
    cancellation."""
    a = _solve_a(sigma, invk, eig, w)
    f = 1.0 / (a[:, None] * eig + sigma[:, None])
    f2 = f * f
    S2l = f2 @ (w * eig)
    u = a * S2l / (1.0 + invk * sigma * S2l)
    ap = invk * u
    m2 = f2 @ w + ap * S2l                     # ⟨(a'C + 1) f²⟩ (the authors' FR2 = F(a'C + I)F, per eigenvalue)
    af = a[:, None] * eig * f
    return _Traces(a, f, f @ w, m2, af @ w, u, (af * af) @ w + sigma * sigma * ap * S2l, ap)


# --------------------------------------------------------------------------------------------------------------
# The effective ridge λ̃ (the authors' ``xi``: ridgeless, τ < 1, in their code; λ > 0 derived here)


def _lambda_tilde(tau, q, invk, lam, eig, w, *, max_iter=200):
    """λ̃ for 1-d arrays: 0 (ridgeless, τ ≥ 1) or the root x > 0 of φ(x) = A(x) + τλ/x, A = 1 − τ − xM(q + x).

    φ decreases from +inf (λ > 0) or 1 − τ (λ = 0, τ < 1) at x = 0⁺ to −τ at inf (xM(q+x) rises from 0 to 1), so
    the root is unique; φ' = −(u + q m2) − τλ/x² (d(xM)/dx = M + xM' = u + q m2). A is evaluated as
    t + qM − τ when xM ≥ 1/2 (xM = 1 − t − qM), so neither form cancels. Newton in a bracket found by
    doubling/halving, with bisection where Newton leaves it.
    """
    out = np.zeros_like(tau)
    solve = (lam > 0) | (tau < 1)
    idx = np.flatnonzero(solve)
    if idx.size == 0:
        return out

    def phi(j, x):
        tr = _traces(q[j] + x, invk[j], eig, w)
        xm = x * tr.M
        A = np.where(xm < 0.5, (1.0 - tau[j]) - xm, tr.t + q[j] * tr.M - tau[j])
        return A + tau[j] * lam[j] / x, -(tr.u + q[j] * tr.m2) - tau[j] * lam[j] / (x * x)

    lo, hi = np.zeros(idx.size), np.ones(idx.size)
    ridge = lam[idx] > 0
    for _ in range(2100):                                  # hi: double until φ(hi) < 0
        v, _ = phi(idx, hi)
        grow = v >= 0
        if not grow.any():
            break
        hi = np.where(grow, 2.0 * hi, hi)
    lo = np.where(ridge, hi, 0.0)
    for _ in range(2100):                                  # lo (λ > 0): halve until φ(lo) > 0
        v, _ = phi(idx, np.where(ridge, lo, 1.0))
        shrink = ridge & (v <= 0)
        if not shrink.any():
            break
        lo = np.where(shrink, 0.5 * lo, lo)
    x = np.where(ridge, np.sqrt(lo * hi), 0.5 * hi)
    act = np.arange(idx.size)
    for _ in range(max_iter):
        j = idx[act]
        v, dv = phi(j, x[act])
        lo[act] = np.where(v > 0, x[act], lo[act])
        hi[act] = np.where(v < 0, x[act], hi[act])
        new = x[act] - v / dv
        bad = ~np.isfinite(new) | (new < lo[act]) | (new > hi[act])
        mid = np.where(lo[act] > 0, np.sqrt(lo[act] * hi[act]), 0.5 * hi[act])
        new = np.where(bad, mid, new)
        done = (np.abs(new - x[act]) <= 4e-16 * new) | (v == 0) | (hi[act] - lo[act] <= 4e-16 * hi[act])
        x[act] = new
        act = act[~done]
        if act.size == 0:
            break
    out[idx] = x
    return out


# --------------------------------------------------------------------------------------------------------------
# Solve and errors


@dataclass(frozen=True)
class Solution:
    """The test-independent part of the theory on a broadcast grid of shape S.

    Arrays have shape S unless noted. ``K`` holds 𝒦 per distinct train eigenvalue, so that
    e_misalign = Σ_u K[..., u] · project_test[u].
    """

    train: TrainSpectrum
    tau: np.ndarray
    alpha: np.ndarray
    kappa: np.ndarray
    rho: np.ndarray
    lam: np.ndarray
    lambda_tilde: np.ndarray
    """effective ridge λ̃ (the authors' ``xi``)."""
    sigma: np.ndarray
    """σ = q_tr + λ̃."""
    a: np.ndarray
    """fixed point a(σ) ∈ (0, 1] (eq. (17))."""
    M: np.ndarray
    """𝓜_κ(σ) = ⟨F_κ(σ)⟩."""
    M_prime: np.ndarray
    """𝓜'_κ(σ) = −⟨F_2⟩ < 0."""
    e_pre: np.ndarray
    """pretraining-error term E_pre (the authors' ``idg``); +inf at the ridgeless threshold τ = 1."""
    e_idg: np.ndarray
    """in-distribution error τ E_pre (derived here)."""
    S2: np.ndarray
    """1 − 2σ𝓜 − σ²𝓜' (enters e_bias)."""
    c_bias: np.ndarray
    """𝓜 + λ̃𝓜' (enters e_bias)."""
    K: np.ndarray
    """(*S, m) 𝒦 per distinct train eigenvalue."""
    resolvent: np.ndarray
    """(*S, m) F_κ(σ) per distinct train eigenvalue (for the resolvent alignment)."""


def _invk(kappa):
    with np.errstate(divide="ignore"):
        return 1.0 / kappa


def _grid(tau, alpha, kappa, rho, lam):
    return (check_positive("tau", tau), check_positive("alpha", alpha),
            check_positive("kappa", kappa, allow_inf=True), check_nonnegative("rho", rho),
            check_nonnegative("lam", lam))


def solve(c_train, tau, alpha, kappa, rho, lam=0.0) -> Solution:
    """Fixed point, effective ridge, E_pre, e_IDG and 𝒦 on the broadcast grid of (τ, α, κ, ρ, λ).

    c_train: a spectrum (d,), a (d, d) symmetric PSD matrix, or a :class:`TrainSpectrum`. κ = inf means a fresh
    task per context (a ≡ 1); λ = 0 is the ridgeless limit (λ̃ = 0 for τ ≥ 1; errors +inf at τ = 1).
    The authors' ``ICL_error``, evaluated per distinct eigenvalue (they average Monte-Carlo resolvents instead).
    """
    train = c_train if isinstance(c_train, TrainSpectrum) else train_spectrum(c_train)
    tau, alpha, kappa, rho, lam = np.broadcast_arrays(*_grid(tau, alpha, kappa, rho, lam))
    shape = tau.shape
    tau, alpha, kappa, rho, lam = (np.ascontiguousarray(v, dtype=float).ravel()
                                   for v in (tau, alpha, kappa, rho, lam))
    eig = train.eig
    m = eig.size
    step = max(1, CHUNK_ELEMS // m)                     # bounds the (points, m) temporaries of the solvers
    parts = [_solve_flat(train, *(v[i:i + step] for v in (tau, alpha, kappa, rho, lam)))
             for i in range(0, tau.size, step)]
    lt, sigma, a, M, m2, e_pre, S2, c, K, f = (np.concatenate(p) for p in zip(*parts, strict=True))
    r = lambda v: v.reshape(shape)                                      # noqa: E731
    return Solution(train, r(tau), r(alpha), r(kappa), r(rho), r(lam), r(lt), r(sigma), r(a), r(M), r(-m2),
                    r(e_pre), r(tau * e_pre), r(S2), r(c), K.reshape(*shape, m), f.reshape(*shape, m))


CHUNK_ELEMS = 2**21
"""Grid points × distinct eigenvalues solved at once by :func:`solve` (the output keeps two such arrays)."""


def _solve_flat(train: TrainSpectrum, tau, alpha, kappa, rho, lam):
    """:func:`solve` on 1-d arrays of one size; returns (λ̃, σ, a, 𝓜, ⟨F_2⟩, E_pre, S2, c, 𝒦 (N, m), f (N, m))."""
    eig, w = train.eig, train.weight
    invk = _invk(kappa)
    q = (train.c_tr + rho) / alpha                                      # q_tr
    lt = _lambda_tilde(tau, q, invk, lam, eig, w)
    sigma = q + lt
    tr = _traces(sigma, invk, eig, w)
    c = tr.u + q * tr.m2                                               # 𝓜 + λ̃𝓜' (> 0)
    # E_pre (the authors' idg): numerator ρ + σ − σ²𝓜 − λ̃ S2 = ρ + q t + λ̃σu (as t − S2 = σu); denominator
    # τ − 1 + 2λ̃𝓜 + λ̃²𝓜' = τλ/λ̃ + λ̃ c by the root equation of λ̃, and τ − 1 when λ̃ = 0.
    N = rho + q * tr.t + lt * sigma * tr.u
    with np.errstate(divide="ignore", invalid="ignore"):
        D = np.where(lt > 0, tau * lam / lt + lt * c, tau - 1.0)
        e_pre = np.where(D > 0, N / D, np.inf)
        # 𝒦_i = σ²(a'λ_i + 1)f_i² + E_pre[f_i − λ̃(a'λ_i + 1)f_i²]
        #     = f_i²[σ²(a'λ_i + 1) + E_pre(λ_i(a − λ̃a') + q)], with a − λ̃a' = a/(1 + σS2λ/κ) + q a' > 0.
        amla = tr.a - lt * tr.ap
        K = tr.f * tr.f * (sigma[:, None] ** 2 * (tr.ap[:, None] * eig + 1.0)
                           + e_pre[:, None] * (eig * amla[:, None] + q[:, None]))
    return lt, sigma, tr.a, tr.M, tr.m2, e_pre, tr.S2, c, K, tr.f


def errors(sol: Solution, c_test, alpha_test=None, mu=None) -> dict[str, np.ndarray]:
    """Test errors of the solved grid for one test covariance: ``{"e_icl", "e_bias", "e_misalign"}``.

    e_ICL = e_bias + e_misalign (the authors' ``ICL_error``; e_misalign is their ``ICL_alignment``) with
    e_bias = ρ + r_test[1 + (E_pre − 2σ)𝓜 + (λ̃E_pre − σ²)𝓜'] = ρ + r_test[S2 + E_pre(𝓜 + λ̃𝓜')] and
    e_misalign = ⟨Ĉ 𝒦⟩; r_test = (c_test + ρ)/α_test. alpha_test (default α) broadcasts against the grid, so one
    solve serves a whole α_test grid. c_test: spectrum (d,), matrix (d, d) or
    :class:`ProjectedTest`; mu: test-task mean (Ĉ = C_test + μμᵀ).
    """
    ct = project_test(sol.train, c_test, mu).ct
    alpha_test = sol.alpha if alpha_test is None else check_positive("alpha_test", alpha_test)
    c_test = ct.sum()
    r_test = (c_test + sol.rho) / alpha_test
    with np.errstate(invalid="ignore"):
        mis = sol.K @ ct
        bias = sol.rho + r_test * (sol.S2 + sol.e_pre * sol.c_bias)
        return {"e_icl": bias + mis, "e_bias": bias, "e_misalign": np.broadcast_to(mis, bias.shape)}


def evaluate(c_train, c_test, tau, alpha, kappa, rho, lam=0.0, alpha_test=None, mu=None) -> dict[str, np.ndarray]:
    """:func:`solve` then :func:`errors`: ``{"lambda_tilde", "sigma", "e_pre", "e_idg", "e_icl", "e_bias",
    "e_misalign"}`` on the broadcast grid."""
    sol = solve(c_train, tau, alpha, kappa, rho, lam)
    out = {"lambda_tilde": sol.lambda_tilde, "sigma": sol.sigma, "e_pre": sol.e_pre, "e_idg": sol.e_idg}
    out.update(errors(sol, c_test, alpha_test, mu))
    return out


def e_icl_expanded(sol: Solution, c_test, alpha_test=None, mu=None) -> np.ndarray:
    """The expanded form of e_ICL (the authors' ``ICL_for_spiked_test``), from 𝓜, 𝓜',
    F_κ and F_2 = F_κ[a'C + I]F_κ with a' = (𝓜 + σ𝓜')/κ as written there; a cross-check of :func:`errors`:

    e = ρ_test − 2⟨Ĉ(I − σF)⟩ + ⟨(Ĉ + r)(I − 2σF + σ²F_2)⟩ + E_pre⟨(Ĉ + r)(F − λ̃F_2)⟩.
    """
    ct = project_test(sol.train, c_test, mu).ct
    w, eig = sol.train.weight, sol.train.eig
    alpha_test = sol.alpha if alpha_test is None else check_positive("alpha_test", alpha_test)
    c_test = ct.sum()
    r = ((c_test + sol.rho) / alpha_test)[..., None]
    s = sol.sigma[..., None]
    ap = ((sol.M + sol.sigma * sol.M_prime) * _invk(sol.kappa))[..., None]
    F = sol.resolvent
    F2 = F * (ap * eig + 1.0) * F
    ch = ct / w                                                       # per-eigenvalue mean of c̃_i
    term = (-2.0 * ch * (1.0 - s * F) + (ch + r) * (1.0 - 2.0 * s * F + s * s * F2)
            + sol.e_pre[..., None] * (ch + r) * (F - sol.lambda_tilde[..., None] * F2))
    return c_test + sol.rho + term @ w


# --------------------------------------------------------------------------------------------------------------
# Alignment measures (the x axes of Letey et al. 2025, Fig. 2; the authors' ``theory_plot.py``)


def cka(a, b) -> float:
    """Centred kernel alignment cka(A,B)/sqrt(cka(A,A) cka(B,B)), cka(A,B) = tr(HAHB)/(d−1)², H = I − 11ᵀ/d
    (the fourth measure of Fig. 2). Spectra are diagonal matrices. Note that H is not basis-invariant."""
    a, b = (np.diag(v) if np.ndim(v) == 1 else np.asarray(v, dtype=float) for v in (a, b))
    h = lambda x: x - x.mean(0, keepdims=True) - x.mean(1, keepdims=True) + x.mean()   # noqa: E731  (H X H)
    ha, hb = h(a), h(b)
    return float(np.vdot(ha, hb) / np.sqrt(np.vdot(ha, ha) * np.vdot(hb, hb)))


def alignment_measures(sol: Solution, c_train, c_test) -> dict[str, np.ndarray]:
    """The four measures plotted against e_ICL in Letey et al. 2025, Fig. 2: ``misalign`` ⟨C_test 𝒦⟩, ``resolvent``
    ⟨C_test F_κ(σ)⟩, ``inverse`` ⟨C_test C_train⁻¹⟩ (inf when C_test has mass on null directions of C_train) and
    ``cka`` (of the matrices as given)."""
    ct = project_test(sol.train, c_test).ct
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(ct > 0, ct / np.where(sol.train.eig > 0, sol.train.eig, 0.0), 0.0).sum()
    return {"misalign": sol.K @ ct, "resolvent": sol.resolvent @ ct, "inverse": inv, "cka": cka(c_train, c_test)}


# --------------------------------------------------------------------------------------------------------------
# Limits (derived here) and the isotropic closed form (the authors' ``icl_scaled_isotropic``)


def limit_alpha_inf(c_train, c_test, tau, kappa, rho, mu=None):
    """Ridgeless α → inf limit (α_test = α) for τ > 1 and κ > rank(C_train)/d.

    For full-rank C_train this is ρ[1 + κ⟨Ĉ C_train⁻¹⟩/((κ − 1)(τ − 1))], the limit that explains the
    ⟨C_test C_train⁻¹⟩ axis of Letey et al. 2025, Fig. 2. The general form [derived here from the formulas above
    as σ = q_tr → 0: E_pre → ρ/(τ−1), a → a∞ = 1 − r/κ with r = rank/d, 𝒦_i → E_pre/(a∞λ_i) on the range, and
    the null directions of C_train keep r_test·E_pre·q·⟨F_2⟩ → E_pre(1 − r)ρ_test/ρ_tr in e_bias] is

        ρ + ρ/(τ − 1) · [⟨Ĉ C_train⁺⟩/a∞ + (1 − r)(c_test + ρ)/(c_tr + ρ)].

    NaN outside τ > 1, κ > r; inf where Ĉ has mass on null directions of C_train (the error then grows linearly
    in α).
    """
    train = c_train if isinstance(c_train, TrainSpectrum) else train_spectrum(c_train)
    ct = project_test(train, c_test, mu).ct
    tau, kappa, rho = np.broadcast_arrays(check_positive("tau", tau), check_positive("kappa", kappa, allow_inf=True),
                                          check_nonnegative("rho", rho))
    rng = train.eig > 0
    r = train.weight[rng].sum()
    inv = np.inf if np.any(ct[~rng] > 0) else (ct[rng] / train.eig[rng]).sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        a_inf = 1.0 - r * _invk(kappa)
        e_pre = rho / (tau - 1.0)
        out = rho + e_pre * (inv / a_inf + (1.0 - r) * (ct.sum() + rho) / (train.c_tr + rho))
    return np.where((tau > 1) & (a_inf > 0), out, np.nan)[()]


def limit_tau_kappa_inf(c_train, c_test, alpha, rho, alpha_test=None, mu=None):
    """τ, κ → inf (derived here): ρ + r(1 − 2σ𝓜 + σ²⟨(C+σ)⁻²⟩) + σ²⟨Ĉ(C+σ)⁻²⟩ with σ = q_tr and 𝓜 = ⟨(C+σ)⁻¹⟩."""
    train = c_train if isinstance(c_train, TrainSpectrum) else train_spectrum(c_train)
    ct = project_test(train, c_test, mu).ct
    alpha, rho = np.broadcast_arrays(check_positive("alpha", alpha), check_nonnegative("rho", rho))
    alpha_test = alpha if alpha_test is None else check_positive("alpha_test", alpha_test)
    s = ((train.c_tr + rho) / alpha)[..., None]
    g = 1.0 / (train.eig + s)
    r = (ct.sum() + rho) / alpha_test
    return (rho + r * (((train.eig * g) ** 2) @ train.weight) + ((s * g) ** 2) @ ct)[()]


def icl_scaled_isotropic(tau, alpha, alpha_test, kappa, rho, c_tr=1.0, c_test=1.0):
    """Ridgeless e_ICL for C_train = c_tr I, Ĉ = c_test I and a test length α_test (the authors'
    ``icl_scaled_isotropic``), in closed form: 𝓜_κ(σ; c) = 𝓜^Lu_κ(σ/c)/c, λ̃ = (1 − τ)/(τ 𝓜_{κ/τ}(q_tr; c)) for
    τ < 1, and

    e = (c_test + ρ) − 2c_test(1 − σ𝓜) + (r + c_test)(1 − 2σ𝓜 − σ²𝓜') + E_pre(r + c_test)(𝓜 + λ̃𝓜').
    """
    tau, alpha, kappa, rho = _grid(tau, alpha, kappa, rho, 0.0)[:4]
    alpha_test, c_tr, c_test = (check_positive(n, v) for n, v in
                                (("alpha_test", alpha_test), ("c_tr", c_tr), ("c_test", c_test)))
    tau, alpha, alpha_test, kappa, rho, c_tr, c_test = np.broadcast_arrays(tau, alpha, alpha_test, kappa, rho,
                                                                           c_tr, c_test)
    q = (rho + c_tr) / alpha
    r = (c_test + rho) / alpha_test
    with np.errstate(divide="ignore", invalid="ignore"):
        lt = np.where(tau < 1, (1.0 - tau) / (tau * M_kappa(q / c_tr, kappa / tau) / c_tr), 0.0)
        s = q + lt
        M = M_kappa(s / c_tr, kappa) / c_tr
        dM = M_kappa_prime(s / c_tr, kappa) / c_tr**2
        e_pre = (rho + s - s * s * M - lt * (1 - 2 * s * M - s * s * dM)) / (tau - 1 + 2 * lt * M + lt * lt * dM)
        out = ((c_test + rho) - 2 * c_test * (1 - s * M) + (r + c_test) * (1 - 2 * s * M - s * s * dM)
               + e_pre * (r + c_test) * (M + lt * dM))
    return out[()]
