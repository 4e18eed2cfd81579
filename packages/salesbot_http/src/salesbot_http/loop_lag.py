"""Opt-in event-loop lag logging (``LOOP_LAG_LOG_MS``): a heartbeat on the worker's event loop
and a watchdog thread that, while the loop is later than the threshold, logs the stack of every
thread, the stalled loop's among them, so a stall is caught while it lasts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator

logger = logging.getLogger(__name__)

# The innermost frames of each thread: where it is, not how it got there.
MAX_FRAMES = 80


def thread_stacks(loop_thread: int | None = None, limit: int = MAX_FRAMES) -> str:
    """Every thread's stack (innermost ``limit`` frames), named; ``loop_thread`` is marked."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    parts = []
    for ident, frame in sys._current_frames().items():
        mark = " (the event loop)" if ident == loop_thread else ""
        stack = "".join(traceback.format_list(traceback.extract_stack(frame, limit=limit)[::-1]))
        parts.append(f"thread {names.get(ident, ident)}{mark}, innermost frame first:\n{stack}")
    return "\n".join(parts)


class LoopLagMonitor:
    """The heartbeat runs every quarter of the threshold on the loop; the watchdog thread
    wakes as often and logs once per stall, during it (``the event loop is N ms late``, with
    every thread's stack); the heartbeat logs how late the loop was once it runs again."""

    def __init__(self, threshold_s: float) -> None:
        self._threshold_s = threshold_s
        self._tick_s = threshold_s / 4
        self._beat = time.monotonic()
        self._reported = -1.0
        self._loop_thread: int | None = None
        self._stopping = threading.Event()

    def late_s(self, now: float, beat: float) -> float:
        return now - beat - self._tick_s

    async def heartbeat(self) -> None:
        self._loop_thread = threading.get_ident()
        self._beat = time.monotonic()
        while True:
            beat = self._beat
            await asyncio.sleep(self._tick_s)
            # The new beat first: the watchdog must not take the logging below for a stall.
            now = self._beat = time.monotonic()
            late = self.late_s(now, beat)
            if late > self._threshold_s:
                logger.warning("the event loop was %.0f ms late", late * 1000)

    def watch(self) -> None:
        while not self._stopping.wait(self._tick_s):
            beat = self._beat
            late = self.late_s(time.monotonic(), beat)
            if late > self._threshold_s and beat != self._reported:
                self._reported = beat
                logger.warning(
                    "the event loop is %.0f ms late; every thread's stack:\n%s",
                    late * 1000,
                    thread_stacks(self._loop_thread),
                )

    def stop(self) -> None:
        self._stopping.set()


@contextlib.asynccontextmanager
async def loop_lag_logged(threshold_ms: int) -> AsyncIterator[None]:
    """Log event-loop stalls longer than ``threshold_ms`` while the block runs; 0: nothing is
    started (no task, no thread, no cost)."""
    if threshold_ms <= 0:
        yield
        return
    monitor = LoopLagMonitor(threshold_ms / 1000)
    heartbeat = asyncio.create_task(monitor.heartbeat(), name="salesbot-loop-lag-heartbeat")
    watchdog = threading.Thread(target=monitor.watch, name="salesbot-loop-lag-watch", daemon=True)
    watchdog.start()
    try:
        yield
    finally:
        monitor.stop()
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
        await asyncio.to_thread(watchdog.join, 5)
