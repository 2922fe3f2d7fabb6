"""``dynamodb://`` URLs and the one boto3 client a :class:`DynamoStore` uses.

- ``dynamodb://`` — AWS: the default credential chain and region.
- ``dynamodb://host:port`` — a local endpoint (DynamoDB Local, moto) over
  http; placeholder credentials when none are configured, region
  ``us-east-1`` unless one is given.
- ``dynamodb://key:secret@host:port`` — explicit credentials (never shown in
  ``repr`` or logs).

Query parameters: ``region``, ``tls=true`` (https to host:port),
``max_attempts`` (total attempts per call in botocore's standard retry mode, first call included; default 5),
``connect_timeout`` and ``read_timeout`` (seconds), ``max_pool`` (HTTP
connections kept, default 32).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from attrs import define, field

from storeswap.core.errors import ConfigurationError

__all__ = ["DynamoConfig", "parse_url", "make_client", "PLACEHOLDER_CREDENTIALS", "LOCAL_REGION"]

#: What a local endpoint gets when no credentials are configured (emulators accept anything).
PLACEHOLDER_CREDENTIALS = ("storeswap", "storeswap")
LOCAL_REGION = "us-east-1"
_TRUE = {"1", "true", "yes", "on"}
_KNOWN = {"region", "tls", "max_attempts", "connect_timeout", "read_timeout", "max_pool"}


@define(frozen=True, slots=True)
class DynamoConfig:
    """Where and how to reach DynamoDB; ``repr`` never shows the secret."""

    endpoint_url: str | None = None
    region: str | None = None
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    max_attempts: int = 5
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_pool: int = 32

    @property
    def display_url(self) -> str:
        """The URL without credentials, for repr and logs."""
        if self.endpoint_url is None:
            base = "dynamodb://"
        else:
            parts = urlsplit(self.endpoint_url)
            base = f"dynamodb://{parts.netloc}"
            if parts.scheme == "https":
                base += "?tls=true"
        if self.region:
            base += ("&" if "?" in base else "?") + f"region={self.region}"
        return base


def _number(params: dict[str, list[str]], name: str, default: float, kind: type) -> Any:
    if name not in params:
        return default
    raw = params[name][-1]
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigurationError(f"dynamodb URL parameter {name}={raw!r} is not a number") from None
    if value <= 0:
        raise ConfigurationError(f"dynamodb URL parameter {name} must be positive")
    return value


def parse_url(url: str) -> DynamoConfig:
    """Parse a ``dynamodb://`` URL (see the module docstring)."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "dynamodb":
        raise ConfigurationError("a DynamoDB URL starts with dynamodb://")
    params = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(params) - _KNOWN
    if unknown:
        raise ConfigurationError(f"unknown dynamodb URL parameters: {', '.join(sorted(unknown))}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise ConfigurationError("the dynamodb URL has an invalid port") from None
    region = params["region"][-1] if "region" in params else None
    endpoint = None
    if host:
        tls = params.get("tls", ["false"])[-1].lower() in _TRUE
        netloc = f"[{host}]" if ":" in host else host
        if port is not None:
            netloc += f":{port}"
        endpoint = f"{'https' if tls else 'http'}://{netloc}"
    elif "tls" in params:
        raise ConfigurationError("tls= applies to dynamodb://host:port URLs only")
    access = unquote(parts.username) if parts.username else None
    secret = unquote(parts.password) if parts.password is not None else None
    if (access is None) != (secret is None):
        raise ConfigurationError("give both an access key and a secret key in the URL, or neither")
    return DynamoConfig(
        endpoint_url=endpoint,
        region=region,
        access_key=access,
        secret_key=secret,
        max_attempts=_number(params, "max_attempts", 5, int),
        connect_timeout=_number(params, "connect_timeout", 5.0, float),
        read_timeout=_number(params, "read_timeout", 30.0, float),
        max_pool=_number(params, "max_pool", 32, int),
    )


def _credentials_configured() -> bool:
    # Deliberately shallow: walking the full chain could wait on an instance
    # metadata endpoint that is not there.
    if os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE"):
        return True
    path = os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.expanduser("~/.aws/credentials")
    return os.path.exists(path)


def make_client(config: DynamoConfig, service: str = "dynamodb") -> Any:
    """A botocore client of ``service`` (``dynamodb`` or ``dynamodbstreams``) for ``config``.

    Standard retries, TCP keep-alive, pooled connections, and no botocore
    parameter validation: every request is built from a request the port
    has already validated (core.prepare, stricter than botocore's shape
    check), so checking it again cost a walk over every attribute of every
    item (a 25-item BatchWriteItem spent a sixth of its client time there);
    the server still validates what it receives (decision 0029).
    """
    try:
        import boto3.session
        from botocore.config import Config
    except ImportError as e:  # pragma: no cover - depends on the installation
        raise ConfigurationError("the dynamodb store needs boto3: pip install 'storeswap[dynamodb]'") from e
    session = boto3.session.Session()
    region = config.region or session.region_name
    kwargs: dict[str, Any] = {}
    if config.access_key is not None:
        kwargs["aws_access_key_id"] = config.access_key
        kwargs["aws_secret_access_key"] = config.secret_key
    if config.endpoint_url is not None:
        region = region or LOCAL_REGION
        if config.access_key is None and not _credentials_configured():
            kwargs["aws_access_key_id"], kwargs["aws_secret_access_key"] = PLACEHOLDER_CREDENTIALS
        kwargs["endpoint_url"] = config.endpoint_url
    if not region:
        raise ConfigurationError(
            "no AWS region: set AWS_REGION / AWS_DEFAULT_REGION, a profile region, or dynamodb://?region=..."
        )
    botocore_config = Config(
        # total_max_attempts counts the first call too (botocore's max_attempts counts retries only).
        retries={"mode": "standard", "total_max_attempts": config.max_attempts},
        tcp_keepalive=True,
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        max_pool_connections=config.max_pool,
        parameter_validation=False,
    )
    return session.client(service, region_name=region, config=botocore_config, **kwargs)
