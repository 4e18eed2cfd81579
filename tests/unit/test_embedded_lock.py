"""What the embedded server's lock file says: the holder's pid, and the URL of the server it
shares once its line is whole; a lock of an older salesbot, or one being written, shares none."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from salesbot_postgres import DataDirectoryInUse, EmbeddedPostgres
from salesbot_postgres.embedded import lock_holder

SOCKET_URL = "postgresql://postgres@/salesbot?host=/srv/shop/.salesbot/run&port=5432"
TCP_URL = "postgresql://postgres@127.0.0.1:5544/salesbot"
NOBODY = 65534


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
        # Only an embedded server's URL: its socket by absolute path, or TCP on 127.0.0.1.
        ("4242\npostgresql://postgres@shop.example:5432/salesbot\n", (4242, None)),
        ("4242\npostgresql://postgres@/salesbot?host=run&port=5432\n", (4242, None)),
        ("4242\npostgresql://postgres@/salesbot?port=5432\n", (4242, None)),
        (f"4242\n{TCP_URL}\x1b[2J\n", (4242, None)),  # no control characters
    ],
)
def test_the_lock_file_gives_the_holder_and_the_url_it_shares(
    text: str, holder: tuple[int | None, str | None]
) -> None:
    assert lock_holder(text) == holder


def test_a_lock_another_account_wrote_shares_no_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a data directory another account may write, that account could name a server of its
    choosing: its lock is believed for who holds the directory, not for where to connect."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with (data_dir / "embedded.lock").open("wb") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.write(f"4242\n{TCP_URL}\n".encode())
        lock.flush()
        with pytest.raises(DataDirectoryInUse) as mine:
            EmbeddedPostgres(data_dir).start()
        # The lock as another account's: owned by nobody (root may give it away), or seen
        # from an account that is neither its owner nor root.
        if os.geteuid() == 0:
            os.chown(data_dir / "embedded.lock", NOBODY, NOBODY)
        else:
            monkeypatch.setattr(os, "geteuid", lambda: os.getuid() + 1)
        with pytest.raises(DataDirectoryInUse) as theirs:
            EmbeddedPostgres(data_dir).start()

    assert (mine.value.pid, mine.value.url) == (4242, TCP_URL)
    assert (theirs.value.pid, theirs.value.url) == (4242, None)
