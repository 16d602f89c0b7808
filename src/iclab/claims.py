"""Claims as data: what a figure's run says about the paper it reproduces.

Every ``iclab reproduce FIGURE`` writes ``claims.json`` next to its PNG and CSV::

    {"figure": "lu2024-fig5", "scale": "quick",
     "claims": [{"id": ..., "statement": ..., "value": ..., "uncertainty": ..., "target": ..., "holds": ...}]}

- ``statement`` quotes or paraphrases the paper's claim and cites its figure or section;
- ``value ± uncertainty`` is what this run measured (``uncertainty`` is one standard error, or the half-width
  of the interval named in ``target``; ``None`` when the run gives none);
- ``target`` is the criterion, in words and numbers;
- ``holds`` is ``True``, ``False``, or ``None`` when the run is too small to decide.

A claim that fails is written and printed like one that holds: it is never dropped. This module is
dependency-free (standard library only) so that every layer may build claims.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

CLAIMS_FILE = "claims.json"


@dataclass(frozen=True)
class Claim:
    """One paper claim checked by one run (see the module docstring for the meaning of each field)."""

    id: str
    statement: str
    value: float | None
    uncertainty: float | None
    target: str
    holds: bool | None

    def to_json(self) -> dict:
        return {k: _json_number(v) for k, v in asdict(self).items()}


def _json_number(v):
    """JSON has no NaN or inf: NaN becomes null, ±inf the strings "inf" / "-inf"."""
    if isinstance(v, float):
        if math.isnan(v):
            return None
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
    return v


def _number(v) -> float | None:
    if v is None:
        return None
    if isinstance(v, str):
        return float(v)  # "inf" / "-inf"
    return float(v)


def _decided(value, uncertainty, max_uncertainty) -> bool:
    """False when the run cannot decide: no value, a NaN, or an uncertainty above ``max_uncertainty``."""
    if value is None or math.isnan(value):
        return False
    if max_uncertainty is not None and (uncertainty is None or math.isnan(uncertainty)
                                        or uncertainty > max_uncertainty):
        return False
    return True


def in_range(id: str, statement: str, value: float | None, uncertainty: float | None = None, *,
             lo: float | None = None, hi: float | None = None, target: str | None = None,
             max_uncertainty: float | None = None) -> Claim:
    """A claim that ``lo <= value <= hi`` (either bound may be omitted).

    ``holds`` is ``None`` when the value is missing or NaN, or when ``max_uncertainty`` is given and the
    uncertainty exceeds it (the run is too small to decide).
    """
    if lo is None and hi is None:
        raise ValueError("in_range needs lo or hi")
    value = None if value is None else float(value)
    uncertainty = None if uncertainty is None else float(uncertainty)
    if target is None:
        if lo is not None and hi is not None:
            target = f"in [{lo:g}, {hi:g}]"
        else:
            target = f">= {lo:g}" if lo is not None else f"<= {hi:g}"
        if max_uncertainty is not None:
            target += f", uncertainty <= {max_uncertainty:g}"
    holds = None
    if _decided(value, uncertainty, max_uncertainty):
        holds = (lo is None or value >= lo) and (hi is None or value <= hi)
    return Claim(id, statement, value, uncertainty, target, holds)


def within_se(id: str, statement: str, value: float | None, se: float | None, reference: float, *,
              n_se: float = 2.0, max_se: float | None = None, target: str | None = None) -> Claim:
    """A claim that ``value`` agrees with ``reference`` within ``n_se`` standard errors, and (when ``max_se`` is
    given) that the standard error is at most ``max_se``: a run whose SE is larger cannot confirm the claim, so
    its ``holds`` is ``None``."""
    value = None if value is None else float(value)
    se = None if se is None else float(se)
    if target is None:
        target = f"|value - {reference:g}| <= {n_se:g} SE" + (f", SE <= {max_se:g}" if max_se is not None else "")
    holds = None
    if _decided(value, se, max_se) and se is not None and not math.isnan(se):
        holds = abs(value - reference) <= n_se * se
    return Claim(id, statement, value, se, target, holds)


def all_of(id: str, statement: str, parts: Sequence[Claim], *, target: str) -> Claim:
    """A claim that holds when every part holds; ``value`` is the number of parts that hold, ``None`` if any part
    is undecided and none fails."""
    states = [c.holds for c in parts]
    holds = False if False in states else (None if None in states else True)
    return Claim(id, statement, float(sum(s is True for s in states)), None, target, holds)


def write_claims(path: Path | str, figure: str, scale: str, claims: Iterable[Claim]) -> Path:
    """Write ``claims.json`` (the module docstring's schema) atomically; returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"figure": figure, "scale": scale, "claims": [c.to_json() for c in claims]}
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


def read_claims(path: Path | str) -> tuple[str, str, list[Claim]]:
    """``(figure, scale, claims)`` from a ``claims.json``."""
    doc = json.loads(Path(path).read_text())
    claims = [Claim(c["id"], c["statement"], _number(c["value"]), _number(c["uncertainty"]), c["target"],
                    c["holds"]) for c in doc["claims"]]
    return doc["figure"], doc["scale"], claims


def verdict(holds: bool | None) -> str:
    return {True: "holds", False: "FAILS", None: "undecided"}[holds]


def format_value(value: float | None, uncertainty: float | None) -> str:
    if value is None:
        return "—"
    text = f"{value:.4g}"
    if uncertainty is not None and not math.isnan(uncertainty):
        text += f" ± {uncertainty:.2g}"
    return text


def summary(claims: Sequence[Claim]) -> str:
    """``"3 of 4 claims hold (1 fails)"``."""
    n_true = sum(c.holds is True for c in claims)
    n_false = sum(c.holds is False for c in claims)
    n_none = len(claims) - n_true - n_false
    extra = [f"{n_false} fail{'s' if n_false == 1 else ''}"] if n_false else []
    extra += [f"{n_none} undecided"] if n_none else []
    return f"{n_true} of {len(claims)} claims hold" + (f" ({', '.join(extra)})" if extra else "")
