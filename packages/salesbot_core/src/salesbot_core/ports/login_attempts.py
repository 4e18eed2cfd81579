"""Counters of failed logins, each expiring a fixed window after its first step."""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

import msgspec


class Tally(msgspec.Struct, frozen=True):
    """A counter after a step: its value and the whole seconds until its window ends."""

    count: int
    retry_after_s: int


class AttemptCounter(Protocol):
    """Counters that expire a fixed ``window`` after their first step. Shared by every process
    that throttles the same logins, so each step must be atomic."""

    async def add(self, key: str, window: timedelta) -> Tally:
        """Count one more, atomically; the first step starts the window."""
        ...

    async def undo(self, key: str) -> None:
        """Take one back (never reviving an expired counter)."""
        ...

    async def delete(self, key: str) -> None:
        """Forget the counter."""
        ...
