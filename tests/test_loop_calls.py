"""storeswap.loop_calls: blocking code on the event loop's thread, its waits awaited by the loop (decision 0038)."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any

import pytest

from storeswap import loop_calls


def _on_loop(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_a_call_returns_its_result_and_awaits_inside_it_resume_it() -> None:
    def body(n: int) -> tuple[int, bool, int]:
        slept = loop_calls.await_(asyncio.sleep(0, result=n + 1))
        return threading.get_ident(), loop_calls.inside(), slept

    ident, inside, slept = _on_loop(loop_calls.run(body, 41))
    assert inside and slept == 42
    assert ident == threading.get_ident()  # the loop's own thread: no hand-off
    assert not loop_calls.inside()


def test_errors_travel_both_ways() -> None:
    async def fails() -> None:
        raise KeyError("from the loop")

    def body(_: Any) -> str:
        try:
            loop_calls.await_(fails())
        except KeyError as e:  # the awaitable's error is raised where the call waited
            caught = str(e)
        raise ValueError(f"from the call after {caught}")

    with pytest.raises(ValueError, match="from the call after 'from the loop'"):
        _on_loop(loop_calls.run(body, None))


def test_await_outside_a_call_is_refused() -> None:
    coro = asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="outside a loop call"):
        loop_calls.await_(coro)
    coro.close()


def test_calls_run_concurrently_on_one_thread() -> None:
    # Each call waits for the other's signal: one at a time (a blocking wait) would never finish.
    async def main() -> list[str]:
        a_ready, b_ready = asyncio.Event(), asyncio.Event()
        order: list[str] = []

        def a(_: Any) -> None:
            a_ready.set()
            loop_calls.await_(b_ready.wait())
            order.append("a")

        def b(_: Any) -> None:
            loop_calls.await_(a_ready.wait())
            order.append("b")
            b_ready.set()

        await asyncio.gather(loop_calls.run(a, None), loop_calls.run(b, None))
        return order

    assert _on_loop(main()) == ["b", "a"]


def test_each_call_has_its_own_copy_of_the_context() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

    async def main() -> list[str]:
        go = asyncio.Event()

        def setter(_: Any) -> str:
            var.set("mine")
            loop_calls.await_(go.wait())
            return var.get()

        def reader(_: Any) -> str:
            seen = var.get()
            go.set()
            return seen

        mine, seen = await asyncio.gather(loop_calls.run(setter, None), loop_calls.run(reader, None))
        return [mine, seen, var.get()]

    assert _on_loop(main()) == ["mine", "unset", "unset"]


def test_a_cancelled_call_is_unwound_with_the_cancellation() -> None:
    unwound: list[str] = []

    def body(_: Any) -> None:
        try:
            loop_calls.await_(asyncio.sleep(30))
        finally:
            unwound.append("finally")

    async def main() -> None:
        task = asyncio.ensure_future(loop_calls.run(body, None))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    _on_loop(main())
    assert unwound == ["finally"]


def test_a_closed_call_unwinds_even_when_its_cleanup_waits_again() -> None:
    # A coroutine being closed may not await: cleanup that waits (a rollback, returning a connection) is
    # thrown GeneratorExit again until the call has ended, its awaitables closed unawaited.
    unwound: list[str] = []

    def body(_: Any) -> None:
        try:
            loop_calls.await_(asyncio.sleep(30))
        finally:
            try:
                loop_calls.await_(asyncio.sleep(0))
            finally:
                unwound.append("finally")

    async def main() -> None:
        coro = loop_calls.run(body, None)
        coro.send(None)  # the call now waits for the first sleep
        coro.close()

    _on_loop(main())
    assert unwound == ["finally"]
