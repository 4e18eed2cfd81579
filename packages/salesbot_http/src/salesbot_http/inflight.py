"""Requests in flight, so shutdown can wait for them before it closes what they use.

The server stops taking connections on SIGTERM and waits for the open ones; a request whose
client has already gone (a closed tab while the bot is thinking) has no connection left to wait
for, yet its exchange is still on its way to the database. The lifespan's shutdown waits here
first, then closes the LLM client and the pool.
"""

from __future__ import annotations

import asyncio
import logging

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger(__name__)


class InFlight:
    """A count of the HTTP requests being handled (response included, streams too)."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def count(self) -> int:
        return self._count

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """ASGI middleware counting each HTTP request from its start to its last byte."""

        async def counted(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            self._count += 1
            self._idle.clear()
            try:
                await app(scope, receive, send)
            finally:
                self._count -= 1
                if self._count == 0:
                    self._idle.set()

        return counted

    async def drained(self, timeout_s: float) -> bool:
        """Wait until no request is in flight, at most ``timeout_s``; True if none is left."""
        if self._count:
            logger.info("waiting up to %.0fs for %d request(s) in flight", timeout_s, self._count)
        try:
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()
        except TimeoutError:
            logger.warning("%d request(s) still in flight at shutdown", self._count)
            return False
        return True
