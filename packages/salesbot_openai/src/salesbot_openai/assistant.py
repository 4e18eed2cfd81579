"""The core's ``SalesAssistant`` port (and its optional ``StreamingSalesAssistant``) on the openai
SDK, for any OpenAI-compatible server.

Every failure leaves as a core error: ``AssistantTimeout`` when the server is too slow (a streamed
reply included, when it stalls between chunks), ``AssistantUnavailable`` for everything else
(connection, 429/5xx after the SDK's retries, 4xx, a malformed body or chunk, a stream that breaks
off), ``InvalidMetadataAnswer`` when a metadata answer does not validate. Messages never carry the
key, the URL or the server's body; the logs say which call failed and how.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from contextlib import aclosing, asynccontextmanager, contextmanager
from types import TracebackType
from typing import Literal, Self, overload

import aiohttp
import openai
from openai import AsyncOpenAI, RequestOptions
from openai.types.chat import ChatCompletionMessageParam
from openai.types.chat.completion_create_params import ResponseFormat

from salesbot_core.domain import ChatMessage, TokenUsage
from salesbot_core.errors import AssistantTimeout, AssistantUnavailable, InvalidMetadataAnswer
from salesbot_core.ports import (
    DistillationRequest,
    Distilled,
    Generated,
    ReplyDelta,
    ReplyRequest,
    TitleRequest,
)
from salesbot_core.prompts import (
    distillation_prompt,
    metadata_json_schema,
    parse_metadata_answer,
    reply_prompt,
    title_prompt,
)
from salesbot_openai.config import OpenAIConfig
from salesbot_openai.wire import Answer, ChunkPiece, MalformedCompletion, read_answer, read_chunk

logger = logging.getLogger(__name__)

METADATA_SCHEMA_NAME = "sales_metadata"

# The options ``chat.completions.create`` sends: the API key as a bearer token, nothing else.
_REQUEST_OPTIONS: RequestOptions = {"security": {"bearer_auth": True}}

# The end of a stream (a chunk may be any JSON, ``null`` included).
_END = object()


def _message_param(message: ChatMessage) -> ChatCompletionMessageParam:
    match message.role:
        case "system":
            return {"role": "system", "content": message.content}
        case "user":
            return {"role": "user", "content": message.content}
        case "assistant":
            return {"role": "assistant", "content": message.content}


def _metadata_response_format(config: OpenAIConfig) -> ResponseFormat | None:
    match config.metadata_format:
        case "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {
                    "name": METADATA_SCHEMA_NAME,
                    "strict": True,
                    "schema": metadata_json_schema(),
                },
            }
        case "json_object":
            return {"type": "json_object"}
        case "prompt":
            return None


def _unfenced(text: str) -> str:
    """Without a Markdown code fence around it: models without structured output (the
    ``prompt`` format, or servers ignoring ``response_format``) often wrap JSON in one."""
    stripped = text.strip()
    if stripped.startswith("```") and stripped.endswith("```") and len(stripped) >= 6:
        body = stripped[3:-3]
        first_line, _, rest = body.partition("\n")
        return rest if first_line.strip().isalpha() or not first_line.strip() else body
    return stripped


class _TrimmedReply:
    """A streamed reply trimmed as ``reply`` trims a whole one: leading whitespace is dropped and
    trailing whitespace held back until more text follows, so the pieces handed out join to
    exactly the stripped whole."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._held = ""

    def add(self, piece: str) -> str:
        """The part of ``piece`` to hand out now (possibly empty)."""
        text = self._held + piece
        if not self._parts:
            text = text.lstrip()
        kept = text.rstrip()
        self._held = text[len(kept) :]
        if kept:
            self._parts.append(kept)
        return kept

    @property
    def text(self) -> str:
        return "".join(self._parts)


def _replied(kind: str, content: str, refusal: str, finish_reason: str | None) -> str:
    """The reply's text, or the refusal when the model wrote none; an empty answer fails."""
    text = content.strip() or refusal.strip()
    if not text:
        logger.warning("LLM %s was empty (finish_reason=%s)", kind, finish_reason)
        raise AssistantUnavailable("The sales assistant returned an empty answer")
    return text


def _causes(error: BaseException) -> Iterator[BaseException]:
    cause: BaseException | None = error
    while cause is not None:
        yield cause
        cause = cause.__cause__


def _root(error: BaseException) -> type[BaseException]:
    return type(list(_causes(error))[-1])


def _refused_or_dropped(error: openai.APITimeoutError) -> bool:
    """The aiohttp transport the SDK ships reports every aiohttp connection error as a connect
    timeout (openai-python#3594), a refused or dropped connection included: only a cause that
    really timed out (aiohttp's timeouts are ``TimeoutError``s) makes it a timeout."""
    causes = list(_causes(error))
    return any(isinstance(cause, aiohttp.ClientError) for cause in causes) and not any(
        isinstance(cause, TimeoutError) for cause in causes
    )


