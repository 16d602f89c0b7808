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

import re

import numpy as np

from iclab.validation import UserInputError

_LOGSPACE = re.compile(r"^logspace\(([^,]+),([^,]+),([^,]+)\)$")


def parse_values(name: str, text: str) -> np.ndarray:
    """Parse ``text`` into a float array; raises ``ValueError`` naming ``name`` on malformed input."""
    if not isinstance(text, str):
        return np.atleast_1d(np.asarray(text, dtype=float))
    compact = text.replace(" ", "")
    if not compact:
        raise UserInputError(f"{name}: empty value list")
    out: list[float] = []
    for piece in _split_top_level(compact):
        out.extend(_parse_piece(name, piece))
    arr = np.asarray(out, dtype=float)
    if np.isnan(arr).any():
        raise UserInputError(f"{name} must not be NaN (got {text!r})")
    return arr


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


def _parse_piece(name: str, piece: str) -> list[float]:
    if not piece:
        raise UserInputError(f"{name}: empty entry in value list")
    m = _LOGSPACE.match(piece)
    if m:
        a, b = _num(name, m[1], piece), _num(name, m[2], piece)
        return list(np.logspace(a, b, _count(name, m[3], piece)))
    parts = piece.split(":")
    if len(parts) == 1:
        return [_num(name, piece, piece)]
    if len(parts) == 3:
        a, b = _num(name, parts[0], piece), _num(name, parts[1], piece)
        return list(np.linspace(a, b, _count(name, parts[2], piece)))
    if len(parts) == 4 and parts[0] == "log":
        a, b = _num(name, parts[1], piece), _num(name, parts[2], piece)
        if a <= 0 or b <= 0:
            raise UserInputError(f"{name}: log range bounds must be > 0 (got {piece!r})")
        return list(np.geomspace(a, b, _count(name, parts[3], piece)))
    raise UserInputError(f"{name}: cannot parse {piece!r} (expected a number, a comma list, "
                     "start:stop:num, log:start:stop:num or logspace(a,b,num))")
