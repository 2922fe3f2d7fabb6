"""AWS Signature Version 4 verification for the gateway (``--auth sigv4 --credentials FILE``).

The gateway recomputes the signature from the request exactly as the SDKs
compute it (canonical request, string to sign, the derived signing key) and
compares it in constant time.  Nothing runs before a request passes: a
missing or malformed ``Authorization`` header, an unknown access key, a
signature that does not match, or a date more than 15 minutes away from the
server's clock is answered with DynamoDB's own error shapes.

The credentials file is an AWS shared-credentials file (``[profile]``
sections with ``aws_access_key_id`` / ``aws_secret_access_key``); every
profile in it is accepted.
"""

from __future__ import annotations

import configparser
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, quote

from storeswap.core.errors import ConfigurationError
from storeswap.gateway.errors import ApiError

__all__ = ["SigV4Verifier", "load_credentials", "MAX_CLOCK_SKEW"]

#: How far a request's X-Amz-Date may be from the server's clock (AWS allows 15 minutes).
MAX_CLOCK_SKEW = 15 * 60
_ALGORITHM = "AWS4-HMAC-SHA256"
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=([^,\s]+)\s*,\s*SignedHeaders=([^,\s]+)\s*,\s*Signature=([0-9a-fA-F]+)\s*$"
)
_SPACES = re.compile(r"\s+")


def load_credentials(path: str | Path) -> dict[str, str]:
    """Access key id → secret key, from an AWS shared-credentials file."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigurationError(f"cannot read the credentials file {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"the credentials file {path} is not text (UTF-8)") from None
    try:
        parser.read_string(text)
    except configparser.Error as e:
        raise ConfigurationError(f"the credentials file {path} is not an AWS credentials file: {e}") from None
    keys: dict[str, str] = {}
    for section in parser.sections():
        access = parser.get(section, "aws_access_key_id", fallback=None)
        secret = parser.get(section, "aws_secret_access_key", fallback=None)
        if access and secret:
            keys[access.strip()] = secret.strip()
    if not keys:
        raise ConfigurationError(f"the credentials file {path} holds no aws_access_key_id / aws_secret_access_key pair")
    return keys


def _denied(code: str, message: str) -> ApiError:
    return ApiError(code, message, status=400)


def _canonical_query(query: str) -> str:
    pairs = sorted(
        (quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in parse_qsl(query, keep_blank_values=True)
    )
    return "&".join(f"{k}={v}" for k, v in pairs)


def _canonical_path(path: str) -> str:
    # The SDKs sign the URI-encoded path; DynamoDB's is "/".
    return quote(path or "/", safe="/-_.~%")


class SigV4Verifier:
    """Checks the SigV4 signature of a request against a set of access keys."""

    def __init__(
        self, credentials: Mapping[str, str], *, service: str = "dynamodb",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.credentials = dict(credentials)
        self.service = service
        self._clock = clock or (lambda: datetime.now(UTC))

    def verify(
        self, method: str, path: str, query: str, headers: Sequence[tuple[bytes, bytes]], body: bytes
    ) -> str:
        """Return the request's access key id, or raise :class:`ApiError` in DynamoDB's shape."""
        values: dict[str, list[str]] = {}
        for raw_name, raw_value in headers:
            values.setdefault(raw_name.decode("latin-1").lower(), []).append(raw_value.decode("latin-1"))
        auth = values.get("authorization")
        if not auth:
            raise _denied("MissingAuthenticationTokenException", "Request is missing Authentication Token")
        m = _AUTH.match(auth[0].strip())
        if m is None:
            raise _denied(
                "IncompleteSignatureException",
                "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters "
                f"and the {_ALGORITHM} algorithm",
            )
        credential, signed_headers, signature = m.groups()
        parts = credential.split("/")
        if len(parts) != 5 or parts[4] != "aws4_request":
            raise _denied("IncompleteSignatureException", f"Credential should be scoped correctly: {credential}")
        access_key, day, region, service, _ = parts
        secret = self.credentials.get(access_key)
        if secret is None:
            raise _denied("UnrecognizedClientException", "The security token included in the request is invalid.")
        if service != self.service:
            raise _denied("InvalidSignatureException", f"Credential should be scoped to correct service: '{self.service}'.")
        amz_date = (values.get("x-amz-date") or [""])[0]
        try:
            when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise _denied("IncompleteSignatureException", "the X-Amz-Date header is missing or malformed") from None
        if not amz_date.startswith(day):
            raise _denied("InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP")
        now = self._clock()
        if abs((now - when).total_seconds()) > MAX_CLOCK_SKEW:
            raise _denied(
                "InvalidSignatureException",
                f"Signature expired: {amz_date} is now earlier than "
                f"{now.strftime('%Y%m%dT%H%M%SZ')} ({MAX_CLOCK_SKEW // 60} min. skew allowed)"
                if when < now else
                f"Signature not yet current: {amz_date} is still later than {now.strftime('%Y%m%dT%H%M%SZ')}",
            )
        names = signed_headers.split(";")
        if "host" not in names:
            raise _denied("InvalidSignatureException", "'Host' must be a 'SignedHeader' in the AWS Authorization.")
        canonical_headers = ""
        for name in names:
            if name not in values:
                raise _denied("InvalidSignatureException", f"the signed header {name} is missing from the request")
            joined = ",".join(_SPACES.sub(" ", v.strip()) for v in values[name])
            canonical_headers += f"{name}:{joined}\n"
        payload_hash = (values.get("x-amz-content-sha256") or [""])[0]
        actual_hash = hashlib.sha256(body).hexdigest()
        if payload_hash and payload_hash != "UNSIGNED-PAYLOAD" and payload_hash != actual_hash:
            raise _denied("InvalidSignatureException", "The provided 'x-amz-content-sha256' header does not match what was computed.")
        canonical = "\n".join(
            [method, _canonical_path(path), _canonical_query(query), canonical_headers, signed_headers,
             payload_hash or actual_hash]
        )
        scope = f"{day}/{region}/{service}/aws4_request"
        to_sign = f"{_ALGORITHM}\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        key = ("AWS4" + secret).encode()
        for part in (day, region, service, "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            raise _denied(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
            )
        return access_key
