"""The README's library example runs as written, and its webhook receiver accepts salesbot's
signature within the replay window only."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from salesbot_core.webhooks import sign

README = Path(__file__).resolve().parents[2] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


def test_the_library_example_runs() -> None:
    blocks = [b for b in _python_blocks() if "def verified" not in b]
    assert len(blocks) == 1
    done = subprocess.run(  # noqa: S603 - our own interpreter on our own README's code
        [sys.executable, "-c", blocks[0]], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    title_line, second_reply = done.stdout.strip().splitlines()
    assert title_line.startswith("Headphones for running → ")
    assert "Jabra Elite 8" in second_reply


def test_the_webhook_receiver_verifies_signatures_and_refuses_replays() -> None:
    [block] = [b for b in _python_blocks() if "def verified" in b]
    namespace: dict[str, Any] = {}
    exec(block, namespace)  # noqa: S102 - our own README's code
    verified = namespace["verified"]
    secret, body = b"k" * 32, b'{"type":"lead.hot"}'
    now = str(int(time.time()))
    headers = {"X-Salesbot-Timestamp": now, "X-Salesbot-Signature": sign(secret, now, body)}

    assert verified(secret, headers, body)
    assert not verified(b"x" * 32, headers, body)
    assert not verified(secret, headers, body + b" ")
    old = str(int(time.time()) - 301)
    stale = {"X-Salesbot-Timestamp": old, "X-Salesbot-Signature": sign(secret, old, body)}
    assert not verified(secret, stale, body)
