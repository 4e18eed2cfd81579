"""Errors to HTTP statuses and error envelopes: the one place that decides them.

Domain errors map by the table below; Litestar's own errors (validation, malformed JSON, an
over-long body, unknown route, wrong method) keep their status; anything else is a 500 with a
generic message and the traceback in the log only. (A body nested too deeply to decode is
malformed JSON too: ``salesbot_http.request`` reports it as Litestar reports any other.)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from salesbot_core.errors import (
    AssistantTimeout,
    AssistantUnavailable,
    ConversationNotFound,
    DatabaseUnavailable,
    DeliveryNotFound,
    EmailAlreadyRegistered,
    Forbidden,
    InvalidAccessToken,
    InvalidCatalogue,
    InvalidCredentials,
    InvalidInput,
    InvalidMetadataAnswer,
    InvalidRefreshToken,
    ProductNotFound,
    SalesbotError,
    SessionNotFound,
    TooManyLoginAttempts,
    UserNotFound,
)
from salesbot_http.envelope import ErrorEnvelope, failure

logger = logging.getLogger(__name__)

INTERNAL_ERROR = "Internal server error"
VALIDATION_FAILED = "Validation failed"
ASSISTANT_UNAVAILABLE = "The sales assistant is unavailable right now; please try again"
ASSISTANT_TIMEOUT = "The sales assistant did not answer in time; please try again"
DATABASE_UNAVAILABLE = "The database is unavailable right now; please try again shortly"

# (error, status, fixed message or None for the error's own). First match wins, so a subclass
# comes before its base. Upstream failures get fixed messages: theirs may describe internals.
DOMAIN_ERRORS: tuple[tuple[type[SalesbotError], int, str | None], ...] = (
    (InvalidCatalogue, 400, None),  # an InvalidInput: its message names the line
    (InvalidInput, 400, None),
    (InvalidCredentials, 401, None),
    (InvalidAccessToken, 401, None),
    (InvalidRefreshToken, 401, None),
    (Forbidden, 403, None),
    (UserNotFound, 404, None),
    (ConversationNotFound, 404, None),
    (SessionNotFound, 404, None),
    (ProductNotFound, 404, None),
    (DeliveryNotFound, 404, None),
    (EmailAlreadyRegistered, 409, None),
    (TooManyLoginAttempts, 429, None),
    (AssistantTimeout, 504, ASSISTANT_TIMEOUT),
    (AssistantUnavailable, 502, ASSISTANT_UNAVAILABLE),
    (InvalidMetadataAnswer, 502, ASSISTANT_UNAVAILABLE),
    (DatabaseUnavailable, 503, DATABASE_UNAVAILABLE),
)

# RFC 6750: a refused bearer token says which scheme it expected.
_BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="salesbot"'}


def status_of(error: SalesbotError) -> tuple[int, str]:
    """The HTTP status and message for a domain error."""
    for kind, status, message in DOMAIN_ERRORS:
        if isinstance(error, kind):
            if isinstance(error, InvalidInput):
                # Worded like Litestar's own validation errors, so clients see one style.
                return status, f"{VALIDATION_FAILED}: {error.message}"
            return status, message or error.message
    return HTTP_500_INTERNAL_SERVER_ERROR, INTERNAL_ERROR


def _domain_error(request: Request[Any, Any, Any], exc: SalesbotError) -> Response[ErrorEnvelope]:
    status, message = status_of(exc)
    if status >= HTTP_500_INTERNAL_SERVER_ERROR:
        if status == HTTP_500_INTERNAL_SERVER_ERROR:
            logger.error("%s %s failed: %r", request.method, request.url.path, exc, exc_info=exc)
        else:
            # An LLM or a database that is away is an expected failure: one line with its cause,
            # the traceback only at DEBUG.
            logger.warning(
                "%s %s failed: %r (cause: %r)",
                request.method,
                request.url.path,
                exc,
                exc.__cause__,
                exc_info=exc if logger.isEnabledFor(logging.DEBUG) else None,
            )
    headers: dict[str, str] | None = None
    if isinstance(exc, InvalidAccessToken):
        headers = _BEARER_CHALLENGE
    elif isinstance(exc, TooManyLoginAttempts):
        headers = {"Retry-After": str(exc.retry_after_s)}
    return failure(status, message, request.url.path, headers)


def _wire_name(request: Request[Any, Any, Any], key: str) -> str:
    """The name a client sent a parameter by (``saleStatus``) for the handler's argument name
    Litestar's validation error gives (``sale_status``); the key itself when it has no alias."""
    handler = request.scope.get("route_handler")
    signature = getattr(handler, "parsed_fn_signature", None)
    field = signature.parameters.get(key) if signature is not None else None
    definition = getattr(field, "kwarg_definition", None)
    for alias in ("query", "header", "cookie", "name"):
        wired = getattr(definition, alias, None)
        if isinstance(wired, str) and wired:
            return wired
    return key


def _validation_message(request: Request[Any, Any, Any], exc: ValidationException) -> str:
    details: list[str] = []
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if not isinstance(item, Mapping):
            continue
        message = str(item.get("message", "")).strip()
        key = item.get("key")
        if key == "data" and message == "'data'":
            # Litestar's wording when there is no body at all.
            message = "a JSON body is required"
        if key and key != "data":
            details.append(f"{_wire_name(request, str(key))}: {message}")
        elif message:
            details.append(message)
    if not details and exc.detail and not exc.detail.startswith("Validation failed for"):
        details.append(exc.detail)  # e.g. a missing query parameter: no extra, a clear detail
    return f"{VALIDATION_FAILED}: {'; '.join(details)}" if details else VALIDATION_FAILED


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorEnvelope]:
    status = exc.status_code
    if status >= HTTP_500_INTERNAL_SERVER_ERROR:
        logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return failure(status, INTERNAL_ERROR, request.url.path)
    if isinstance(exc, ValidationException):
        message = _validation_message(request, exc)
    else:
        message = exc.detail or "Request refused"
    return failure(status, message, request.url.path, exc.headers)


def _undecodable_body(
    request: Request[Any, Any, Any], exc: UnicodeDecodeError
) -> Response[ErrorEnvelope]:
    # msgspec reports bytes that are not UTF-8 inside a JSON string as UnicodeDecodeError, not as
    # the DecodeError Litestar turns into a 400; salesbot decodes no other client bytes.
    logger.info("%s %s: the body is not UTF-8: %s", request.method, request.url.path, exc.reason)
    return failure(400, f"{VALIDATION_FAILED}: the body is not valid UTF-8", request.url.path)


def _unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorEnvelope]:
    logger.error("%s %s failed unexpectedly", request.method, request.url.path, exc_info=exc)
    return failure(HTTP_500_INTERNAL_SERVER_ERROR, INTERNAL_ERROR, request.url.path)


def exception_handlers() -> ExceptionHandlersMap:
    return {
        SalesbotError: _domain_error,
        HTTPException: _http_error,
        UnicodeDecodeError: _undecodable_body,
        Exception: _unexpected_error,
    }
