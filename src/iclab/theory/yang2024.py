"""Closed forms of Yang, Huang, Liang, Chi 2024 (§4): one-layer multi-head softmax attention trained on template
tasks learns ridge regression over the basis with regulariser m tau.

Notation. ``reps``: (K, m), row k is z_k = f(v_k) (the paper's Z~ = reps.T); Z = reps[:N].T is (m, N);
G = Z^T Z + m tau I_N = E[y y^T] under E[lambda lambda^T] = I (so Zbar = G^(1/2)).

Closed forms are numpy float64. The losses of a linear predictor ``yhat = coef^T y`` (Lemma 5's excess loss, the
sampled loss, the inference loss) use array operators only, so they accept JAX arrays too (traced and
differentiated by training) and keep their dtype. The model itself (formula (8)) and its differentiable population
loss are in :mod:`iclab.models.template_attention`.

Loss convention (§3): L(theta) = (1/2K) E sum_k (yhat_k - y_k)^2 over all K tokens, the fresh noise of the unseen
tokens included. The reference L* values of §5 are per token without the 1/2, i.e. ``2 * optimal_loss``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.optimize import nnls

from iclab.validation import check_int, check_nonnegative


def _split(reps, N: int, tau) -> tuple[np.ndarray, int, int, float]:
    reps = np.asarray(reps, dtype=np.float64)
    if reps.ndim != 2:
        raise ValueError(f"reps must be a (K, m) array (got shape {reps.shape})")
    K, m = reps.shape
    N = check_int("N", N, lo=1, hi=K - 1)
    tau = float(check_nonnegative("tau", tau))
    return reps, N, m, tau


def gram(reps, N: int, tau: float) -> np.ndarray:
    """G = Z^T Z + m tau I_N: (N, N), the covariance of the prompt labels."""
    reps, N, m, tau = _split(reps, N, tau)
    Z = reps[:N].T
    return Z.T @ Z + m * tau * np.eye(N)


def ridge_matrix(reps, N: int, reg: float) -> np.ndarray:
    """The linear map prompt labels -> all K predictions of ridge over the basis with regulariser ``reg`` on the
    sum-of-squares scale: (N, K). Columns k < N are e_k (copy the label); k >= N are (Z^T Z + reg I)^-1 Z^T z_k,
    so yhat_k = z_k^T (Z Z^T + reg I)^-1 Z y. reg = 0 uses the pseudo-inverse on the unseen columns (Z^+ z_k, §4.1)
    and keeps e_k, the reg -> 0 limit, on the first N (§4.1's Z^+ z_k there differs when N > m but gives the same
    predictions on noiseless labels)."""
    reps = np.asarray(reps, dtype=np.float64)
    N = check_int("N", N, lo=1, hi=reps.shape[0] - 1)
    reg = float(check_nonnegative("reg", reg))
    Z = reps[:N].T
    if reg > 0:
        cols = np.linalg.solve(Z.T @ Z + reg * np.eye(N), Z.T @ reps[N:].T)
    else:
        cols = np.linalg.pinv(Z) @ reps[N:].T
    return np.concatenate([np.eye(N), cols], axis=1)


def target_matrix(reps, N: int, tau: float) -> np.ndarray:
    """A of §4.1 (eqs. 26/34): (N, K), ridge with regulariser m tau. The trained model's coefficients tend to A."""
    reps, N, m, tau = _split(reps, N, tau)
    return ridge_matrix(reps, N, m * tau)


def best_matrix(reps, N: int, tau: float) -> np.ndarray:
    """The "best possible" predictor's map (§4.3, eqs. 23-25): (N, K), ridge with regulariser N tau."""
    reps, N, m, tau = _split(reps, N, tau)
    return ridge_matrix(reps, N, N * tau)


def token_minima(reps, N: int, tau: float) -> np.ndarray:
    """min over the coefficients of E(yhat_k - y_k)^2 for each token: (K,). Zero for k < N (c_k = 0);
    c'_k + m tau for k >= N (Lemma 5; the m tau is the fresh noise of the unseen token, §4.2)."""
    reps, N, m, tau = _split(reps, N, tau)
    Z = reps[:N].T
    G = Z.T @ Z + m * tau * np.eye(N)
    b = Z.T @ reps[N:].T  # (N, K - N)
    c = np.sum(reps[N:] ** 2, axis=1) - np.sum(b * np.linalg.solve(G, b), axis=0)
    return np.concatenate([np.zeros(N), c + m * tau])


def optimal_loss(reps, N: int, tau: float) -> float:
    """L* = inf_theta L(theta) = (1/2K) sum_{k >= N} (c'_k + m tau) (§4.2)."""
    mins = token_minima(reps, N, tau)
    return float(mins.sum() / (2 * mins.shape[0]))


class Problem(NamedTuple):
    """The constants of the population loss of one dictionary: A (N, K), G (N, N), L* (scalar)."""

    A: np.ndarray
    G: np.ndarray
    L_star: float


def problem(reps, N: int, tau: float) -> Problem:
    return Problem(target_matrix(reps, N, tau), gram(reps, N, tau), optimal_loss(reps, N, tau))


# ---- losses of a linear predictor (numpy or JAX arrays) ---------------------------------------------------------

def excess_loss(coef, A, G):
    """L(theta) - L* = (1/2K) sum_k (a_k - A_k)^T G (a_k - A_k) (Lemma 5). coef, A: (N, K); G: (N, N)."""
    diff = coef - A
    return (diff * (G @ diff)).sum() / (2 * A.shape[1])


