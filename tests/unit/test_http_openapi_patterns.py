"""The OpenAPI document's patterns say exactly what the core's rules accept: a client (or
Schemathesis) that follows the document is never refused, and one that does not is refused."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from salesbot_core.errors import InvalidInput
from salesbot_core.validation import (
    clean_content,
    clean_name,
    clean_phone,
    clean_title,
    normalise_email,
)
from salesbot_http.dto import (
    CONTENT_PATTERN,
    EMAIL_PATTERN,
    NAME_PATTERN,
    PHONE_PATTERN,
    TITLE_PATTERN,
)

# Every character Python counts as whitespace, plus NUL, other controls and the lookalikes.
SPACES = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
TRICKY = SPACES + "\x00\x01\x7f\ufeff@.+0123456789٣"
text = st.text(alphabet=st.sampled_from(TRICKY) | st.characters(), max_size=40)


def accepted(rule: Callable[[str], object], value: str) -> bool:
    try:
        rule(value)
    except InvalidInput:
        return False
    return True


RULES: dict[str, tuple[str, Callable[[str], object]]] = {
    "name": (NAME_PATTERN, clean_name),
    "title": (TITLE_PATTERN, clean_title),
    "content": (CONTENT_PATTERN, clean_content),
    "phone": (PHONE_PATTERN, clean_phone),
    "email": (EMAIL_PATTERN, normalise_email),
}


@pytest.mark.parametrize("field", RULES)
@settings(max_examples=300, deadline=None)
@given(value=text)
@example(value=" a b ")
@example(value="ab\x00c")
@example(value="\x85x\x1c")
@example(value="+1415\u0663555267")
@example(value=" jane@example.com\u2028")
@example(value="jane@exa\x01mple.com")
def test_the_documented_pattern_matches_what_the_core_accepts(field: str, value: str) -> None:
    pattern, rule = RULES[field]
    if field == "email" and len(value.lower()) != len(value):
        return  # a few letters ("İ") grow when lower-cased: the core counts the stored form

    assert (re.search(pattern, value) is not None) == accepted(rule, value), repr(value)


def test_content_is_bounded_after_trimming_not_before() -> None:
    padded = " \n" + "x" * 5000 + "\u3000"
    assert re.search(CONTENT_PATTERN, padded)
    assert not re.search(CONTENT_PATTERN, "x" * 5001)
    assert accepted(clean_content, padded)
    assert not accepted(clean_content, "x" * 5001)
