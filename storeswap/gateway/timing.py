"""Server-side timing (``storeswap serve --server-timing``): what the gateway adds over the store, per request.

With timing on, the gateway wraps its store in :class:`TimedStore`, which
adds the wall time of every public store call to the request's tally, and
answers each request with a standard ``Server-Timing`` header::

    server-timing: store;dur=0.097, app;dur=0.142

``store`` is the time spent inside port calls (``ItemStore.get`` and the
like, the adapter's validation included), ``app`` the time from the ASGI
app receiving the request to its response being encoded (body read, SigV4,
JSON decode, the thread hand-off if any, translation, the store calls, JSON
encode, CRC).  ``app - store`` is then the gateway's own cost for exactly
that call, with no client, loopback or in-process twin in the figure (with
one request at a time: a loop call's store time also holds what it spent
suspended while the loop served other requests); what
it leaves out is uvicorn's HTTP parsing before the app and the socket write
after it.  An error response reports ``store;dur=0.000`` (the tally does
not travel with the exception).  Off by default: the proxy costs a
microsecond or two per call.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from typing import Any

from storeswap.core.port import ItemStore

__all__ = ["TimedStore", "StoreTally", "server_timing_header", "parse_server_timing"]


class StoreTally:
    """Nanoseconds spent in store calls by the request being served, since :meth:`run` started it.

    The tally is a context variable: a request's handler runs on a store
    thread, inline in its task, or in a loop call (:mod:`storeswap.loop_calls`)
    beside other requests' calls on the same thread, and each of those has
    its own context.
    """

    def __init__(self) -> None:
        self._ns: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("store_ns", default=None)

    def add(self, ns: int) -> None:
        box = self._ns.get()
        if box is not None:
            box[0] += ns

    def run(self, handler: Callable[[Any], Any], params: Any) -> tuple[Any, int]:
        """``handler(params)`` and the store time it took."""
        box = [0]
        token = self._ns.set(box)
        try:
            return handler(params), box[0]
        finally:
            self._ns.reset(token)


class TimedStore:
    """A stand-in for ``store`` whose public method calls add their wall time to ``tally``.

    Attribute reads (``kind``, properties) go through unchanged; only the
    port's public methods are timed, so an adapter method calling another
    on the real store is counted once.
    """

    def __init__(self, store: ItemStore, tally: StoreTally) -> None:
        self._store = store
        self._tally = tally

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if name.startswith("_") or not callable(attr) or isinstance(attr, type):
            return attr
        add = self._tally.add
        clock = time.perf_counter_ns

        def timed(*args: Any, **kwargs: Any) -> Any:
            t = clock()
            try:
                return attr(*args, **kwargs)
            finally:
                add(clock() - t)

        self.__dict__[name] = timed  # later look-ups skip __getattr__
        return timed


def server_timing_header(app_ns: int, store_ns: int) -> bytes:
    """The ``Server-Timing`` value: store and app durations in milliseconds."""
    return f"store;dur={store_ns / 1e6:.3f}, app;dur={app_ns / 1e6:.3f}".encode()


def parse_server_timing(value: str) -> dict[str, float]:
    """``{"store": ms, "app": ms}`` from a ``Server-Timing`` value (metrics without ``dur`` are left out)."""
    out: dict[str, float] = {}
    for metric in value.split(","):
        name, _, params = metric.strip().partition(";")
        for param in params.split(";"):
            key, _, v = param.strip().partition("=")
            if key == "dur":
                out[name.strip()] = float(v)
    return out
