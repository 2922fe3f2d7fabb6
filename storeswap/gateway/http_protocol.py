"""uvicorn's httptools protocol, writing each response to the socket once instead of twice.

uvicorn writes a response's status line and headers when the app sends
``http.response.start`` and its body when the app sends
``http.response.body``: two ``send`` system calls and two TCP segments per
response.  On loopback a send also runs the receiver's TCP processing, so in
a profile of the gateway serving PutItem over PostgreSQL those two writes
were a fifth of its samples (decision 0042).  :class:`CoalescingTransport`
holds the header block until the body is written and writes the two as one
buffer, at once: the body is not deferred, so a lone client waits for
nothing.  Everything else is the transport's own.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["CoalescingTransport", "CoalescingHttpToolsProtocol"]


class CoalescingTransport:
    """A transport that holds a response's header block until its body joins it, and writes both at once.

    A write that ends a header block (``\\r\\n\\r\\n``) is held; the next write joins it and both go to the
    socket as one buffer, at once.  A header block no body follows (the answer to a HEAD, an interim
    100 Continue with nothing after it yet) is written on the loop's next iteration, and before a close,
    an end of the peer's stream (:meth:`CoalescingHttpToolsProtocol.eof_received`) or a ``write_eof``.
    """

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            data = held + data
        elif data[-4:] == b"\r\n\r\n":
            self._held = data
            self._loop.call_soon(self.flush)
            return
        self._transport.write(data)

    def writelines(self, data: Any) -> None:
        self.write(b"".join(data))

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def flush(self) -> None:
        """Write a header block still held."""
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a :class:`CoalescingTransport`."""

    transport: CoalescingTransport  # type: ignore[assignment]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]

    def eof_received(self) -> None:
        # The event loop closes the socket's transport itself once this returns: a header block still held
        # (a HEAD's answer) must be written first, or it is lost.
        self.transport.flush()
        super().eof_received()
