"""Helpers of the API suite: the customer a test signs up as, and envelope assertions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from salesbot_http.settings import Settings

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Customer:
    id: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def error_body(response: Any, status: int, path: str) -> dict[str, Any]:
    """Assert ``response`` is the error envelope with ``status`` for ``path``; return it."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"success", "message", "data", "timestamp", "path"}, body
    assert body["success"] is False
    assert body["data"] is None
    assert body["path"] == path
    assert isinstance(body["message"], str)
    assert body["message"]
    assert body["timestamp"].endswith("Z")
    return body


def ok_data(response: Any, status: int = 200) -> Any:
    """Assert ``response`` is the success envelope with ``status``; return its data."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"success", "message", "data", "timestamp"}, body
    assert body["success"] is True
    assert body["message"]
    assert body["timestamp"].endswith("Z")
    return body["data"]


def replace_settings(settings: Settings, **changes: Any) -> Settings:
    return msgspec.structs.replace(settings, **changes)
