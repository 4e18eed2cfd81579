"""Registration, the email check, the profile and the admin grant, through in-memory adapters."""

from __future__ import annotations

from uuid import uuid4

import pytest

from salesbot_core.domain import Role
from salesbot_core.errors import EmailAlreadyRegistered, InvalidInput, UserNotFound
from tests.unit.conftest import Core


async def test_register_normalises_and_hashes(core: Core) -> None:
    user = await core.register(
        email="  Jane@Example.COM ",
        password="password123",
        name="  Jane   Doe ",
        phone="+14155552671",
    )
    assert user.email == "jane@example.com"
    assert user.name == "Jane Doe"
    assert user.phone == "+14155552671"
    assert user.role is Role.CUSTOMER
    assert "password123" not in user.password_hash
    assert await core.hasher.verify("password123", user.password_hash)
    assert await core.profile(user.id) == user


async def test_email_is_unique_case_insensitively(core: Core) -> None:
    await core.register(email="jane@example.com", password="password123", name="Jane")
    with pytest.raises(EmailAlreadyRegistered):
        await core.register(email="JANE@example.com", password="password456", name="Other")
    assert await core.check_email("Jane@Example.com") is True
    assert await core.check_email("nobody@example.com") is False


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("email", {"email": "not-an-email"}),
        ("email", {"email": "a@b"}),
        ("password", {"password": "x" * 7}),
        ("password", {"password": "x" * 129}),
        ("name", {"name": "  Jo  "}),
        ("name", {"name": "x" * 256}),
        ("phone", {"phone": "4155552671"}),
        ("phone", {"phone": "+0123456789"}),
    ],
)
async def test_invalid_registration_names_the_field_and_stores_nothing(
    core: Core, field: str, kwargs: dict[str, str]
) -> None:
    values = {"email": "jane@example.com", "password": "password123", "name": "Jane"} | kwargs
    with pytest.raises(InvalidInput) as raised:
        await core.register(**values)
    assert raised.value.field == field
    assert core.store.state.users == {}


@pytest.mark.parametrize("password", ["x" * 8, "x" * 128, "🔒" * 64, "pass word with spaces"])
async def test_any_password_of_8_to_128_characters_registers(core: Core, password: str) -> None:
    user = await core.register(email="jane@example.com", password=password, name="Jane")
    assert await core.hasher.verify(password, user.password_hash)
    result = await core.login(email="jane@example.com", password=password)
    assert result.user.id == user.id


async def test_profile_of_a_missing_user(core: Core) -> None:
    with pytest.raises(UserNotFound):
        await core.profile(uuid4())


async def test_grant_admin(core: Core) -> None:
    user = await core.register(email="boss@example.com", password="password123", name="Boss")
    granted = await core.grant_admin("BOSS@example.com")
    assert granted.role is Role.ADMIN
    assert (await core.profile(user.id)).role is Role.ADMIN
    with pytest.raises(UserNotFound):
        await core.grant_admin("nobody@example.com")
