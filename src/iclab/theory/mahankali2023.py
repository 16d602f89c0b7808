"""Closed forms of Mahankali, Hashimoto, Ma (2023): one layer of linear self-attention (LSA) = one step of GD.

Data (Mahankali et al. 2023, Thms 1–2): a prompt holds n pairs (x_i, y_i) and a query (x_q, y_q), x ~ N(0, Sigma),
y = <w, x> + eps with eps ~ N(0, sigma2), a fresh task w per prompt; w ~ N(0, Sigma^-1) (the paper's prior,
``prior="inverse"``) or w ~ N(0, I) (Ahn et al. / Zhang-Frei-Bartlett, ``prior="identity"``).

One step of preconditioned GD from 0 on (1/2n) sum (y_i - theta'x_i)^2 predicts  y_hat = x_q' Gamma v,
v = (1/n) sum_i y_i x_i. Everything here is a pure float64 numpy function of the parameters.

Sources. Mahankali et al. 2023 is arXiv 2307.03576 (ICLR 2024). Its theorems state that the global minimiser of
the population loss of one-layer LSA is one step of GD (Thm 1: x ~ N(0, I)), of preconditioned GD (Thm 2:
x ~ N(0, Sigma), w ~ N(0, Sigma^-1)) and of GD for rotation-invariant nonlinear targets (Thm 3). The displays of
their step sizes could not be checked, so the closed forms here are derived from Gaussian moments (each docstring
gives the derivation) and were confirmed by a Monte-Carlo least-squares fit over a strictly larger predictor class;
at sigma2 = 0 and w ~ N(0, I) they reduce to Ahn et al. 2023, Thm 1 and Zhang, Frei, Bartlett 2024 (ZFB), Thm 4.1.

Conventions picked where the paper's display could not be checked:

- **No 1/2 factor** in the loss: L = E (y_hat - target)^2.
- **Target.** ``target="noisy"`` (default) scores against y_q = <w, x_q> + eps, as :class:`iclab.tasks.Prompts`
  samples it; ``target="clean"`` against <w, x_q>. They differ by exactly sigma2 and have the same minimiser.
- **1/n normalisation** of the attention sum (the query column masked out or not: at the optimum u = 0 and the
  two agree). With 1/(n+1) only the parametrisation of the optimum would change, not the predictor.
- **Noise on the context labels** always; sigma2 is a variance.
- **Theorem 3's eta***: the formula here is the minimiser over one-step-GD predictors, which matches the
  least-squares fit of the larger class (d = 3, n = 10, a 4-unit ReLU teacher). Nonlinear labels carry the same
  additive noise (whether the paper adds noise there could not be checked).
"""

from __future__ import annotations

import numpy as np

from iclab.validation import (
    UserInputError,
    check_choice,
    check_int,
    check_nonnegative,
    check_positive,
    check_real,
    check_spd,
)

PRIORS = ("inverse", "identity")
TARGETS = ("noisy", "clean")


def _check_n(n) -> np.ndarray:
    n = check_real("n", n, lo=1.0)
    if np.any(n != np.round(n)):
        raise UserInputError(f"n must be an integer >= 1 (got {n[n != np.round(n)].ravel()[0]!r})")
    return n


def _check_cov(cov) -> np.ndarray:
    return check_spd("cov", cov)


def _scalar(x):
    return x.item() if isinstance(x, np.ndarray) and x.ndim == 0 else x


# --- isotropic (Theorem 1) and the paper's non-isotropic prior (Theorem 2) -----------------------------------------
def eta_star(n, d, sigma2=0.0):
    """The optimal GD step size eta* = n / (n + d + 1 + sigma2) of Mahankali et al. 2023, Thm 1 (derived here);
    broadcasts over its arguments.

    Minimises eta^2 E|v|^2 - 2 eta E<v, w> with E|v|^2 = d (n + d + 1 + sigma2) / n and E<v, w> = d.
    """
    n, d, s2 = _check_n(n), check_real("d", d, lo=1.0), check_nonnegative("sigma2", sigma2)
    return _scalar(n / (n + d + 1.0 + s2))


def min_loss(n, d, sigma2=0.0, *, target: str = "noisy"):
    """The minimal population loss of one-layer LSA (Thm 1), equal under x ~ N(0, Sigma), w ~ N(0, Sigma^-1) for
    every Sigma (Thm 2): d (d + 1 + sigma2) / (n + d + 1 + sigma2) = d (1 - eta*), plus sigma2 against the noisy
    target."""
    check_choice("target", target, TARGETS)
    n, d, s2 = _check_n(n), check_real("d", d, lo=1.0), check_nonnegative("sigma2", sigma2)
    loss = d * (d + 1.0 + s2) / (n + d + 1.0 + s2)
    return _scalar(loss + s2 if target == "noisy" else loss)


