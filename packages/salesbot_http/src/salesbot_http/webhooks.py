"""The webhook poster: POSTs a signed delivery to a receiver over httpx, within the timeout."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from salesbot_core.ports import PostResult


class HttpxWebhookPoster:
    """The core's ``WebhookPoster``: one connection pool for every receiver, ``timeout_s`` per
    POST (connect, each read and write, and the whole request). Redirects are not followed: a
    3xx is a failure the admin list shows."""

    def __init__(self, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), follow_redirects=False)

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> PostResult:
        try:
            response = await self._client.post(url, content=body, headers=dict(headers))
        except httpx.TimeoutException:
            return PostResult(error=f"no answer within {self._timeout_s:g}s")
        except httpx.HTTPError as error:
            return PostResult(error=f"{type(error).__name__}: {error}")
        if 200 <= response.status_code < 300:
            return PostResult(status=response.status_code)
        said = response.text.strip()[:200]
        answer = f"the receiver answered {response.status_code}"
        return PostResult(
            status=response.status_code, error=f"{answer}: {said}" if said else answer
        )

    async def aclose(self) -> None:
        await self._client.aclose()
