"""Whether the database answers, for ``GET /health``; bounded in time so the check never hangs."""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID

from salesbot_core.ports import UnitOfWorkFactory

logger = logging.getLogger(__name__)

_NOBODY = UUID(int=0)


# After the timeout the read is cancelled, and cancelled again if it has not stopped this much
# later: psycopg answers a first cancellation by asking the server to cancel the query and waiting
# up to 10 s for it (a frozen server never answers), and a second by dropping the connection.
_CANCEL_GRACE_S = 0.1


def _forget(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.debug("health: the abandoned read failed: %r", task.exception())


class DatabaseProbe:
    """Runs one trivial read through the persistence port, and answers within ``timeout``
    seconds (plus a tenth) whatever the database does, even if it has frozen mid-query.

    Going through the port (rather than a driver-level ping) checks what requests actually use:
    the pool, the connection and a query.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, timeout: float) -> None:
        self._uow_factory = uow_factory
        self._timeout = timeout

    async def _read(self) -> None:
        async with self._uow_factory() as uow:
            await uow.users.get(_NOBODY)

    async def __call__(self) -> bool:
        read = asyncio.ensure_future(self._read())
        try:
            done, _ = await asyncio.wait({read}, timeout=self._timeout)
        except asyncio.CancelledError:
            read.cancel()
            raise
        if read not in done:
            logger.warning("health: the database did not answer within %ss", self._timeout)
            read.cancel()
            done, _ = await asyncio.wait({read}, timeout=_CANCEL_GRACE_S)
            if read not in done:
                read.cancel()
            read.add_done_callback(_forget)
            return False
        try:
            read.result()
        except Exception as exc:  # any failure means "not healthy"
            logger.warning("health: the database is unavailable: %r", exc)
            return False
        return True
