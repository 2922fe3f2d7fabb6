"""The gateway's HTTP protocol writes each response to its socket once (storeswap.gateway.http_protocol)."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
from typing import Any

import pytest

from storeswap.adapters.memory import MemoryStore
from storeswap.gateway.http_protocol import CoalescingTransport
from storeswap.gateway.server import GatewayServer


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        #: Writes made after a close, an abort or an end of stream (a callback's assertion would only be logged).
        self.late: list[bytes] = []
        self.closed = False
        self.aborted = False
        self.eof = False

    def write(self, data: bytes) -> None:
        (self.late if self.closed or self.aborted or self.eof else self.writes).append(bytes(data))

    def write_eof(self) -> None:
        self.eof = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1)}.get(name, default)


async def _step() -> None:
    await asyncio.sleep(0)


HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


def test_a_header_block_is_held_until_its_body_joins_it_and_the_body_is_not_deferred() -> None:
    async def main() -> list[bytes]:
        raw = FakeTransport()
        t = CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
        t.write(HEAD)
        assert raw.writes == []  # held for its body
        t.write(b"{}")
        assert raw.writes == [HEAD + b"{}"]  # at once, as one write: a lone client waits for nothing
        t.write(b"more")  # not a header block: written as it comes
        assert raw.writes == [HEAD + b"{}", b"more"]
        await _step()  # the scheduled flush finds nothing held
        return raw.writes

    assert asyncio.run(main()) == [HEAD + b"{}", b"more"]


def test_a_header_block_without_a_body_is_written_at_the_end_of_the_step() -> None:
    async def main() -> list[bytes]:
        raw = FakeTransport()
        t = CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
        t.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await _step()
        return raw.writes

    assert asyncio.run(main()) == [b"HTTP/1.1 204 No Content\r\n\r\n"]


def test_close_writes_a_held_header_block_first_and_abort_drops_it() -> None:
    async def main() -> tuple[FakeTransport, FakeTransport]:
        loop = asyncio.get_running_loop()
        closed, aborted = FakeTransport(), FakeTransport()
        a = CoalescingTransport(closed, loop)  # type: ignore[arg-type]
        a.write(HEAD)
        a.close()
        b = CoalescingTransport(aborted, loop)  # type: ignore[arg-type]
        b.write(HEAD)
        b.abort()
        await _step()  # the scheduled flushes find nothing held
        return closed, aborted

    closed, aborted = asyncio.run(main())
    assert closed.writes == [HEAD] and closed.closed and closed.late == []
    assert aborted.writes == [] and aborted.aborted and aborted.late == []


def test_writelines_and_write_eof_keep_a_held_header_block_in_front() -> None:
    async def main() -> FakeTransport:
        raw = FakeTransport()
        t = CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
        t.write(HEAD)
        t.writelines([b"{", b"}"])
        t.write(HEAD)
        t.write_eof()
        await _step()
        return raw

    raw = asyncio.run(main())
    assert raw.writes == [HEAD + b"{}", HEAD] and raw.eof and raw.late == []


def test_nothing_is_written_to_a_transport_that_closed_meanwhile() -> None:
    async def main() -> FakeTransport:
        raw = FakeTransport()
        t = CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
        t.write(HEAD)
        raw.closed = True  # the peer went away before the step ended
        await _step()
        return raw

    raw = asyncio.run(main())
    assert raw.writes == [] and raw.late == []


def test_the_end_of_the_clients_stream_writes_a_held_header_block_first() -> None:
    # The event loop closes a socket's transport itself right after eof_received returns, without a close()
    # through the proxy; so the protocol writes what it holds before that (deterministic, unlike the socket test).
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    from storeswap.gateway.http_protocol import CoalescingHttpToolsProtocol

    async def main() -> FakeTransport:
        config = Config(app=lambda scope, receive, send: None, http=CoalescingHttpToolsProtocol, ws="none")
        config.load()
        protocol = CoalescingHttpToolsProtocol(config, ServerState(), {}, _loop=asyncio.get_running_loop())
        raw = FakeTransport()
        protocol.connection_made(raw)  # type: ignore[arg-type]
        protocol.transport.write(HEAD)  # a HEAD's answer: a header block with no body to follow
        assert raw.writes == []
        protocol.eof_received()
        assert raw.writes == [HEAD]  # before the loop's own close, not at the end of the step
        raw.closed = True
        await _step()
        return raw

    raw = asyncio.run(main())
    assert raw.writes == [HEAD] and raw.late == []


def test_everything_else_is_the_transports_own() -> None:
    raw = FakeTransport()
    loop = asyncio.new_event_loop()
    try:
        t = CoalescingTransport(raw, loop)  # type: ignore[arg-type]
        assert t.get_extra_info("peername") == ("127.0.0.1", 1)
        assert t.is_closing() is False
    finally:
        loop.close()


def _get_item_body() -> bytes:
    return json.dumps({"TableName": "t_http", "Key": {"pk": {"S": "a"}}}).encode()


def _headers(op: str) -> dict[str, str]:
    return {"X-Amz-Target": f"DynamoDB_20120810.{op}", "Content-Type": "application/x-amz-json-1.0"}


class CountingTransport:
    """The socket's transport, recording each write that reaches it."""

    def __init__(self, transport: Any, writes: list[bytes]) -> None:
        self.transport, self.writes = transport, writes

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


