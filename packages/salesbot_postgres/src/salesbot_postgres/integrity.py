"""The stored invariants checked over PostgreSQL: the core's ``IntegrityChecker`` as one named
statement per invariant (``statements.CHECK_*``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from salesbot_core.ports import Invariant, Violation
from salesbot_postgres import statements as sql
from salesbot_postgres.mapping import violation_from_row
from salesbot_postgres.pool import Pool
from salesbot_postgres.transaction import Transaction

_CHECKS: Final[dict[Invariant, str]] = {
    Invariant.MESSAGE_COUNT: sql.CHECK_MESSAGE_COUNT,
    Invariant.CONTIGUOUS_SEQUENCE: sql.CHECK_CONTIGUOUS_SEQUENCE,
    Invariant.EVERY_MESSAGE_ANSWERED: sql.CHECK_EVERY_MESSAGE_ANSWERED,
    Invariant.COUNTER: sql.CHECK_COUNTER,
    Invariant.ONE_LIVE_TOKEN_PER_FAMILY: sql.CHECK_ONE_LIVE_TOKEN_PER_FAMILY,
    Invariant.OUTBOX_EVENT_COMMITTED: sql.CHECK_OUTBOX_EVENT_COMMITTED,
}
# An invariant about a table some databases do not have yet (an older schema) is checked only
# where the table exists.
_NEEDS_TABLE: Final[dict[Invariant, str]] = {
    Invariant.OUTBOX_EVENT_COMMITTED: "deleted_conversations",
}


class PostgresIntegrity:
    """Each check is one statement on its own connection (one snapshot per invariant)."""

    def __init__(self, pool: Pool, statement_deadline_s: float) -> None:
        self._pool = pool
        self._deadline_s = statement_deadline_s

    async def can_check(self, invariant: Invariant) -> bool:
        if invariant not in _CHECKS:
            return False
        table = _NEEDS_TABLE.get(invariant)
        if table is None:
            return True
        rows = await self._read(sql.TABLE_EXISTS, {"table": table})
        return bool(rows[0]["present"])

    async def violations(self, invariant: Invariant) -> Sequence[Violation]:
        params: dict[str, Any] = {"now": datetime.now(UTC)}
        rows = await self._read(_CHECKS[invariant], params)
        return [violation_from_row(invariant, row) for row in rows]

    async def _read(self, statement: str, params: dict[str, Any]) -> list[Any]:
        tx = Transaction(self._pool, self._deadline_s)
        await tx.open()
        try:
            return await tx.read(statement, params)
        finally:
            await tx.close()


__all__ = ["PostgresIntegrity"]