# --- general Sigma and prior: exact moments and losses of any preconditioner -------------------------------------
def _prior_cov(cov: np.ndarray, prior: str) -> np.ndarray:
    check_choice("prior", prior, PRIORS)
    return np.linalg.inv(cov) if prior == "inverse" else np.eye(cov.shape[0])


def v_second_moment(cov, n: int, sigma2: float = 0.0, prior: str = "inverse") -> np.ndarray:
    """E[v v'] for v = (1/n) sum y_i x_i with w ~ N(0, C):  (n+1)/n Sigma C Sigma + (tr(C Sigma) + sigma2)/n Sigma.

    From E[y^2 x x' | w] = (w'Sigma w + sigma2) Sigma + 2 Sigma w w' Sigma (Isserlis) and E[v | w] = Sigma w.
    (d, d).
    """
    cov = _check_cov(cov)
    n = int(_check_n(n))
    s2 = float(check_nonnegative("sigma2", sigma2))
    c = _prior_cov(cov, prior)
    scs = cov @ c @ cov
    return (n + 1) / n * scs + (np.trace(c @ cov) + s2) / n * cov


def gd_loss(gamma, cov, n: int, sigma2: float = 0.0, prior: str = "inverse", *, target: str = "noisy") -> float:
    """Exact population loss of one-step preconditioned GD, y_hat = x_q' Gamma v (gamma: (d, d)):

        tr(Sigma Gamma E[vv'] Gamma') - 2 tr(Sigma Gamma Sigma C) + tr(Sigma C)   (+ sigma2 for the noisy target).
    """
    cov = _check_cov(cov)
    check_choice("target", target, TARGETS)
    gamma = np.asarray(gamma, dtype=float)
    if gamma.shape != cov.shape:
        raise ValueError(f"gamma must have shape {cov.shape} like cov (got {gamma.shape})")
    c = _prior_cov(cov, prior)
    vv = v_second_moment(cov, n, sigma2, prior)
    loss = np.trace(cov @ gamma @ vv @ gamma.T) - 2 * np.trace(cov @ gamma @ cov @ c) + np.trace(cov @ c)
    return float(loss + (sigma2 if target == "noisy" else 0.0))


def preconditioner(cov, n: int, sigma2: float = 0.0, prior: str = "inverse") -> np.ndarray:
    """The optimal preconditioner Gamma* = C Sigma E[vv']^-1, (d, d) (the minimiser of :func:`gd_loss`):

    - ``prior="inverse"`` (w ~ N(0, Sigma^-1), the paper's Theorem 2): eta* Sigma^-1;
    - ``prior="identity"`` (w ~ N(0, I)): ((n+1)/n Sigma + (tr Sigma + sigma2)/n I)^-1, Ahn et al. 2023, Thm 1 and
      ZFB, Thm 4.1 at sigma2 = 0.
    """
    cov = _check_cov(cov)
    c = _prior_cov(cov, prior)
    vv = v_second_moment(cov, n, sigma2, prior)
    gamma = np.linalg.solve(vv.T, (c @ cov).T).T  # C Sigma vv^-1 (vv is symmetric)
    return (gamma + gamma.T) / 2


def preconditioned_min_loss(cov, n: int, sigma2: float = 0.0, prior: str = "inverse", *,
                            target: str = "noisy") -> float:
    """The minimal loss of one-step preconditioned GD (= of one-layer LSA), tr(Sigma C) - tr(Sigma Gamma* Sigma C)
    (+ sigma2); under the paper's prior it equals :func:`min_loss` whatever Sigma."""
    return gd_loss(preconditioner(cov, n, sigma2, prior), cov, n, sigma2, prior, target=target)


# --- nonlinear rotation-invariant targets (Theorem 3) --------------------------------------------------------------
def nonlinear_eta_star(n, beta_sq, y2x2):
    """eta* = n E|beta_f|^2 / (E[y^2 |x|^2] + (n - 1) E|beta_f|^2) for Mahankali et al. 2023, Thm 3 (the minimiser
    of :func:`nonlinear_gd_loss`, derived here); broadcasts.

    beta_f = E_x[f(x) x] is the first Hermite coefficient (best linear fit) of the prompt's function under
    x ~ N(0, I); y the (possibly noisy) label. For f(x) = <w, x> + noise it reduces to :func:`eta_star`.
    """
    n = _check_n(n)
    b = check_positive("beta_sq", beta_sq)
    y = check_positive("y2x2", y2x2)
    return _scalar(n * b / (y + (n - 1) * b))


