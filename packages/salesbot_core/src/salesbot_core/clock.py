"""Time helpers shared by the domain (the current time itself comes from the Clock port)."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
MAX_DURATION_S = 3650 * 86400  # ten years: beyond that, date arithmetic overflows sooner or later
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """Parse durations as the seed writes them: ``30s``, ``15m``, ``12h``, ``7d``, ``2w``.

    A bare number is read as seconds (as the original's ``ms``-style settings allowed).
    """
    stripped = text.strip()
    if stripped.isdigit():
        seconds = int(stripped)
    else:
        match = _DURATION.match(stripped.lower())
        if match is None:
            raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 15m, 12h, 7d)")
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"a duration must be positive: {text!r}")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"a duration may not exceed 3650d: {text!r}")
    return timedelta(seconds=seconds)
