"""Paging on the wire: opaque cursors for conversation lists and the ``Link`` header that carries
the next page, so list bodies stay plain lists as the contract has them."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from urllib.parse import urlencode
from uuid import UUID

from litestar.datastructures import ResponseHeader

from salesbot_core.domain import ConversationCursor
from salesbot_core.errors import InvalidInput

_SEPARATOR = "|"

# How a paged route documents its ``Link`` header in the OpenAPI document.
NEXT_PAGE_HEADER = ResponseHeader(
    name="Link",
    description='The next page, as `<url>; rel="next"` (absent on the last page).',
    required=False,
    documentation_only=True,
)


def encode_cursor(cursor: ConversationCursor) -> str:
    raw = f"{cursor.updated_at.isoformat()}{_SEPARATOR}{cursor.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(text: str) -> ConversationCursor:
    """The cursor a previous page gave; ``InvalidInput`` for anything else."""
    refused = InvalidInput("cursor", "is not a cursor this API gave")
    try:
        padded = text + "=" * (-len(text) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
        moment, _, identifier = raw.partition(_SEPARATOR)
        updated_at = datetime.fromisoformat(moment)
        conversation_id = UUID(identifier)
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise refused from exc
    if updated_at.tzinfo is None:
        raise refused
    return ConversationCursor(updated_at=updated_at, id=conversation_id)


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
