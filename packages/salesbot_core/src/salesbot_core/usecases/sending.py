"""Sending a customer message: the exchange, whole or streamed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from uuid import UUID

import msgspec

from salesbot_core.domain import Conversation, Message, Sender, TokenUsage, Turn
from salesbot_core.errors import AssistantUnavailable, ConversationNotFound
from salesbot_core.exchange import ExchangeWrite, plan_exchange, writes_title
from salesbot_core.ports import (
    Clock,
    Generated,
    IdSource,
    ReplyDelta,
    ReplyRequest,
    SalesAssistant,
    StreamingSalesAssistant,
    TitleRequest,
    UnitOfWorkFactory,
)
from salesbot_core.prompts import clean_title as title_from_answer
from salesbot_core.usecases.distilling import (
    DistillationPolicy,
    Distillations,
    DistillationSource,
    DistilMetadata,
)
from salesbot_core.usecases.grounding import PickProducts
from salesbot_core.validation import clean_content
from salesbot_core.webhooks import exchange_events

logger = logging.getLogger(__name__)


class ExchangeResult(msgspec.Struct, frozen=True, kw_only=True):
    """A stored exchange. ``distillation_due``: the exchange made the metadata due, and its
    distillation now runs in the background (see ``Distillations``)."""

    conversation: Conversation
    user_message: Message
    bot_message: Message
    distillation_due: bool = False


def context_chars(request: ReplyRequest) -> int:
    """The conversation context a reply prompt carries: metadata, recent turns, new message."""
    metadata = len(msgspec.json.encode(request.metadata)) if request.metadata else 0
    turns = sum(len(turn.content) for turn in request.recent_turns)
    return metadata + turns + len(request.customer_message)


async def reply_events(
    assistant: SalesAssistant, request: ReplyRequest
) -> AsyncGenerator[ReplyDelta | Generated]:
    """The reply piece by piece, then the whole ``Generated``; an assistant that cannot stream
    gives its reply as one piece."""
    if isinstance(assistant, StreamingSalesAssistant):
        async with aclosing(assistant.stream_reply(request)) as events:
            async for event in events:
                yield event
        return
    reply = await assistant.reply(request)
    yield ReplyDelta(text=reply.text)
    yield reply


async def write_title(assistant: SalesAssistant, first_message: str) -> tuple[str, TokenUsage]:
    """The conversation's title; made from the message itself when the assistant fails."""
    try:
        answer = await assistant.title(TitleRequest(first_message=first_message))
    except AssistantUnavailable:
        logger.warning("title generation failed; using the message as the title")
        return title_from_answer("", first_message), TokenUsage()
    return title_from_answer(answer.text, first_message), answer.usage


@dataclass
class _Exchange:
    """An exchange under way: what was read before the LLM call, and the title once written."""

    user_id: UUID
    conversation: Conversation | None
    text: str
    request: ReplyRequest
    # The messages since the last distillation that the context read returned, oldest first.
    window: Sequence[Message] = ()
    title: tuple[str, TokenUsage] | None = None


