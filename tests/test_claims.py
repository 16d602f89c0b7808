"""The claims contract (iclab.claims): verdicts from synthetic data with known answers, and the JSON schema."""

import json
import math

import numpy as np
import pytest

from iclab.claims import all_of, in_range, read_claims, summary, within_se, write_claims


def test_in_range_true_false_and_undecided():
    assert in_range("a", "s", 1.9, 0.1, lo=1.5, hi=2.5).holds is True
    assert in_range("a", "s", 2.6, 0.1, lo=1.5, hi=2.5).holds is False
    assert in_range("a", "s", 1.4, None, lo=1.5).holds is False
    assert in_range("a", "s", 0.3, None, hi=0.25).holds is False
    # too uncertain to decide, and a NaN measurement, are neither true nor false
    assert in_range("a", "s", 2.0, 0.5, lo=1.5, hi=2.5, max_uncertainty=0.15).holds is None
    assert in_range("a", "s", math.nan, 0.1, lo=1.5).holds is None
    with pytest.raises(ValueError):
        in_range("a", "s", 1.0)


def test_within_se_on_a_known_sample_mean():
    """The mean of 400 N(2, 1) draws is within 3 SE of 2 and not of 2.5 (SE = 0.05: 2.5 is 10 SE away)."""
    x = np.random.default_rng(0).normal(2.0, 1.0, 400)
    mean, se = x.mean(), x.std(ddof=1) / 20
    assert within_se("e", "s", mean, se, 2.0, n_se=3).holds is True
    assert within_se("e", "s", mean, se, 2.5, n_se=3).holds is False
    assert within_se("e", "s", mean, se, 2.0, n_se=3, max_se=0.01).holds is None


def test_all_of_and_summary():
    t, f, u = (in_range("x", "s", v, lo=0, hi=1) for v in (0.5, 2.0, math.nan))
    assert all_of("all", "s", [t, t], target="both").holds is True
    assert all_of("all", "s", [t, u], target="both").holds is None
    assert all_of("all", "s", [t, u, f], target="all").holds is False
    assert summary([t, f, u]) == "1 of 3 claims hold (1 fails, 1 undecided)"


def test_write_and_read_round_trip(tmp_path):
    claims = [in_range("peak", "Fig. 5: a = 2", 1.93, 0.08, lo=1.84, hi=2.16),
              in_range("nan", "undecided", math.nan, math.inf, lo=0)]
    path = write_claims(tmp_path / "claims.json", "lu2024-fig5", "quick", claims)
    doc = json.loads(path.read_text())  # strict JSON: no NaN or Infinity tokens
    assert doc["figure"] == "lu2024-fig5" and doc["scale"] == "quick"
    assert set(doc["claims"][0]) == {"id", "statement", "value", "uncertainty", "target", "holds"}
    assert doc["claims"][1]["value"] is None and doc["claims"][1]["uncertainty"] == "inf"
    fig, scale, back = read_claims(path)
    assert back[0] == claims[0] and back[1].holds is None and math.isinf(back[1].uncertainty)
