"""The README's library example runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_library_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 1
    done = subprocess.run(  # noqa: S603 - our own interpreter on our own README's code
        [sys.executable, "-c", blocks[0]], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    title_line, second_reply = done.stdout.strip().splitlines()
    assert title_line.startswith("Headphones for running → ")
    assert "Jabra Elite 8" in second_reply
