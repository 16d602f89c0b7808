"""Parameter checks shared by every public entry point.

Each check raises :class:`UserInputError` (a ``ValueError``) whose message names the parameter and the allowed
range, e.g. ``tau must be > 0 (got -1.0)``. The CLI prints such messages as one line and exits with code 2.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np


class UserInputError(ValueError):
    """Bad input from a user: a parameter out of range, a malformed spec, an unknown id. The message names the
    parameter and what is allowed. The CLI turns this type, and only this type, into one line with exit code 2;
    any other exception is a bug and keeps its traceback."""


def _describe(value) -> str:
    arr = np.asarray(value).ravel()
    if arr.size == 0:
        return "empty array"
    return repr(arr[0].item())


def _as_float_array(name: str, value) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise UserInputError(f"{name} must be a real number (got {value!r})") from None
    if np.isnan(arr).any():
        raise UserInputError(f"{name} must not be NaN (got nan)")
    return arr


def check_real(name: str, value, *, lo: float = -math.inf, hi: float = math.inf,
               lo_open: bool = False, hi_open: bool = False, allow_inf: bool = False) -> np.ndarray:
    """Check that every entry of ``value`` lies in the interval (lo|[lo, hi|hi) and is not NaN.

    Returns the value as a float array. ``allow_inf`` admits +inf (used for kappa = inf, fresh tasks).
    """
    arr = _as_float_array(name, value)
    if not allow_inf and np.isinf(arr).any():
        raise UserInputError(f"{name} must be finite (got {_describe(arr[np.isinf(arr)])})")
    below = (arr <= lo) if lo_open else (arr < lo)
    above = (arr >= hi) if hi_open else (arr > hi)
    if allow_inf:
        above &= ~np.isposinf(arr)
    bad = below | above
    if bad.any():
        raise UserInputError(f"{name} must be {_range_text(lo, hi, lo_open, hi_open, allow_inf)} "
                         f"(got {_describe(arr[bad])})")
    return arr


def _range_text(lo, hi, lo_open, hi_open, allow_inf) -> str:
    parts = []
    if lo > -math.inf:
        parts.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi < math.inf:
        parts.append(f"{'<' if hi_open else '<='} {hi:g}")
    text = " and ".join(parts) if parts else "a real number"
    return text + (" (inf allowed)" if allow_inf else "")


def check_positive(name: str, value, *, allow_inf: bool = False) -> np.ndarray:
    return check_real(name, value, lo=0.0, lo_open=True, allow_inf=allow_inf)


def check_nonnegative(name: str, value) -> np.ndarray:
    return check_real(name, value, lo=0.0)


def check_int(name: str, value, *, lo: int | None = None, hi: int | None = None) -> int:
    """Check a scalar integer (bools rejected) within [lo, hi]; returns it as ``int``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise UserInputError(f"{name} must be an integer (got {value!r})")
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        rng = f">= {lo}" if hi is None else (f"<= {hi}" if lo is None else f"in [{lo}, {hi}]")
        raise UserInputError(f"{name} must be an integer {rng} (got {value})")
    return value


def check_choice(name: str, value, choices: Iterable[str]) -> str:
    choices = list(choices)
    if value not in choices:
        raise UserInputError(f"{name} must be one of {', '.join(map(str, choices))} (got {value!r})")
    return value


def check_spd(name: str, mat, d: int | None = None) -> np.ndarray:
    """Check that ``mat`` is a symmetric positive-definite (d, d) matrix; returns it as float64 numpy."""
    mat = np.asarray(mat, dtype=float)
    if mat.ndim != 2 or mat.shape[0] != mat.shape[1] or (d is not None and mat.shape[0] != d):
        want = f"({d}, {d})" if d is not None else "square"
        raise UserInputError(f"{name} must be a {want} symmetric positive-definite matrix (got shape {mat.shape})")
    if not np.all(np.isfinite(mat)):
        raise UserInputError(f"{name} must be a finite symmetric positive-definite matrix (got NaN or inf)")
    if not np.allclose(mat, mat.T, rtol=1e-10, atol=1e-12 * np.abs(mat).max()):
        raise UserInputError(f"{name} must be symmetric positive-definite (got a non-symmetric matrix)")
    if np.linalg.eigvalsh(mat).min() <= 0:
        raise UserInputError(f"{name} must be symmetric positive-definite (smallest eigenvalue "
                         f"{np.linalg.eigvalsh(mat).min():.3g} <= 0)")
    return mat


def load_yaml_mapping(path, expected: str) -> dict:
    """Read a YAML file that must hold a mapping (safe_load); ``ValueError`` for a missing file, malformed YAML,
    a binary file or another top-level type. ``expected`` completes "must be a YAML mapping ..." in that error."""
    from pathlib import Path

    import yaml

    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"spec {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UserInputError(f"spec {path} is malformed YAML{where}: {getattr(e, 'problem', None) or e}") from None
    except UnicodeDecodeError:
        raise UserInputError(f"spec {path} is not a text file") from None
    if not isinstance(data, dict):
        raise UserInputError(f"spec {path} must be a YAML mapping {expected}")
    return data
