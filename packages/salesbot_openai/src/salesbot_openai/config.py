"""How salesbot talks to an OpenAI-compatible server: where, which model, and how long it waits."""

from __future__ import annotations

from typing import Literal

import msgspec

OPENAI_BASE_URL = "https://api.openai.com/v1"

MetadataFormat = Literal["json_schema", "json_object", "prompt"]
HttpClient = Literal["aiohttp", "httpx"]


class OpenAIConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Settings of the LLM adapter. Only ``api_key`` is required.

    - ``base_url``: any OpenAI-compatible server (Ollama, vLLM, llama.cpp); None is OpenAI's.
    - ``timeout_s``: per HTTP attempt. The SDK's own default is ten minutes, far longer than a
      chat client waits (the original web client gives up after 10 s).
    - ``max_retries``: the SDK's retries on connection errors, timeouts, 408/409/429 and 5xx.
    - ``deadline_s``: the ceiling for one call, retries and back-off included. The SDK honours a
      server's ``Retry-After`` of up to two minutes; this caps that too.
    - ``max_*_tokens``: caps on each answer (``max_completion_tokens``); None sends no cap.
    - ``metadata_format``: ``json_schema`` (strict Structured Outputs, the default);
      ``json_object`` (JSON mode) or ``prompt`` (no ``response_format``, the prompt alone asks for
      JSON) for servers that refuse ``json_schema``. Every answer is validated either way.
    - ``http_client``: the SDK's HTTP transport. ``aiohttp`` (the default, the SDK's
      ``DefaultAioHttpClient``) costs about 40% less CPU per request than ``httpx``, the SDK's
      own default, which stays available; timeouts, retries and errors are the same with both.
    """

    api_key: str
    base_url: str | None = None
    model: str = "gpt-4o-mini"
    timeout_s: float = 10.0
    max_retries: int = 2
    deadline_s: float = 30.0
    max_reply_tokens: int | None = 500
    max_title_tokens: int | None = 24
    max_metadata_tokens: int | None = 600
    metadata_format: MetadataFormat = "json_schema"
    http_client: HttpClient = "aiohttp"

    def __post_init__(self) -> None:
        if not self.api_key:
            raise ValueError("api_key must not be empty (local servers accept any value)")
        if not self.model:
            raise ValueError("model must not be empty")
        if self.timeout_s <= 0 or self.deadline_s <= 0:
            raise ValueError("timeout_s and deadline_s must be positive")
        if self.max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        for cap in (self.max_reply_tokens, self.max_title_tokens, self.max_metadata_tokens):
            if cap is not None and cap <= 0:
                raise ValueError("token caps must be positive (or None for no cap)")

    @property
    def effective_base_url(self) -> str:
        """The URL requests go to. Passed to the SDK explicitly, so it never falls back to
        reading ``OPENAI_BASE_URL`` from the environment behind the configuration's back."""
        return self.base_url or OPENAI_BASE_URL

    def __repr__(self) -> str:
        # The key must not reach logs or tracebacks through a repr of the settings.
        return (
            f"OpenAIConfig(api_key='***', base_url={self.base_url!r}, model={self.model!r}, "
            f"timeout_s={self.timeout_s}, max_retries={self.max_retries}, "
            f"deadline_s={self.deadline_s}, metadata_format={self.metadata_format!r}, "
            f"http_client={self.http_client!r})"
        )
