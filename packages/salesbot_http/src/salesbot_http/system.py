"""The real clock and id source behind the core's ``Clock`` and ``IdSource`` ports."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


class SystemClock:
    """Wall-clock time, timezone-aware UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class RandomIds:
    """Random (version 4) UUIDs: unguessable, so an id alone reveals nothing."""

    def new_id(self) -> uuid.UUID:
        return uuid.uuid4()