def nonlinear_gd_loss(eta, n, beta_sq, y2x2, y2):
    """Population loss of plain one-step GD y_hat = eta <v, x_q> on a rotation-invariant target (noisy query):

        eta^2 (y2x2 / n + (n-1)/n beta_sq) - 2 eta beta_sq + E[y^2];  minimal at :func:`nonlinear_eta_star`,
        where it equals E[y^2] - eta* beta_sq.
    """
    n = _check_n(n)
    eta = check_real("eta", eta)
    return _scalar(eta**2 * (y2x2 / n + (n - 1) / n * beta_sq) - 2 * eta * beta_sq + y2)


def relu_teacher_moments(d: int, sigma2: float = 0.0, weight_var: float | None = None) -> dict[str, float]:
    """Exact moments of the ReLU teacher f(x) = k^-1/2 sum_j a_j ReLU(u_j' x) + eps, u_j ~ N(0, weight_var I_d),
    a_j ~ N(0, 1), eps ~ N(0, sigma2), x ~ N(0, I_d) (:class:`iclab.tasks.nonlinear.ReLUTeacher`; our choice of
    a rotation-invariant family, default weight_var = 1/d). Independent of the width k, because the a_j are
    independent with mean 0.

    - Stein: E[ReLU(u'x) x] = u/2, so beta_f = k^-1/2 sum a_j u_j / 2 and E|beta_f|^2 = d weight_var / 4;
    - E[ReLU(u'x)^2 |x|^2] = |u|^2 (E[z^4; z>0] + (d-1) E[z^2; z>0]) = |u|^2 (d+2)/2, so
      E[y^2 |x|^2] = d weight_var (d+2)/2 + sigma2 d;
    - E[y^2] = d weight_var / 2 + sigma2.
    """
    d = check_int("d", d, lo=1)
    s2 = float(check_nonnegative("sigma2", sigma2))
    wv = 1.0 / d if weight_var is None else float(check_positive("weight_var", weight_var))
    u2 = d * wv  # E|u|^2
    return {"beta_sq": u2 / 4, "y2x2": u2 * (d + 2) / 2 + s2 * d, "y2": u2 / 2 + s2}


def moments_from_samples(xs, ys) -> dict[str, float]:
    """Unbiased Monte-Carlo moments of any prompt distribution with x ~ N(0, I), from sampled contexts.

    xs: (batch, n, d), ys: (batch, n) with n >= 2, one function per prompt. Uses the pairs of distinct points
    of a prompt, which share f but are independent given it: E|beta_f|^2 = E[y_i y_j <x_i, x_j>] (i != j),
    computed as (|sum y x|^2 - sum y^2 |x|^2) / (n (n-1)). Returns beta_sq, y2x2, y2 and the standard errors
    ``*_se`` over prompts.
    """
    xs = np.asarray(xs, dtype=float)
    ys = np.asarray(ys, dtype=float)
    if xs.ndim != 3 or ys.shape != xs.shape[:2] or xs.shape[1] < 2:
        raise ValueError(f"xs must be (batch, n >= 2, d) and ys (batch, n) (got {xs.shape} and {ys.shape})")
    n = xs.shape[1]
    yx = np.einsum("bi,bid->bd", ys, xs)
    diag = np.einsum("bi,bid,bid->b", ys**2, xs, xs)
    per = {"beta_sq": (np.sum(yx**2, -1) - diag) / (n * (n - 1)), "y2x2": diag / n, "y2": np.mean(ys**2, -1)}
    out = {k: float(v.mean()) for k, v in per.items()}
    out.update({f"{k}_se": float(v.std(ddof=1) / np.sqrt(len(v))) for k, v in per.items()})
    return out


# --- the Bayes-optimal baseline (outside the one-layer LSA class the theorems optimise over) ----------------------
def posterior_mean_predictions(xs, ys, xq, noise: float, prior_cov=None) -> np.ndarray:
    """Bayes ridge: the posterior-mean prediction x_q' E[w | data] for w ~ N(0, C), y = <w, x> + N(0, noise).

    xs (b, n, d), ys (b, n), xq (b, d) -> (b,), float64. E[w | data] = (X'X + noise C^-1)^-1 X'y, computed in the
    kernel form C X'(X C X' + noise I)^-1 y when n < d (so noise = 0 gives the minimum C-norm interpolant).
    prior_cov: (d, d) C, default I. Under a Gaussian prior this is the Bayes-optimal predictor; for other
    targets it is the ridge matched to the first two moments.
    """
    xs, ys, xq = (np.asarray(a, dtype=float) for a in (xs, ys, xq))
    if xs.ndim != 3 or ys.shape != xs.shape[:2] or xq.shape != (xs.shape[0], xs.shape[2]):
        raise ValueError(f"xs, ys, xq must be (b, n, d), (b, n), (b, d) (got {xs.shape}, {ys.shape}, {xq.shape})")
    noise = float(check_nonnegative("noise", noise))
    b, n, d = xs.shape
    c = np.eye(d) if prior_cov is None else _check_cov(prior_cov)
    if n >= d:
        gram = np.einsum("bid,bie->bde", xs, xs) + noise * np.linalg.inv(c)
        w = np.linalg.solve(gram, np.einsum("bid,bi->bd", xs, ys)[..., None])[..., 0]
    else:
        xc = xs @ c  # (b, n, d)
        kern = np.einsum("bid,bjd->bij", xc, xs) + noise * np.eye(n)
        w = np.einsum("bid,bi->bd", xc, np.linalg.solve(kern, ys[..., None])[..., 0])
    return np.einsum("bd,bd->b", w, xq)


