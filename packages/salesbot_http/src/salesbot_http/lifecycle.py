"""Async teardown of adapters built while the app runs (clients, connection pools).

dependency-injector's async resources would make every provider that depends on them return an
awaitable; instead, an adapter that needs ``await x.aclose()`` registers it here when it is built,
and the app's lifespan runs the steps at shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

ShutdownStep = Callable[[], Awaitable[None]]


class ShutdownSteps:
    def __init__(self) -> None:
        self._steps: list[ShutdownStep] = []

    def add(self, step: ShutdownStep) -> None:
        self._steps.append(step)

    async def run(self) -> None:
        """Run every step, newest first; a failing step is logged and the others still run."""
        while self._steps:
            step = self._steps.pop()
            try:
                await step()
            except Exception:
                logger.exception("shutdown step %r failed", step)
