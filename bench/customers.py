"""The customers of ``bench/load.py --scenario customers``: each one sends a message into its own
conversation, waits for the reply, pauses, and sends the next, as a person at a chat window does.

Run by ``load.py`` in its own process (so its CPU and its event loop are its own), it reads a
JSON plan on stdin and writes one JSON line of records on stdout. Not meant to be run by hand.

Each message is tagged ``[c<customer> e<exchange>]`` so the LLM fake can tell which exchange a
call belongs to. Every exchange is timed from just before the request is sent to the end of the
response body, on ``time.monotonic()`` (CLOCK_MONOTONIC, the same clock in every process here).
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from typing import Any

import aiohttp

LAG_TICK_S = 0.05


async def customer(
    session: aiohttp.ClientSession,
    plan: dict[str, Any],
    index: int,
    token: str,
    conversation: str,
    stop_at: float,
    records: list[list[Any]],
) -> None:
    # Customers arrive spread over one exchange's length, not all in the same millisecond.
    await asyncio.sleep(random.uniform(0, plan["ramp_s"]))
    headers = {"Authorization": f"Bearer {token}"}
    for exchange in range(1, plan["exchanges"] + 1):
        if time.monotonic() >= stop_at:
            return
        body = {"content": f"[c{index} e{exchange}] {plan['text']}", "conversationId": conversation}
        started = time.monotonic()
        status = 0
        try:
            async with session.post(f"{plan['base']}/chat/send", json=body, headers=headers) as r:
                await r.read()
                status = r.status
        except (aiohttp.ClientError, TimeoutError):
            status = -1
        records.append([index, exchange, started, time.monotonic(), status])
        await asyncio.sleep(plan["pause_s"])


async def loop_lag(stop: asyncio.Event, lags: list[float]) -> None:
    """How late this process's own event loop wakes up: if it is late, the figures are too."""
    while not stop.is_set():
        before = time.monotonic()
        await asyncio.sleep(LAG_TICK_S)
        lags.append(time.monotonic() - before - LAG_TICK_S)


async def drive(plan: dict[str, Any]) -> dict[str, Any]:
    random.seed(plan["seed"])
    records: list[list[Any]] = []
    lags: list[float] = []
    stop = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0)  # one connection per customer, never a queue
    timeout = aiohttp.ClientTimeout(total=plan["timeout_s"])
    cpu_before, started = time.process_time(), time.monotonic()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        lag = asyncio.create_task(loop_lag(stop, lags))
        stop_at = started + plan["duration_s"]
        await asyncio.gather(
            *(
                customer(session, plan, index, token, conversation, stop_at, records)
                for index, (token, conversation) in enumerate(plan["customers"])
            )
        )
        stop.set()
        await lag
    return {
        "records": records,
        "seconds": time.monotonic() - started,
        "cpu_s": time.process_time() - cpu_before,
        "lags": lags,
    }


def main() -> None:
    plan = json.loads(sys.stdin.read())
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(drive(plan))
    else:
        result = uvloop.run(drive(plan))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