class OpenAISalesAssistant:
    """Replies (whole or streamed), titles and metadata from Chat Completions.

    The assistant owns its client: ``aclose()`` (or leaving ``async with``) closes it.
    """

    def __init__(self, client: AsyncOpenAI, config: OpenAIConfig) -> None:
        self._client = client
        self._config = config
        self._metadata_format = _metadata_response_format(config)

    @classmethod
    def from_config(cls, config: OpenAIConfig) -> OpenAISalesAssistant:
        """Build the SDK client with the configured URL, key, per-attempt timeout, retries and
        HTTP transport."""
        client = AsyncOpenAI(
            api_key=config.api_key,
            base_url=config.effective_base_url,
            timeout=config.timeout_s,
            max_retries=config.max_retries,
            http_client=(
                openai.DefaultAioHttpClient(timeout=config.timeout_s)
                if config.http_client == "aiohttp"
                else None
            ),
        )
        return cls(client, config)

    @property
    def config(self) -> OpenAIConfig:
        return self._config

    async def aclose(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def reply(self, request: ReplyRequest) -> Generated:
        body = self._body(reply_prompt(request), max_tokens=self._config.max_reply_tokens)
        answer = await self._complete("reply", body)
        text = _replied("reply", answer.content, answer.refusal or "", answer.finish_reason)
        return Generated(text=text, usage=answer.usage)

    async def stream_reply(self, request: ReplyRequest) -> AsyncGenerator[ReplyDelta | Generated]:
        """The reply of ``reply``, handed out as the server streams it: ``ReplyDelta``s, then one
        ``Generated`` with the whole text (the deltas joined) and the usage (0 when the server
        sends none). Same request (plus ``stream``), caps, timeouts and errors as ``reply``; an
        error may come after some deltas. ``timeout_s`` bounds each wait for the next chunk,
        ``deadline_s`` the whole stream (the consumer's time between pieces included). A stream
        that ends without a finish reason was cut off: ``AssistantUnavailable``. Closing the
        generator early closes the HTTP stream."""
        kind = "streamed reply"
        body = self._body(
            reply_prompt(request), max_tokens=self._config.max_reply_tokens, stream=True
        )
        reply, refusal = _TrimmedReply(), []
        finish_reason: str | None = None
        usage = TokenUsage()
        # ``aclosing``: a consumer that stops early closes the chunk reader, hence the stream.
        async with aclosing(self._chunks(kind, body)) as chunks:
            async for piece in chunks:
                finish_reason = piece.finish_reason or finish_reason
                usage = piece.usage or usage
                refusal.append(piece.refusal)
                if delta := reply.add(piece.content):
                    yield ReplyDelta(text=delta)
        if finish_reason is None:
            # A body that simply ends (a proxy closing cleanly) must not pass for a whole reply.
            logger.warning("LLM %s ended without a finish reason", kind)
            raise AssistantUnavailable("The sales assistant's answer broke off")
        text = _replied(kind, reply.text, "".join(refusal), finish_reason)
        if text != reply.text:  # the refusal, which comes as one piece at the end
            yield ReplyDelta(text=text)
        yield Generated(text=text, usage=usage)

    async def title(self, request: TitleRequest) -> Generated:
        """The model's answer as it came: the core cleans every title in one place
        (``salesbot_core.prompts.clean_title``, applied by ``SendMessage``)."""
        body = self._body(title_prompt(request), max_tokens=self._config.max_title_tokens)
        answer = await self._complete("title", body)
        return Generated(text=answer.content, usage=answer.usage)

    async def distil(self, request: DistillationRequest) -> Distilled:
        body = self._body(
            distillation_prompt(request),
            max_tokens=self._config.max_metadata_tokens,
            response_format=self._metadata_format,
        )
        answer = await self._complete("distil", body)
        if answer.refusal and not answer.content:
            raise InvalidMetadataAnswer("the model refused to write the metadata")
        # A truncated answer (finish_reason "length") fails validation like any other.
        metadata = parse_metadata_answer(_unfenced(answer.content))
        return Distilled(metadata=metadata, usage=answer.usage)

    # The one request path: ``_body`` builds every request, ``_post`` sends it, ``_waiting``
    # bounds each wait by the call's deadline and turns every failure into the core's error.
    # ``_complete`` reads a whole answer, ``_chunks`` a streamed one.

    def _body(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None,
        response_format: ResponseFormat | None = None,
        stream: bool = False,
    ) -> dict[str, object]:
        """The request as plain JSON: see ``_post``. A streamed request is the same request
        with ``stream`` and the usage asked for at the end."""
        body: dict[str, object] = {
            "model": self._config.model,
            "messages": [_message_param(message) for message in messages],
        }
        if max_tokens is not None:
            body["max_completion_tokens"] = max_tokens
        if response_format is not None:
            body["response_format"] = response_format
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    @overload
    async def _post(self, body: dict[str, object], *, stream: Literal[False]) -> bytes: ...

    @overload
    async def _post(
        self, body: dict[str, object], *, stream: Literal[True]
    ) -> openai.AsyncStream[object]: ...

    async def _post(
        self, body: dict[str, object], *, stream: bool
    ) -> bytes | openai.AsyncStream[object]:
        # The request goes through the client's own ``post`` (its retries, timeouts, auth and
        # status errors) with a body that is plain JSON already, which skips the per-call
        # transformation of ``chat.completions.create``'s typed parameters, the largest CPU
        # cost of an exchange under load. What comes back is not built into the SDK's lenient
        # models either: the raw body, or each chunk's JSON as sent (``cast_to=object``), for
        # ``salesbot_openai.wire`` to validate.
        return await self._client.post(
            "/chat/completions",
            body=body,
            options=_REQUEST_OPTIONS,
            cast_to=bytes,
            stream=stream,
            stream_cls=openai.AsyncStream[object],
        )

    async def _complete(self, kind: str, body: dict[str, object]) -> Answer:
        async with self._waiting(kind, self._deadline()):
            return read_answer(await self._post(body, stream=False))

    async def _chunks(self, kind: str, body: dict[str, object]) -> AsyncGenerator[ChunkPiece]:
        """The pieces of a streamed answer, each validated; the stream is closed on every way
        out. The deadline is for the whole stream, but its scope covers only our own waits, so
        its cancellation never lands in the consumer's code between our yields."""
        deadline = self._deadline()
        async with self._waiting(kind, deadline):
            stream = await self._post(body, stream=True)
        async with stream:
            with self._failures(kind):
                # Else a body that is not a completion (a JSON error, an HTML page) would read
                # as a stream without events, and pass for one that broke off.
                media_type = stream.response.headers.get("content-type", "").partition(";")[0]
                if media_type.strip().lower() != "text/event-stream":
                    raise MalformedCompletion("the answer to a streamed request is not a stream")
            while True:
                async with self._waiting(kind, deadline):
                    try:
                        chunk = await anext(stream, _END)
                    except ValueError as exc:  # an event whose data is not JSON (or not UTF-8)
                        raise MalformedCompletion("a streamed event is not JSON") from exc
                    if chunk is _END:
                        return
                    piece = read_chunk(chunk)
                yield piece

    def _deadline(self) -> float:
        return asyncio.get_running_loop().time() + self._config.deadline_s

    @asynccontextmanager
    async def _waiting(self, kind: str, deadline: float) -> AsyncIterator[None]:
        """One wait of a call: bounded by the call's deadline, its failures the core's errors."""
        with self._failures(kind):
            async with asyncio.timeout_at(deadline):
                yield

    @contextmanager
    def _failures(self, kind: str) -> Iterator[None]:
        """Turn what the SDK, the deadline and the wire raise into the core's errors."""
        config = self._config
        try:
            yield
        except TimeoutError as exc:
            logger.warning("LLM %s call exceeded the %.1fs deadline", kind, config.deadline_s)
            raise AssistantTimeout(
                f"The sales assistant did not answer within {config.deadline_s:g} seconds"
            ) from exc
        except openai.APITimeoutError as exc:
            if _refused_or_dropped(exc):
                logger.warning("LLM %s call could not connect: %s", kind, _root(exc).__name__)
                raise AssistantUnavailable("The sales assistant cannot be reached") from exc
            logger.warning(
                "LLM %s call timed out (%.1fs per attempt, %d retries)",
                kind,
                config.timeout_s,
                config.max_retries,
            )
            raise AssistantTimeout(
                f"The sales assistant did not answer within {config.timeout_s:g} seconds"
            ) from exc
        except openai.APIConnectionError as exc:
            logger.warning("LLM %s call could not connect: %s", kind, type(exc.__cause__).__name__)
            raise AssistantUnavailable("The sales assistant cannot be reached") from exc
        except openai.APIStatusError as exc:
            logger.warning(
                "LLM %s call failed with HTTP %d (request id %s)",
                kind,
                exc.status_code,
                exc.request_id,
            )
            raise AssistantUnavailable(_status_message(exc.status_code)) from exc
        except openai.OpenAIError as exc:
            logger.warning("LLM %s call failed: %s", kind, type(exc).__name__)
            raise AssistantUnavailable("The sales assistant failed") from exc
        except MalformedCompletion as exc:
            logger.warning("LLM %s answer was malformed: %s", kind, exc)
            raise AssistantUnavailable("The sales assistant sent a malformed answer") from exc
        except aiohttp.ClientResponseError as exc:
            # The aiohttp transport passes its HTTP parse errors through unwrapped (and unretried).
            logger.warning("LLM %s answer was not valid HTTP: %s", kind, type(exc).__name__)
            raise AssistantUnavailable("The sales assistant sent a malformed answer") from exc
        except aiohttp.ClientError as exc:
            logger.warning("LLM %s call failed in transport: %s", kind, type(exc).__name__)
            raise AssistantUnavailable("The sales assistant cannot be reached") from exc


def _status_message(status: int) -> str:
    if status == 429:
        return "The sales assistant is rate limited (HTTP 429); try again shortly"
    if status >= 500:
        return f"The sales assistant's server failed (HTTP {status})"
    if status in (401, 403):
        return f"The sales assistant refused our credentials (HTTP {status})"
    return f"The sales assistant rejected the request (HTTP {status})"
