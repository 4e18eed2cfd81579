"""The service's own CPU per request, in one process: the real app (routing, auth, use cases,
PostgreSQL adapter, OpenAI adapter) driven through ASGI calls, with the LLM fake in a process of
its own and the database on a PostgreSQL server, so the CPU counted is the app's alone.

    uv run python bench/send_cpu.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

It prints CPU milliseconds per `POST /chat/send` (every third distils, in the background:
the distillations are waited for and counted), per history page, per conversation list, and
per call of the LLM adapter's ``reply`` alone (what the openai SDK costs a send: a send makes
1⅓ such calls, its own and a third of a distillation), each the median of ``--rounds`` rounds. Unlike `bench/load.py` there is no HTTP server, client
or other process on the same CPU clock: a figure moves when the app's own work does, and far
less with what else the machine is doing, so it suits before/after comparisons of a change.
``--profile PREFIX`` writes a cProfile (CPU time) of each request's rounds to PREFIX-send.prof,
PREFIX-history.prof, PREFIX-list.prof and PREFIX-reply.prof.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import uvloop
from litestar import Litestar

sys.path.insert(0, str(Path(__file__).parent))

from load import MESSAGES_PER_CONVERSATION, PASSWORD, seed
from salesbot_core.ports import ReplyRequest
from salesbot_http.app import create_app
from salesbot_http.container import build_container
from salesbot_http.settings import settings_from_env
from scratch import scratch_database

FAKE = """
import sys, threading
from salesbot_openai.testing import FakeOpenAIServer
with FakeOpenAIServer(record=False) as server:
    print(server.base_url, flush=True)
    sys.stdin.read()
