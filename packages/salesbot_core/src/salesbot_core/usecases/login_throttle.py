"""Login throttling: too many failed logins for one account, or from one client address, within
a window are refused (``TooManyLoginAttempts``) until the window ends. The counts live behind the
``AttemptCounter`` port; the HTTP package keeps them in memory or in Redis."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, TypeVar

import msgspec

from salesbot_core.errors import InvalidCredentials, TooManyLoginAttempts
from salesbot_core.ports import AttemptCounter, Tally
from salesbot_core.usecases.sessions import ClientInfo, Login, LoginResult

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A store that does not answer within this long is treated as down (see ``ThrottledLogin``).
STORE_TIMEOUT_S = 0.5


class LoginLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Failed logins allowed per account and per client address within ``window``; 0 turns that
    limit off."""

    per_account: int = 10
    per_client: int = 30
    window: timedelta = timedelta(minutes=15)


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
    ``TooManyLoginAttempts`` (and not counted), its ``retry_after_s`` the longest wait of the
    limits reached. A wrong password or unknown email stays counted; a successful login clears
    its account's count and takes its client's step back; any other failure (the database down)
    takes both back. If the counter store fails or does not answer within ``STORE_TIMEOUT_S``,
    logins go on unthrottled (and it is logged): the limits slow down guessing, bcrypt still
    does, and an outage of the store must not lock every customer out.
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
