"""The one table from domain errors to HTTP statuses covers every error the core can raise."""

from __future__ import annotations

import inspect

import pytest

import salesbot_core.errors as core_errors
from salesbot_core.errors import SalesbotError
from salesbot_http.errors import DOMAIN_ERRORS, status_of

EXPECTED = {
    "InvalidInput": 400,
    "InvalidCredentials": 401,
    "InvalidAccessToken": 401,
    "InvalidRefreshToken": 401,
    "Forbidden": 403,
    "UserNotFound": 404,
    "ConversationNotFound": 404,
    "SessionNotFound": 404,
    "EmailAlreadyRegistered": 409,
    "TooManyLoginAttempts": 429,
    "AssistantUnavailable": 502,
    "InvalidMetadataAnswer": 502,
    "AssistantTimeout": 504,
    "DatabaseUnavailable": 503,
    "InvalidCatalogue": 400,
    "ProductNotFound": 404,
    "DeliveryNotFound": 404,
}


def _raised_errors() -> list[type[SalesbotError]]:
    return [
        member
        for _, member in inspect.getmembers(core_errors, inspect.isclass)
        if issubclass(member, SalesbotError) and member is not SalesbotError
    ]


def test_every_domain_error_has_a_status() -> None:
    mapped = {kind for kind, _, _ in DOMAIN_ERRORS}
    unmapped = [kind.__name__ for kind in _raised_errors() if kind not in mapped]
    assert unmapped == []


@pytest.mark.parametrize("kind", _raised_errors(), ids=lambda kind: kind.__name__)
def test_each_error_maps_to_its_status(kind: type[SalesbotError]) -> None:
    init = inspect.signature(kind.__init__).parameters
    if "line" in init:
        error: SalesbotError = kind(4, "bad")  # type: ignore[call-arg]
    else:
        error = kind("field", "bad") if "field" in init else kind() if len(init) == 1 else kind("x")
    status, message = status_of(error)
    assert status == EXPECTED[kind.__name__]
    assert message


def test_an_unknown_domain_error_is_a_generic_500() -> None:
    class Surprise(SalesbotError):
        pass

    assert status_of(Surprise("internal detail")) == (500, "Internal server error")
