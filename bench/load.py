"""Load on the real service: `salesbot serve` on granian, PostgreSQL, a zero-latency
OpenAI-compatible fake, and wrk, all on this machine.

    uv run python bench/load.py [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
                                [--workers 2] [--connections 16] [--duration 15] [--soak 600]
    uv run python bench/load.py --scenario customers [--customers 256] [--llm-latency 1.0]
                                [--pause 1.0] [--duration 60] [--exchanges 30]

It creates a scratch database (on the given server, or on an embedded one started for the run),
seeds customers (one bcrypt hash at the service's cost, shared by all) and conversations of 20
messages with SQL, starts the fake LLM (``salesbot_openai.testing.FakeOpenAIServer``, answering
at once, in this process) and ``salesbot serve --workers N`` as a subprocess pointed at both,
logs every customer in over HTTP, and then drives wrk (``bench/replay.lua`` replays a file of
prepared requests, each customer's own token and conversations) at:

- ``POST /chat/send`` into the customers' conversations (every third exchange also distils);
- ``GET /chat/conversations/:id/history`` (the default page);
- ``GET /chat/conversations`` (the default page);
- ``POST /auth/login`` (bcrypt at BCRYPT_ROUNDS, the service's default 12 unless given);
- history again while 20 connections log in without pause (is the event loop still free?);
- with ``--soak SECONDS``, sends and history reads mixed for that long, with the resident memory
  of the server's processes sampled every ``--sample`` seconds.

Before each scenario it vacuums and checkpoints the scratch database, so one scenario's writes
are not cleaned up during the next. For each it prints requests/s, p50, p90, p99, max and errors
(connection errors, timeouts and responses of status 400 or more), and the CPU time a request
cost the server's processes and the whole machine (steadier from run to run than the rates on a
machine this small). Needs ``wrk`` on the PATH (Debian: ``apt-get install wrk``).

``--scenario customers`` is the other kind of load: people at chat windows. Each of
``--customers`` customers (logged in beforehand, one empty conversation each) sends a message,
waits for the reply, pauses ``--pause`` seconds and sends the next, for at most ``--exchanges``
exchanges and no new one after ``--duration`` seconds; the LLM fake answers every call (reply,
distillation) after ``--llm-latency`` seconds. The customers are ``bench/customers.py``, an
aiohttp client in its own process. It prints requests/s, the CPU per request (server, machine,
client), latency by exchange number (every third exchange distils), and, from the times the
fake saw each call arrive and leave, where an exchange's time went outside the LLM's wait.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import psycopg

from salesbot_openai.testing import Delay, FakeOpenAIServer, RequestKind
from salesbot_openai.testing.server import classify
from scratch import PASSWORD, scratch_database

HERE = Path(__file__).resolve().parent
REPLAY = HERE / "replay.lua"
MESSAGES_PER_CONVERSATION = 20
CONTENDING_LOGINS = 20
SEND_TEXT = "Do you have a lighter laptop for design work, under 1500 euros?"

SEED_CONVERSATIONS = """
INSERT INTO conversations (id, user_id, title, metadata, messages_since_context_update,
                           message_count, distilled_through, created_at, updated_at)
SELECT gen_random_uuid(), u.id, 'Laptops for design ' || c, %(metadata)s::jsonb, %(counter)s,
       %(messages)s, %(distilled)s, now() - c * interval '1 minute', now() - c * interval '1 minute'
FROM users AS u, generate_series(1, %(per_user)s) AS c
"""
SEED_MESSAGES = """
INSERT INTO messages (id, conversation_id, seq, sender, content, created_at)
SELECT gen_random_uuid(), v.id, s,
       CASE WHEN s %% 2 = 1 THEN 'user'::message_sender ELSE 'bot'::message_sender END,
       CASE WHEN s %% 2 = 1
            THEN 'Message ' || s || ': what about a laptop for design under 1500 euros?'
            ELSE 'Message ' || s || ': ' || repeat('The MacBook Air has a bright screen. ', 8)
       END,
       v.created_at + s * interval '1 second'
