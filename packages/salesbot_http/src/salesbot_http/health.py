"""Whether the database answers, for ``GET /health``; bounded in time so the check never hangs."""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID

from salesbot_core.ports import UnitOfWorkFactory

logger = logging.getLogger(__name__)

_NOBODY = UUID(int=0)


class DatabaseProbe:
    """Runs one trivial read through the persistence port, within ``timeout`` seconds.

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
        try:
            async with asyncio.timeout(self._timeout):
                await self._read()
        except TimeoutError:
            logger.warning("health: the database did not answer within %ss", self._timeout)
            return False
        except Exception as exc:  # any failure means "not healthy"
            logger.warning("health: the database is unavailable: %r", exc)
            return False
        return True
