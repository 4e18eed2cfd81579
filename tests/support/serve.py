"""``salesbot serve`` as a real process for the end-to-end tests: on a free port, its output in a
log file, healthy before the test runs, stopped (and its work directory removed) afterwards."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx
import pytest

from tests.support.database import fresh_embedded_home

STOP_TIMEOUT_S = 30

# The variables salesbot's settings read (salesbot_http.settings), by prefix and by name: a
# served test inherits none of them, so a developer's or a CI runner's DATABASE_URL,
# OPENAI_API_KEY, REDIS_URL, HOST or SALESBOT_EMBEDDED_HOME cannot change what it runs.
_SETTING_PREFIXES = (
    "ACCESS_TOKEN_",
    "ADMIN_",
    "BCRYPT_",
    "CATALOGUE_",
    "CORS_",
    "DB_",
    "DISTIL_",
    "HASH_",
    "HEALTH_",
    "JWT_",
    "LOGIN_",
    "LOOP_LAG_",
    "OPENAI_",
    "REDIS_",
    "SALESBOT_",
    "SHUTDOWN_",
    "TOKEN_",
    "WEBHOOK_",
)
_SETTING_NAMES = frozenset(
    {"DATABASE_URL", "HOST", "PORT", "WORKERS", "LOG_LEVEL", "MAX_BODY_BYTES"}
)
# Signing keys for a served test that configures its own database (the embedded start makes
# its own when none are set).
TEST_SECRETS = {
    "JWT_SECRET": "served-test-access-secret-" + "x" * 40,
    "JWT_REFRESH_SECRET": "served-test-refresh-secret-" + "y" * 40,
}


def serve_env(**settings: str) -> dict[str, str]:
    """The environment of a served test: this process's, without any variable that configures
    salesbot; quick password hashing, INFO logs and unbuffered output; then ``settings``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_SETTING_PREFIXES) and key not in _SETTING_NAMES
    }
    env.update(BCRYPT_ROUNDS="4", LOG_LEVEL="INFO", PYTHONUNBUFFERED="1")
    env.update(settings)
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Served:
    def __init__(self, process: subprocess.Popen[str], base_url: str, log: Path) -> None:
        self.process = process
        self.base_url = base_url
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def served(
    env: Mapping[str, str],
    workdir: Path,
    *,
    start_timeout_s: float,
    args: Sequence[str] = (),
) -> Iterator[Served]:
    """Run ``salesbot serve`` in ``workdir`` (no developer ``.env`` there) with exactly ``env``.

    Afterwards a server still running gets SIGINT, then is killed if it has not stopped within
    ``STOP_TIMEOUT_S``; ``workdir`` is removed, and so is the ``SALESBOT_EMBEDDED_HOME`` made
    for it (as root, where an embedded server keeps what its account cannot reach) unless
    ``env`` names one: a test that starts the server again on the same data keeps its own."""
    if "SALESBOT_EMBEDDED_HOME" in env:
        with _serving(env, workdir, start_timeout_s=start_timeout_s, args=args) as running:
            yield running
        return
    with fresh_embedded_home() as embedded_home:
        environment = {"SALESBOT_EMBEDDED_HOME": str(embedded_home), **env}
        with _serving(environment, workdir, start_timeout_s=start_timeout_s, args=args) as running:
            yield running


@contextlib.contextmanager
def _serving(
    env: Mapping[str, str], workdir: Path, *, start_timeout_s: float, args: Sequence[str]
) -> Iterator[Served]:
    port = free_port()
    log = workdir / "serve.log"
    with log.open("w") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "salesbot_http.cli", "serve", "--port", str(port), *args],
            cwd=workdir,
            env=dict(env),
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    running = Served(process, f"http://127.0.0.1:{port}", log)
    try:
        _wait_until_healthy(running, start_timeout_s)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_until_healthy(server: Served, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"salesbot serve exited early:\n{server.output()}")
        try:
            if httpx.get(f"{server.base_url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"salesbot serve was not healthy within {timeout_s}s:\n{server.output()}")
