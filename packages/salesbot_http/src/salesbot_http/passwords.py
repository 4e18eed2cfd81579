"""bcrypt behind the core's ``PasswordHasher`` port, off the event loop in a bounded thread pool.

bcrypt reads at most 72 bytes of a password (and bcrypt 5 raises beyond that). A longer password is
first reduced to base64(HMAC-SHA256(password)), 44 bytes, so every byte of it counts and nothing is
silently cut; a password of 72 bytes or fewer goes to bcrypt as it is, so hashes stay compatible
with plain bcrypt (the seed's users).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from concurrent.futures import Executor

import bcrypt

BCRYPT_MAX_BYTES = 72
# Not a secret (no pepper): it only separates the pre-hash from other uses of HMAC-SHA256.
_PREHASH_KEY = b"salesbot/bcrypt-prehash/v1"
_BCRYPT_PREFIXES = (b"$2a$", b"$2b$", b"$2y$")


def bcrypt_input(password: str) -> bytes:
    """The bytes bcrypt is given for ``password``: itself, or its pre-hash beyond 72 bytes."""
    # surrogatepass: a lone surrogate (legal in a JSON string) must not crash the hasher.
    raw = password.encode("utf-8", "surrogatepass")
    if len(raw) <= BCRYPT_MAX_BYTES:
        return raw
    return base64.b64encode(hmac.new(_PREHASH_KEY, raw, hashlib.sha256).digest())


def _check(secret: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(secret, hashed)
    except ValueError:  # a malformed hash (bad salt, wrong length)
        return False


class BcryptPasswordHasher:
    """bcrypt at ``rounds`` (12 in production), run on ``executor`` so requests keep flowing."""

    def __init__(self, rounds: int, executor: Executor) -> None:
        if not 4 <= rounds <= 31:
            raise ValueError(f"bcrypt rounds must be between 4 and 31, got {rounds}")
        self._rounds = rounds
        self._executor = executor

    async def hash(self, password: str) -> str:
        secret = bcrypt_input(password)
        loop = asyncio.get_running_loop()
        hashed = await loop.run_in_executor(self._executor, self._hash_sync, secret)
        return hashed.decode("ascii")

    def _hash_sync(self, secret: bytes) -> bytes:
        return bcrypt.hashpw(secret, bcrypt.gensalt(self._rounds))

    async def verify(self, password: str, password_hash: str) -> bool:
        try:
            hashed = password_hash.encode("ascii")
        except UnicodeEncodeError:
            return False
        if not hashed.startswith(_BCRYPT_PREFIXES):
            return False
        secret = bcrypt_input(password)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, _check, secret, hashed)
