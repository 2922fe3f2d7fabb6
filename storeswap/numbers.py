"""One rule for the numbers users give storeswap (rates, seconds, capacities): finite, in range, typed errors.

Every option that takes a number of seconds, a rate or a capacity goes
through :func:`parse_number`: a bool is not a number, text is accepted only
where a command line hands it over (``text=True``), NaN and infinities are
refused, and the range is checked; anything else is one
:class:`~storeswap.core.errors.ConfigurationError` whose text is the caller's
description followed by the value given.  A leaf module: it imports only the
error types.
"""

from __future__ import annotations

import contextlib
import math
from decimal import Decimal

from storeswap.core.errors import ConfigurationError

__all__ = ["parse_number"]


def parse_number(
    value: object,
    what: str,
    *,
    minimum: float = 0.0,
    above_minimum: bool = True,
    maximum: float | None = None,
    text: bool = False,
) -> float:
    """``value`` as a finite float in ``[minimum, maximum]`` (``(minimum, maximum]`` with ``above_minimum``).

    ``what`` describes what is expected (``"--max-rcu takes a positive number
    of read capacity units per second"``); the error reads ``"{what}, not
    {value!r}"``.  ``text`` accepts a numeric string (a CLI value).
    """
    rate = math.nan
    if isinstance(value, str) and text:
        with contextlib.suppress(ValueError):  # not a number: rate stays NaN and is refused below
            rate = float(value.strip())
    elif isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        rate = float(value)
    if (
        not math.isfinite(rate)
        or rate < minimum
        or (above_minimum and rate == minimum)
        or (maximum is not None and rate > maximum)
    ):
        raise ConfigurationError(f"{what}, not {value!r}")
    return rate
