"""Sweep specs: which compute, on which grid, with how many seeds.

A spec is a YAML file (read with ``yaml.safe_load``) or the same dict in Python::

    experiment: lu2024-fig1          # a figure id (its compute runs on this grid) or module:function
    name: my-sweep                   # optional: the name rows are stored under (default: the experiment)
    scale: quick                     # optional, figure ids only: the scale whose first point gives the defaults
    seeds: 10
    fixed: {d: 40, lam: 0.01}
    grid:                            # cartesian axes
      tau: log:0.1:10:20             # the value grammar of iclab.grid.parse_values
      kappa: [1, 10, inf]            # or a list (numbers, grammar strings, or categorical strings)
    zip:                             # axes that vary together: each group is one factor of the product
      - {alpha: [0.5, 1, 2], ell: [20, 40, 80]}

Numeric values are rounded to 12 significant digits and integral ones become ints (``d: 10:40:4`` gives
10, 20, 30, 40), matching the point hash. For a figure id, every parameter must be one its points use (or one it
declares in an optional ``Experiment.parameters``); parameters not in the spec keep the values of the figure's
first point that has all the spec's parameters (and its fixed string values, e.g. ``kind: gamma``).
"""

from __future__ import annotations

import importlib
import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iclab.experiment import Point
from iclab.resources import ROW_BYTES, check_memory, check_sweep_tasks
from iclab.validation import UserInputError, load_yaml_mapping

_KEYS = ("experiment", "name", "scale", "seeds", "fixed", "grid", "zip")
_NUMERIC = re.compile(r"^\s*([-+.0-9]|inf\b|-inf\b|log:|logspace\()")


@dataclass(frozen=True)
class Sweep:
    """A resolved spec: the compute function, its points and the store name."""

    name: str
    experiment: str
    compute: Callable[[dict[str, Any], int], dict[str, Any]]
    points: list[Point]
    axes: dict[str, int] = field(default_factory=dict)  # axis name -> number of values

    @property
    def n_tasks(self) -> int:
        return sum(p.seeds for p in self.points)


def _number(v: float) -> int | float:
    if math.isinf(v):
        return v
    r = float(f"{v:.12g}")
    return int(r) if r.is_integer() and abs(r) < 2**53 else r


def axis_values(key: str, value: Any) -> list[Any]:
    """One axis of a grid as a list: a grammar string, a number, or a list of numbers / strings / grammar."""
    from iclab.grid import parse_values

    items = value if isinstance(value, list) else [value]
    out: list[Any] = []
    for item in items:
        if isinstance(item, bool) or item is None:
            out.append(item)
        elif isinstance(item, (int, float)):
            if isinstance(item, float) and math.isnan(item):
                raise UserInputError(f"grid axis {key} must not contain NaN")
            out.append(_number(item) if isinstance(item, float) else item)
        elif isinstance(item, str) and _NUMERIC.match(item):
            out.extend(_number(float(v)) for v in parse_values(key, item))
        elif isinstance(item, str):
            out.append(item)  # a categorical value, e.g. basis: [fourier, legendre]
        else:
            raise UserInputError(f"grid axis {key} must hold numbers, strings or value ranges (got {item!r})")
    if not out:
        raise UserInputError(f"grid axis {key} is empty (give at least one value)")
    return out


def axis_count(key: str, value: Any) -> int:
    """The number of values of one axis, counted from the grammar without building them (as :func:`axis_values`
    would produce; malformed entries are left for it to report)."""
    from iclab.grid import count_values

    items = value if isinstance(value, list) else [value]
    return sum(count_values(key, item) if isinstance(item, str) and _NUMERIC.match(item) else 1 for item in items)


def count_points(spec: dict[str, Any]) -> int:
    """Points of a spec's grid (product of the grid axes and of the zip groups), counted without building them."""
    n = 1
    grid = spec.get("grid")
    if isinstance(grid, dict):
        n *= math.prod(axis_count(k, v) for k, v in grid.items())
    groups = spec.get("zip") or []
    for g in [groups] if isinstance(groups, dict) else groups if isinstance(groups, list) else []:
        if isinstance(g, dict) and g:
            n *= axis_count(*next(iter(g.items())))
    return n


def _fixed_value(v: Any) -> Any:
    if isinstance(v, str):  # YAML 1.1 reads 1e-3 as a string
        try:
            return _number(float(v))
        except ValueError:
            return v
    return _number(v) if isinstance(v, float) and not math.isnan(v) else v


