"""Domain errors. The HTTP adapter maps each to a status and envelope in exactly one place."""

from __future__ import annotations


class SalesbotError(Exception):
    """Base of every error the core raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(SalesbotError):
    """A value breaks a domain rule (length, format); nothing was changed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class EmailAlreadyRegistered(SalesbotError):
    def __init__(self) -> None:
        super().__init__("This email is already registered")


class UserNotFound(SalesbotError):
    def __init__(self) -> None:
        super().__init__("User not found")


class InvalidCredentials(SalesbotError):
    """Unknown email and wrong password look exactly alike to the caller."""

    def __init__(self) -> None:
        super().__init__("Invalid email or password")


class InvalidAccessToken(SalesbotError):
    def __init__(self) -> None:
        super().__init__("Invalid or expired access token")


class InvalidRefreshToken(SalesbotError):
    """Unknown, expired, revoked or reused refresh token: all answer the same."""

    def __init__(self) -> None:
        super().__init__("Invalid or expired refresh token")


class ConversationNotFound(SalesbotError):
    """Missing and someone else's conversation answer the same, so ids cannot be probed."""

    def __init__(self) -> None:
        super().__init__("Conversation not found")


class SessionNotFound(SalesbotError):
    """Missing and someone else's session answer the same."""

    def __init__(self) -> None:
        super().__init__("Session not found")


class TooManyLoginAttempts(SalesbotError):
    """Refused before the password is checked; the same whichever limit was reached, so it tells
    nothing about the account. The caller may try again in ``retry_after_s`` seconds."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("Too many failed login attempts; please try again later")
        self.retry_after_s = retry_after_s


class Forbidden(SalesbotError):
    """The caller is signed in but may not do this (a customer on an admin route)."""

    def __init__(self) -> None:
        super().__init__("You do not have access to this resource")


class AssistantUnavailable(SalesbotError):
    """The LLM failed (connection, 429/5xx after retries, malformed answer). Nothing was stored."""


class AssistantTimeout(AssistantUnavailable):
    """The LLM did not answer within the configured time. Nothing was stored."""


class InvalidMetadataAnswer(SalesbotError):
    """The LLM's metadata answer did not validate.

    The core retries once, then keeps the old metadata."""


class DatabaseUnavailable(SalesbotError):
    """The store cannot be reached; the request can be retried once it is back."""


class InvalidCatalogue(InvalidInput):
    """A catalogue file (or one product) breaks a rule of ``salesbot_core.catalogue``; the
    message names the line (``line 4: price must be ...``) and nothing was imported."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}", message)
        self.line = line


class ProductNotFound(SalesbotError):
    def __init__(self) -> None:
        super().__init__("Product not found")


class DeliveryNotFound(SalesbotError):
    """No webhook delivery to queue again: the id is unknown, or the delivery is already
    pending (its workers will send it)."""

    def __init__(self) -> None:
        super().__init__("No webhook delivery with this id is waiting for a retry")
