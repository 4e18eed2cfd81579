"""Login throttling: too many failed logins for one account, or from one client address, within
a window are refused with 429 and ``Retry-After`` until the window ends.

Litestar's ``RateLimitMiddleware`` counts every request of a client, in calendar units, before
the handler runs: it can neither count *failed* logins nor key by the account named in the body.
So the throttle wraps the ``Login`` use case and keeps its counts in a Litestar ``Store``:
``MemoryStore`` by default (one process), ``RedisStore`` when ``REDIS_URL`` is set (shared by
every worker and instance). Each store gains the two atomic steps a counter needs, ``add`` and
``undo``; on Redis they are Lua scripts, so concurrent processes never lose a count.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, Protocol, TypeVar

import msgspec
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from redis.asyncio import Redis

from salesbot_core.errors import InvalidCredentials, SalesbotError
from salesbot_core.usecases import ClientInfo, Login, LoginResult

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A store that does not answer within this long is treated as down (see ``ThrottledLogin``).
STORE_TIMEOUT_S = 0.5


class TooManyLoginAttempts(SalesbotError):
    """Refused before the password is checked; the same whichever limit was reached, so it tells
    nothing about the account."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("Too many failed login attempts; please try again later")
        self.retry_after_s = retry_after_s


class LoginLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Failed logins allowed per account and per client address within ``window``; 0 turns that
    limit off."""

    per_account: int = 10
    per_client: int = 30
    window: timedelta = timedelta(minutes=15)


class Tally(msgspec.Struct, frozen=True):
    """A counter after a step: its value and the whole seconds until its window ends."""

    count: int
    retry_after_s: int


class AttemptCounter(Protocol):
    """Counters that expire a fixed ``window`` after their first step."""

    async def add(self, key: str, window: timedelta) -> Tally:
        """Count one more, atomically; the first step starts the window."""
        ...

    async def undo(self, key: str) -> None:
        """Take one back (never reviving an expired counter)."""
        ...

    async def delete(self, key: str) -> None: ...

    async def aclose(self) -> None: ...


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

    async def aclose(self) -> None:
        return None


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


def account_key(email: str) -> str:
    """The account's counter, named by a digest: the store never holds an email address."""
    digest = hashlib.sha256(email.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()
    return f"login:account:{digest[:40]}"


def client_key(ip: str | None) -> str:
    return f"login:client:{ip or 'unknown'}"


class ThrottledLogin:
    """``Login`` behind the failed-login limits.

    Rules: an attempt is counted for its account (the email as typed, trimmed and lower-cased,
    whether or not it is registered) and its client address before the password is checked, so
    concurrent guesses cannot slip past the limit; over either limit it is refused with
    ``TooManyLoginAttempts`` (and not counted). A wrong password or unknown email stays counted;
    a successful login clears its account's count and takes its client's step back; any other
    failure (the database down) takes both back. If the counter store fails or does not answer
    within ``STORE_TIMEOUT_S``, logins go on unthrottled (and it is logged): the limits slow down
    guessing, bcrypt still does, and an outage of the store must not lock every customer out.
    """

    def __init__(self, login: Login, counter: AttemptCounter, limits: LoginLimits) -> None:
        self._login = login
        self._counter = counter
        self._limits = limits

    async def __call__(
        self, *, email: str, password: str, client: ClientInfo | None = None
    ) -> LoginResult:
        account = account_key(email)
        address = client_key(client.ip if client else None)
        limited = [
            (key, limit)
            for key, limit in (
                (account, self._limits.per_account),
                (address, self._limits.per_client),
            )
            if limit > 0
        ]
        counted = await self._count(limited)
        over = [
            tally for key, limit in limited if (tally := counted.get(key)) and tally.count > limit
        ]
        if over:
            await self._undo(list(counted))
            raise TooManyLoginAttempts(max(tally.retry_after_s for tally in over))
        try:
            result = await self._login(email=email, password=password, client=client)
        except InvalidCredentials:
            raise
        except Exception:
            await self._undo(list(counted))
            raise
        if account in counted:
            await self._guarded("clear", self._counter.delete(account))
        await self._undo([key for key in counted if key != account])
        return result

    async def _count(self, limited: list[tuple[str, int]]) -> dict[str, Tally]:
        counted: dict[str, Tally] = {}
        for key, _ in limited:
            tally = await self._guarded("count", self._counter.add(key, self._limits.window))
            if tally is not None:
                counted[key] = tally
        return counted

    async def _undo(self, keys: list[str]) -> None:
        for key in keys:
            await self._guarded("undo", self._counter.undo(key))

    async def _guarded(self, step: str, call: Coroutine[Any, Any, T]) -> T | None:
        try:
            async with asyncio.timeout(STORE_TIMEOUT_S):
                return await call
        except Exception as exc:  # any store failure: go on unthrottled, loudly
            logger.warning("login throttle: could not %s a counter: %r", step, exc)
            return None