FROM conversations AS v, generate_series(1, %(messages)s) AS s
"""
METADATA = {
    "interests": ["laptops", "design work"],
    "offeredProducts": ["MacBook Air 13"],
    "rejectedProducts": [],
    "saleStatus": "interested",
    "lastIntent": "compare laptops for design",
}


@dataclass(frozen=True)
class Customer:
    email: str
    token: str
    conversations: tuple[str, ...]


@dataclass(frozen=True)
class Result:
    name: str
    connections: int
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    # CPU per request while the scenario ran: the server's processes, and the whole machine
    # (server, PostgreSQL, the LLM fake and wrk together); None where not measured.
    server_cpu_ms: float | None = None
    machine_cpu_ms: float | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def row(self) -> str:
        cpu = " | ".join(
            f"{value:.2f}" if value is not None else ""
            for value in (self.server_cpu_ms, self.machine_cpu_ms)
        )
        return (
            f"| {self.name} | {self.connections} | {self.rate:,.0f} | {self.p50_ms:.1f} | "
            f"{self.p90_ms:.1f} | {self.p99_ms:.1f} | {self.max_ms:.1f} | {self.errors} | {cpu} |"
        )


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server to create the scratch database on [default: an embedded one]",
    )
    parser.add_argument("--workers", type=int, default=2, help="serve --workers [2]")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections [16]")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads [2]")
    parser.add_argument(
        "--scenario",
        choices=("throughput", "customers"),
        default="throughput",
        help="throughput: wrk at full speed on each route (the scenarios below); customers: "
        "customers who chat, each waiting for the reply and pausing before the next message",
    )
    parser.add_argument(
        "--duration", type=int, help="seconds per scenario [15; customers: 60, then no new send]"
    )
    parser.add_argument("--customers", type=int, help="seeded customers [64; customers: 256]")
    parser.add_argument(
        "--llm-latency",
        type=float,
        help="seconds the LLM fake takes to answer each call [0; customers: 1.0]",
    )
    parser.add_argument(
        "--pause",
        type=float,
        default=1.0,
        help="customers: seconds between a reply and the customer's next message [1.0]",
    )
    parser.add_argument(
        "--exchanges", type=int, default=30, help="customers: at most this many per customer [30]"
    )
    parser.add_argument(
        "--conversations", type=int, default=4, help="conversations per customer [4]"
    )
    parser.add_argument(
        "--bcrypt-rounds", type=int, default=12, help="BCRYPT_ROUNDS for the service [12]"
    )
    parser.add_argument("--soak", type=int, default=0, help="seconds of soak [0: none]")
    parser.add_argument("--sample", type=int, default=30, help="soak: seconds between samples")
    parser.add_argument(
        "--only", help="comma-separated scenarios: send,history,list,login,contention"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    options = parser.parse_args()
    customers = options.scenario == "customers"
    for name, throughput, chatting in (
        ("duration", 15, 60),
        ("customers", 64, 256),
        ("llm_latency", 0.0, 1.0),
    ):
        if getattr(options, name) is None:
            setattr(options, name, chatting if customers else throughput)
    return options


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def seed(
    url: str, customers: int, *, conversations: int, messages: int, hash_rounds: int
) -> list[str]:
    """Customers with conversations of ``messages`` messages each; their emails."""
    password_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=hash_rounds)).decode()
    emails = [f"load{index:04d}@example.com" for index in range(customers)]
    counter = messages % 6
    with psycopg.connect(url, autocommit=True) as connection:
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO users (id, email, password_hash, name) VALUES (%s, %s, %s, %s)",
                [(uuid.uuid4(), email, password_hash, "Load Customer") for email in emails],
            )
        connection.execute(
            SEED_CONVERSATIONS,
            {
                "metadata": json.dumps(METADATA),
                "counter": counter,
                "messages": messages,
                "distilled": messages - counter,
                "per_user": conversations,
            },
        )
        connection.execute(SEED_MESSAGES, {"messages": messages})
        connection.execute("ANALYZE")
    return emails


def settle(url: str) -> None:
    """Clean up after a scenario before the next one starts: vacuum what the writes left
    behind and flush it to disk now, so autovacuum and the checkpointer do not run during (and
    stretch the tail of) the next scenario."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE) conversations, messages, refresh_tokens")
        try:
            connection.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            print("(no CHECKPOINT between scenarios: the role may not run it)", flush=True)
    time.sleep(1)


def salesbot_command() -> str:
    found = Path(sys.executable).parent / "salesbot"
    return str(found) if found.exists() else "salesbot"


