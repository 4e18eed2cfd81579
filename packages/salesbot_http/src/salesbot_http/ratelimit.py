"""Where failed logins are counted: the core's ``AttemptCounter`` port on Litestar's stores.

The rule (what is counted, the limits, 429 past them) is the core's ``ThrottledLogin``. Its
counts live in a Litestar ``Store``: ``MemoryStore`` by default (one process), ``RedisStore``
when ``REDIS_URL`` is set (shared by every worker and instance). Each store gains the two atomic
steps a counter needs, ``add`` and ``undo``; on Redis they are Lua scripts, so concurrent
processes never lose a count. (Litestar's ``RateLimitMiddleware`` counts every request of a
client, in calendar units, before the handler runs: it can neither count *failed* logins nor key
by the account named in the body.)
"""

from __future__ import annotations

import asyncio
import math
import time
from datetime import timedelta

from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from redis.asyncio import Redis

from salesbot_core.ports import Tally
from salesbot_core.usecases.login_throttle import STORE_TIMEOUT_S


def _seconds_left(milliseconds: float) -> int:
    return max(1, math.ceil(milliseconds / 1000))


class CountingMemoryStore(MemoryStore):
    """Litestar's in-memory store, with counters: exact within one process, which is all that
    shares it. Expired entries are swept at most once a ``sweep_every``."""

    def __init__(self, sweep_every: timedelta = timedelta(minutes=1)) -> None:
        super().__init__()
        self._counting = asyncio.Lock()
        self._sweep_every_s = sweep_every.total_seconds()
        self._next_sweep = time.monotonic() + self._sweep_every_s

    async def _read(self, key: str, now_ms: float) -> tuple[int, float] | None:
        """The live counter under ``key``: its count and when its window ends (epoch ms)."""
        raw = await self.get(key)
        if raw is None:
            return None
        count, _, reset_ms = raw.decode().partition(":")
        if float(reset_ms) <= now_ms:
            return None
        return int(count), float(reset_ms)

    async def _write(self, key: str, count: int, reset_ms: float, now_ms: float) -> None:
        left = timedelta(milliseconds=reset_ms - now_ms)
        await self.set(key, f"{count}:{reset_ms}", expires_in=left)

    async def add(self, key: str, window: timedelta) -> Tally:
        async with self._counting:
            await self._sweep()
            now_ms = time.time() * 1000
            count, reset_ms = await self._read(key, now_ms) or (
                0,
                now_ms + window.total_seconds() * 1000,
            )
            await self._write(key, count + 1, reset_ms, now_ms)
        return Tally(count + 1, _seconds_left(reset_ms - now_ms))

    async def undo(self, key: str) -> None:
        async with self._counting:
            now_ms = time.time() * 1000
            current = await self._read(key, now_ms)
            if current is None or current[0] <= 1:
                await self.delete(key)
            else:
                await self._write(key, current[0] - 1, current[1], now_ms)

    async def _sweep(self) -> None:
        # MemoryStore drops an expired entry only when it is read: without a sweep, guesses at
        # ever new addresses would grow the process's memory for as long as it runs.
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + self._sweep_every_s
            await self.delete_expired()


_ADD = b"""
local count = redis.call('INCR', KEYS[1])
if count == 1 then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
    left = tonumber(ARGV[1])
end
return {count, left}
"""

_UNDO = b"""
if redis.call('EXISTS', KEYS[1]) == 1 then
    if redis.call('DECR', KEYS[1]) <= 0 then
        redis.call('DEL', KEYS[1])
    end
end
return 0
"""


class CountingRedisStore(RedisStore):
    """Litestar's Redis store, with counters made of one Lua script each (INCR and its expiry in
    one step), so every process sharing the Redis server sees exact counts."""

    def __init__(self, redis: Redis, namespace: str) -> None:
        super().__init__(redis, namespace=namespace, handle_client_shutdown=True)
        self._add_script = redis.register_script(_ADD)
        self._undo_script = redis.register_script(_UNDO)

    @classmethod
    def from_url(cls, url: str, namespace: str) -> CountingRedisStore:
        client = Redis.from_url(
            url, socket_timeout=STORE_TIMEOUT_S, socket_connect_timeout=STORE_TIMEOUT_S
        )
        return cls(client, namespace)

    async def add(self, key: str, window: timedelta) -> Tally:
        window_ms = max(1, int(window.total_seconds() * 1000))
        count, left_ms = await self._add_script(keys=[self._make_key(key)], args=[window_ms])
        return Tally(int(count), _seconds_left(int(left_ms)))

    async def undo(self, key: str) -> None:
        await self._undo_script(keys=[self._make_key(key)], args=[])

    async def aclose(self) -> None:
        await self._shutdown()
