"""The scheduled refresh-token cleanup that runs inside the server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

logger = logging.getLogger(__name__)


async def clean_tokens_periodically(
    cleanup: Callable[[], Awaitable[int]], interval: timedelta
) -> None:
    """Run ``cleanup`` every ``interval`` until cancelled. A failed run is logged and the next
    one happens on schedule: cleanup is housekeeping and must never take the server down."""
    seconds = interval.total_seconds()
    while True:
        await asyncio.sleep(seconds)
        try:
            deleted = await cleanup()
        except Exception:
            logger.exception("refresh-token cleanup failed; next try in %s", interval)
        else:
            logger.info("refresh-token cleanup deleted %d stale tokens", deleted)
