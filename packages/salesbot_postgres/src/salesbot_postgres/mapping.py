"""Rows to domain values and back: the only place that knows both shapes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from sqlalchemy import RowMapping

from salesbot_core.domain import (
    Conversation,
    Message,
    RefreshToken,
    Role,
    SalesMetadata,
    Sender,
    User,
)
from salesbot_core.exchange import DistillationWrite, ExchangeWrite


def metadata_to_json(metadata: SalesMetadata) -> dict[str, Any]:
    """The metadata as stored in ``conversations.metadata``: the seed's camelCase keys."""
    encoded: dict[str, Any] = msgspec.to_builtins(metadata)
    return encoded


def metadata_from_json(value: dict[str, Any] | None) -> SalesMetadata | None:
    if value is None:
        return None
    return msgspec.convert(value, SalesMetadata)


def user_from_row(row: RowMapping) -> User:
    return User(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        phone=row["phone"],
        password_hash=row["password_hash"],
        role=Role(row["role"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def user_to_values(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "phone": user.phone,
        "password_hash": user.password_hash,
        "role": user.role,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    }


def token_from_row(row: RowMapping) -> RefreshToken:
    return RefreshToken(
        id=row["id"],
        user_id=row["user_id"],
        family_id=row["family_id"],
        token_hash=row["token_hash"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
        revoked_reason=row["revoked_reason"],
        replaced_by=row["replaced_by"],
        user_agent=row["user_agent"],
        ip=row["ip"],
    )


def token_to_values(token: RefreshToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "user_id": token.user_id,
        "family_id": token.family_id,
        "token_hash": token.token_hash,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
        "revoked_reason": token.revoked_reason,
        "replaced_by": token.replaced_by,
        "user_agent": token.user_agent,
        "ip": token.ip,
    }


def conversation_from_row(row: Mapping[Any, Any]) -> Conversation:
    return Conversation(
        id=row["id"],
        user_id=row["user_id"],
        title=row["title"],
        metadata=metadata_from_json(row["metadata"]),
        messages_since_context_update=row["messages_since_context_update"],
        message_count=row["message_count"],
        distilled_through=row["distilled_through"],
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
        history_chars=row["history_chars"],
        context_chars=row["context_chars"],
        full_history_chars=row["full_history_chars"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def conversation_to_values(conversation: Conversation) -> dict[str, Any]:
    metadata = conversation.metadata
    return {
        "id": conversation.id,
        "user_id": conversation.user_id,
        "title": conversation.title,
        "metadata": metadata_to_json(metadata) if metadata is not None else None,
        "messages_since_context_update": conversation.messages_since_context_update,
        "message_count": conversation.message_count,
        "distilled_through": conversation.distilled_through,
        "prompt_tokens": conversation.prompt_tokens,
        "completion_tokens": conversation.completion_tokens,
        "history_chars": conversation.history_chars,
        "context_chars": conversation.context_chars,
        "full_history_chars": conversation.full_history_chars,
        "version": conversation.version,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
    }


def message_from_row(row: Mapping[Any, Any]) -> Message:
    return Message(
        id=row["id"],
        conversation_id=row["conversation_id"],
        seq=row["seq"],
        sender=Sender(row["sender"]),
        content=row["content"],
        created_at=row["created_at"],
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
    )


def message_to_values(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "seq": message.seq,
        "sender": message.sender,
        "content": message.content,
        "created_at": message.created_at,
        "prompt_tokens": message.prompt_tokens,
        "completion_tokens": message.completion_tokens,
    }


_MESSAGE_LIST = msgspec.json.Decoder(list[Message])


def messages_from_json(page_json: str) -> list[Message]:
    """A page of messages that PostgreSQL built as one JSON array (columns as keys)."""
    return _MESSAGE_LIST.decode(page_json)


def _metadata_text(metadata: SalesMetadata | None) -> str | None:
    return msgspec.json.encode(metadata_to_json(metadata)).decode() if metadata else None


def exchange_params(write: ExchangeWrite) -> dict[str, Any]:
    """The parameters of the exchange statements: the planned row and its two messages."""
    conversation, user, bot = write.conversation, write.user_message, write.bot_message
    return {
        **conversation_to_values(conversation),
        "metadata": _metadata_text(conversation.metadata),
        "expected_version": write.expected_version,
        "user_message_id": user.id,
        "user_seq": user.seq,
        "user_content": user.content,
        "messages_created_at": bot.created_at,
        "bot_message_id": bot.id,
        "bot_seq": bot.seq,
        "bot_content": bot.content,
        "bot_prompt_tokens": bot.prompt_tokens,
        "bot_completion_tokens": bot.completion_tokens,
    }


def distillation_params(write: DistillationWrite) -> dict[str, Any]:
    conversation = write.conversation
    return {
        "id": conversation.id,
        "metadata": _metadata_text(conversation.metadata),
        "distilled_through": conversation.distilled_through,
        "messages_since_context_update": conversation.messages_since_context_update,
        "prompt_tokens": conversation.prompt_tokens,
        "completion_tokens": conversation.completion_tokens,
        "updated_at": conversation.updated_at,
        "version": conversation.version,
        "expected_version": write.expected_version,
    }
