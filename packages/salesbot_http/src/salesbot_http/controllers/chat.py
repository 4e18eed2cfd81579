"""``/chat``: sending messages, and listing, reading, renaming and deleting conversations.

Every route needs an access token; another user's conversation answers 404 like a missing one.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from salesbot_core.usecases import (
    DeleteConversation,
    GetHistory,
    ListConversations,
    RenameConversation,
    SendMessage,
)
from salesbot_http import auth
from salesbot_http.auth import BEARER_SECURITY, require_access_token
from salesbot_http.dto import (
    ConversationOut,
    ExchangeOut,
    HistoryOut,
    RenameConversationRequest,
    SendMessageRequest,
    conversation_out,
    exchange_out,
    history_out,
)
from salesbot_http.envelope import Envelope, ok
from salesbot_http.openapi import error_responses
from salesbot_http.paging import (
    NEXT_PAGE_HEADER,
    CursorParameter,
    decode_cursor,
    next_page_headers,
)

# Declared as ``str`` in the path and parsed as UUID by the handler's signature, so a malformed
# id is a 400 validation error rather than a route that does not exist.
ConversationId = Annotated[UUID, Parameter(description="The conversation's id (a UUID)")]

HISTORY_SUMMARY = "A conversation's messages, oldest first"
HISTORY_DESCRIPTION = (
    "The latest page (100 messages by default); `nextBefore` in the answer reads the page "
    "before it. `totalMessages` counts the whole conversation."
)
HistoryLimit = Annotated[
    int | None,
    Parameter(
        description="Page size: 1 to 500 [default 100]",
        schema_extra={"minimum": 1, "maximum": 500},
    ),
]
HistoryBefore = Annotated[
    int | None, Parameter(description="Read the messages before this one (`nextBefore`)", ge=1)
]


async def _history(
    get_history: GetHistory,
    user_id: UUID,
    conversation_id: UUID,
    limit: int | None,
    before: int | None,
) -> Envelope[HistoryOut]:
    found = await get_history(user_id, conversation_id, limit=limit, before=before)
    return ok(history_out(found), "Conversation history retrieved successfully")


class ChatController(Controller):
    path = "/chat"
    tags = ("chat",)
    guards = (require_access_token,)
    security = BEARER_SECURITY

    @post(
        "/send",
        status_code=HTTP_201_CREATED,
        summary="Send a message (starts a conversation without conversationId)",
        description=(
            "Stores the customer's message and the assistant's reply as one exchange. If the "
            "assistant fails, nothing is stored and the same request can be sent again."
        ),
        responses=error_responses(400, 401, 404, 413, 502, 504),
    )
    async def send(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[SendMessageRequest],
        send_message: NamedDependency[SendMessage],
    ) -> Envelope[ExchangeOut]:
        current_user_id = auth.current_user_id(request)
        result = await send_message(
            user_id=current_user_id, content=data.content, conversation_id=data.conversation_id
        )
        return ok(exchange_out(result), "Message sent successfully")

    @get(
        "/conversations",
        summary="The user's conversations, most recently updated first",
        description=(
            "A page at a time: when more remain, the `Link` header (rel=next) gives the URL of "
            "the next page. With `q`, only conversations whose title or one of whose messages "
            "contains every word."
        ),
        responses=error_responses(400, 401),
        response_headers=[NEXT_PAGE_HEADER],
    )
    async def conversations(
        self,
        request: Request[Any, Any, Any],
        list_conversations: NamedDependency[ListConversations],
        limit: Annotated[
            int | None,
            Parameter(
                description="Page size: 1 to 100 [default 50]",
                schema_extra={"minimum": 1, "maximum": 100},
            ),
        ] = None,
        cursor: CursorParameter = None,
        q: Annotated[str | None, Parameter(description="Search words")] = None,
    ) -> Response[Envelope[list[ConversationOut]]]:
        current_user_id = auth.current_user_id(request)
        page = await list_conversations(
            current_user_id,
            limit=limit,
            after=decode_cursor(cursor) if cursor else None,
            query=q,
        )
        body = ok([conversation_out(c) for c in page.items], "Conversations retrieved successfully")
        params: dict[str, str | int | None] = {"limit": limit, "q": q}
        return Response(body, headers=next_page_headers(request.url.path, page.next, params))

    @get(
        "/conversations/{conversation_id:str}/history",
        summary=HISTORY_SUMMARY,
        description=HISTORY_DESCRIPTION,
        responses=error_responses(400, 401, 404),
    )
    async def history(
        self,
        request: Request[Any, Any, Any],
        conversation_id: ConversationId,
        get_history: NamedDependency[GetHistory],
        limit: HistoryLimit = None,
        before: HistoryBefore = None,
    ) -> Envelope[HistoryOut]:
        current_user_id = auth.current_user_id(request)
        return await _history(get_history, current_user_id, conversation_id, limit, before)

    @get(
        "/history/{conversation_id:str}",
        summary=f"{HISTORY_SUMMARY} (the original web client's path)",
        description=HISTORY_DESCRIPTION,
        responses=error_responses(400, 401, 404),
    )
    async def history_legacy_path(
        self,
        request: Request[Any, Any, Any],
        conversation_id: ConversationId,
        get_history: NamedDependency[GetHistory],
        limit: HistoryLimit = None,
        before: HistoryBefore = None,
    ) -> Envelope[HistoryOut]:
        current_user_id = auth.current_user_id(request)
        return await _history(get_history, current_user_id, conversation_id, limit, before)

    @patch(
        "/conversations/{conversation_id:str}/title",
        status_code=HTTP_200_OK,
        summary="Rename a conversation",
        responses=error_responses(400, 401, 404, 413),
    )
    async def rename(
        self,
        request: Request[Any, Any, Any],
        conversation_id: ConversationId,
        data: JSONBody[RenameConversationRequest],
        rename_conversation: NamedDependency[RenameConversation],
    ) -> Envelope[ConversationOut]:
        current_user_id = auth.current_user_id(request)
        renamed = await rename_conversation(current_user_id, conversation_id, data.title)
        return ok(conversation_out(renamed), "Conversation title updated successfully")

    @delete(
        "/conversations/{conversation_id:str}",
        status_code=HTTP_200_OK,
        summary="Delete a conversation and its messages",
        responses=error_responses(400, 401, 404),
    )
    async def remove(
        self,
        request: Request[Any, Any, Any],
        conversation_id: ConversationId,
        delete_conversation: NamedDependency[DeleteConversation],
    ) -> Envelope[None]:
        current_user_id = auth.current_user_id(request)
        await delete_conversation(current_user_id, conversation_id)
        return ok(None, "Conversation deleted successfully")