class SendMessage:
    """Send a customer message and store it with the assistant's reply (one exchange).

    Rules:
    - content is 1-5000 characters after trimming; a conversation that is not the user's is
      ``ConversationNotFound``, exactly like a missing one;
    - a distillation running for the conversation is waited for first (bounded by its budget),
      so the prompt carries the fresh metadata;
    - the reply prompt gets the current metadata and only the messages since it was distilled
      (at most ``max_recent_messages``), never the whole history;
    - every reply, whole or streamed, is grounded: ``pick_products`` chooses the shop's
      products it may name (see ``PickProducts``) before the assistant is called; without a
      picker the request says no catalogue is loaded; the request also carries the
      assistant's previous reply (even distilled away), so a reply need not repeat it;
    - the first exchange also writes the title, alongside the reply (a title failure falls back
      to the message);
    - no transaction is held across an LLM call: read, call the assistant, then store the
      exchange as ``plan_exchange`` decides it, in one short transaction; a conversation that
      changed meanwhile is read again, locked, and the exchange planned anew from it;
    - if the assistant fails nothing is stored and ``AssistantUnavailable``/``AssistantTimeout``
      propagates, so the same request can be sent again;
    - an exchange that creates the conversation writes ``conversation.created`` to the outbox,
      in the exchange's transaction;
    - when the exchange makes the metadata due, its distillation is scheduled on
      ``distillations`` and the exchange returns without waiting for it.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        assistant: SalesAssistant,
        clock: Clock,
        ids: IdSource,
        distillations: Distillations | None = None,
        *,
        max_recent_messages: int = 12,
        pick_products: PickProducts | None = None,
    ) -> None:
        self._uow = uow
        self._assistant = assistant
        self._clock = clock
        self._ids = ids
        self.distillations = distillations or Distillations(
            DistilMetadata(uow, assistant, clock, DistillationPolicy())
        )
        self._max_recent = max_recent_messages
        self._pick_products = pick_products

    async def __call__(
        self, *, user_id: UUID, content: str, conversation_id: UUID | None = None
    ) -> ExchangeResult:
        async with self._exchange(user_id, content, conversation_id) as exchange:
            reply = await self._assistant.reply(exchange.request)
        return await self._finish(exchange, reply)

    async def stream(
        self, *, user_id: UUID, content: str, conversation_id: UUID | None = None
    ) -> AsyncGenerator[ReplyDelta | ExchangeResult]:
        """The same exchange, yielding the reply piece by piece and then the stored result.

        Nothing is stored until the reply is complete: a consumer that stops iterating (a client
        that disconnects) or an assistant that fails mid-stream leaves the conversation as it was.
        """
        async with (
            self._exchange(user_id, content, conversation_id) as exchange,
            # Closed at once when our consumer stops, so the LLM stream is not left open.
            aclosing(reply_events(self._assistant, exchange.request)) as events,
        ):
            reply: Generated | None = None
            async for event in events:
                if isinstance(event, Generated):
                    reply = event
                else:
                    yield event
            if reply is None:
                raise AssistantUnavailable("The assistant's reply stream ended without a reply")
        yield await self._finish(exchange, reply)

    @asynccontextmanager
    async def _exchange(
        self, user_id: UUID, content: str, conversation_id: UUID | None
    ) -> AsyncIterator[_Exchange]:
        """Validate, read what the prompt needs and start the title; inside the block the caller
        gets the reply. Leaving the block by an error cancels the title: nothing is stored."""
        text = clean_content(content)
        conversation, window, last_reply = await self._read_context(user_id, conversation_id)
        request = await self._reply_request(text, conversation, window, last_reply)
        title_task = (
            asyncio.create_task(write_title(self._assistant, text))
            if writes_title(conversation)
            else None
        )
        exchange = _Exchange(
            user_id=user_id, conversation=conversation, text=text, request=request, window=window
        )
        try:
            yield exchange
        except BaseException:
            if title_task is not None:
                title_task.cancel()
            raise
        if title_task is not None:
            exchange.title = await title_task

    async def _reply_request(
        self,
        text: str,
        conversation: Conversation | None,
        window: Sequence[Message],
        last_reply: str | None,
    ) -> ReplyRequest:
        """The one place a reply's request is built: context, then its grounding."""
        turns = tuple(Turn(sender=m.sender, content=m.content) for m in window)
        metadata = conversation.metadata if conversation else None
        request = ReplyRequest(
            customer_message=text, recent_turns=turns, metadata=metadata, last_reply=last_reply
        )
        if self._pick_products is None:
            return request
        earlier = [t.content for t in turns if t.sender is Sender.USER]
        grounding = await self._pick_products(text, earlier, metadata)
        return msgspec.structs.replace(
            request, products=grounding.products, catalogue_loaded=grounding.catalogue_loaded
        )

    async def _read_context(
        self, user_id: UUID, conversation_id: UUID | None
    ) -> tuple[Conversation | None, Sequence[Message], str | None]:
        """The conversation, its messages since the last distillation, the last reply."""
        if conversation_id is None:
            return None, (), None
        await self.distillations.settled(conversation_id)
        async with self._uow() as uow:
            found = await uow.conversations.get_with_messages(
                conversation_id, user_id, limit=self._max_recent
            )
        if found is None:
            raise ConversationNotFound
        conversation, latest = found
        replies = [m.content for m in latest if m.sender is Sender.BOT]
        window = [m for m in latest if m.seq > conversation.distilled_through]
        return conversation, window, replies[-1] if replies else None

    async def _finish(self, exchange: _Exchange, reply: Generated) -> ExchangeResult:
        write, as_read = await self._store(exchange, reply)
        if write.distillation_due:
            source = self._known_source(exchange, write) if as_read else None
            self.distillations.schedule(write.conversation.id, source)
        return ExchangeResult(
            conversation=write.conversation,
            user_message=write.user_message,
            bot_message=write.bot_message,
            distillation_due=write.distillation_due,
        )

    async def _store(self, exchange: _Exchange, reply: Generated) -> tuple[ExchangeWrite, bool]:
        """Store the exchange; also whether it was planned from the conversation as read."""
        now = self._clock.now()
        title = exchange.title
        usage = reply.usage + (title[1] if title else TokenUsage())
        before = exchange.conversation or Conversation(
            id=self._ids.new_id(),
            user_id=exchange.user_id,
            title=title[0] if title else title_from_answer("", exchange.text),
            created_at=now,
            updated_at=now,
        )
        user_message_id, bot_message_id = self._ids.new_id(), self._ids.new_id()

        def plan(conversation: Conversation) -> ExchangeWrite:
            return plan_exchange(
                conversation,
                is_new=exchange.conversation is None,
                user_message_id=user_message_id,
                bot_message_id=bot_message_id,
                user_content=exchange.text,
                bot_content=reply.text,
                usage=usage,
                context_chars=context_chars(exchange.request),
                created_at=now,
            )

        write, as_read = plan(before), True
        async with self._uow() as uow:
            if not await uow.conversations.record_exchange(write):
                current = await uow.conversations.for_update(before.id)
                if current is None:
                    raise ConversationNotFound
                write, as_read = plan(current), False
                if not await uow.conversations.record_exchange(write):
                    raise ConversationNotFound
            # In the exchange's own transaction: committed with it, or gone with it.
            await uow.outbox.add(exchange_events(write))
            await uow.commit()
        return write, as_read

    def _known_source(self, exchange: _Exchange, write: ExchangeWrite) -> DistillationSource | None:
        """The distillation's window from what the exchange holds (its context read and its two
        messages), or None when the read was cut short of what the window needs."""
        limit = self.distillations.max_messages
        exchanged = (write.user_message, write.bot_message)
        before = exchange.conversation
        if before is not None:
            needed = min(before.message_count - before.distilled_through, limit - 2)
            if len(exchange.window) < needed:
                return None
        messages = (*exchange.window, *exchanged)[-limit:] if limit > 0 else ()
        return DistillationSource(conversation=write.conversation, messages=messages)
