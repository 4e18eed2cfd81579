"""Real time and real ids, for tests that exercise the store as production does."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4


class UtcClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class RandomIds:
    def new_id(self) -> UUID:
        return uuid4()
