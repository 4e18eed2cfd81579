"""Deterministic clock, ids, password hashing and access tokens for tests."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from uuid import UUID

from salesbot_core.domain import Role
from salesbot_core.errors import InvalidAccessToken
from salesbot_core.ports import AccessClaims, AccessToken


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2025, 1, 15, 10, 30, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta


class SequentialIds:
    """UUIDs 00000000-0000-0000-0000-000000000001, ...002, ... in order."""

    def __init__(self) -> None:
        self._next = 0

    def new_id(self) -> UUID:
        self._next += 1
        return UUID(int=self._next)


class FastPasswordHasher:
    """Salted SHA-256: fast and good enough for tests, never for production."""

    async def hash(self, password: str) -> str:
        salt = secrets.token_hex(8)
        digest = hashlib.sha256(f"{salt}:{password}".encode()).hexdigest()
        return f"fake${salt}${digest}"

    async def verify(self, password: str, password_hash: str) -> bool:
        parts = password_hash.split("$")
        if len(parts) != 3 or parts[0] != "fake":
            return False
        digest = hashlib.sha256(f"{parts[1]}:{password}".encode()).hexdigest()
        return hmac.compare_digest(digest, parts[2])


class FakeTokenIssuer:
    """Opaque ``access|<user>|<role>|<issued>|<expires>`` tokens checked against the clock."""

    def __init__(self, ttl: timedelta = timedelta(minutes=15)) -> None:
        self._ttl = ttl

    def issue(self, user_id: UUID, role: Role, now: datetime) -> AccessToken:
        expires = now + self._ttl
        token = f"access|{user_id}|{role.value}|{now.isoformat()}|{expires.isoformat()}"
        return AccessToken(token=token, expires_at=expires)

    def verify(self, token: str, now: datetime) -> AccessClaims:
        parts = token.split("|")
        if len(parts) != 5 or parts[0] != "access":
            raise InvalidAccessToken
        try:
            claims = AccessClaims(
                user_id=UUID(parts[1]),
                role=Role(parts[2]),
                issued_at=datetime.fromisoformat(parts[3]),
                expires_at=datetime.fromisoformat(parts[4]),
            )
        except ValueError as exc:
            raise InvalidAccessToken from exc
        if now >= claims.expires_at:
            raise InvalidAccessToken
        return claims
