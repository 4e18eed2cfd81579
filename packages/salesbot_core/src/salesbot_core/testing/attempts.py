"""Failed-login counters in memory, on a clock the test moves."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from salesbot_core.ports import Clock, Tally


class InMemoryAttemptCounter:
    """The ``AttemptCounter`` port in memory. Windows end by ``clock`` (a ``FakeClock`` expires
    them without waiting); ``counts`` shows the live counters; setting ``failing`` makes every
    call raise ``ConnectionError``, as a store that is down."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._counters: dict[str, tuple[int, datetime]] = {}
        self.failing = False

    def _live(self, key: str, now: datetime) -> tuple[int, datetime] | None:
        counter = self._counters.get(key)
        if counter is None or counter[1] <= now:
            self._counters.pop(key, None)
            return None
        return counter

    def _check(self) -> None:
        if self.failing:
            raise ConnectionError("the counter store is down")

    async def add(self, key: str, window: timedelta) -> Tally:
        self._check()
        now = self._clock.now()
        count, ends = self._live(key, now) or (0, now + window)
        self._counters[key] = (count + 1, ends)
        return Tally(count + 1, max(1, math.ceil((ends - now).total_seconds())))

    async def undo(self, key: str) -> None:
        self._check()
        current = self._live(key, self._clock.now())
        if current is None or current[0] <= 1:
            self._counters.pop(key, None)
        else:
            self._counters[key] = (current[0] - 1, current[1])

    async def delete(self, key: str) -> None:
        self._check()
        self._counters.pop(key, None)

    @property
    def counts(self) -> dict[str, int]:
        now = self._clock.now()
        return {key: count for key, (count, ends) in self._counters.items() if ends > now}
