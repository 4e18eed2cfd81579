"""A real webhook receiver for tests and the bench: an HTTP server on 127.0.0.1 in a thread,
recording every request, answering from a script of statuses (then 200), optionally holding
requests until released (unanswered), or answering its first few only once released."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import msgspec

from salesbot_core.webhooks import verify


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it, and what it answered (None: it never answered)."""

    headers: dict[str, str]
    body: bytes
    answered: int | None
    at: float  # time.monotonic()

    @property
    def delivery(self) -> str:
        return self.headers["x-salesbot-delivery"]

    @property
    def event(self) -> str:
        return self.headers["x-salesbot-event"]

    def json(self) -> dict[str, object]:
        decoded: dict[str, object] = msgspec.json.decode(self.body)
        return decoded

    def signed_with(self, secret: str) -> bool:
        return verify(
            secret.encode(),
            self.headers["x-salesbot-timestamp"],
            self.body,
            self.headers["x-salesbot-signature"],
        )


@dataclass
class Receiver:
    url: str
    answers: list[int] = field(default_factory=list)
    # While set, every request is held (not answered) until ``release`` is called.
    holding: bool = False
    # The first ``delay_first`` requests are answered only once ``release`` is called (each is
    # recorded, unanswered, when it arrives, and again when answered).
    delay_first: int = 0
    received: list[Received] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.holding = False
        self._released.set()

    def wait_for(
        self, condition: Callable[[Sequence[Received]], bool], timeout_s: float = 60.0
    ) -> list[Received]:
        """Wait until ``condition(received)`` holds; fail after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not condition(self.received):
                left = deadline - time.monotonic()
                if left <= 0:
                    summary = [(r.event, r.delivery, r.answered) for r in self.received]
                    raise AssertionError(f"the receiver never saw what was awaited: {summary}")
                self._changed.wait(left)
            return list(self.received)

    def _record(self, received: Received) -> None:
        with self._changed:
            self.received.append(received)
            self._changed.notify_all()


@contextmanager
def receiving(answers: Sequence[int] = (), *, delay_first: int = 0) -> Iterator[Receiver]:
    """A receiver on a free port of 127.0.0.1, for the block."""
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver = state["receiver"]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {key.lower(): value for key, value in self.headers.items()}
            if receiver.holding:
                receiver._record(Received(headers, body, None, time.monotonic()))
                receiver._released.wait(60)
                return  # never answered: the sender is gone by now
            with receiver._changed:
                delayed = receiver.delay_first > 0
                receiver.delay_first -= delayed
            if delayed:
                receiver._record(Received(headers, body, None, time.monotonic()))
                receiver._released.wait(60)
            status = receiver.answers.pop(0) if receiver.answers else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            receiver._record(Received(headers, body, status, time.monotonic()))

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(
        url=f"http://127.0.0.1:{server.server_address[1]}/hook",
        answers=list(answers),
        delay_first=delay_first,
    )
    state["receiver"] = receiver
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release()
        server.shutdown()
        server.server_close()
        thread.join(10)
