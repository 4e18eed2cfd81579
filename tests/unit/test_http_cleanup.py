"""The server's scheduled jobs: each runs on its interval and survives failures."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from salesbot_http.cleanup import run_periodically


async def test_cleanup_runs_every_interval_and_survives_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs = 0
    ran_three_times = asyncio.Event()

    async def cleanup() -> int:
        nonlocal runs
        runs += 1
        if runs >= 3:
            ran_three_times.set()
        if runs == 1:
            raise RuntimeError("database hiccup")
        return 2

    with caplog.at_level(logging.INFO, logger="salesbot_http.cleanup"):
        task = asyncio.create_task(
            run_periodically(cleanup, timedelta(milliseconds=10), done="cleanup deleted %d tokens")
        )
        await asyncio.wait_for(ran_three_times.wait(), timeout=5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    assert runs >= 3
    assert any("job failed" in r.message and r.exc_info for r in caplog.records)
    assert any("deleted 2" in r.getMessage() for r in caplog.records)
