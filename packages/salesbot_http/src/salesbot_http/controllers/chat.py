"""``/chat``: sending messages, and listing, reading, renaming and deleting conversations.

Every route needs an access token; another user's conversation answers 404 like a missing one.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, delete, get, patch, post
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

# Declared as ``str`` in the path and parsed as UUID by the handler's signature, so a malformed
# id is a 400 validation error rather than a route that does not exist.
ConversationId = Annotated[UUID, Parameter(description="The conversation's id (a UUID)")]

HISTORY_SUMMARY = "A conversation's messages, oldest first"


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
        data: JSONBody[SendMessageRequest],
        current_user_id: NamedDependency[UUID],
        send_message: NamedDependency[SendMessage],
    ) -> Envelope[ExchangeOut]:
        result = await send_message(
            user_id=current_user_id, content=data.content, conversation_id=data.conversation_id
        )
        return ok(exchange_out(result), "Message sent successfully")

    @get(
        "/conversations",
        summary="The user's conversations, most recently updated first",
        responses=error_responses(401),
    )
    async def conversations(
        self,
        current_user_id: NamedDependency[UUID],
        list_conversations: NamedDependency[ListConversations],
    ) -> Envelope[list[ConversationOut]]:
        found = await list_conversations(current_user_id)
        return ok([conversation_out(c) for c in found], "Conversations retrieved successfully")

    @get(
        "/conversations/{conversation_id:str}/history",
        summary=HISTORY_SUMMARY,
        responses=error_responses(400, 401, 404),
    )
    async def history(
        self,
        conversation_id: ConversationId,
        current_user_id: NamedDependency[UUID],
        get_history: NamedDependency[GetHistory],
    ) -> Envelope[HistoryOut]:
        found = await get_history(current_user_id, conversation_id)
        return ok(history_out(found), "Conversation history retrieved successfully")

    @get(
        "/history/{conversation_id:str}",
        summary=f"{HISTORY_SUMMARY} (the original web client's path)",
        responses=error_responses(400, 401, 404),
    )
    async def history_legacy_path(
        self,
        conversation_id: ConversationId,
        current_user_id: NamedDependency[UUID],
        get_history: NamedDependency[GetHistory],
    ) -> Envelope[HistoryOut]:
        found = await get_history(current_user_id, conversation_id)
        return ok(history_out(found), "Conversation history retrieved successfully")

    @patch(
        "/conversations/{conversation_id:str}/title",
        status_code=HTTP_200_OK,
        summary="Rename a conversation",
        responses=error_responses(400, 401, 404, 413),
    )
    async def rename(
        self,
        conversation_id: ConversationId,
        data: JSONBody[RenameConversationRequest],
        current_user_id: NamedDependency[UUID],
        rename_conversation: NamedDependency[RenameConversation],
    ) -> Envelope[ConversationOut]:
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
        conversation_id: ConversationId,
        current_user_id: NamedDependency[UUID],
        delete_conversation: NamedDependency[DeleteConversation],
    ) -> Envelope[None]:
        await delete_conversation(current_user_id, conversation_id)
        return ok(None, "Conversation deleted successfully")