@contextlib.contextmanager
def running_service(
    url: str, llm: FakeOpenAIServer, options: argparse.Namespace
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="salesbot-load-"))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "OPENAI_API_KEY": "load-benchmark",
        "OPENAI_BASE_URL": llm.base_url,
        "JWT_SECRET": "load-access-secret-" + "a" * 40,
        "JWT_REFRESH_SECRET": "load-refresh-secret-" + "b" * 40,
        "JWT_EXPIRES_IN": "2h",
        "BCRYPT_ROUNDS": str(options.bcrypt_rounds),
        "LOG_LEVEL": "WARNING",
        "SALESBOT_DATA_DIR": str(data_dir),
        "SHUTDOWN_TIMEOUT_S": "10",
    }
    command = [salesbot_command(), "serve", "--port", str(port), "--workers", str(options.workers)]
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
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(data_dir, ignore_errors=True)


def log_in(base: str, emails: list[str]) -> list[Customer]:
    customers = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for email in emails:
            login = client.post("/auth/login", json={"email": email, "password": PASSWORD})
            login.raise_for_status()
            token = login.json()["data"]["accessToken"]
            listed = client.get("/chat/conversations", headers={"Authorization": f"Bearer {token}"})
            listed.raise_for_status()
            ids = tuple(item["id"] for item in listed.json()["data"])
            customers.append(Customer(email, token, ids))
    return customers


def write_requests(directory: Path, name: str, lines: list[tuple[str, str, str, str]]) -> Path:
    path = directory / f"{name}.tsv"
    path.write_text("".join("\t".join(line) + "\n" for line in lines), encoding="utf-8")
    return path


def request_files(directory: Path, customers: list[Customer]) -> dict[str, Path]:
    sends, histories, lists, logins = [], [], [], []
    # Interleaved by customer, so consecutive requests touch different rows.
    for round_ in range(max(len(c.conversations) for c in customers)):
        for customer in customers:
            if round_ >= len(customer.conversations):
                continue
            conversation = customer.conversations[round_]
            body = json.dumps({"content": SEND_TEXT, "conversationId": conversation})
            sends.append(("POST", "/chat/send", customer.token, body))
            histories.append(
                ("GET", f"/chat/conversations/{conversation}/history", customer.token, "")
            )
    for customer in customers:
        lists.append(("GET", "/chat/conversations", customer.token, ""))
        login = json.dumps({"email": customer.email, "password": PASSWORD})
        logins.append(("POST", "/auth/login", "", login))
    mixed = [line for pair in zip(sends, histories, strict=True) for line in pair]
    return {
        "send": write_requests(directory, "send", sends),
        "history": write_requests(directory, "history", histories),
        "list": write_requests(directory, "list", lists),
        "login": write_requests(directory, "login", logins),
        "mixed": write_requests(directory, "mixed", mixed),
    }


def wrk_command(
    base: str, requests: Path, *, connections: int, threads: int, seconds: int
) -> list[str]:
    return [
        "wrk",
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(REPLAY),
        base,
        "--",
        str(requests),
    ]


