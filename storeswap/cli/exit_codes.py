"""The CLI's exit codes and its one-line error messages: one table for every command.

====  =====================================================================
code  meaning
====  =====================================================================
0     done: the copy finished, the tables are identical, SAFE
1     a negative answer: NOT SAFE, a verify difference, a blocking check
2     a usage or configuration error: bad options, an unknown store, a
      missing table or file; nothing was changed
3     a store could not be reached or holds data it cannot read, or the
      outcome is unknown (a write that may or may not have happened,
      UNKNOWN, an unexpected error)
130   interrupted (Ctrl-C)
====  =====================================================================
"""

from __future__ import annotations

from storeswap.core.errors import OutcomeUnknown, StoreCorrupted, StoreError, StoreUnavailable, Throttled
from storeswap.redaction import redact

__all__ = ["OK", "NEGATIVE", "USAGE", "UNAVAILABLE", "INTERRUPTED", "exit_code", "error_line", "from_pytest"]

OK = 0
NEGATIVE = 1
USAGE = 2
UNAVAILABLE = 3
INTERRUPTED = 130


def exit_code(e: BaseException) -> int:
    """The exit code for a command that ended with ``e``."""
    if isinstance(e, (StoreUnavailable, StoreCorrupted, OutcomeUnknown, Throttled)) or getattr(e, "outcome_unknown", False):
        return UNAVAILABLE
    if isinstance(e, (StoreError, OSError)):
        # Every other storeswap error is about what was asked (a table that is not there, a bad spec,
        # an unknown scheme); an OSError here is a file named on the command line.
        return USAGE
    # A bug or a library failure mid-command: what it did to the stores is not known.
    return UNAVAILABLE


def error_line(e: BaseException) -> str:
    """``error: Type: message``, one line naming what failed, redacted (a storeswap message is in the user's terms)."""
    text = redact(e).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else type(e).__name__
    if isinstance(e, OSError) and e.filename is not None:
        first = f"{e.strerror or 'cannot open'}: {redact(str(e.filename))}"
    # The type name stays: scripts and users match on it (StoreUnavailable, ConfigurationError, ...).
    line = f"{type(e).__name__}: {first}"
    if len(lines) > 1 or not isinstance(e, (StoreError, OSError)):
        line += " (--debug shows the details)"
    return f"error: {line}"


def from_pytest(code: int) -> int:
    """The CLI's code for a pytest exit code (``storeswap contract``): failed tests are a negative answer."""
    import pytest

    table = {
        pytest.ExitCode.OK: OK,
        pytest.ExitCode.TESTS_FAILED: NEGATIVE,
        pytest.ExitCode.INTERRUPTED: INTERRUPTED,
        pytest.ExitCode.INTERNAL_ERROR: UNAVAILABLE,
        pytest.ExitCode.USAGE_ERROR: USAGE,
        pytest.ExitCode.NO_TESTS_COLLECTED: USAGE,
    }
    return table.get(code, UNAVAILABLE)
