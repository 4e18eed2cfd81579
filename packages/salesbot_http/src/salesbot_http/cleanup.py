"""The scheduled jobs that run inside the server: the refresh-token cleanup and the sweep that
distils conversations left due."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

logger = logging.getLogger(__name__)


async def run_periodically(
    job: Callable[[], Awaitable[int]], interval: timedelta, *, done: str
) -> None:
    """Run ``job`` every ``interval`` until cancelled, logging ``done`` with the count it returns
    (``"... %d ..."``). A failed run is logged and the next one happens on schedule: housekeeping
    must never take the server down."""
    seconds = interval.total_seconds()
    while True:
        await asyncio.sleep(seconds)
        try:
            count = await job()
        except Exception:
            logger.exception("a scheduled job failed (%s); next try in %s", done, interval)
        else:
            if count:
                logger.info(done, count)
