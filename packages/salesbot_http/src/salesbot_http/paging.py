"""Paging on the wire: the cursors of conversation and lead lists (one documented format) and the
``Link`` header that carries the next page, so list bodies stay plain lists as the contract has
them."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from litestar.datastructures import ResponseHeader
from litestar.params import Parameter

from salesbot_core.domain import ConversationCursor
from salesbot_core.errors import InvalidInput

# A cursor is 24 bytes, base64url without padding: the position's ``updated_at`` as signed
# big-endian microseconds since the Unix epoch (8 bytes), then its id (16 bytes). 24 bytes are
# exactly 32 characters, so every string of 32 such characters is a cursor: the OpenAPI pattern
# and what the API accepts are the same set, and a client (or a fuzzer) cannot write a cursor
# that matches the document and is still refused. Any such position is a place to continue from
# (keyset paging), and it only selects among the caller's own rows. An empty cursor is the
# first page, as it was before cursors had a pattern.
CURSOR_PATTERN = r"^([A-Za-z0-9_-]{32})?$"
_CURSOR = re.compile(r"[A-Za-z0-9_-]{32}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# Positions beyond what a datetime holds are clamped: ordering is kept, so a page after a
# far-future position is the first page and one after a far-past position is empty.
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)

# How a paged route documents its ``cursor`` query parameter in the OpenAPI document.
CursorParameter = Annotated[
    str | None,
    Parameter(
        description=(
            "Where to continue: the cursor from the `Link` header of the previous page "
            "(32 characters of base64url; empty for the first page; anything else is a 400)"
        ),
        pattern=CURSOR_PATTERN,
    ),
]

# How a paged route documents its ``Link`` header in the OpenAPI document.
NEXT_PAGE_HEADER = ResponseHeader(
    name="Link",
    description='The next page, as `<url>; rel="next"` (absent on the last page).',
    required=False,
    documentation_only=True,
)


def encode_cursor(cursor: ConversationCursor) -> str:
    micros = (cursor.updated_at - _EPOCH) // _MICROSECOND
    raw = micros.to_bytes(8, "big", signed=True) + cursor.id.bytes
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(text: str) -> ConversationCursor:
    """The position ``text`` names: any non-empty string matching ``CURSOR_PATTERN`` (the
    routes' parameters check it first); ``InvalidInput`` for anything else."""
    if not _CURSOR.fullmatch(text):
        raise InvalidInput("cursor", "must be a cursor from a `Link` header")
    raw = base64.urlsafe_b64decode(text)  # 32 characters of the alphabet: always 24 bytes
    micros = int.from_bytes(raw[:8], "big", signed=True)
    try:
        updated_at = _EPOCH + micros * _MICROSECOND
    except OverflowError:
        updated_at = _LATEST if micros > 0 else _EARLIEST
    return ConversationCursor(updated_at=updated_at, id=UUID(bytes=raw[8:]))


def next_link(path: str, params: dict[str, str | int | None]) -> str:
    """An RFC 8288 ``Link`` header value pointing at the next page."""
    query = urlencode({key: value for key, value in params.items() if value is not None})
    return f'<{path}?{query}>; rel="next"'


def next_page_headers(
    path: str, following: ConversationCursor | None, params: dict[str, str | int | None]
) -> dict[str, str]:
    """The response headers of a page: a ``Link`` to the page after it, keeping ``params``
    (unset ones dropped) and adding its cursor, or none on the last page."""
    if following is None:
        return {}
    return {"Link": next_link(path, {**params, "cursor": encode_cursor(following)})}