# --- reading trained LSA weights ----------------------------------------------------------------------------------
def read_lsa(w_kq, w_pv) -> dict[str, np.ndarray]:
    """The one-step-GD content of LSA weights, invariant to the scale symmetry (W_PV, W_KQ) -> (c W_PV, W_KQ / c).

    w_kq, w_pv: (..., d+1, d+1) in the layout of ZFB, prediction = bottom-right entry of
    E + W_PV E M (E' W_KQ E) / n. With the last row of W_PV = (u', u0) and W_KQ = [[W11, w12], [w21', w22]]:

        y_hat = (1/n) sum_i (u'x_i + u0 y_i)(x_i' W11 x_q + y_i w21' x_q)
              = x_q' (u0 W11' + w21 u') v  +  u' T W11 x_q + u0 s w21' x_q,    T = (1/n) sum x_i x_i', s = mean y_i^2.

    The part linear in the labels is one step of preconditioned GD; the other two terms are not GD (their optimal
    coefficients vanish: the prior's sign and rotation symmetry makes the odd moments they multiply 0). Note the
    rank-one route w21 u' to GD: training from a random start can use it.

    - ``gamma`` (..., d, d): the effective preconditioner u0 W11' + w21 u';
    - ``eta`` (...,): tr(gamma) / d, the learned step size;
    - ``offdiag`` (...,): the largest |off-diagonal entry| of gamma;
    - ``non_gd`` (...,): |u| |W11|_F + |u0| |w21|, the size of the non-GD terms (0 at the optimum).
    """
    w_kq = np.asarray(w_kq, dtype=float)
    w_pv = np.asarray(w_pv, dtype=float)
    if w_kq.shape != w_pv.shape or w_kq.ndim < 2 or w_kq.shape[-1] != w_kq.shape[-2] or w_kq.shape[-1] < 2:
        raise ValueError(f"w_kq and w_pv must both be (..., d+1, d+1) (got {w_kq.shape} and {w_pv.shape})")
    d = w_kq.shape[-1] - 1
    u, u0 = w_pv[..., d, :d], w_pv[..., d, d]
    w11, w21 = w_kq[..., :d, :d], w_kq[..., d, :d]
    gamma = u0[..., None, None] * np.swapaxes(w11, -1, -2) + w21[..., :, None] * u[..., None, :]
    off = np.abs(gamma - np.einsum("...ii->...i", gamma)[..., None] * np.eye(d))
    return {
        "gamma": gamma,
        "eta": np.trace(gamma, axis1=-2, axis2=-1) / d,
        "offdiag": off.max(axis=(-2, -1)) if d > 1 else np.zeros(gamma.shape[:-2]),
        "non_gd": np.linalg.norm(u, axis=-1) * np.linalg.norm(w11, axis=(-2, -1))
        + np.abs(u0) * np.linalg.norm(w21, axis=-1),
    }


def relative_frobenius(a, b) -> np.ndarray:
    """|a - b|_F / |b|_F over the last two axes."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.linalg.norm(a - b, axis=(-2, -1)) / np.linalg.norm(b, axis=(-2, -1))


def make_cov(d: int, cond: float, *, rotate: bool = False, seed: int = 0) -> np.ndarray:
    """A test covariance: eigenvalues geometric from cond^-1/2 to cond^1/2 (determinant 1, condition number
    ``cond``), diagonal, or rotated by a Haar orthogonal matrix drawn from ``numpy.random.default_rng(seed)``."""
    d = check_int("d", d, lo=1)
    cond = float(check_real("cond", cond, lo=1.0))
    lam = cond ** (np.linspace(-0.5, 0.5, d) if d > 1 else np.zeros(1))
    if not rotate:
        return np.diag(lam)
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    q = q * np.sign(np.diag(r))
    return (q * lam) @ q.T
