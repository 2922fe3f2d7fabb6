"""Secret redaction: the one function that hides credentials in anything storeswap shows or writes.

:func:`redact` takes any text — a store URL, an error message, a log line, a
report label, a libpq conninfo string — and replaces with ``***``:

- the password of a URL's userinfo (``scheme://user:PASSWORD@host``);
- the value of a secret parameter, in a URL query or a ``key=value``
  conninfo: ``password``, ``sslpassword``, ``aws_secret_access_key``,
  ``aws_session_token``, ``secret``, ``token`` (any case);
- the value of a credential taken from the environment
  (``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``PGPASSWORD`` and any
  variable whose name says PASSWORD, SECRET or TOKEN), wherever it appears.

A leaf module on purpose: it imports nothing of storeswap, so the adapters,
the backends, ``connect`` and the CLI can all use it without import cycles.
"""

from __future__ import annotations

import logging
import os
import re

__all__ = ["redact", "redact_url", "RedactingFilter", "SECRET_PARAMETERS", "MASK"]

MASK = "***"

#: Query / conninfo parameters whose value is a secret (compared case-insensitively).
SECRET_PARAMETERS = frozenset(
    {"password", "sslpassword", "aws_secret_access_key", "aws_session_token", "secret", "token"}
)

# scheme://user:password@ — the password runs to the last "@" before a query; it may hold an unencoded "/"
# (AWS secret keys do), so a "/" does not end it: hiding too much beats showing a secret.
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s/?#@:]*):(?P<pw>[^\s?#]*)@")
# name=value inside a query string (after ? or &) or a conninfo (after a space or at the start).
_PARAM = re.compile(
    r"(?P<head>(?:^|(?<=[?&;\s,(\"']))(?:" + "|".join(sorted(SECRET_PARAMETERS)) + r")\s*=\s*)"
    # A value stops at a separator, or at a ":" that ends a phrase ("...?password=x: refused").
    r"(?P<value>'(?:[^'\\]|\\.)*'|[^&;\s\"')]+?)(?=$|[&;\s\"')]|[:.,](?:\s|$))",
    re.IGNORECASE,
)
_ENV_NAMES = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN", re.IGNORECASE)
_ENV_ALWAYS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "PGPASSWORD")
# Shorter values would mask ordinary words and digits; real credentials are longer.
_MIN_ENV_SECRET = 6


def _environment_secrets() -> list[str]:
    # Read at call time: a credential exported after import is still hidden.
    found = {
        value
        for name, value in os.environ.items()
        if (name in _ENV_ALWAYS or _ENV_NAMES.search(name)) and len(value) >= _MIN_ENV_SECRET
    }
    return sorted(found, key=len, reverse=True)


def redact(text: object) -> str:
    """``text`` (anything; it is turned into a string) with every credential replaced by ``***``."""
    out = text if isinstance(text, str) else str(text)
    out = _USERINFO.sub(lambda m: f"{m.group('head')}:{MASK}@" if m.group("pw") else m.group(0), out)
    out = _PARAM.sub(lambda m: f"{m.group('head')}{MASK}", out)
    for secret in _environment_secrets():
        if secret in out:
            out = out.replace(secret, MASK)
    return out


def redact_url(url: str) -> str:
    """A store URL fit for logs, reports and ``repr``: :func:`redact` (kept under this name for callers)."""
    return redact(url)


class RedactingFilter(logging.Filter):
    """A logging filter that passes every record's final message through :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message in place; never drops a record."""
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
