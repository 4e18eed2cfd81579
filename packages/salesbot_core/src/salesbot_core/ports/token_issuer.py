"""Access tokens: short-lived, self-contained bearer credentials (JWT in the HTTP adapter)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

import msgspec

from salesbot_core.domain import Role


class AccessToken(msgspec.Struct, frozen=True, kw_only=True):
    token: str
    expires_at: datetime


class AccessClaims(msgspec.Struct, frozen=True, kw_only=True):
    user_id: UUID
    role: Role
    issued_at: datetime
    expires_at: datetime


class TokenIssuer(Protocol):
    def issue(self, user_id: UUID, role: Role, now: datetime) -> AccessToken:
        """Mint an access token valid from ``now`` for the policy's access TTL."""
        ...

    def verify(self, token: str, now: datetime) -> AccessClaims:
        """Return the claims, or raise ``InvalidAccessToken`` for anything not minted by us,
        expired, of another type, or malformed."""
        ...
