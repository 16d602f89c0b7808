"""Point identity: a canonical JSON form of a config, and its stable hash.

Two configs are the same point when their canonical forms are equal: keys sorted, numpy scalars and arrays turned
into Python numbers and lists, tuples into lists, floats rounded to 12 significant digits (so ``linspace`` noise
such as ``0.30000000000000004`` does not split a point) and integral floats written as integers (``40.0`` and
``40`` are the same ``d``). The hash also covers :data:`SCHEMA_VERSION`: a change in what a stored result means
bumps it, and old rows then no longer match.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import numpy as np

from iclab.validation import UserInputError

SCHEMA_VERSION = 1  # version of the stored result format; part of every point's identity


def to_jsonable(value: Any, name: str = "value") -> Any:
    """``value`` with numpy/JAX arrays and scalars turned into Python lists and numbers; ``ValueError`` otherwise.

    NaN and inf floats are kept (a diverging run is a result); dict keys must be strings.
    """
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise UserInputError(f"{name} keys must be strings (got {k!r})")
            out[k] = to_jsonable(v, f"{name}[{k!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, name) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "__array__"):  # numpy and JAX arrays
        return np.asarray(value).tolist()
    raise UserInputError(f"{name} must be JSON-serialisable numbers, strings, lists or dicts "
                         f"(got {type(value).__name__})")


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        r = float(f"{value:.12g}")
        return int(r) if r.is_integer() and abs(r) < 2**53 else r
    raise UserInputError(f"config values must be JSON-serialisable (got {type(value).__name__})")


def canonical_json(config: dict[str, Any]) -> str:
    """The canonical JSON text of ``config`` (see the module docstring)."""
    if not isinstance(config, dict):
        raise UserInputError(f"config must be a dict (got {type(config).__name__})")
    return json.dumps(_canonical(to_jsonable(config, "config")), sort_keys=True, separators=(",", ":"),
                      allow_nan=False)


def point_hash(config: dict[str, Any]) -> str:
    """Stable 32-hex-digit identity of a point: sha256 of the schema version and the canonical config."""
    text = f"iclab-result-schema-{SCHEMA_VERSION}\n{canonical_json(config)}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]
