"""Customer accounts: registration, the email check, the profile, and granting the admin role."""

from __future__ import annotations

from uuid import UUID

import msgspec

from salesbot_core.domain import Role, User
from salesbot_core.errors import UserNotFound
from salesbot_core.ports import Clock, IdSource, PasswordHasher, UnitOfWorkFactory
from salesbot_core.validation import check_password, clean_name, clean_phone, normalise_email


class RegisterUser:
    """Register a customer.

    Rules: email valid, trimmed and unique case-insensitively; password 8-128 characters, hashed
    (never stored in clear, never truncated); name trimmed, 3-255 characters; phone optional, E.164.
    The password is hashed before the transaction opens, so the slow hash holds no connection.
    """

    def __init__(
        self, uow: UnitOfWorkFactory, hasher: PasswordHasher, clock: Clock, ids: IdSource
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._clock = clock
        self._ids = ids

    async def __call__(
        self, *, email: str, password: str, name: str, phone: str | None = None
    ) -> User:
        now = self._clock.now()
        user = User(
            id=self._ids.new_id(),
            email=normalise_email(email),
            name=clean_name(name),
            phone=clean_phone(phone),
            password_hash=await self._hasher.hash(check_password(password)),
            created_at=now,
            updated_at=now,
        )
        async with self._uow() as uow:
            await uow.users.add(user)
            await uow.commit()
        return user


class CheckEmail:
    """Whether an email is already registered (compared case-insensitively)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, email: str) -> bool:
        normalised = normalise_email(email)
        async with self._uow() as uow:
            return await uow.users.get_by_email(normalised) is not None


class GetProfile:
    """The signed-in user's profile; ``UserNotFound`` if the account no longer exists."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, user_id: UUID) -> User:
        async with self._uow() as uow:
            user = await uow.users.get(user_id)
        if user is None:
            raise UserNotFound
        return user


class GrantAdmin:
    """Give an account the admin role (shop staff who read sales insight)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, email: str) -> User:
        now = self._clock.now()
        async with self._uow() as uow:
            user = await uow.users.get_by_email(normalise_email(email))
            if user is None or not await uow.users.set_role(user.id, Role.ADMIN.value, now):
                raise UserNotFound
            await uow.commit()
        return msgspec.structs.replace(user, role=Role.ADMIN, updated_at=now)