def sampled_loss(coef, y):
    """The empirical version of L: (1/2K) mean over prompts of sum_k (yhat_k - y_k)^2. coef: (N, K); y: (B, K)."""
    pred = y[:, : coef.shape[0]] @ coef
    return ((pred - y) ** 2).sum(axis=-1).mean() / (2 * y.shape[1])


# ---- predictors, inference loss, gap --------------------------------------------------------------------------

def ridge_predictions(y_prompt, reps, N: int, tau: float, *, best: bool = False) -> np.ndarray:
    """yhat* (ridge with m tau, the trained transformer's limit, Theorem 2) or, with ``best``, yhat_best (ridge
    with N tau): y_prompt (..., N) -> (..., K)."""
    M = best_matrix(reps, N, tau) if best else target_matrix(reps, N, tau)
    return np.asarray(y_prompt, dtype=np.float64) @ M


def inference_loss(coef, A, y_prompt):
    """(1/K) |yhat - yhat*|^2 per prompt: coef, A (N, K), y_prompt (..., N) -> (...)."""
    return ((y_prompt @ (coef - A)) ** 2).sum(axis=-1) / A.shape[1]


def label_second_moment(reps, N: int, tau: float, mean: float = 0.0, var: float = 1.0) -> np.ndarray:
    """E[y y^T] of the prompt labels when lambda has i.i.d. N(mean, var) entries: (N, N).
    With M = E lambda lambda^T = var I + mean^2 11^T: Z^T M Z + tau tr(M) I."""
    reps, N, m, tau = _split(reps, N, tau)
    Z = reps[:N].T
    s = Z.sum(axis=0)
    return var * Z.T @ Z + mean**2 * np.outer(s, s) + tau * m * (var + mean**2) * np.eye(N)


def expected_inference_loss(coef, reps, N: int, tau: float, mean: float = 0.0, var: float = 1.0) -> float:
    """E (1/K) |(coef - A)^T y|^2 over lambda ~ N(mean, var I) and the noise (in domain: 0, 1; OOD: 1, 4)."""
    A = target_matrix(reps, N, tau)
    D = np.asarray(coef, dtype=np.float64) - A
    S = label_second_moment(reps, N, tau, mean, var)
    return float(np.sum(D * (S @ D)) / A.shape[1])


def performance_gap(y_prompt, reps, N: int, tau: float) -> np.ndarray:
    """(1/K) |yhat* - yhat_best|^2 per prompt (Fig. 3): y_prompt (..., N) -> (...). Zero when N = m."""
    D = target_matrix(reps, N, tau) - best_matrix(reps, N, tau)
    return np.sum((np.asarray(y_prompt, dtype=np.float64) @ D) ** 2, axis=-1) / D.shape[1]


def expected_gap(reps, N: int, tau: float, mean: float = 0.0, var: float = 1.0) -> float:
    """E over lambda and the noise of :func:`performance_gap` = (1/K) tr(D^T E[yy^T] D), D = A - A_best."""
    return expected_inference_loss(best_matrix(reps, N, tau), reps, N, tau, mean, var)


# ---- initialisation (Assumption 2, Prop. 1) -------------------------------------------------------------------

def heads_suffice(H: int, N: int) -> bool:
    """H >= N: with Gaussian Q(0) Assumption 2 then holds almost surely (Prop. 1); with H < N it cannot."""
    return check_int("H", H, lo=1) >= check_int("N", N, lo=1)


def init_constant(Q, tokens, reps, N: int, tau: float) -> float:
    """zeta_0 = min_k lambda_min(B_k B_k^T), B_k = Zbar [softmax(V^T Q_h v_k)]_h: (N, H) (§3, Assumption 2).
    Q: (H, d, d), tokens: (K, d). Zero (up to rounding) when H < N."""
    G = gram(reps, N, tau)
    keys = np.einsum("id,hde->hie", np.asarray(tokens, np.float64)[:N], np.asarray(Q, np.float64))
    scores = np.einsum("hie,ke->kih", keys, np.asarray(tokens, np.float64))  # (K, N, H)
    C = np.exp(scores - scores.max(axis=1, keepdims=True))
    C = C / C.sum(axis=1, keepdims=True)
    # B_k B_k^T = Zbar C_k C_k^T Zbar has the eigenvalues of G^(1/2) C_k C_k^T G^(1/2)
    vals, vecs = np.linalg.eigh(G)
    root = (vecs * np.sqrt(vals)) @ vecs.T
    BBt = np.einsum("ij,kjh,klh,lm->kim", root, C, C, root)
    return float(np.linalg.eigvalsh(BBt)[:, 0].min())


def single_head_floor(reps, N: int, tau: float) -> float:
    """A lower bound on L - L* for H = 1 (§4.1, "why multiple heads"): w_k softmax(.) has entries of one sign, so
    L - L* >= (1/2K) sum_k min over the nonnegative and the nonpositive orthant of the G-distance to A_k (NNLS).
    Positive whenever some A_k has entries of both signs, so one head plateaus above L*."""
    A = target_matrix(reps, N, tau)
    R = np.linalg.cholesky(gram(reps, N, tau)).T  # G = R^T R
    total = 0.0
    for k in range(A.shape[1]):
        b = R @ A[:, k]
        total += min(nnls(R, b)[1], nnls(R, -b)[1]) ** 2
    return total / (2 * A.shape[1])
