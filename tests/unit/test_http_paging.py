"""The paging cursor's documented pattern is exactly what the API accepts: every string matching
it names a position, what the API emits matches it, and nothing else is taken."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salesbot_core.domain import ConversationCursor
from salesbot_core.errors import InvalidInput
from salesbot_http.paging import CURSOR_PATTERN, decode_cursor, encode_cursor

positions = st.builds(
    ConversationCursor,
    updated_at=st.datetimes(timezones=st.just(UTC)),
    id=st.uuids(),
)


@given(position=positions)
def test_an_emitted_cursor_matches_the_pattern_and_reads_back_as_its_position(
    position: ConversationCursor,
) -> None:
    cursor = encode_cursor(position)

    assert re.search(CURSOR_PATTERN, cursor)
    assert decode_cursor(cursor) == position


@given(text=st.from_regex(CURSOR_PATTERN, fullmatch=True).filter(bool))
def test_every_string_matching_the_pattern_is_a_position(text: str) -> None:
    position = decode_cursor(text)

    assert position.updated_at.tzinfo is not None


@pytest.mark.parametrize(
    ("cursor", "updated_at"),
    [
        ("f" + "_" * 31, datetime.max.replace(tzinfo=UTC)),  # the largest 64-bit microsecond
        ("g" + "A" * 31, datetime.min.replace(tzinfo=UTC)),  # the smallest
        ("A" * 32, datetime(1970, 1, 1, tzinfo=UTC)),
        ("_" * 32, datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)),
    ],
)
def test_positions_beyond_a_datetime_are_clamped_keeping_their_order(
    cursor: str, updated_at: datetime
) -> None:
    assert decode_cursor(cursor).updated_at == updated_at


@pytest.mark.parametrize(
    "text", ["A" * 31, "A" * 33, "A" * 31 + "=", "A" * 31 + "+", "A" * 31 + "/", "A" * 31 + "é"]
)
def test_anything_else_is_refused(text: str) -> None:
    assert not re.search(CURSOR_PATTERN, text)
    with pytest.raises(InvalidInput):
        decode_cursor(text)


def test_the_empty_cursor_is_documented_but_names_no_position() -> None:
    # The routes read an empty cursor as the first page; it is no position to decode.
    assert re.search(CURSOR_PATTERN, "")
    with pytest.raises(InvalidInput):
        decode_cursor("")


def test_the_id_is_carried_whole() -> None:
    identifier = uuid.UUID(int=2**128 - 1)
    position = ConversationCursor(updated_at=datetime(2025, 1, 15, tzinfo=UTC), id=identifier)

    assert decode_cursor(encode_cursor(position)).id == identifier