"""


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a PostgreSQL server [default: an embedded one]")
    parser.add_argument("--customers", type=int, default=16, help="customers sending at once [16]")
    parser.add_argument("--sends", type=int, default=300, help="sends per round [300]")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per figure [5]")
    parser.add_argument("--profile", help="write cProfiles to PREFIX-{send,history,list}.prof")
    return parser.parse_args()


@contextlib.contextmanager
def fake_llm() -> Iterator[str]:
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and fake
        [sys.executable, "-c", FAKE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)


class Asgi:
    """Requests straight into the app: no server, no client, nothing but the app on the clock."""

    def __init__(self, app: Litestar) -> None:
        self._app = app

    async def __call__(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, bytes]:
        """The status and the raw body (decoding it is the client's work, left off the clock)."""
        raw = json.dumps(body).encode() if body is not None else b""
        path, _, query = path.partition("?")
        headers = [(b"host", b"bench"), (b"content-length", str(len(raw)).encode())]
        if body is not None:
            headers.append((b"content-type", b"application/json"))
        if token:
            headers.append((b"authorization", f"Bearer {token}".encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 3000),
        }
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self._app(scope, receive, send)  # type: ignore[arg-type]
        return status, b"".join(chunks)


async def run(options: argparse.Namespace, url: str, llm: str) -> None:
    env = {
        "DATABASE_URL": url,
        "OPENAI_API_KEY": "cpu-benchmark",
        "OPENAI_BASE_URL": llm,
        "JWT_SECRET": "cpu-access-secret-" + "a" * 40,
        "JWT_REFRESH_SECRET": "cpu-refresh-secret-" + "b" * 40,
        "JWT_EXPIRES_IN": "2h",
        "BCRYPT_ROUNDS": "4",
        "LOG_LEVEL": "WARNING",
    }
    container = build_container(settings_from_env(env))
    try:
        app = create_app(container, run_scheduled_jobs=False)
    except TypeError:  # older code had no scheduled jobs to leave out
        app = create_app(container)
    call = Asgi(app)
    emails = seed(
        url,
        options.customers,
        conversations=2,
        messages=MESSAGES_PER_CONVERSATION,
        hash_rounds=4,
    )
    async with app.lifespan():
        customers: list[tuple[str, str]] = []
        for email in emails:
            status, body = await call("POST", "/auth/login", {"email": email, "password": PASSWORD})
            assert status == 200, body
            token = json.loads(body)["data"]["accessToken"]
            status, listed = await call("GET", "/chat/conversations", token=token)
            assert status == 200, listed
            customers.append((token, json.loads(listed)["data"][0]["id"]))
        # Older code distilled inside the exchange: nothing to wait for.
        runner = getattr(container.usecases, "distillations", None)
        distillations = runner() if runner is not None else None

        async def together(count: int, one: Callable[[str, str, int], Awaitable[None]]) -> None:
            """``count`` requests, shared out among the customers, each sending one at a time."""

            async def customer(token: str, conversation: str) -> None:
                for index in range(count // len(customers)):
                    await one(token, conversation, index)

            await asyncio.gather(*(customer(t, c) for t, c in customers))

        async def send(token: str, conversation: str, index: int) -> None:
            body = {"content": f"Tell me more, item {index}", "conversationId": conversation}
            status, answer = await call("POST", "/chat/send", body, token)
            assert status in {200, 201}, answer

        async def sends(count: int) -> None:
            await together(count, send)
            if distillations is not None:
                await distillations.drain(60)

        async def pages(path: Callable[[str], str], count: int) -> None:
            async def page(token: str, conversation: str, _: int) -> None:
                status, answer = await call("GET", path(conversation), token=token)
                assert status == 200, answer

            await together(count, page)

        def history(conversation: str) -> str:
            return f"/chat/conversations/{conversation}/history"

        def listing(_: str) -> str:
            return "/chat/conversations"

        assistants = getattr(container, "assistants", None)  # older code wired it elsewhere
        assistant = assistants.assistant() if assistants is not None else None
        # What the openai SDK alone costs: the adapter's reply call, nothing around it.
        request = ReplyRequest(customer_message="Tell me more", catalogue_loaded=True)

        async def reply(_token: str, _conversation: str, _index: int) -> None:
            await assistant.reply(request)  # type: ignore[union-attr]

        scenarios: list[tuple[str, str, Callable[[], Any]]] = [
            ("POST /chat/send", "send", lambda: sends(options.sends)),
            ("GET history", "history", lambda: pages(history, options.sends)),
            ("GET /chat/conversations", "list", lambda: pages(listing, options.sends)),
        ]
        if assistant is not None:
            scenarios.append(
                (
                    "the LLM adapter's reply call alone",
                    "reply",
                    lambda: together(options.sends, reply),
                )
            )
        await sends(len(customers) * 3)  # warm-up: pools, prepared statements
        await pages(history, len(customers) * 3)
        await report(scenarios, options)


async def report(
    scenarios: list[tuple[str, str, Callable[[], Any]]], options: argparse.Namespace
) -> None:
    """Each scenario's CPU per request over ``options.rounds`` rounds, and its profile."""
    print(
        f"{os.cpu_count()} cores; {options.customers} customers at once; "
        f"{options.sends} requests per round, {options.rounds} rounds"
    )
    print("| request | CPU ms per request (median) | min | max | requests/s (wall) |")
    print("|---|---:|---:|---:|---:|")
    for name, key, scenario in scenarios:
        profile = cProfile.Profile(time.process_time) if options.profile else None
        cpu: list[float] = []
        rates: list[float] = []
        for _ in range(options.rounds):
            if profile is not None:
                profile.enable()
            started, wall = time.process_time(), time.perf_counter()
            await scenario()
            cpu.append((time.process_time() - started) * 1000 / options.sends)
            rates.append(options.sends / (time.perf_counter() - wall))
            if profile is not None:
                profile.disable()
        print(
            f"| {name} | {statistics.median(cpu):.3f} | {min(cpu):.3f} | {max(cpu):.3f} "
            f"| {statistics.median(rates):.0f} |"
        )
        if profile is not None:
            profile.dump_stats(f"{options.profile}-{key}.prof")


def main() -> None:
    options = arguments()
    with scratch_database(options.database_url) as url, fake_llm() as llm:
        uvloop.run(run(options, url, llm))


if __name__ == "__main__":
    main()
