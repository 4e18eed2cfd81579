"""Shutdown waits for requests in flight, within a bound."""

from __future__ import annotations

import asyncio

import pytest
from litestar.types import Receive, Scope, Send

from salesbot_http.inflight import InFlight


async def test_drained_waits_for_the_requests_in_flight_and_gives_up_at_its_bound() -> None:
    in_flight = InFlight()
    release = asyncio.Event()
    finished: list[str] = []

    async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        finished.append(scope["path"])

    counted = in_flight.middleware(slow_app)

    async def nothing() -> dict[str, str]:
        return {}

    async def ignore(_: object) -> None:
        return None

    scope: dict[str, object] = {"type": "http", "path": "/chat/send"}
    request: asyncio.Task[None] = asyncio.create_task(
        counted(scope, nothing, ignore)  # type: ignore[arg-type]
    )
    await asyncio.sleep(0)
    assert in_flight.count == 1
    assert not await in_flight.drained(0.05)  # still running: the bound wins

    release.set()
    assert await in_flight.drained(1.0)
    await request
    assert finished == ["/chat/send"]
    assert in_flight.count == 0


async def test_a_failing_request_still_leaves_the_count() -> None:
    in_flight = InFlight()

    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    counted = in_flight.middleware(broken)
    with pytest.raises(RuntimeError, match="boom"):
        await counted({"type": "http"}, None, None)  # type: ignore[arg-type]
    assert in_flight.count == 0
    assert await in_flight.drained(0.01)
