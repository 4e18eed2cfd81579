"""Reading Server-Sent Events in tests: the ``event:``/``data:`` pairs of a ``text/event-stream``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    event: str
    data: Any  # the decoded JSON


def parse_events(lines: Iterable[str]) -> list[Event]:
    """The events in ``lines`` (the stream split at line ends), per the SSE format."""
    events: list[Event] = []
    name, data = "message", []
    for line in lines:
        if not line:
            if data:
                events.append(Event(name, json.loads("\n".join(data))))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").removeprefix(" "))
    return events


def events_of(text: str) -> list[Event]:
    return parse_events(text.splitlines())


def reply_text(events: list[Event]) -> str:
    """The ``delta`` pieces joined."""
    return "".join(e.data["text"] for e in events if e.event == "delta")
