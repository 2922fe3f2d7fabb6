"""The one rule for numbers users give storeswap (storeswap.numbers.parse_number)."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest

from storeswap import ConfigurationError
from storeswap.numbers import parse_number


@pytest.mark.parametrize(
    "value", [True, False, math.nan, math.inf, -math.inf, 0, 0.0, -1, "5", None, [1], {"a": 1}, b"5", object()]
)
def test_anything_but_a_finite_number_above_the_minimum_is_one_error(value: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"^--x takes seconds, not "):
        parse_number(value, "--x takes seconds")


@pytest.mark.parametrize("value, expected", [(1, 1.0), (0.25, 0.25), (Decimal("2.5"), 2.5), (10**6, 1e6)])
def test_finite_numbers_above_the_minimum(value: Any, expected: float) -> None:
    assert parse_number(value, "--x") == expected


def test_text_only_where_a_command_line_gives_it() -> None:
    assert parse_number(" 2.5 ", "--x", text=True) == 2.5
    for bad in ("", "abc", "nan", "inf", "-1", "0"):
        with pytest.raises(ConfigurationError):
            parse_number(bad, "--x", text=True)


def test_bounds() -> None:
    assert parse_number(0, "--x", above_minimum=False) == 0.0
    with pytest.raises(ConfigurationError):
        parse_number(-0.5, "--x", above_minimum=False)
    assert parse_number(10, "--x", maximum=10) == 10.0
    with pytest.raises(ConfigurationError):
        parse_number(10.01, "--x", maximum=10)
    assert parse_number(5, "--x", minimum=5, above_minimum=False) == 5.0
    with pytest.raises(ConfigurationError):
        parse_number(5, "--x", minimum=5)
