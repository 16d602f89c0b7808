"""Gamma*: ridge regression of y_q on the rank-one features vec(H_Z) = x_q (x) h (Lu et al. 2024's pretraining of
the reduced model; the objective and the ridge scaling (n/d) lam of the authors' solver, ``theory_runs/common.py``).

    Gamma* = argmin_Gamma  sum_mu (y_mu - x_mu^T Gamma h_mu)^2 + (n/d) lam |Gamma|_F^2,   p = d(d+1) unknowns.

lam = 0 gives the minimum-norm interpolant for n < p and least squares for n > p. Three exact methods, chosen by
a flop/memory model (``method="auto"``); none builds the n x p feature matrix:

- ``dual``: kernel form, K = (X X^T) o (H H^T) (n x n), Gamma = X^T diag(a) H with (K + c I) a = y; for n <= p,
  or n > p with a ridge large enough that K + cI is well conditioned.
  Mixed precision: a float32 Cholesky of K + cI preconditions float64 CG (2-3 iterations), float64 fallback.
- ``primal``: Gram G = sum_mu (x x^T) (x) (h h^T) (p x p) from its unique entries (:func:`gram`), Cholesky.
- ``cg``: conjugate gradients on the primal normal equations with matrix-free products
  G vec(V) = vec(X^T diag(<x_mu, V h_mu>) H) (O(n d^2) each), preconditioned by the Kronecker product
  n (X^T X/n) (x) (H^T H/n) + c I = n E[xx^T] (x) E[hh^T] + c I, inverted exactly through the eigenvectors of its
  two factors. After whitening, the spectrum is close to Marchenko-Pastur with ratio p/n, so the iteration
  count depends on tau only (about sqrt of the condition number). Mixed precision: float32 corrections of
  float64 residuals (iterative refinement), float64 CG when float32 stalls.

Direct solves warn (:class:`SingularSolveWarning`) when the system is numerically singular; CG warns when it
does not converge. Both messages name the regime.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from iclab.solvable.sampler import context_stats
from iclab.validation import UserInputError, check_choice, check_nonnegative, check_positive

METHODS = ("auto", "dual", "primal", "cg")
MEM_LIMIT = 3 * 2**30  # bytes a direct method may allocate for its n x n or p x p matrix
RCOND_MIN = 1e-14
INNER_DIGITS = 5  # at most this many digits gained per float32 correction in mixed-precision CG


class SingularSolveWarning(UserWarning):
    """A Gamma* solve was numerically singular or did not converge; the message names the regime."""


@dataclass
class SolveInfo:
    method: str
    n: int
    p: int
    iterations: int = 0
    rcond: float = math.nan
    residual: float = math.nan


def _check_data(h, xq, y):
    h, xq, y = (np.asarray(a, dtype=np.float64) for a in (h, xq, y))
    if xq.ndim != 2 or h.shape != (xq.shape[0], xq.shape[1] + 1) or y.shape != (xq.shape[0],):
        raise ValueError(f"need h (n, d+1), xq (n, d), y (n,) (got {h.shape}, {xq.shape}, {y.shape})")
    if xq.shape[1] < 1 or xq.shape[0] < 1:
        raise ValueError(f"need n >= 1 contexts and d >= 1 (got xq shape {xq.shape})")
    for name, a in (("h", h), ("xq", xq), ("y", y)):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} must be finite (got NaN or inf)")
    return h, xq, y


def _warn(regime: str, what: str, n: int, p: int, lam: float):
    warnings.warn(f"Gamma* solve {what} in the {regime} regime (n={n} contexts, p={p} parameters, "
                  f"lam={lam:g}); the result may be inaccurate", SingularSolveWarning, stacklevel=3)


# --- direct methods ------------------------------------------------------------------------------------------
def _norm1(mat: np.ndarray, lower_only: bool) -> float:
    """1-norm of a symmetric matrix stored in full or in its lower triangle, by row blocks (no n x n temporary)."""
    m = mat.shape[0]
    colsum, rowsum = np.zeros(m), np.zeros(m)
    step = max(1, 2**22 // m)
    for i in range(0, m, step):
        blk = np.abs(mat[i:i + step])
        colsum += blk.sum(0)
        rowsum[i:i + step] = blk.sum(1)
    if not lower_only:
        return float(colsum.max())
    return float((colsum + rowsum - np.abs(np.diagonal(mat))).max())


def _cholesky_solve(build, rhs: np.ndarray, lower_only: bool, regime: str, n: int, p: int, lam: float):
    """Solve the SPD system ``build()`` (full symmetric, or lower triangle only) by Cholesky, in place; on failure
    rebuild it and use an eigen-pseudo-inverse. Warns when numerically singular. Returns (solution, rcond)."""
    import scipy.linalg as sla  # here, not at the top: CG-only sweep workers skip its 0.3 s import
    from scipy.linalg import lapack

    mat = build()
    if mat.flags.c_contiguous and not mat.flags.f_contiguous:
        mat = mat.T  # symmetric: the transpose is the same matrix, and LAPACK wants Fortran order (no copy)
    anorm = _norm1(mat, lower_only)
    try:
        fac = sla.cho_factor(mat, lower=True, overwrite_a=True, check_finite=False)
    except np.linalg.LinAlgError:
        fac = None
    if fac is not None:
        rcond, _ = lapack.dpocon(fac[0], anorm, uplo="L")
        if rcond < RCOND_MIN:
            _warn(regime, f"is numerically singular (rcond={rcond:.1e})", n, p, lam)
        return sla.cho_solve(fac, rhs, check_finite=False), float(rcond)
    _warn(regime, "is numerically singular (Cholesky failed; using a pseudo-inverse)", n, p, lam)
    del mat, fac
    mat = build()
    if lower_only:
        mat = np.tril(mat) + np.tril(mat, -1).T
    vals, vecs = np.linalg.eigh(mat)
    keep = vals > vals.max() * max(mat.shape) * np.finfo(float).eps
    return vecs[:, keep] @ ((vecs[:, keep].T @ rhs) / vals[keep]), 0.0


def _kernel(h, xq, c, dtype):
    """K + c I with K = (X X^T) o (H H^T) (n, n) in ``dtype``, only its lower triangle filled (the rest is zero):
    a Fortran-ordered view, as LAPACK's lower Cholesky reads it. Row blocks of the upper triangle of the C-ordered
    array, two GEMMs and a Hadamard product each: half the flops of the full product, no n x n temporary."""
    x, hh = xq.astype(dtype, copy=False), h.astype(dtype, copy=False)
    n = x.shape[0]
    K = np.zeros((n, n), dtype)  # calloc: the untouched triangle costs no page writes
    step = max(256, 2**21 // n)
    for i in range(0, n, step):
        blk = K[i:i + step, i:]
        np.matmul(x[i:i + step], x[i:].T, out=blk)
        blk *= hh[i:i + step] @ hh[i:].T
    K.flat[:: n + 1] += c
    return K.T


def _solve_dual(h, xq, y, c, lam, rtol):
    """Kernel form. Mixed precision first: the float32 Cholesky factor of K + cI (half the memory traffic, twice
    the flops rate) preconditions float64 CG on the same system with exact matrix-free products
    K a = Phi Phi^T a; a few iterations reach float64 accuracy while cond(K) * 6e-8 < 1. When the float32
    factorisation fails or CG breaks down, fall back to the float64 Cholesky."""
    import scipy.linalg as sla

    n, d = xq.shape
    p = d * (d + 1)
    phi = _Features.of(h, xq, np.float64)
    target = min(rtol, 1e-13)  # the primal error is about sqrt(cond K) times the dual residual
    try:
        fac = sla.cho_factor(_kernel(h, xq, c, np.float32), lower=True, overwrite_a=True, check_finite=False)
    except np.linalg.LinAlgError:
        fac = None
    if fac is not None and np.all(np.isfinite(np.diagonal(fac[0]))):
        def precond(r):
            return sla.cho_solve(fac, r.astype(np.float32), check_finite=False).astype(np.float64)

        a, it, res, ok = _pcg(lambda v: phi.scores(phi.adjoint(v)) + c * v, precond, y, None, target, 60)
        if ok:
            return phi.adjoint(a), SolveInfo("dual", n, p, iterations=it, residual=float(res))
        del fac
    a, rcond = _cholesky_solve(lambda: _kernel(h, xq, c, np.float64), y.copy(), True, "dual", n, p, lam)
    return phi.adjoint(a), SolveInfo("dual", n, p, rcond=rcond)


def _pairs(x: np.ndarray) -> np.ndarray:
    """Products of the unordered pairs of columns, x_i x_j for i <= j in np.triu_indices order: (n, m(m+1)/2).
    Built from contiguous slices (a fancy-index gather costs several times more)."""
    n, m = x.shape
    out = np.empty((n, m * (m + 1) // 2))
    k = 0
    for i in range(m):
        np.multiply(x[:, i:i + 1], x[:, i:], out=out[:, k:k + m - i])
        k += m - i
    return out


def _pair_table(m: int) -> np.ndarray:
    """(m, m) table: the column of :func:`_pairs` that holds x_i x_j."""
    i, j = np.triu_indices(m)
    table = np.empty((m, m), dtype=np.intp)
    table[i, j] = table[j, i] = np.arange(i.size)
    return table


def gram(h, xq) -> np.ndarray:
    """G = sum_mu (x_mu x_mu^T) (x) (h_mu h_mu^T): the (p, p) Gram of the rank-one features, p = d(d+1).

    G[(a,b),(a',b')] = sum_mu x_a x_a' h_b h_b' is symmetric in a <-> a' and in b <-> b' separately, so it is
    read off U = X2^T H2, with X2 (n, d(d+1)/2) and H2 (n, e(e+1)/2) the products of unordered pairs (e = d+1):
    n p^2 / 2 multiply-adds, half those of a syrk over the (n, p) features (the authors' chunked accumulation).
    """
    n, d = xq.shape
    e = h.shape[1]
    U = np.zeros((d * (d + 1) // 2, e * (e + 1) // 2))
    step = max(1, 2**22 // U.shape[1])
    for i in range(0, n, step):  # chunks bound the (step, pairs) temporaries
        U += _pairs(xq[i:i + step]).T @ _pairs(h[i:i + step])
    ta, tb = _pair_table(d), _pair_table(e)
    return U[ta[:, None, :, None], tb[None, :, None, :]].reshape(d * e, d * e)


def _solve_primal(h, xq, y, c, lam):
    n, d = xq.shape
    p = d * (d + 1)

    def build():
        G = gram(h, xq)
        G.flat[:: p + 1] += c
        return G

    rhs = (xq.T @ (y[:, None] * h)).reshape(p)
    v, rcond = _cholesky_solve(build, rhs, False, "primal", n, p, lam)
    return v.reshape(d, d + 1), SolveInfo("primal", n, p, rcond=rcond)


# --- the feature operator and conjugate gradients --------------------------------------------------------------
class _Features:
    """The rank-one features phi_mu = x_mu (x) h_mu as operators, never as the (n, p) matrix:
    ``scores(V)`` = Phi vec(V) = (<x_mu, V h_mu>)_mu (n,) and ``adjoint(s)`` = Phi^T s = X^T diag(s) H (d, d+1).
    Holds X^T (d, n) and H^T (d+1, n) in one dtype with a work buffer: in this layout both products are plain
    GEMMs over the long axis (measured 1.6x faster than the (n, d) layout in float64; float32 is 2.2x faster
    again, which the mixed-precision CG uses)."""

    def __init__(self, xt, ht):
        self.xt, self.ht = xt, ht  # (d, n), (d+1, n), C-contiguous, one dtype
        self.buf = np.empty_like(ht)

    @classmethod
    def of(cls, h, xq, dtype):
        """From the row layout h (n, d+1), xq (n, d)."""
        return cls(np.ascontiguousarray(xq.T, dtype=dtype), np.ascontiguousarray(h.T, dtype=dtype))

    def scores(self, v):
        np.matmul(v.T.astype(self.xt.dtype, copy=False), self.xt, out=self.buf)  # (d+1, n): V^T x_mu
        np.multiply(self.buf, self.ht, out=self.buf)
        return self.buf.sum(0)

    def adjoint(self, s):
        np.multiply(self.ht, s.astype(self.ht.dtype, copy=False), out=self.buf)
        return self.xt @ self.buf.T

    def gram(self, v):
        """G vec(V) = Phi^T Phi vec(V): (d, d+1) -> (d, d+1), O(n p)."""
        return self.adjoint(self.scores(v))


def _pcg(matvec, precond, b, x, tol: float, maxiter: int):
    """Preconditioned conjugate gradients for SPD A x = b (arrays of any one shape and dtype), from x (None: 0).
    Stops at |r| <= tol |b|, after maxiter iterations, or at a breakdown (p^T A p <= 0: A numerically singular).
    Returns (x, iterations, |r| / |b|, converged)."""
    bnorm = float(np.linalg.norm(b))
    if bnorm == 0:
        return np.zeros_like(b), 0, 0.0, True
    if x is None:
        x, r = np.zeros_like(b), b.copy()
    else:
        r = b - matvec(x)
    z = precond(r)
    pdir, rz = z.copy(), np.vdot(r, z)
    it = 0
    while True:
        res = float(np.linalg.norm(r)) / bnorm
        if res <= tol or it >= maxiter:
            return x, it, res, res <= tol
        q = matvec(pdir)
        pq = np.vdot(pdir, q)
        if not pq > 0:
            return x, it, res, False
        it += 1
        step = rz / pq
        x += step * pdir
        r -= step * q
        z = precond(r)
        rz_new = np.vdot(r, z)
        pdir *= rz_new / rz
        pdir += z
        rz = rz_new


def _kron_factors(h, xq):
    n = xq.shape[0]
    a, ua = np.linalg.eigh(xq.T @ xq / n)
    b, ub = np.linalg.eigh(h.T @ h / n)
    return np.maximum(a, 0.0), ua, np.maximum(b, 0.0), ub


def _cg_condition(n, p, c, a, b) -> float:
    """Rough condition number of the whitened system: Marchenko-Pastur bulk for ratio p/n plus the ridge."""
    r = p / n
    lo = (1 - math.sqrt(r)) ** 2 if r < 1 else 0.0
    hi = (1 + math.sqrt(r)) ** 2
    amax, bmax = max(a.max(), 1e-300), max(b.max(), 1e-300)
    amin, bmin = max(a.min(), 1e-300), max(b.min(), 1e-300)
    lo += c / (n * amax * bmax)
    hi += c / (n * amin * bmin) if n * amin * bmin > 0 else (math.inf if c > 0 else 0.0)
    return hi / lo if lo > 0 else math.inf


def _cg_iterations(cond: float, rtol: float) -> float:
    return 0.5 * math.sqrt(cond) * math.log(2 / rtol) + 10


def _solve_cg(h, xq, y, c, lam, rtol, maxiter, factors):
    """Primal normal equations (G + cI) vec(Gamma) = Phi^T y by Kronecker-preconditioned CG.

    CG runs in the eigenbases of the two Kronecker factors (x -> U_a^T x, h -> U_b^T h, an orthogonal change of
    variables), where the preconditioner is the diagonal n a_i b_j + c. Mixed precision: iterative refinement
    whose float64 residuals are corrected by float32 PCG solves (float32 GEMMs run 2.2x faster).
    When a correction fails to cut the residual 10-fold (float32 too coarse for the conditioning), the rest is
    plain float64 PCG from there. ``maxiter`` caps the CG iterations of both."""
    n, d = xq.shape
    p = d * (d + 1)
    a, ua, b, ub = factors
    denom = n * np.outer(a, b) + c
    if c == 0:
        denom = np.maximum(denom, denom.max() * 1e-14)
    if maxiter is None:
        maxiter = int(min(50_000, 20 * _cg_iterations(_cg_condition(n, p, c, a, b), rtol) + 100))
    xt, ht = ua.T @ xq.T, ub.T @ h.T  # rotated statistics, transposed: (d, n), (d+1, n)

    def operators(dtype):
        phi = _Features(xt.astype(dtype, copy=False), ht.astype(dtype, copy=False))
        den, cc = denom.astype(dtype), dtype(c)
        return (lambda w: phi.gram(w) + cc * w), (lambda r: r / den)

    A64, P64 = operators(np.float64)
    rhs = xt @ (ht * y).T
    bnorm = np.linalg.norm(rhs)
    x, r, its = np.zeros_like(rhs), rhs.copy(), 0
    A32, P32 = operators(np.float32)
    # k corrections of rtol^(1/k) each, k as small as float32 allows: each correction restarts CG and costs a
    # float64 residual, while a correction tighter than ~1e-5 stalls on float32 rounding (measured: 5 digits hold
    # from tau = 0.85 to 10; 6 stall at tau = 0.85, d = 64, and the 10-fold check below catches a stall)
    inner_tol = rtol ** (1 / math.ceil(math.log10(1 / rtol) / INNER_DIGITS))
    while bnorm > 0 and np.linalg.norm(r) > rtol * bnorm and its < maxiter:
        rnorm = np.linalg.norm(r)
        dx, it, _, _ = _pcg(A32, P32, (r / rnorm).astype(np.float32), None, inner_tol, maxiter - its)
        its += it
        x += rnorm * dx.astype(np.float64)
        r = rhs - A64(x)
        if not np.linalg.norm(r) < 0.1 * rnorm:
            break
    res = float(np.linalg.norm(r) / bnorm) if bnorm > 0 else 0.0
    if res > rtol and its < maxiter:  # float32 stalled: finish in float64
        x, it, res, _ = _pcg(A64, P64, rhs, x, rtol, maxiter - its)
        its += it
    if res > rtol:
        _warn("cg", f"did not converge (relative residual {res:.1e} > {rtol:.0e} after {its} iterations)",
              n, p, lam)
    return ua @ x @ ub.T, SolveInfo("cg", n, p, iterations=its, residual=res)


# --- public ----------------------------------------------------------------------------------------------------
def choose_method(n: int, d: int, lam: float, rtol: float = 1e-11, factors=None) -> str:
    """The cheapest exact method by a flop model (memory-capped): 'dual', 'primal' or 'cg'."""
    p = d * (d + 1)
    c = n / d * lam
    costs = {}
    # the kernel form also holds for n > p when lam > 0: K has rank p, and K + cI stays float32-factorisable while
    # its condition number |K| / c is below about 1e7 (|K| ~ n a_max b_max (1 + sqrt(p/n))^2 from the factors;
    # measured: 7-8 refinement steps at an estimate of 2.4e6)
    dual_ok = n <= p
    if not dual_ok and c > 0 and factors is not None:
        dual_ok = n * factors[0].max() * factors[2].max() * (1 + math.sqrt(p / n)) ** 2 / c < 1e7
    # float32 runs at about twice the float64 rate here (Cholesky) and 2.2x in the skinny GEMMs of CG
    if dual_ok and 4 * n * n <= MEM_LIMIT:  # float32 kernel (lower triangle) and Cholesky, float64 refinement
        costs["dual"] = (n * n * (2 * d + 1) / 2 + n**3 / 3) / 2 + 3 * (4 * n * p + 2 * n * n)
    if 8 * p * p <= MEM_LIMIT:
        costs["primal"] = n * p * p / 2 + p**3 / 3  # gram(): half a syrk
    if factors is not None:
        cond = _cg_condition(n, p, c, factors[0], factors[2])
        if math.isfinite(cond):
            costs["cg"] = _cg_iterations(cond, rtol) * 4 * n * p / 2.2 + 4 * d**3  # float32 inner iterations
    if not costs:  # nothing fits the memory cap and CG looks hopeless: CG is still the only O(p^2) option
        return "cg"
    return min(costs, key=costs.get)


def solve_gamma(h, xq, y, lam: float = 0.0, *, method: str = "auto", rtol: float = 1e-11,
                maxiter: int | None = None, return_info: bool = False):
    """Gamma* (d, d+1) from n contexts given by their statistics h (n, d+1), queries xq (n, d), targets y (n,).

    Ridge penalty (n/d) lam |Gamma|_F^2 (lam = 0: min-norm / least squares). ``method``: auto, dual, primal or
    cg (``rtol``, ``maxiter`` are CG's relative residual target and iteration cap). With ``return_info`` also
    returns a :class:`SolveInfo` (method used, rcond or iterations).
    """
    h, xq, y = _check_data(h, xq, y)
    lam = float(check_nonnegative("lam", lam))
    check_choice("method", method, METHODS)
    rtol = float(check_positive("rtol", rtol))
    n, d = xq.shape
    c = n / d * lam
    factors = None
    if method in ("auto", "cg"):
        factors = _kron_factors(h, xq)
    if method == "auto":
        method = choose_method(n, d, lam, rtol, factors)
    elif method == "dual" and lam == 0 and n > d * (d + 1):
        raise UserInputError(f"method must be primal or cg for lam = 0 with n > p (the kernel matrix has rank p) "
                         f"(got 'dual', n={n}, p={d * (d + 1)})")
    elif method == "cg" and lam == 0 and n < d * (d + 1):
        raise UserInputError(f"method must be dual or primal for lam = 0 with n < p (the min-norm interpolant; "
                         f"preconditioned CG would return another interpolant) (got 'cg', n={n}, p={d * (d + 1)})")
    if method == "dual":
        gamma, info = _solve_dual(h, xq, y, c, lam, rtol)
    elif method == "primal":
        gamma, info = _solve_primal(h, xq, y, c, lam)
    else:
        gamma, info = _solve_cg(h, xq, y, c, lam, rtol, maxiter, factors)
    return (gamma, info) if return_info else gamma


def solve_gamma_prompts(xs, ys, xq, yq, lam: float = 0.0, **kwargs):
    """Gamma* (d, d+1) on an explicit pretraining set in the Prompts layout: xs (n, ell, d), ys (n, ell),
    xq (n, d), yq (n,). Same options as :func:`solve_gamma`."""
    return solve_gamma(context_stats(xs, ys), xq, yq, lam, **kwargs)


def predict(gamma, xs, ys, xq) -> np.ndarray:
    """Predictions <Gamma, H_Z> = x_q^T Gamma h for raw prompts xs (n, ell, d), ys (n, ell), xq (n, d) -> (n,)."""
    return predict_stats(gamma, context_stats(xs, ys), xq)


def predict_stats(gamma, h, xq) -> np.ndarray:
    """x_q^T Gamma h for statistics h (n, d+1), xq (n, d) -> (n,)."""
    return np.einsum("nb,nb->n", np.asarray(xq, dtype=np.float64) @ np.asarray(gamma, dtype=np.float64), h)
