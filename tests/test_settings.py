"""The one override path (iclab.settings): one grammar for every type, one-line errors naming field and range."""

import math
from dataclasses import dataclass

import pytest

from iclab.settings import apply_overrides, describe, from_json_number, json_number, param
from iclab.validation import UserInputError


@dataclass(frozen=True)
class S:
    d: int = param(8, lo=1, doc="token dimension")
    kappa: float = param(0.5, lo=0, lo_open=True, allow_inf=True, doc="task diversity")
    lam: float = param(1e-5, lo=0, doc="ridge")
    taus: tuple[float, ...] = param((0.5, 2.0), lo=0, lo_open=True, doc="context ratios")
    ns: tuple[int, ...] = param((10, 20), lo=2, doc="context lengths")
    basis: str = param("gaussian", choices=("gaussian", "fourier"), doc="basis")
    unit_norm: bool = param(True, doc="unit-norm tokens")
    steps: int | None = param(None, lo=1, doc="steps; none: until converged")

    def __post_init__(self):
        if self.d > 1000:
            raise UserInputError(f"d must be <= 1000 with this basis (got {self.d})")


BASE = S()


def test_values_are_coerced_from_cli_strings_and_python_values():
    s = apply_overrides(BASE, {"d": "12", "kappa": "inf", "lam": 0, "taus": "0.5:1.5:3", "ns": [4, 6.0],
                               "basis": "fourier", "unit_norm": "FALSE", "steps": "100"})
    assert s == S(d=12, kappa=math.inf, lam=0.0, taus=(0.5, 1.0, 1.5), ns=(4, 6), basis="fourier",
                  unit_norm=False, steps=100)
    assert type(s.d) is int and type(s.ns[1]) is int and type(s.lam) is float
    assert apply_overrides(s, {"steps": "none", "kappa": "Infinity", "taus": 3})  == S(
        d=12, kappa=math.inf, lam=0.0, taus=(3.0,), ns=(4, 6), basis="fourier", unit_norm=False, steps=None)
    assert apply_overrides(BASE, {}) is BASE and BASE.d == 8  # frozen: a copy, never a change in place


@pytest.mark.parametrize("over, message", [
    ({"D": 3}, "--set key must be one of basis, d, kappa, lam, ns, steps, taus, unit_norm (got 'D')"),
    ({"d": 0}, "d must be an integer >= 1 (got 0)"),
    ({"d": 2.5}, "d must be an integer (got 2.5)"),
    ({"d": True}, "d must be an integer (got True)"),
    ({"d": "abc"}, "d must be an integer (got 'abc')"),
    ({"kappa": 0}, "kappa must be > 0 (inf allowed) (got 0.0)"),
    ({"lam": "inf"}, "lam must be finite (got inf)"),
    ({"lam": -1}, "lam must be >= 0 (got -1.0)"),
    ({"lam": True}, "lam must be a real number (got True)"),
    ({"lam": "nan"}, "lam must not be NaN"),
    ({"taus": "0.5,-1"}, "taus must be > 0 (got -1.0)"),
    ({"taus": []}, "taus must list at least one value (got [])"),
    ({"ns": "1,2"}, "ns must be an integer >= 2 (got 1)"),
    ({"basis": "wavelet"}, "basis must be one of gaussian, fourier (got 'wavelet')"),
    ({"unit_norm": 1}, "unit_norm must be true or false (got 1)"),
    ({"steps": 0}, "steps must be an integer >= 1 (got 0)"),
    ({"d": 2000}, "d must be <= 1000 with this basis (got 2000)"),
])
def test_bad_values_raise_one_line_naming_the_field_and_range(over, message):
    with pytest.raises(UserInputError) as err:
        apply_overrides(BASE, over)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_open_integer_bounds_round_inward():
    @dataclass(frozen=True)
    class T:
        n: int = param(5, lo=0, lo_open=True, hi=10, hi_open=True)

    assert apply_overrides(T(), {"n": 1}).n == 1 and apply_overrides(T(), {"n": 9}).n == 9
    for bad in (0, 10):
        with pytest.raises(UserInputError, match=r"n must be an integer in \[1, 9\]"):
            apply_overrides(T(), {"n": bad})


def test_kappa_infinity_has_one_json_encoding():
    assert json_number(math.inf) == "inf" and json_number(2) == 2.0 and type(json_number(2)) is float
    assert from_json_number("inf") == math.inf and from_json_number("INF") == math.inf and from_json_number(0.5) == 0.5


def test_describe_lists_type_value_doc_and_range():
    rows = {r[0]: r for r in describe(BASE)}
    assert rows["kappa"] == ("kappa", "float", "0.5", "task diversity (> 0, inf allowed)")
    assert rows["basis"][3] == "basis (one of gaussian, fourier)"
    assert rows["d"][3] == "token dimension (>= 1)"
