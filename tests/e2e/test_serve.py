"""End to end: ``salesbot serve`` as a process, on a free port, with the zero-setup defaults (the
embedded database, the offline assistant), and a whole customer session over real HTTP."""

from __future__ import annotations

import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.serve import STOP_TIMEOUT_S, Served, serve_env, served

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 90
# Variables that would take the server off its zero-setup defaults.


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    # A private work directory (mode 0700), as a checkout in a home directory would be.
    workdir = Path(tempfile.mkdtemp(prefix="salesbot-e2e-"))
    env = serve_env(SALESBOT_DATA_DIR=str(workdir / "data"), SHUTDOWN_TIMEOUT_S="10")
    with served(env, workdir, start_timeout_s=START_TIMEOUT_S, args=("--workers", "2")) as running:
        yield running


def _data(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is True
    return body["data"]


def test_a_whole_customer_session_over_http(server: Served) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        user = _data(
            http.post(
                "/users/register",
                json={"email": "jane@example.com", "password": "correct horse", "name": "Jane"},
            ),
            201,
        )
        assert _data(http.get("/users/check", params={"email": "JANE@example.com"}), 200) == {
            "exists": True
        }
        login = _data(
            http.post(
                "/auth/login", json={"email": "jane@example.com", "password": "correct horse"}
            ),
            200,
        )
        auth = {"Authorization": f"Bearer {login['accessToken']}"}
        assert _data(http.get("/users/profile", headers=auth), 200)["id"] == user["id"]

        first = _data(
            http.post(
                "/chat/send",
                json={"content": "Hi, I am looking for a laptop for programming"},
                headers=auth,
            ),
            201,
        )
        conversation_id = first["conversation"]["id"]
        assert first["conversation"]["title"]
        assert first["botMessage"]["sender"] == "bot"
        assert first["botMessage"]["content"]
        for content in ("Mainly web development, budget around 1500", "What about a mouse?"):
            _data(
                http.post(
                    "/chat/send",
                    json={"content": content, "conversationId": conversation_id},
                    headers=auth,
                ),
                201,
            )

        listed = _data(http.get("/chat/conversations", headers=auth), 200)
        assert [c["id"] for c in listed] == [conversation_id]
        history = _data(
            http.get(f"/chat/conversations/{conversation_id}/history", headers=auth), 200
        )
        assert history["totalMessages"] == 6
        assert [m["sender"] for m in history["messages"]] == ["user", "bot"] * 3
        assert _data(http.get(f"/chat/history/{conversation_id}", headers=auth), 200) == history

        renamed = _data(
            http.patch(
                f"/chat/conversations/{conversation_id}/title",
                json={"title": "Laptop for web development"},
                headers=auth,
            ),
            200,
        )
        assert renamed["title"] == "Laptop for web development"

        rotated = _data(
            http.post("/auth/refresh", json={"refreshToken": login["refreshToken"]}), 200
        )
        replay = http.post("/auth/refresh", json={"refreshToken": login["refreshToken"]})
        assert replay.status_code == 401
        assert (
            http.post("/auth/refresh", json={"refreshToken": rotated["refreshToken"]}).status_code
            == 401
        )

        _data(http.delete(f"/chat/conversations/{conversation_id}", headers=auth), 200)
        assert http.get(f"/chat/history/{conversation_id}", headers=auth).status_code == 404
        _data(http.post("/auth/logout-all", headers=auth), 200)

        document = http.get("/schema/openapi.json").json()
        assert document["openapi"].startswith("3.1")


def test_start_up_says_which_database_and_assistant(server: Served) -> None:
    output = server.output()
    assert "database: embedded PostgreSQL" in output
    assert "assistant: offline" in output


def test_errors_over_http_are_enveloped(server: Served) -> None:
    response = httpx.get(f"{server.base_url}/chat/conversations", timeout=10)
    assert response.status_code == 401
    body = response.json()
    assert body["success"] is False
    assert body["path"] == "/chat/conversations"


def test_interrupt_stops_the_server_cleanly(server: Served) -> None:
    """Last in this module: it stops the shared server."""
    server.process.send_signal(signal.SIGINT)

    returncode = server.process.wait(timeout=STOP_TIMEOUT_S)

    assert returncode == 0, server.output()
    assert "Traceback" not in server.output()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.base_url}/health", timeout=2)
