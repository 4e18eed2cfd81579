"""The token policy: how long access and refresh tokens live and how refresh secrets are kept."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import msgspec

REFRESH_SECRET_BYTES = 32  # 256 random bits


class TokenPolicy(msgspec.Struct, frozen=True, kw_only=True):
    access_ttl: timedelta = timedelta(minutes=15)
    # Absolute: rotation hands the new token the family's original expiry, it never extends it.
    refresh_ttl: timedelta = timedelta(days=7)
    # Revoked tokens are kept this long for audit, then cleanup deletes them.
    revoked_retention: timedelta = timedelta(days=30)


def new_refresh_secret() -> str:
    """An opaque refresh token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(REFRESH_SECRET_BYTES)


def hash_refresh_secret(secret: str) -> str:
    """What the store keeps instead of the secret: its SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()
