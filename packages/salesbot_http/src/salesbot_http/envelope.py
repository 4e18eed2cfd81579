"""The response envelope, the one place every response body is shaped.

Success: ``{success: true, message, data, timestamp}``; error: ``{success: false, message,
data: null, timestamp, path}``. Handlers return ``ok(...)``; exception handlers call ``failure``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Generic, TypeVar

import msgspec
from litestar import Response

T = TypeVar("T")


class Envelope(msgspec.Struct, Generic[T], kw_only=True):
    """A successful answer: ``data`` is the payload of the route."""

    success: bool = True
    message: str
    data: T
    timestamp: datetime


class ErrorEnvelope(msgspec.Struct, kw_only=True):
    """A refused or failed request. Never carries a traceback, SQL or a password hash."""

    success: bool = False
    message: str
    data: None = None
    timestamp: datetime
    path: str


def ok(data: T, message: str) -> Envelope[T]:
    return Envelope(message=message, data=data, timestamp=datetime.now(UTC))


def failure(
    status_code: int,
    message: str,
    path: str,
    headers: Mapping[str, str] | None = None,
) -> Response[ErrorEnvelope]:
    body = ErrorEnvelope(message=message, timestamp=datetime.now(UTC), path=path)
    return Response(content=body, status_code=status_code, headers=dict(headers or {}))
