"""Input rules of the contract, enforced by the core so every entry point (HTTP or library) gets them.

Each function returns the normalised value or raises ``InvalidInput`` naming the field.
"""

from __future__ import annotations

import re

from salesbot_core.errors import InvalidInput

PASSWORD_MIN_CHARS = 8
PASSWORD_MAX_CHARS = 128
NAME_MIN_CHARS = 3
NAME_MAX_CHARS = 255
CONTENT_MAX_CHARS = 5000
TITLE_MAX_CHARS = 255
EMAIL_MAX_CHARS = 254

# Deliberately simple: one @, a dotted domain, no spaces. Full RFC 5322 is not what a shop wants.
# No control characters either (a NUL is refused by PostgreSQL, the rest by mail servers).
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s.\x00-\x1f\x7f]+(\.[^@\s.\x00-\x1f\x7f]+)+$")
# ASCII digits only: ``\d`` would also take the digits of other scripts (Arabic-Indic...).
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def normalise_email(value: str) -> str:
    """Trimmed and lower-cased, the form emails are stored and compared in."""
    email = value.strip().lower()
    if not email or len(email) > EMAIL_MAX_CHARS or not _EMAIL.match(email):
        raise InvalidInput("email", "must be a valid email address")
    return email


def check_password(value: str) -> str:
    """8 to 128 characters of any kind; never trimmed (spaces are part of a password)."""
    if not PASSWORD_MIN_CHARS <= len(value) <= PASSWORD_MAX_CHARS:
        raise InvalidInput(
            "password", f"must be {PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters long"
        )
    return value


def _no_nul(field: str, value: str) -> str:
    # U+0000 means nothing in text, and PostgreSQL cannot store it in a text column.
    if "\x00" in value:
        raise InvalidInput(field, "must not contain NUL characters")
    return value


def clean_name(value: str) -> str:
    name = " ".join(_no_nul("name", value).split())
    if not NAME_MIN_CHARS <= len(name) <= NAME_MAX_CHARS:
        raise InvalidInput("name", f"must be {NAME_MIN_CHARS} to {NAME_MAX_CHARS} characters long")
    return name


def clean_phone(value: str | None) -> str | None:
    if value is None:
        return None
    phone = value.strip()
    if not phone:
        return None
    if not _E164.match(phone):
        raise InvalidInput("phone", "must be in E.164 form, e.g. +14155552671")
    return phone


def clean_content(value: str) -> str:
    content = _no_nul("content", value).strip()
    if not 1 <= len(content) <= CONTENT_MAX_CHARS:
        raise InvalidInput("content", f"must be 1 to {CONTENT_MAX_CHARS} characters long")
    return content


def clean_title(value: str) -> str:
    title = " ".join(_no_nul("title", value).split())
    if not 1 <= len(title) <= TITLE_MAX_CHARS:
        raise InvalidInput("title", f"must be 1 to {TITLE_MAX_CHARS} characters long")
    return title


SEARCH_MAX_CHARS = 200


def clean_query(value: str | None) -> str | None:
    """A search query: whitespace collapsed, at most 200 characters; blank means no query. A NUL
    separates words like a space: it can be neither stored nor searched for."""
    if value is None:
        return None
    return " ".join(value.replace("\x00", " ").split())[:SEARCH_MAX_CHARS] or None
