"""The bcrypt adapter: real bcrypt, nothing silently truncated, never raises on a bad hash."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import bcrypt
import pytest

from salesbot_http.passwords import BcryptPasswordHasher, bcrypt_input


@pytest.fixture(scope="module")
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="test-bcrypt") as pool:
        yield pool


@pytest.fixture
def hasher(executor: ThreadPoolExecutor) -> BcryptPasswordHasher:
    return BcryptPasswordHasher(rounds=4, executor=executor)


async def test_a_hash_is_bcrypt_at_the_configured_cost(hasher: BcryptPasswordHasher) -> None:
    hashed = await hasher.hash("correct horse battery")

    assert hashed.startswith("$2b$04$")
    assert await hasher.verify("correct horse battery", hashed)
    assert not await hasher.verify("correct horse batterY", hashed)


async def test_short_passwords_hash_as_plain_bcrypt(hasher: BcryptPasswordHasher) -> None:
    # Compatible with hashes made by any bcrypt (e.g. imported users).
    legacy = bcrypt.hashpw(b"password123", bcrypt.gensalt(4)).decode()
    assert await hasher.verify("password123", legacy)


@pytest.mark.parametrize(
    ("password", "other"),
    [
        ("😀" * 18 + "a", "😀" * 18 + "b"),  # differ at byte 73
        ("x" * 72 + "tail-one", "x" * 72 + "tail-two"),
        ("x" * 128, "x" * 127 + "y"),
    ],
)
async def test_passwords_beyond_72_bytes_are_not_truncated(
    hasher: BcryptPasswordHasher, password: str, other: str
) -> None:
    hashed = await hasher.hash(password)

    assert await hasher.verify(password, hashed)
    assert not await hasher.verify(other, hashed)


def test_the_prehash_applies_beyond_72_bytes_only() -> None:
    assert bcrypt_input("x" * 72) == b"x" * 72
    long_input = bcrypt_input("x" * 73)
    assert len(long_input) == 44  # base64 of a SHA-256 HMAC
    assert bcrypt_input("😀" * 64) != bcrypt_input("😀" * 63 + "😁")


async def test_odd_unicode_hashes_without_error(hasher: BcryptPasswordHasher) -> None:
    for password in ("\ud800lone surrogate", "nul\x00inside", "é" * 128):
        hashed = await hasher.hash(password)
        assert await hasher.verify(password, hashed)


@pytest.mark.parametrize(
    "bad_hash",
    ["", "not a hash", "$2b$04$short", "$2b$99$" + "a" * 53, "fake$salt$digest", "$2b$04$é"],
)
async def test_verify_never_raises_on_a_malformed_hash(
    hasher: BcryptPasswordHasher, bad_hash: str
) -> None:
    assert await hasher.verify("password123", bad_hash) is False


async def test_hashing_runs_off_the_event_loop(executor: ThreadPoolExecutor) -> None:
    seen: list[str] = []
    real = BcryptPasswordHasher._hash_sync

    class Spy(BcryptPasswordHasher):
        def _hash_sync(self, secret: bytes) -> bytes:
            seen.append(threading.current_thread().name)
            return real(self, secret)

    await asyncio.gather(*(Spy(4, executor).hash(f"password-{i}") for i in range(4)))

    assert seen
    assert all(name.startswith("test-bcrypt") for name in seen)


@pytest.mark.parametrize("rounds", [3, 32])
def test_the_cost_must_be_one_bcrypt_accepts(executor: ThreadPoolExecutor, rounds: int) -> None:
    with pytest.raises(ValueError, match="rounds"):
        BcryptPasswordHasher(rounds=rounds, executor=executor)
