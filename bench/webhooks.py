"""Webhook delivery under a steady rate of sends: throughput and lag (event committed → receiver).

`salesbot serve` (the offline assistant, its own process) on a scratch database, with
`WEBHOOK_URLS` pointing at an aiohttp receiver in this process; sends arrive open-loop at
``--rate`` per second for ``--seconds``, each starting a new conversation, so each makes one
`conversation.created` event (every few exchanges' distillation adds lead events too, in longer
conversations; here none, to count one event per send). Lag is the receiver's clock at arrival
minus the event's `occurredAt` (the exchange's time, taken just before its commit), both from
this machine's clock.

    uv run python bench/webhooks.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
from aiohttp import web

from scratch import PASSWORD, scratch_database

SECRET = "bench-webhook-secret-" + "w" * 32


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--database-url", help="a PostgreSQL server for the scratch database")
    parser.add_argument("--rate", type=float, default=200.0, help="sends per second [200]")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to send [20]")
    parser.add_argument("--workers", type=int, default=2, help="salesbot serve --workers [2]")
    parser.add_argument("--in-flight", type=int, default=64, help="most sends at once [64]")
    parser.add_argument("--poll", default="0.2", help="WEBHOOK_POLL_INTERVAL_S [0.2]")
    parser.add_argument("--concurrency", default="10", help="WEBHOOK_CONCURRENCY [10]")
    return parser.parse_args()


class Receiver:
    """An aiohttp receiver on its own thread and loop: records each delivery's lag."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.deliveries: set[str] = set()
        self.duplicates = 0
        self.first_at: float | None = None
        self.last_at = 0.0
        self._ready = threading.Event()
        self.port = 0

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.json()
        now = time.time()
        self.first_at = self.first_at or now
        self.last_at = now
        if body["id"] in self.deliveries:
            self.duplicates += 1
        else:
            self.deliveries.add(body["id"])
            self.lags.append(now - datetime.fromisoformat(body["occurredAt"]).timestamp())
        return web.Response(status=204)

    def run(self) -> None:
        async def main() -> None:
            app = web.Application()
            app.router.add_post("/hook", self._hook)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._ready.set()
            await asyncio.Event().wait()

        threading.Thread(target=lambda: asyncio.run(main()), daemon=True).start()
        self._ready.wait(10)


@contextlib.contextmanager
def serving(url: str, hook: str, options: argparse.Namespace) -> Iterator[str]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    data_dir = Path(tempfile.mkdtemp(prefix="salesbot-bench-hooks-"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "WEBHOOK_"))},
        "DATABASE_URL": url,
        "JWT_SECRET": "bench-access-secret-" + "a" * 40,
        "JWT_REFRESH_SECRET": "bench-refresh-secret-" + "b" * 40,
        "JWT_EXPIRES_IN": "2h",
        "BCRYPT_ROUNDS": "4",
        "LOG_LEVEL": "WARNING",
        "SALESBOT_DATA_DIR": str(data_dir),
        "SHUTDOWN_TIMEOUT_S": "10",
        "WEBHOOK_URLS": hook,
        "WEBHOOK_SECRET": SECRET,
        "WEBHOOK_POLL_INTERVAL_S": options.poll,
        "WEBHOOK_CONCURRENCY": options.concurrency,
    }
    command = [
        str(Path(sys.executable).parent / "salesbot"),
        "serve",
        "--port",
        str(port),
        "--workers",
        str(options.workers),
    ]
    process = subprocess.Popen(command, env=env)  # noqa: S603 - our own CLI
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("salesbot serve did not come up")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(data_dir, ignore_errors=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def drive(base: str, options: argparse.Namespace) -> tuple[int, int, float]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        email = f"bench-{time.time_ns()}@example.com"
        registered = await client.post(
            "/users/register", json={"email": email, "password": PASSWORD, "name": "Bench Buyer"}
        )
        registered.raise_for_status()
        login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
        login.raise_for_status()
        auth = {"Authorization": f"Bearer {login.json()['data']['accessToken']}"}
        slots = asyncio.Semaphore(options.in_flight)
        ok = failed = 0

        async def send() -> None:
            nonlocal ok, failed
            async with slots:
                try:
                    answer = await client.post(
                        "/chat/send", json={"content": "I need a laptop"}, headers=auth
                    )
                except httpx.HTTPError:
                    failed += 1
                    return
            ok, failed = (ok + 1, failed) if answer.status_code == 201 else (ok, failed + 1)

        total = int(options.rate * options.seconds)
        began = time.monotonic()
        tasks = []
        for n in range(total):
            await asyncio.sleep(max(0.0, began + n / options.rate - time.monotonic()))
            tasks.append(asyncio.create_task(send()))
        await asyncio.gather(*tasks)
        return ok, failed, time.monotonic() - began


def main() -> None:
    options = arguments()
    receiver = Receiver()
    receiver.run()
    hook = f"http://127.0.0.1:{receiver.port}/hook"
    with scratch_database(options.database_url) as url, serving(url, hook, options) as base:
        sent_at = time.time()
        ok, failed, took = asyncio.run(drive(base, options))
        deadline = time.monotonic() + 120
        while len(receiver.deliveries) < ok and time.monotonic() < deadline:
            time.sleep(0.1)
    lags = receiver.lags
    span = receiver.last_at - (receiver.first_at or sent_at)
    print(
        f"sends: {ok} ok, {failed} failed in {took:.1f} s = {ok / took:.0f}/s (asked {options.rate:g}/s)"
    )
    print(
        f"deliveries: {len(receiver.deliveries)} of {ok} events, {receiver.duplicates} duplicates,"
        f" {len(receiver.deliveries) / span if span else 0:.0f}/s from first to last"
    )
    if lags:
        print(
            "lag committed → receiver:"
            f" p50 {statistics.median(lags) * 1000:.0f} ms,"
            f" p95 {percentile(lags, 95) * 1000:.0f} ms,"
            f" p99 {percentile(lags, 99) * 1000:.0f} ms,"
            f" max {max(lags) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
