"""Parse the value grammar shared by the CLI and sweep specs into 1-d float arrays.

Accepted forms (whitespace ignored):

- a number: ``0.5``, ``1e-3``, ``inf``
- a comma list: ``0.5,1,2``
- linear range ``start:stop:num`` (inclusive, like ``numpy.linspace``): ``0.1:3:30``
- log range ``log:start:stop:num`` (values, inclusive): ``log:0.01:100:50``
- numpy's ``logspace(a,b,num)`` (exponents of 10): ``logspace(-2,2,50)``

Pieces can be mixed in one comma list: ``0.1,0.5:2:4,inf``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from iclab.resources import ROW_BYTES, check_grid_points, check_memory
from iclab.validation import UserInputError

_LOGSPACE = re.compile(r"^logspace\(([^,]+),([^,]+),([^,]+)\)$")


def parse_values(name: str, text: str) -> np.ndarray:
    """Parse ``text`` into a float array; raises ``UserInputError`` naming ``name`` on malformed input.

    The points are counted before any is built: more than the grid limit (``iclab --max-points``, default 10^7)
    is refused with the count, so a mistyped ``0.1:3:100000000`` costs nothing.
    """
    if not isinstance(text, str):
        return np.atleast_1d(np.asarray(text, dtype=float))
    pieces = _pieces(name, text)
    check_grid_points(sum(num for _, _, _, num in pieces), f"{name} = {text.strip()!r}")
    out = [_build(kind, a, b, num) for kind, a, b, num in pieces]
    arr = np.concatenate(out) if out else np.empty(0)
    if np.isnan(arr).any():
        raise UserInputError(f"{name} must not be NaN (got {text!r})")
    return arr


def count_values(name: str, text) -> int:
    """The number of values ``text`` holds, computed from the grammar without building them (a non-string
    value counts its entries); ``UserInputError`` on malformed input, as :func:`parse_values`."""
    if not isinstance(text, str):
        return int(np.size(text))
    return sum(num for _, _, _, num in _pieces(name, text))


def _pieces(name: str, text: str) -> list[tuple[str, float, float, int]]:
    compact = text.replace(" ", "")
    if not compact:
        raise UserInputError(f"{name}: empty value list")
    return [_parse_piece(name, piece) for piece in _split_top_level(compact)]


def _build(kind: str, a: float, b: float, num: int) -> np.ndarray:
    with np.errstate(all="ignore"):  # inf bounds give inf/NaN values, which the parameter checks report
        return _values(kind, a, b, num)


def _values(kind: str, a: float, b: float, num: int) -> np.ndarray:
    if kind == "value":
        return np.array([a])
    if kind == "logspace":
        return np.logspace(a, b, num)
    if kind == "log":
        return np.geomspace(a, b, num)
    return np.linspace(a, b, num)


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    pieces, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            pieces.append(cur)
            cur = ""
        else:
            cur += ch
    pieces.append(cur)
    return pieces


def _num(name: str, s: str, whole: str) -> float:
    try:
        return float(s)
    except ValueError:
        raise UserInputError(f"{name}: cannot parse {whole!r} (expected a number, a comma list, "
                         "start:stop:num, log:start:stop:num or logspace(a,b,num))") from None


def _count(name: str, s: str, whole: str) -> int:
    v = _num(name, s, whole)
    if not v.is_integer() or v < 1:
        raise UserInputError(f"{name}: the point count in {whole!r} must be an integer >= 1")
    return int(v)


def _parse_piece(name: str, piece: str) -> tuple[str, float, float, int]:
    """One piece as (kind, start, stop, count): kind value (start only), lin, log or logspace."""
    if not piece:
        raise UserInputError(f"{name}: empty entry in value list")
    m = _LOGSPACE.match(piece)
    if m:
        return "logspace", _num(name, m[1], piece), _num(name, m[2], piece), _count(name, m[3], piece)
    parts = piece.split(":")
    if len(parts) == 1:
        return "value", _num(name, piece, piece), math.nan, 1
    if len(parts) == 3:
        return "lin", _num(name, parts[0], piece), _num(name, parts[1], piece), _count(name, parts[2], piece)
    if len(parts) == 4 and parts[0] == "log":
        a, b = _num(name, parts[1], piece), _num(name, parts[2], piece)
        if a <= 0 or b <= 0:
            raise UserInputError(f"{name}: log range bounds must be > 0 (got {piece!r})")
        return "log", a, b, _count(name, parts[3], piece)
    raise UserInputError(f"{name}: cannot parse {piece!r} (expected a number, a comma list, "
                     "start:stop:num, log:start:stop:num or logspace(a,b,num))")




def check_grid(named: Sequence[tuple[str, str]], what: str) -> int:
    """Count the cartesian grid of the value lists ``named`` = [(name, text), ...] without building it; refuse
    a grid above ``--max-points`` or whose result rows (``ROW_BYTES`` each) would not fit in memory.
    Returns the number of points."""
    counts = [count_values(name, text) for name, text in named]
    total = math.prod(counts)
    sizes = " x ".join(f"{name}[{c}]" for (name, _), c in zip(named, counts, strict=True) if c > 1)
    label = f"{what} ({sizes})" if sizes else what
    check_grid_points(total, label)
    check_memory(total * ROW_BYTES, f"{label} with {total} points", "use fewer points")
    return total