def _mapping(where: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise UserInputError(f"{where} must be a mapping of parameter names to values (got {value!r})")
    return value


def load_spec(path: str | Path) -> dict[str, Any]:
    """Read a YAML spec file into a dict; ``ValueError`` for a missing file or malformed YAML."""
    return load_yaml_mapping(path, f"with keys {', '.join(_KEYS)}")


def _figure(exp_id: str, scale: str | None, fixed: dict[str, Any],
            keys: set[str]) -> tuple[Any, dict[str, Any], set[str], int]:
    """The figure's experiment, default config, known parameter names and default seed count.

    The defaults come from the figure's first point that has every parameter the spec sets and agrees with its
    fixed values where it can (a figure may mix kinds of points, e.g. theory curves and simulations).
    """
    from iclab.experiments import get_experiment
    from iclab.validation import check_choice

    exp = get_experiment(exp_id)
    scale = check_choice("scale", scale or exp.default_scale, exp.scales)
    pts = exp.plan(scale, False, {})
    known = set(getattr(exp, "parameters", None) or ())
    for p in pts:
        known.update(p.config)
    having = [p for p in pts if keys <= set(p.config)] or pts
    matching = [p for p in having if all(p.config.get(k) == v for k, v in fixed.items() if isinstance(v, str))]
    base = (matching or having or [Point({})])[0]
    return exp, dict(base.config), known, base.seeds


def _user_compute(ref: str) -> Callable:
    mod_name, _, fn_name = ref.partition(":")
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        raise UserInputError(f"experiment {ref!r}: cannot import module {mod_name!r} ({e})") from None
    fn = getattr(mod, fn_name, None)
    if not callable(fn):
        raise UserInputError(f"experiment {ref!r}: module {mod_name!r} has no function {fn_name!r}")
    return fn


def resolve(spec: dict[str, Any]) -> Sweep:
    """Validate a spec dict and expand its grid into points; ``ValueError`` (one line) on any problem."""
    from iclab.validation import check_int

    if not isinstance(spec, dict):
        raise UserInputError(f"spec must be a mapping with keys {', '.join(_KEYS)} (got {type(spec).__name__})")
    unknown = sorted(set(spec) - set(_KEYS))
    if unknown:
        raise UserInputError(f"spec key {unknown[0]!r} is unknown (allowed: {', '.join(_KEYS)})")
    exp_ref = spec.get("experiment")
    if not isinstance(exp_ref, str) or not exp_ref.strip():
        raise UserInputError("spec experiment must be a figure id (see `iclab reproduce list`) or module:function")
    exp_ref = exp_ref.strip()
    n_points = count_points(spec)  # counted before anything is built: a mistyped range costs nothing
    check_sweep_tasks(n_points, "the sweep grid (one task or more per point)")
    check_memory(n_points * ROW_BYTES, f"the sweep grid of {n_points:,} points", "use fewer points")

    fixed = {k: _fixed_value(v) for k, v in _mapping("spec fixed", spec.get("fixed")).items()}
    grid = {k: axis_values(k, v) for k, v in _mapping("spec grid", spec.get("grid")).items()}
    groups_raw = spec.get("zip") or []
    groups_raw = [groups_raw] if isinstance(groups_raw, dict) else groups_raw
    if not isinstance(groups_raw, list):
        raise UserInputError("spec zip must be a list of mappings, each a group of equal-length axes")
    groups = []
    for g in groups_raw:
        axes = {k: axis_values(k, v) for k, v in _mapping("spec zip group", g).items()}
        if not axes:
            raise UserInputError("spec zip group is empty (give at least one axis)")
        lengths = {k: len(v) for k, v in axes.items()}
        if len(set(lengths.values())) > 1:
            raise UserInputError(f"spec zip group axes must have the same length (got {lengths})")
        groups.append(axes)

    seen: dict[str, str] = {}
    for where, keys in [("fixed", fixed), ("grid", grid)] + [("zip", g) for g in groups]:
        for k in keys:
            if k in seen:
                raise UserInputError(f"parameter {k} is given twice (in {seen[k]} and {where})")
            seen[k] = where
    if not grid and not groups:
        raise UserInputError("spec grid is empty: give at least one axis under grid: or zip:")

    if ":" in exp_ref:
        if spec.get("scale") is not None:
            raise UserInputError(f"spec scale applies to figure ids only (experiment is {exp_ref!r})")
        compute, base, known, default_seeds = _user_compute(exp_ref), {}, None, 1
        declared = getattr(compute, "parameters", None)
        known = set(declared) if declared else None
        name = exp_ref
    else:
        exp, base, known, default_seeds = _figure(exp_ref, spec.get("scale"), fixed, set(seen))
        compute, name = exp.compute, exp.id
    if known is not None:
        for k in seen:
            if k not in known:
                raise UserInputError(f"parameter {k!r} is unknown for {exp_ref} (known: {', '.join(sorted(known))})")
    name = spec.get("name") or name
    if not isinstance(name, str):
        raise UserInputError(f"spec name must be a string (got {name!r})")
    seeds = check_int("seeds", spec.get("seeds", default_seeds), lo=1)
    check_sweep_tasks(n_points * seeds, f"the sweep ({n_points} points x {seeds} seeds)")

    factors = [[{k: v} for v in vals] for k, vals in grid.items()]
    factors += [[dict(zip(g, combo, strict=True)) for combo in zip(*g.values(), strict=True)] for g in groups]
    points = []
    for combo in itertools.product(*factors):
        config = {**base, **fixed}
        for part in combo:
            config.update(part)
        points.append(Point(config=config, seeds=seeds))
    axes = {k: len(v) for k, v in grid.items()} | {k: len(v) for g in groups for k, v in g.items()}
    return Sweep(name=name, experiment=exp_ref, compute=compute, points=points, axes=axes)


def run_spec(spec: dict[str, Any] | str | Path, **options):
    """Resolve a spec (a dict, or a YAML path) and run it: ``options`` go to :func:`iclab.sweep.run`."""
    from iclab.sweep.engine import run

    sw = resolve(spec if isinstance(spec, dict) else load_spec(spec))
    return run(sw.compute, sw.points, name=sw.name, **options)