def parse(name: str, connections: int, output: str) -> Result:
    line = next(line for line in reversed(output.splitlines()) if line.startswith("{"))
    figures = json.loads(line)
    errors = sum(figures[key] for key in ("connect", "read", "write", "status", "timeout"))
    return Result(
        name=name,
        connections=connections,
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        errors=errors,
        p50_ms=figures["p50_us"] / 1000,
        p90_ms=figures["p90_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        max_ms=figures["max_us"] / 1000,
    )


TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pids: list[int]) -> float:
    """User and system CPU seconds the processes ``pids`` have used so far."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / TICKS_PER_S


def machine_cpu_s() -> float:
    """CPU seconds every core of the machine has spent busy (not idle or waiting) so far."""
    fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / TICKS_PER_S


def run_wrk(
    name: str,
    base: str,
    requests: Path,
    *,
    connections: int,
    threads: int,
    seconds: int,
    server: int | None = None,
) -> Result:
    """One wrk run; with ``server`` (the service's pid) also the CPU each request cost."""
    command = wrk_command(base, requests, connections=connections, threads=threads, seconds=seconds)
    pids = process_tree(server) if server is not None else []
    server_before, machine_before = process_cpu_s(pids), machine_cpu_s()
    done = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    result = parse(name, connections, done.stdout)
    if server is None or not result.requests:
        return result
    return replace(
        result,
        server_cpu_ms=(process_cpu_s(pids) - server_before) * 1000 / result.requests,
        machine_cpu_ms=(machine_cpu_s() - machine_before) * 1000 / result.requests,
    )


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


def resident_mb(pids: list[int]) -> float:
    total_kb = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
    return total_kb / 1024


def soak(
    base: str, process: subprocess.Popen[bytes], files: dict[str, Path], options: argparse.Namespace
) -> None:
    print(f"\nsoak: send + history mixed, {options.connections} connections, {options.soak} s")
    command = wrk_command(
        base,
        files["mixed"],
        connections=options.connections,
        threads=options.threads,
        seconds=options.soak,
    )
    samples: list[tuple[float, float]] = []
    started = time.monotonic()
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as load:  # noqa: S603
        while load.poll() is None:
            samples.append((time.monotonic() - started, resident_mb(process_tree(process.pid))))
            print(f"  {samples[-1][0]:6.0f} s  {samples[-1][1]:8.1f} MB resident", flush=True)
            with contextlib.suppress(subprocess.TimeoutExpired):
                load.wait(timeout=options.sample)
        output = load.stdout.read() if load.stdout else ""
    samples.append((time.monotonic() - started, resident_mb(process_tree(process.pid))))
    result = parse("soak (send + history)", options.connections, output)
    print_table([result])
    first, last = samples[0][1], samples[-1][1]
    peak = max(mb for _, mb in samples)
    # Growth after the first tenth of the run: allocators and caches settle early.
    settled = next((mb for seconds, mb in samples if seconds >= options.soak / 10), first)
    print(
        f"resident memory of the server's processes: first {first:.1f} MB, after a tenth "
        f"{settled:.1f} MB, last {last:.1f} MB, peak {peak:.1f} MB"
    )


def print_table(results: list[Result]) -> None:
    print(
        "| scenario | connections | requests/s | p50 ms | p90 ms | p99 ms | max ms | errors "
        "| server CPU ms/request | machine CPU ms/request |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for result in results:
        print(result.row(), flush=True)


def contention(base: str, files: dict[str, Path], options: argparse.Namespace) -> list[Result]:
    """History reads while CONTENDING_LOGINS connections log in without pause."""
    logins = wrk_command(
        base,
        files["login"],
        connections=CONTENDING_LOGINS,
        threads=1,
        seconds=options.duration + 4,
    )
    with subprocess.Popen(logins, stdout=subprocess.PIPE, text=True) as background:  # noqa: S603
        time.sleep(2)  # the hash threads are busy before the reads start
        reads = run_wrk(
            "history during logins",
            base,
            files["history"],
            connections=options.connections,
            threads=options.threads,
            seconds=options.duration,
        )
        output, _ = background.communicate()
    return [reads, parse("login (contending)", CONTENDING_LOGINS, output)]


def throughput(options: argparse.Namespace) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("bench/load.py needs wrk on the PATH (Debian: apt-get install wrk)")
    chosen = set((options.only or "send,history,list,login,contention").split(","))
    print(
        f"{os.cpu_count()} cores; serve --workers {options.workers}; wrk -t{options.threads} "
        f"-c{options.connections}, {options.duration} s per scenario; "
        f"BCRYPT_ROUNDS={options.bcrypt_rounds}"
    )
    with (
        scratch_database(options.database_url, keep=options.keep) as url,
        FakeOpenAIServer(record=False) as llm,
        tempfile.TemporaryDirectory(prefix="salesbot-load-requests-") as scratch,
    ):
        if options.llm_latency:
            llm.set_default(Delay(options.llm_latency))
        emails = seed(
            url,
            options.customers,
            conversations=options.conversations,
            messages=MESSAGES_PER_CONVERSATION,
            hash_rounds=options.bcrypt_rounds,
        )
        print(
            f"seeded {len(emails)} customers x {options.conversations} conversations x "
            f"{MESSAGES_PER_CONVERSATION} messages"
        )
        with running_service(url, llm, options) as (base, process):
            customers = log_in(base, emails)
            files = request_files(Path(scratch), customers)

            def scenario(name: str, key: str, connections: int) -> Result:
                settle(url)
                return run_wrk(
                    name,
                    base,
                    files[key],
                    connections=connections,
                    threads=options.threads,
                    seconds=options.duration,
                    server=process.pid,
                )

            # Warm-up: connection pools, statement caches, the allocator.
            for key in ("mixed", "list"):
                run_wrk(key, base, files[key], connections=4, threads=1, seconds=3)
            results: list[Result] = []
            if "send" in chosen:
                results.append(scenario("POST /chat/send", "send", options.connections))
            if "history" in chosen:
                results.append(scenario("GET history", "history", options.connections))
            if "list" in chosen:
                results.append(scenario("GET /chat/conversations", "list", options.connections))
            if "login" in chosen:
                results.append(scenario("POST /auth/login", "login", options.connections))
            if "contention" in chosen:
                settle(url)
                results.extend(contention(base, files, options))
            print()
            print_table(results)
            if options.soak:
                soak(base, process, files, options)


# ---------------------------------------------------------------------- the customers scenario

TAG = re.compile(rb"\[c(\d+) e(\d+)\]")


@dataclass(frozen=True)
class Call:
    """One call the LLM fake answered: its kind, the exchange it belongs to, and when (on
    ``time.monotonic()``) it arrived and was answered."""

    kind: RequestKind
    customer: int
    exchange: int
    arrived: float
    answered: float


class TimedFake(FakeOpenAIServer):
    """The LLM fake, also noting each call (see ``Call``) and how many it held at once. The last
    ``[c.. e..]`` tag in a body is the exchange's own message: earlier turns come before it, and
    a distillation's transcript ends with it."""

    def __init__(self) -> None:
        super().__init__(record=False)
        self.calls: list[Call] = []
        self.in_flight = 0
        self.peak_in_flight = 0

    async def _answer(
        self, method: str, path: str, headers: dict[str, str], raw_body: bytes
    ) -> Any:
        arrived = time.monotonic()
        # Only the fake's event loop thread runs this: the counts need no lock.
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return await super()._answer(method, path, headers, raw_body)
        finally:
            self.in_flight -= 1
            tags = TAG.findall(raw_body)
            if path == "/v1/chat/completions" and tags:
                try:
                    kind = classify(json.loads(raw_body))
                except ValueError:  # seen once: a body cut at 128 KiB; count it, not crash
                    kind = RequestKind.REPLY
                customer, exchange = (int(n) for n in tags[-1])
                self.calls.append(Call(kind, customer, exchange, arrived, time.monotonic()))


def sessions_opened(url: str) -> int:
    """Sessions PostgreSQL has established on this database so far (connections opened)."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SELECT pg_stat_clear_snapshot()")
        row = connection.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def latency_row(name: str, seconds: list[float], errors: int = 0) -> str:
    ms = [value * 1000 for value in seconds]
    figures = " | ".join(f"{percentile(ms, q):,.0f}" for q in (50, 90, 99, 100))
    return f"| {name} | {len(ms):,} | {figures} | {errors} |"


def chatting(options: argparse.Namespace) -> None:
    """Customers at chat windows: each sends into its own conversation, waits for the reply,
    pauses, and sends again; the LLM takes ``--llm-latency`` seconds for every call."""
    print(
        f"{os.cpu_count()} cores; serve --workers {options.workers}; {options.customers} "
        f"customers, one conversation each; LLM {options.llm_latency:g} s per call; pause "
        f"{options.pause:g} s; at most {options.exchanges} exchanges each, none started after "
        f"{options.duration} s"
    )
    with scratch_database(options.database_url, keep=options.keep) as url, TimedFake() as llm:
        llm.set_default(Delay(options.llm_latency))
        # Logging in is not measured here: a cheap hash keeps 256 logins quick.
        emails = seed(url, options.customers, conversations=1, messages=0, hash_rounds=4)
        with running_service(url, llm, options) as (base, process):
            customers = log_in(base, emails)
            settle(url)
            plan = {
                "base": base,
                "customers": [[c.token, c.conversations[0]] for c in customers],
                "text": SEND_TEXT,
                "pause_s": options.pause,
                "exchanges": options.exchanges,
                "duration_s": options.duration,
                "ramp_s": options.llm_latency + options.pause,
                "timeout_s": 30,
                "seed": 13,
            }
            pids = process_tree(process.pid)
            sessions_before, llm_connections_before = sessions_opened(url), llm.connections_opened
            server_before, machine_before = process_cpu_s(pids), machine_cpu_s()
            driver = subprocess.run(  # noqa: S603 - our own script
                [sys.executable, str(HERE / "customers.py")],
                input=json.dumps(plan),
                capture_output=True,
                text=True,
                check=True,
            )
            server_cpu_s = process_cpu_s(pids) - server_before
            machine_cpu_s_ = machine_cpu_s() - machine_before
            sessions = sessions_opened(url) - sessions_before
            llm_connections = llm.connections_opened - llm_connections_before
        outcome = json.loads(driver.stdout.splitlines()[-1])
    report_chatting(outcome, llm, server_cpu_s, machine_cpu_s_, options)
    print(
        f"\nduring the run the service opened {sessions} PostgreSQL sessions and "
        f"{llm_connections} connections to the LLM"
    )


def report_chatting(
    outcome: dict[str, Any],
    llm: TimedFake,
    server_cpu_s: float,
    machine_cpu_s_: float,
    options: argparse.Namespace,
) -> None:
    records = [tuple(record) for record in outcome["records"]]
    # Status -1: a client error, or no response within the client's 30 s.
    done = [r for r in records if 200 <= r[4] < 300]
    errors = len(records) - len(done)
    took = {(r[0], r[1]): r[3] - r[2] for r in done}
    sent = {(r[0], r[1]): r[2] for r in done}
    received = {(r[0], r[1]): r[3] for r in done}
    count = len(records) or 1
    print(
        f"\n{len(records):,} exchanges in {outcome['seconds']:.1f} s: "
        f"{len(records) / outcome['seconds']:.1f} requests/s, {errors} errors "
        f"{dict(Counter(r[4] for r in records if not 200 <= r[4] < 300))}; CPU per request: "
        f"server {server_cpu_s * 1000 / count:.2f} ms, machine {machine_cpu_s_ * 1000 / count:.2f}"
        f" ms, the customers' client {outcome['cpu_s'] * 1000 / count:.2f} ms"
    )
    lags = [lag * 1000 for lag in outcome["lags"]]
    print(
        f"the client's event loop woke late by p99 {percentile(lags, 99):.1f} ms, "
        f"max {percentile(lags, 100):.1f} ms"
    )
    print("\n| exchanges | count | p50 ms | p90 ms | p99 ms | max ms | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(latency_row("all", list(took.values()), errors))
    third = [v for (_, n), v in took.items() if n % 3 == 0]
    others = [v for (_, n), v in took.items() if n % 3]
    print(latency_row("every third (distils)", third))
    print(latency_row("the others", others))
    print(
        latency_row(
            "the others, from the 4th on", [v for (_, n), v in took.items() if n % 3 and n > 3]
        )
    )
    for number in range(1, min(options.exchanges, 9) + 1):
        print(latency_row(f"exchange {number}", [v for (_, n), v in took.items() if n == number]))

    calls: dict[tuple[int, int, RequestKind], Call] = {}
    for call in llm.calls:
        calls.setdefault((call.customer, call.exchange, call.kind), call)
    kinds = Counter(call.kind.value for call in llm.calls)
    held = [call.answered - call.arrived for call in llm.calls]
    print(
        f"\nLLM fake: {dict(kinds)} calls, at most {llm.peak_in_flight} at once; a call held "
        f"p50 {percentile(held, 50) * 1000:,.0f} ms, p99 {percentile(held, 99) * 1000:,.0f} ms"
    )
    parts: dict[str, list[float]] = {
        "sent -> reply call reaches the LLM": [],
        "reply answered -> response (no distillation)": [],
        "reply answered -> distillation reaches the LLM": [],
        "distillation answered -> response": [],
    }
    for key, started in sent.items():
        reply = calls.get((*key, RequestKind.REPLY))
        if reply is None:
            continue
        parts["sent -> reply call reaches the LLM"].append(reply.arrived - started)
        distil = calls.get((*key, RequestKind.DISTIL))
        if distil is None:
            parts["reply answered -> response (no distillation)"].append(
                received[key] - reply.answered
            )
        else:
            parts["reply answered -> distillation reaches the LLM"].append(
                distil.arrived - reply.answered
            )
            parts["distillation answered -> response"].append(received[key] - distil.answered)
    print("\nwhere an exchange's time goes, outside the LLM's own wait:")
    print("\n| part | count | p50 ms | p90 ms | p99 ms | max ms | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, values in parts.items():
        print(latency_row(name, values))


def main() -> None:
    options = arguments()
    if options.scenario == "customers":
        chatting(options)
    else:
        throughput(options)


if __name__ == "__main__":
    main()
