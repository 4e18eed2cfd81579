"""The opt-in event-loop lag log: a stall longer than the threshold is logged while it lasts,
with the stalled loop's frames, and again when the loop runs; off, nothing is started. And the
stall it found: the assistant is built at start-up, not by the first request."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path

import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient

from salesbot_core.testing import ScriptedAssistant
from salesbot_http.app import create_app
from salesbot_http.container import build_container
from salesbot_http.loop_lag import loop_lag_logged
from salesbot_http.settings import Settings, settings_from_env

THRESHOLD_MS = 40
STALL_S = 0.4  # ten times the threshold
WITHIN_S = 30.0


def _hold_the_loop_like_a_stall(seconds: float) -> None:
    time.sleep(seconds)  # blocking on purpose: this is the stall the log must catch


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "salesbot_http.loop_lag"]


async def test_a_stall_is_logged_with_the_stalled_loops_frames(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="salesbot_http.loop_lag")
    async with loop_lag_logged(THRESHOLD_MS):
        await asyncio.sleep(0)  # the heartbeat has begun
        _hold_the_loop_like_a_stall(STALL_S)
        deadline = time.monotonic() + WITHIN_S
        while not any(" was " in m for m in _messages(caplog)):
            assert time.monotonic() < deadline, _messages(caplog)
            await asyncio.sleep(0.01)

    during = [m for m in _messages(caplog) if m.startswith("the event loop is ")]
    assert len(during) == 1, during  # once per stall
    loop_stack = during[0].split("(the event loop), innermost frame first:\n", 1)[1]
    innermost = loop_stack.split("\n  File ", 2)[0]
    assert "_hold_the_loop_like_a_stall" in innermost
    assert "thread salesbot-loop-lag-watch" in during[0]
    after = [m for m in _messages(caplog) if m.startswith("the event loop was ")]
    late_ms = float(after[0].split()[4])
    assert THRESHOLD_MS < late_ms < STALL_S * 1000 + WITHIN_S * 1000


async def test_off_it_starts_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="salesbot_http.loop_lag")
    threads, tasks = threading.active_count(), len(asyncio.all_tasks())
    async with loop_lag_logged(0):
        assert (threading.active_count(), len(asyncio.all_tasks())) == (threads, tasks)
        _hold_the_loop_like_a_stall(0.1)
    assert _messages(caplog) == []


def test_the_setting_is_read_and_off_by_default(tmp_path: Path) -> None:
    base = {"SALESBOT_DATA_DIR": str(tmp_path)}
    assert settings_from_env(base).loop_lag_log_ms == 0
    assert settings_from_env({**base, "LOOP_LAG_LOG_MS": "100"}).loop_lag_log_ms == 100


async def test_the_assistant_is_built_when_the_app_starts_not_by_a_request() -> None:
    """Building the OpenAI client imports and loads enough to stall a worker's loop for a
    visible time; the app does it before it serves anything."""
    settings = Settings(
        database_url="postgresql://unused@localhost/unused",
        jwt_secret="test-access-secret-" + "a" * 64,
        jwt_refresh_secret="test-refresh-secret-of-at-least-32-bytes",
    )
    container = build_container(settings)
    built: list[ScriptedAssistant] = []

    def assistant() -> ScriptedAssistant:
        built.append(ScriptedAssistant())
        return built[-1]

    container.assistants.assistant.override(providers.Singleton(assistant))
    app = create_app(container, run_scheduled_jobs=False)
    assert built == []
    async with AsyncTestClient(app):
        assert len(built) == 1
