"""Access tokens as JWTs behind the core's ``TokenIssuer`` port.

HS256 only, whatever the token's header says; ``sub``, ``role``, ``typ`` (``"access"``), ``iat``
and ``exp`` are all required. Expiry is checked against the ``now`` the caller passes (the core's
clock), not the wall clock, so it is testable and consistent with the rest of the domain.
Every way a token can be wrong raises the same ``InvalidAccessToken``.

What a token says (its signature checked, its claims read) cannot change, so it is worked out
once per process and kept, for the ``cache_size`` tokens used most recently: a customer's every
request after the first pays for a dictionary lookup instead of an HMAC and four base64 decodes.
The times are checked against ``now`` on every call, so a kept token still expires on time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from uuid import UUID

import jwt

from salesbot_core.domain import Role
from salesbot_core.errors import InvalidAccessToken
from salesbot_core.ports import AccessClaims, AccessToken

ALGORITHM = "HS256"
ACCESS_TYPE = "access"
REQUIRED_CLAIMS = ("sub", "role", "typ", "iat", "exp")
# Tolerated clock skew between processes for "issued in the future".
IAT_LEEWAY = timedelta(seconds=30)


def _timestamp(claims: dict[str, Any], name: str) -> datetime:
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidAccessToken
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise InvalidAccessToken from exc


class JwtAccessTokens:
    """Mints and verifies HS256 access tokens signed with ``secret`` and valid for ``ttl``;
    keeps what the ``cache_size`` most recent valid tokens say (0: none)."""

    def __init__(self, secret: str, ttl: timedelta, cache_size: int = 4096) -> None:
        if not secret:
            raise ValueError("the JWT secret must not be empty")
        if cache_size < 0:
            raise ValueError("the token cache size must not be negative")
        self._secret = secret
        self._ttl = ttl
        # Only what a token says is kept: a token that fails raises and is not kept.
        self._read: Callable[[str], AccessClaims] = (
            lru_cache(maxsize=cache_size)(self._read_token) if cache_size else self._read_token
        )

    def issue(self, user_id: UUID, role: Role, now: datetime) -> AccessToken:
        issued = int(now.timestamp())
        expires = int((now + self._ttl).timestamp())
        payload = {
            "sub": str(user_id),
            "role": role.value,
            "typ": ACCESS_TYPE,
            "iat": issued,
            "exp": expires,
        }
        token = jwt.encode(payload, self._secret, algorithm=ALGORITHM)
        return AccessToken(token=token, expires_at=datetime.fromtimestamp(expires, UTC))

    def verify(self, token: str, now: datetime) -> AccessClaims:
        claims = self._read(token)
        if now >= claims.expires_at or claims.issued_at > now + IAT_LEEWAY:
            raise InvalidAccessToken
        return claims

    def _read_token(self, token: str) -> AccessClaims:
        """The claims of a token whose signature and structure are valid, times unchecked."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                # Time claims are checked below against the caller's clock.
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise InvalidAccessToken from exc
        if claims.get("typ") != ACCESS_TYPE:
            raise InvalidAccessToken
        issued_at = _timestamp(claims, "iat")
        expires_at = _timestamp(claims, "exp")
        try:
            user_id = UUID(str(claims["sub"]))
            role = Role(claims["role"])
        except ValueError as exc:
            raise InvalidAccessToken from exc
        return AccessClaims(user_id=user_id, role=role, issued_at=issued_at, expires_at=expires_at)
