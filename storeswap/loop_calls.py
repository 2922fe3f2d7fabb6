"""Blocking code run on an asyncio event loop's own thread, its I/O waits awaited by that loop (greenlets).

The gateway serves every request on one event loop.  A store call that
blocks on a socket used to run on a thread of its own, handed over and back
for every request: on two cores that cost the gateway ~40% of its CPU in
thread switches and GIL hand-offs (decision 0038).  :func:`run` runs the
call in a greenlet on the loop's thread instead.  Code inside it that would
wait on I/O and knows how to (the PostgreSQL adapter's connections) calls
:func:`await_` with an awaitable; the greenlet is suspended, the loop
awaits the awaitable, and the call resumes with its result or its
exception.  Code that does not know blocks the loop while it waits, so
only stores that declare ``loop_calls = True`` are called this way.

The same code runs unchanged on any other thread, where :func:`inside` is
False and every wait blocks as before: there is one adapter, not a sync and
an async copy.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import greenlet

__all__ = ["inside", "await_", "run"]

T = TypeVar("T")


class _LoopCall(greenlet.greenlet):  # type: ignore[misc]
    """A synchronous call on the loop's thread; its parent is the coroutine that drives it (:func:`run`)."""


def inside() -> bool:
    """True inside a call started by :func:`run` (where :func:`await_` may be used)."""
    return isinstance(greenlet.getcurrent(), _LoopCall)


def await_(awaitable: Awaitable[T]) -> T:
    """From inside :func:`run`: suspend this call until the loop has awaited ``awaitable``; its result."""
    current = greenlet.getcurrent()
    if not isinstance(current, _LoopCall):
        raise RuntimeError("await_ outside a loop call")
    result: T = current.parent.switch(awaitable)
    return result


async def run(fn: Callable[[Any], T], arg: Any) -> T:
    """``fn(arg)`` on this thread, each :func:`await_` inside it awaited here; its result or its exception.

    The call runs in a copy of the caller's context (``contextvars``), as a task does.
    """
    call = _LoopCall(fn)
    call.gr_context = contextvars.copy_context()
    signal: Any = call.switch(arg)
    while not call.dead:
        try:
            value = await signal
        except GeneratorExit:
            _unwind(call, signal)  # this coroutine is being closed: it may not await again
            raise
        except BaseException as e:  # handed to the waiting call, which may handle it
            signal = call.throw(e)
        else:
            signal = call.switch(value)
    result: T = signal
    return result


def _unwind(call: _LoopCall, pending: Any) -> None:
    """Throw GeneratorExit into ``call`` until it has ended, closing every awaitable it still asks for."""
    while not call.dead:
        if hasattr(pending, "close"):
            pending.close()
        try:
            pending = call.throw(GeneratorExit)
        except GeneratorExit:
            return
