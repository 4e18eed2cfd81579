"""Password hashing. Slow by design, so implementations keep it off the event loop."""

from __future__ import annotations

from typing import Protocol


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str:
        """Hash a password of any length without silently truncating it."""
        ...

    async def verify(self, password: str, password_hash: str) -> bool:
        """True when ``password`` matches; never raises for a wrong or malformed hash."""
        ...
