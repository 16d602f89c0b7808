"""Typed experiment settings: one frozen dataclass per figure, and the one override path for all of them.

Every experiment declares its parameters as a frozen dataclass whose fields carry their type, default, allowed
range and a one-line doc (in the style of CleanRL's ``Args``)::

    @dataclass(frozen=True)
    class Settings:
        d: int = param(64, lo=1, doc="token dimension")
        kappa: float = param(0.5, lo=0, lo_open=True, allow_inf=True, doc="task diversity k/d; inf: fresh tasks")
        taus: tuple[float, ...] = param((0.5, 1.0), lo=0, lo_open=True, doc="context ratios n/d^2")
        runs: int = param(5, lo=1, doc="independent runs per point")

    SCALES = {"quick": Settings(), "paper": Settings(d=100, runs=20)}

:func:`apply_overrides` is the only way a value gets into such an object from outside: ``--set KEY=VALUE`` on the
CLI, a sweep spec's mapping and the Python API all go through it, so every parameter has one grammar:

- ``int``: an integer (``"3"``, ``3`` or ``3.0``; never a bool);
- ``float``: a real number; ``"inf"`` (any case) is +inf and is accepted only where the field allows it. This is
  the one encoding of κ = ∞ (fresh tasks); configs written to the store keep the string ``"inf"`` through
  :func:`json_number`;
- ``bool``: ``true``/``false`` (any case) or a bool;
- ``str``: one of the field's ``choices``;
- ``tuple[int, ...]`` / ``tuple[float, ...]``: a list, or a string in the value grammar of :mod:`iclab.grid`
  (``"0.5,1,2"``, ``"log:0.1:10:20"``); at least one value, each checked like a scalar;
- ``tuple[str, ...]``: a list, or a comma-separated string (``"inverse,identity"``), each one of the choices;
- ``X | None``: ``"none"`` (any case) or None, else as ``X``.

Repeated independent runs of one point are called ``runs`` in every experiment.

Errors are :class:`~iclab.validation.UserInputError` with one line naming the field and its allowed range, e.g.
``d must be an integer >= 1 (got 0)``, ``--set key must be one of d, kappa, runs, taus (got 'D')``.
A settings class may check relations between fields in ``__post_init__`` (raising ``UserInputError``).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from iclab.grid import parse_values
from iclab.validation import UserInputError, check_choice, check_int, check_real

S = TypeVar("S")

_META = "iclab"  # key of the field metadata that holds the range and doc

#: the doc of a ``scale`` field: figures whose stored configs carry their scale keep it as a settings field, so
#: that ``--set`` overrides never change the label (and so the stored hashes)
SCALE_DOC = "the scale these settings start from (set by --scale; a label in the configs)"


def param(default, *, lo: float | None = None, hi: float | None = None, lo_open: bool = False,
          hi_open: bool = False, allow_inf: bool = False, choices: tuple[str, ...] | None = None,
          doc: str = "") -> Any:
    """A settings field: its default, allowed range ([lo, hi], open ends with ``lo_open``/``hi_open``; ``allow_inf``
    admits +inf), or ``choices`` for a string, and a one-line ``doc`` that ``iclab reproduce --help-settings``
    and the docs show. Tuples are immutable, so a tuple default is safe to share."""
    if isinstance(default, list):
        default = tuple(default)
    meta = {"lo": lo, "hi": hi, "lo_open": lo_open, "hi_open": hi_open, "allow_inf": allow_inf,
            "choices": tuple(choices) if choices is not None else None, "doc": doc}
    return dataclasses.field(default=default, metadata={_META: meta})


def field_specs(cls_or_obj) -> dict[str, tuple[Any, dict[str, Any]]]:
    """``{name: (resolved type, range metadata)}`` for every field of a settings class, in declaration order."""
    cls = cls_or_obj if isinstance(cls_or_obj, type) else type(cls_or_obj)
    hints = typing.get_type_hints(cls)
    return {f.name: (hints[f.name], dict(f.metadata.get(_META, {}))) for f in dataclasses.fields(cls)}


def apply_overrides(settings: S, overrides: Mapping[str, Any] | None) -> S:
    """A copy of ``settings`` with ``overrides`` (``{field name: value}``) coerced and range-checked.

    Unknown names raise ``UserInputError`` listing the known ones; ``__post_init__`` checks run on the result.
    """
    if not overrides:
        return settings
    specs = field_specs(settings)
    unknown = sorted(set(overrides) - set(specs))
    if unknown:
        raise UserInputError(f"--set key must be one of {', '.join(sorted(specs))} (got {unknown[0]!r})")
    changes = {key: coerce(key, value, *specs[key]) for key, value in overrides.items()}
    return dataclasses.replace(settings, **changes)


def coerce(name: str, value, typ, meta: Mapping[str, Any]):
    """``value`` converted to the field type ``typ`` and checked against ``meta`` (see :func:`param`)."""
    origin, args = typing.get_origin(typ), typing.get_args(typ)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return coerce(name, value, inner, meta)
    if origin is tuple:
        return _coerce_tuple(name, value, args[0], meta)
    if typ is bool:
        return _coerce_bool(name, value)
    if typ is int:
        return _coerce_int(name, value, meta)
    if typ is float:
        return _coerce_float(name, value, meta)
    if typ is str:
        value = str(value).strip()
        return check_choice(name, value, meta["choices"]) if meta.get("choices") else value
    raise TypeError(f"settings field {name!r} has unsupported type {typ!r}")  # a bug in the settings class


def _coerce_bool(name: str, value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise UserInputError(f"{name} must be true or false (got {value!r})")


def _coerce_int(name: str, value, meta) -> int:
    if isinstance(value, str):
        try:
            value = float(value) if any(c in value for c in ".eE") else int(value.strip())
        except ValueError:
            raise UserInputError(f"{name} must be an integer (got {value!r})") from None
    lo, hi = meta.get("lo"), meta.get("hi")
    lo = None if lo is None else math.ceil(lo + (1e-9 if meta.get("lo_open") else 0))
    hi = None if hi is None else math.floor(hi - (1e-9 if meta.get("hi_open") else 0))
    return check_int(name, value, lo=lo, hi=hi)


def _coerce_float(name: str, value, meta) -> float:
    if isinstance(value, bool):
        raise UserInputError(f"{name} must be a real number (got {value!r})")
    if isinstance(value, str):
        text = value.strip().lower()
        try:
            value = float(text)  # accepts "inf", "infinity", "1e-3"
        except ValueError:
            raise UserInputError(f"{name} must be a real number (got {value!r})") from None
    lo, hi = meta.get("lo"), meta.get("hi")
    return float(check_real(name, value, lo=-math.inf if lo is None else lo, hi=math.inf if hi is None else hi,
                            lo_open=bool(meta.get("lo_open")), hi_open=bool(meta.get("hi_open")),
                            allow_inf=bool(meta.get("allow_inf"))))


def _coerce_tuple(name: str, value, elem, meta) -> tuple:
    if isinstance(value, str) and elem is str:  # names: "a,b"
        value = value.split(",")
    elif isinstance(value, str):
        value = parse_values(name, value).tolist()
    elif not isinstance(value, (list, tuple)):
        value = [value]
    if not value:
        raise UserInputError(f"{name} must list at least one value (got [])")
    return tuple(coerce(name, v, elem, meta) for v in value)


def json_number(x: float) -> float | str:
    """A float for a JSON config: +inf as the string ``"inf"`` (JSON has no infinity), else the float."""
    return "inf" if math.isinf(x) and x > 0 else float(x)


def from_json_number(x) -> float:
    """The inverse of :func:`json_number`: ``"inf"`` (any case) is +inf."""
    if isinstance(x, str) and x.strip().lower() in ("inf", "infinity"):
        return math.inf
    return float(x)


def describe(settings) -> list[tuple[str, str, str, str]]:
    """Rows ``(name, type, value, doc + range)`` of a settings object, for help texts and reports."""
    rows = []
    for name, (typ, meta) in field_specs(settings).items():
        rng = []
        if meta.get("choices"):
            rng.append("one of " + ", ".join(meta["choices"]))
        if meta.get("lo") is not None:
            rng.append(f"{'>' if meta.get('lo_open') else '>='} {meta['lo']:g}")
        if meta.get("hi") is not None:
            rng.append(f"{'<' if meta.get('hi_open') else '<='} {meta['hi']:g}")
        if meta.get("allow_inf"):
            rng.append("inf allowed")
        doc = meta.get("doc", "") + (f" ({', '.join(rng)})" if rng else "")
        type_name = getattr(typ, "__name__", None) or str(typ).replace("typing.", "")
        rows.append((name, type_name, repr(getattr(settings, name)), doc))
    return rows
