"""What the embedded server's lock file says: the holder's pid, and the URL of the server it
shares once its line is whole; a lock of an older salesbot, or one being written, shares none."""

from __future__ import annotations

import pytest

from salesbot_postgres.embedded import lock_holder

SOCKET_URL = "postgresql://postgres@/salesbot?host=/srv/shop/.salesbot/run&port=5432"
TCP_URL = "postgresql://postgres@127.0.0.1:5544/salesbot"


@pytest.mark.parametrize(
    ("text", "holder"),
    [
        (f"4242\n{SOCKET_URL}\n", (4242, SOCKET_URL)),
        (f"4242\n{TCP_URL}\n", (4242, TCP_URL)),  # a port was given
        ("4242\n", (4242, None)),  # started, not shared (yet)
        ("4242", (4242, None)),  # an older salesbot's lock: the pid alone
        (f"4242\n{SOCKET_URL}", (4242, None)),  # the URL's line is being written
        (f"4242\n{SOCKET_URL[:20]}", (4242, None)),
        ("4242\n\n", (4242, None)),
        ("4242\nnot a url\n", (4242, None)),
        ("", (None, None)),  # released (truncated), or the holder has not written yet
        ("garbage\n", (None, None)),
        ("\uff14\uff12\n", (None, None)),  # digits, but not ASCII ones (fullwidth)
        (f" 4242 \n {SOCKET_URL} \n", (4242, SOCKET_URL)),
    ],
)
def test_the_lock_file_gives_the_holder_and_the_url_it_shares(
    text: str, holder: tuple[int | None, str | None]
) -> None:
    assert lock_holder(text) == holder
