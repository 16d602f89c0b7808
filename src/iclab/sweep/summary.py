"""Per-point summaries of stored rows: what ``iclab results show`` prints, usable without the CLI.

A stored row (:meth:`iclab.sweep.store.Store.rows`) is one (point, seed); a summary groups the rows of one point
(its ``point_hash``) and gives each scalar metric's mean and standard deviation over the runs.
"""

from __future__ import annotations

import math

import numpy as np

from iclab.validation import UserInputError


def is_array(v) -> bool:
    """Whether a stored value is an array (a whole curve) rather than a scalar."""
    return isinstance(v, (list, dict))


def number(v) -> float | None:
    """``v`` as a float if it is a number or a number's string (the config convention writes κ = ∞ as "inf")."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def matches(value, wanted) -> bool:
    """Whether a stored ``value`` equals a ``wanted`` one given on the command line: as numbers (to rounding) when
    both are numbers, else as text."""
    a, b = number(value), number(wanted)
    if a is not None and b is not None:
        return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return str(value) == str(wanted)


def summarise(rows: list[dict], where: dict | None = None) -> tuple[list[dict], list[str], dict[str, int]]:
    """One summary per point of the stored ``rows`` (as :meth:`Store.rows` returns them) that match ``where``.

    Returns ``(points, metric_names, hidden)``: each point is ``{"config": {...}, "n": runs, "metrics": {name:
    (mean, std)} , "wall_time": mean seconds}``; scalar metrics only (std over runs, ddof 1; NaN for one run),
    ``hidden`` maps each array-valued column (config or metric) to its length, for a footnote.
    Raises ``UserInputError`` for a ``where`` key that no row has.
    """
    where = where or {}
    known = {k for r in rows for k in (*r["config"], *(r["metrics"] or {}))}
    for key in where:
        if key not in known:
            raise UserInputError(f"where key must be one of {', '.join(sorted(known))} (got {key!r})")
    groups: dict[str, list[dict]] = {}
    for r in rows:
        values = {**r["config"], **(r["metrics"] or {})}
        if all(k in values and matches(values[k], v) for k, v in where.items()):
            groups.setdefault(r["point_hash"], []).append(r)
    points, metric_names, hidden = [], [], {}
    for runs in groups.values():
        config = {}
        for k, v in runs[0]["config"].items():
            if is_array(v):
                hidden[k] = len(v)
            else:
                config[k] = v
        metrics = {}
        for name in dict.fromkeys(k for r in runs for k in (r["metrics"] or {})):
            vals = [(r["metrics"] or {}).get(name) for r in runs]
            if any(is_array(v) for v in vals):
                hidden[name] = max(len(v) for v in vals if is_array(v))
                continue
            nums = [number(v) for v in vals if v is not None]
            if not nums or any(x is None for x in nums):
                continue  # text or missing values: not summarised
            arr = np.asarray(nums, dtype=float)
            with np.errstate(invalid="ignore"):
                std = float(arr.std(ddof=1)) if arr.size > 1 else math.nan
            metrics[name] = (float(arr.mean()), std)
            if name not in metric_names:
                metric_names.append(name)
        times = [r["wall_time"] for r in runs if r["wall_time"] is not None]
        points.append({"config": config, "n": len(runs), "metrics": metrics,
                       "wall_time": sum(times) / len(times) if times else None})
    return points, metric_names, hidden
