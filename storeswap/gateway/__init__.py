"""The DynamoDB gateway: DynamoDB's HTTP protocol (JSON 1.0) over any :class:`~storeswap.ItemStore`.

A driving adapter: unchanged AWS SDK code (boto3, PynamoDB, the AWS CLI,
the other SDKs) talks to ``storeswap serve --store postgres`` as if it were
DynamoDB.  The gateway only translates: requests become port calls, port
results and errors become DynamoDB's responses; the rules stay in the port.

- :mod:`.wire` — AttributeValue JSON to and from Python values;
- :mod:`.legacy` — the pre-expression parameters, as AST;
- :mod:`.tables` — CreateTable / TableDescription shapes;
- :mod:`.operations` — one handler per DynamoDB operation;
- :mod:`.errors` — DynamoDB's error shapes and status codes;
- :mod:`.sigv4` — Signature Version 4 verification;
- :mod:`.app` — the ASGI application; :mod:`.server` — uvicorn;
- :mod:`.testing` — contract-suite factories; :mod:`.app_tests` — run a
  team's own test command against a store; :mod:`.bench` — the benchmark.
"""

from storeswap.gateway.app import GatewayApp
from storeswap.gateway.server import GatewayServer, serve

__all__ = ["GatewayApp", "GatewayServer", "serve"]
