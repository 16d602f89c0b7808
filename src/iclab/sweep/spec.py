"""Sweep specs: which compute, on which grid, with how many seeds.

A spec is a YAML file (read with ``yaml.safe_load``) or the same dict in Python. It names either a paper figure,
whose typed settings it varies, or a compute function of your own, whose configs it lists::

    experiment: lu2024-fig1          # a figure id: fixed, grid and zip set its settings (the --set names)
    scale: paper                     # optional, figure ids only: the scale whose settings are the defaults
    fixed: {runs: 20}
    grid:                            # cartesian axes
      d: [40, 70, 100]               # a list (numbers, grammar strings, or categorical strings)

    experiment: mylab.curves:compute # module:function: fixed, grid and zip are the keys of its config
    name: my-sweep                   # optional: the name rows are stored under (default: the experiment)
    seeds: 10                        # runs per point (module:function only; a figure's is its runs setting)
    fixed: {d: 40, lam: 0.01}
    grid: {tau: log:0.1:10:20, kappa: [1, 10, inf]}
    zip:                             # axes that vary together: each group is one factor of the product
      - {alpha: [0.5, 1, 2], ell: [20, 40, 80]}

For a figure, every combination of the axes is one set of overrides of the figure's settings at ``scale``, applied
by :func:`iclab.settings.apply_overrides` (typed and range-checked, as ``--set`` is), and the sweep holds the
figure's points (:meth:`iclab.experiment.Experiment.plan`) at each of them, each distinct point once; rows are
stored under the figure id, so ``iclab reproduce`` finds them. For a compute function, each combination is one
point's config. Numeric values are rounded to 12 significant digits and integral ones become ints
(``d: 10:40:4`` gives 10, 20, 30, 40), matching the point hash.
"""

from __future__ import annotations

import importlib
import itertools
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iclab.experiment import Experiment, Point
from iclab.experiments import get_experiment
from iclab.grid import count_values, parse_values
from iclab.resources import ROW_BYTES, check_memory, check_sweep_tasks
from iclab.settings import field_specs
from iclab.sweep.config import point_hash
from iclab.sweep.engine import run
from iclab.validation import UserInputError, check_choice, check_int, load_yaml_mapping

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


def _figure_points(exp: Experiment, scale: str, overrides: list[dict[str, Any]]) -> list[Point]:
    """The figure's points at each set of settings ``overrides``, each distinct config once (with the most seeds
    any set gives it: seeds 0..n-1 nest)."""
    seeds: dict[str, int] = {}
    configs: dict[str, dict[str, Any]] = {}
    for over in overrides:
        for p in exp.plan(scale, False, over):
            h = point_hash(p.config)
            configs.setdefault(h, p.config)
            seeds[h] = max(seeds.get(h, 0), p.seeds)
    return [Point(config=configs[h], seeds=seeds[h]) for h in configs]


def _combinations(grid: dict[str, list], groups: list[dict[str, list]]) -> Iterator[dict[str, Any]]:
    """Every combination of the grid axes (a product) and the zip groups (each one factor)."""
    factors = [[{k: v} for v in vals] for k, vals in grid.items()]
    factors += [[dict(zip(g, combo, strict=True)) for combo in zip(*g.values(), strict=True)] for g in groups]
    for combo in itertools.product(*factors):
        yield {k: v for part in combo for k, v in part.items()}


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
    """Validate a spec dict and expand its grid into points; ``UserInputError`` (one line) on any problem."""
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

    if ":" in exp_ref:  # a compute function: each combination is one point's config
        if spec.get("scale") is not None:
            raise UserInputError(f"spec scale applies to figure ids only (experiment is {exp_ref!r})")
        compute = _user_compute(exp_ref)
        seeds = check_int("seeds", spec.get("seeds", 1), lo=1)
        check_sweep_tasks(n_points * seeds, f"the sweep ({n_points} points x {seeds} seeds)")
        points = [Point(config={**fixed, **combo}, seeds=seeds) for combo in _combinations(grid, groups)]
        name = exp_ref
    else:  # a figure: each combination is one set of overrides of its typed settings
        if spec.get("seeds") is not None:
            raise UserInputError(f"spec seeds applies to module:function computes only; the runs of {exp_ref} "
                                 "are its settings (e.g. fixed: {runs: 10})")
        exp = get_experiment(exp_ref)
        scale = check_choice("scale", spec.get("scale") or exp.default_scale, exp.scales)
        known = sorted(field_specs(exp.settings[scale]))
        for k in seen:
            if k not in known:
                raise UserInputError(f"parameter {k!r} is unknown for {exp_ref} (known: {', '.join(known)})")
        points = _figure_points(exp, scale, [{**fixed, **combo} for combo in _combinations(grid, groups)])
        check_sweep_tasks(sum(p.seeds for p in points), f"the sweep ({len(points)} points of {exp_ref})")
        compute, name = exp.compute, exp.id
    name = spec.get("name") or name
    if not isinstance(name, str):
        raise UserInputError(f"spec name must be a string (got {name!r})")
    axes = {k: len(v) for k, v in grid.items()} | {k: len(v) for g in groups for k, v in g.items()}
    return Sweep(name=name, experiment=exp_ref, compute=compute, points=points, axes=axes)


def run_spec(spec: dict[str, Any] | str | Path, **options):
    """Resolve a spec (a dict, or a YAML path) and run it: ``options`` go to :func:`iclab.sweep.run`."""
    sw = resolve(spec if isinstance(spec, dict) else load_spec(spec))
    return run(sw.compute, sw.points, name=sw.name, **options)