def test_the_gateway_writes_each_response_once(monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[bytes] = []
    real_init = CoalescingTransport.__init__

    def init(self: CoalescingTransport, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        real_init(self, CountingTransport(transport, writes), loop)  # type: ignore[arg-type]

    monkeypatch.setattr(CoalescingTransport, "__init__", init)
    with GatewayServer(MemoryStore()) as g:
        c = http.client.HTTPConnection(g.host, g.port, timeout=10)
        spec = {"TableName": "t_http", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST"}
        c.request("POST", "/", json.dumps(spec).encode(), _headers("CreateTable"))
        assert c.getresponse().read()
        writes.clear()
        for _ in range(3):  # keep-alive: one connection, one write per response
            c.request("POST", "/", _get_item_body(), _headers("GetItem"))
            resp = c.getresponse()
            assert resp.status == 200 and json.loads(resp.read()) == {}
        c.close()
    # uvicorn's two writes (status line and headers, then the body) reached the socket as one
    assert len(writes) == 3
    assert all(w.startswith(b"HTTP/1.1 200 OK\r\n") and w.endswith(b"\r\n\r\n{}") for w in writes)


def _post_head(op: str, body: bytes, extra: str) -> bytes:
    """A POST's request line and headers for ``op`` with ``body``, ``extra`` header lines among them."""
    head = "".join(f"{k}: {v}\r\n" for k, v in _headers(op).items())
    return f"POST / HTTP/1.1\r\nHost: x\r\n{extra}Content-Length: {len(body)}\r\n{head}\r\n".encode()


def _read_to_end(s: socket.socket) -> bytes:
    received = b""
    while chunk := s.recv(65536):
        received += chunk
    return received


def _exchange(g: GatewayServer, request: bytes, *, half_close: bool) -> bytes:
    with socket.create_connection((g.host, g.port), timeout=10) as s:
        s.sendall(request)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        return _read_to_end(s)


@pytest.mark.parametrize("half_close", [False, True], ids=["connection-close", "client-half-closes"])
def test_a_header_block_without_a_body_arrives_before_the_connection_ends(half_close: bool) -> None:
    # The answer to a HEAD is a header block alone: it is held for a body that never comes, and must still be
    # written before a close (Connection: close) or the event loop's own close on the client's end of stream.
    closing = "" if half_close else "Connection: close\r\n"
    with GatewayServer(MemoryStore()) as g:
        received = _exchange(g, f"HEAD / HTTP/1.1\r\nHost: x\r\n{closing}\r\n".encode(), half_close=half_close)
    assert received.startswith(b"HTTP/1.1 ") and received.endswith(b"\r\n\r\n")


def test_a_response_before_connection_close_arrives_whole() -> None:
    body = _get_item_body()
    with GatewayServer(MemoryStore()) as g:
        received = _exchange(g, _post_head("GetItem", body, "Connection: close\r\n") + body, half_close=False)
    status, _, rest = received.partition(b"\r\n")
    assert status == b"HTTP/1.1 400 Bad Request"  # the table does not exist: an error body, then the close
    assert b"ResourceNotFoundException" in rest.partition(b"\r\n\r\n")[2]


def test_an_interim_100_continue_is_written_before_the_body_arrives() -> None:
    with GatewayServer(MemoryStore()) as g, socket.create_connection((g.host, g.port), timeout=10) as s:
        body = _get_item_body()
        s.sendall(_post_head("GetItem", body, "Expect: 100-continue\r\n"))
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):
            byte = s.recv(1)  # it must come although the body has not been sent
            assert byte, f"the connection ended after {interim!r}"
            interim += byte
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(body)
        s.shutdown(socket.SHUT_WR)
        received = _read_to_end(s)
    assert received.startswith(b"HTTP/1.1 400 Bad Request\r\n") and b"ResourceNotFoundException" in received
