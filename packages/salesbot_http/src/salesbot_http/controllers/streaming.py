"""``POST /chat/send/stream``: an exchange as Server-Sent Events, the reply piece by piece as the
assistant produces it, then the stored exchange.

The handler reads the first piece before answering, so every failure that comes before it
(validation, an unknown conversation, an assistant that fails at once) is the usual error
envelope with its usual status. Once the stream has started, a failure is an ``error`` event and
nothing is stored. The event generator is closed when the response ends, however it ends (the
last event sent, or the client gone), which closes the core's exchange and the LLM stream under
it before anything was stored.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import msgspec
from litestar import Controller, Request, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage
from litestar.status_codes import HTTP_200_OK, HTTP_500_INTERNAL_SERVER_ERROR

from salesbot_core.errors import SalesbotError
from salesbot_core.ports import ReplyDelta
from salesbot_core.usecases import ExchangeResult, SendMessage
from salesbot_http import auth
from salesbot_http.auth import BEARER_SECURITY, require_access_token
from salesbot_http.dto import (
    ReplyPieceOut,
    SendMessageRequest,
    StreamErrorOut,
    exchange_out,
)
from salesbot_http.errors import INTERNAL_ERROR, status_of
from salesbot_http.openapi import error_responses

logger = logging.getLogger(__name__)

EVENT_STREAM = "text/event-stream"
DELTA = "delta"
DONE = "done"
ERROR = "error"

STREAM_DESCRIPTION = """\
The same exchange as `POST /chat/send` (same body, same rules), answered as Server-Sent Events
(`text/event-stream`, status 200) so the reply can be shown as it is written:

```
event: delta
data: {"text": "Hello! "}

event: delta
data: {"text": "What will you use the laptop for?"}

event: done
data: {"conversation": {...}, "userMessage": {...}, "botMessage": {...}}
```

- `delta`, one or more: `{"text"}`, the next piece of the reply; the pieces joined are
  `botMessage.content`.
- `done`, last: exactly the `data` of `POST /chat/send`. The exchange is stored only now.
- `error`, last, instead of `done`: `{"message", "status"}` (502 when the assistant failed midway,
  504 when it timed out, 503 when the database failed); nothing was stored, the same request can
  be sent again.

A failure before the first piece (400, 401, 404, 413, or the assistant failing at once: 502/504)
is an ordinary JSON error envelope with that status. A client that disconnects before `done`
leaves the conversation as it was: nothing of the exchange is stored.
"""


def _data(body: msgspec.Struct) -> str:
    return msgspec.json.encode(body).decode()


def _event(piece: ReplyDelta | ExchangeResult) -> ServerSentEventMessage:
    if isinstance(piece, ReplyDelta):
        return ServerSentEventMessage(event=DELTA, data=_data(ReplyPieceOut(text=piece.text)))
    return ServerSentEventMessage(event=DONE, data=_data(exchange_out(piece)))


def _error(status: int, message: str) -> ServerSentEventMessage:
    return ServerSentEventMessage(
        event=ERROR, data=_data(StreamErrorOut(message=message, status=status))
    )


async def exchange_events(
    first: ReplyDelta | ExchangeResult,
    exchange: AsyncGenerator[ReplyDelta | ExchangeResult],
) -> AsyncGenerator[ServerSentEventMessage]:
    """``first`` and the rest of ``exchange`` as events, ending with ``done`` or ``error``.

    Closing this generator closes ``exchange``: an exchange closed before its end stores
    nothing."""
    async with aclosing(exchange):
        try:
            yield _event(first)
            async for piece in exchange:
                yield _event(piece)
        except SalesbotError as exc:
            status, message = status_of(exc)
            logger.warning("streamed exchange failed midway (%d): %r", status, exc)
            yield _error(status, message)
        except Exception:
            logger.exception("streamed exchange failed unexpectedly")
            yield _error(HTTP_500_INTERNAL_SERVER_ERROR, INTERNAL_ERROR)


class ChatStreamController(Controller):
    path = "/chat"
    tags = ("chat",)
    guards = (require_access_token,)
    security = BEARER_SECURITY

    @post(
        "/send/stream",
        status_code=HTTP_200_OK,
        media_type=EVENT_STREAM,
        summary="Send a message and receive the reply as it is written (Server-Sent Events)",
        description=STREAM_DESCRIPTION,
        response_description=(
            "`delta` events with the reply's pieces, then one `done` event with the stored "
            "exchange (or one `error` event: nothing stored)."
        ),
        responses=error_responses(400, 401, 404, 413, 502, 504),
    )
    async def send_stream(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[SendMessageRequest],
        send_message: NamedDependency[SendMessage],
    ) -> ServerSentEvent:
        current_user_id = auth.current_user_id(request)
        exchange = send_message.stream(
            user_id=current_user_id, content=data.content, conversation_id=data.conversation_id
        )
        # Raises before any byte is sent: the error handlers answer with the usual envelope.
        first = await anext(exchange)
        events = exchange_events(first, exchange)

        async def close_events() -> None:
            # A coroutine function: Litestar would run the bare ``events.aclose`` (a method
            # returning an awaitable) as a sync callable and never await what it returns.
            await events.aclose()

        # The background task runs once the response is over, also when the client went away.
        return ServerSentEvent(events, background=BackgroundTask(close_events))
