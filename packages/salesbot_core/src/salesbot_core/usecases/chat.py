"""The sales conversation: sending a message, and reading, renaming and deleting conversations."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from uuid import UUID

import msgspec

from salesbot_core.domain import Conversation, ConversationCursor, Message, TokenUsage, Turn
from salesbot_core.errors import (
    AssistantUnavailable,
    ConversationNotFound,
    DatabaseUnavailable,
    InvalidMetadataAnswer,
)
from salesbot_core.metadata import MetadataLimits, merge_metadata
from salesbot_core.paging import PagingPolicy
from salesbot_core.ports import (
    Clock,
    DistillationRequest,
    ExchangeRecord,
    Generated,
    IdSource,
    ReplyDelta,
    ReplyRequest,
    SalesAssistant,
    StoredExchange,
    StreamingSalesAssistant,
    TitleRequest,
    UnitOfWork,
    UnitOfWorkFactory,
)
from salesbot_core.prompts import clean_title as title_from_answer
from salesbot_core.threshold import (
    Action,
    ContextState,
    ExchangeCompleted,
    MetadataDistilled,
    advance,
    state_before_last_exchange,
)
from salesbot_core.validation import clean_content, clean_query, clean_title

logger = logging.getLogger(__name__)


class ConversationPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Bounds that keep prompts small and exchanges quick even when distillation keeps failing.

    ``distil_budget_s`` caps the time the distillation (with its one retry) may add to the
    exchange that triggers it: the exchange is already stored, so past the budget the old
    metadata simply stays and the next exchange tries again."""

    max_recent_messages: int = 12
    max_distil_messages: int = 24
    distil_budget_s: float = 8.0
    metadata_limits: MetadataLimits = MetadataLimits()


class ExchangeResult(msgspec.Struct, frozen=True, kw_only=True):
    conversation: Conversation
    user_message: Message
    bot_message: Message


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


class History(msgspec.Struct, frozen=True, kw_only=True):
    """One page of a conversation's messages, oldest first. ``next_before`` is the ``seq`` to
    ask the previous page with (None on the first page of the conversation)."""

    conversation: Conversation
    messages: tuple[Message, ...]
    next_before: int | None = None


class ConversationPage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of a user's conversations; ``next`` continues after the last one (None: done)."""

    items: tuple[Conversation, ...]
    next: ConversationCursor | None = None


def context_chars(request: ReplyRequest) -> int:
    """The conversation context a reply prompt carries: metadata, recent turns, new message."""
    metadata = len(msgspec.json.encode(request.metadata)) if request.metadata else 0
    turns = sum(len(turn.content) for turn in request.recent_turns)
    return metadata + turns + len(request.customer_message)


async def _window(uow: UnitOfWork, conversation: Conversation, limit: int) -> Sequence[Message]:
    """The latest ``limit`` messages since the last distillation, oldest first: a bounded read,
    however many exchanges a failing distillation has let pile up."""
    latest = await uow.messages.page_before(conversation.id, limit=limit)
    return _since_distilled(conversation, latest)


def _since_distilled(conversation: Conversation, latest: Sequence[Message]) -> list[Message]:
    return [m for m in latest if m.seq > conversation.distilled_through]


def _known_window(exchange: _Exchange, stored: StoredExchange, limit: int) -> list[Message] | None:
    """The distillation's window (the latest ``limit`` messages since the last distillation)
    from what the exchange already holds, without reading it again; None when that cannot be
    known: another exchange or distillation landed between the context read and the store, or
    the context read was cut short of what the window needs."""
    if limit <= 0:
        return []  # as a read of no messages gives: nothing to distil
    before, after = exchange.conversation, stored.conversation
    exchanged = [stored.user_message, stored.bot_message]
    if before is None:
        return exchanged[-limit:]
    if (after.message_count, after.distilled_through) != (
        before.message_count + 2,
        before.distilled_through,
    ):
        return None
    needed = min(before.message_count - before.distilled_through, limit - 2)
    if len(exchange.window) < needed:
        return None
    return [*exchange.window, *exchanged][-limit:]


def _turns(messages: Sequence[Message], limit: int) -> tuple[Turn, ...]:
    recent = messages[-limit:] if limit > 0 else ()
    return tuple(Turn(sender=m.sender, content=m.content) for m in recent)


def _state_of(conversation: Conversation | None) -> ContextState:
    if conversation is None:
        return ContextState()
    return ContextState(
        counter=conversation.messages_since_context_update,
        exchanges=conversation.message_count // 2,
    )


class SendMessage:
    """Send a customer message and store it with the assistant's reply (one exchange).

    Rules:
    - content is 1-5000 characters after trimming; a conversation that is not the user's is
      ``ConversationNotFound``, exactly like a missing one;
    - the reply prompt gets the current metadata and only the messages since it was distilled
      (at most ``max_recent_messages``), never the whole history;
    - the first exchange also writes the title (a title failure falls back to the message);
    - no transaction is held across an LLM call: read, call the assistant, then store both
      messages and the counter step (+2, done atomically by the store) in one short transaction;
    - if the assistant fails nothing is stored and ``AssistantUnavailable``/``AssistantTimeout``
      propagates, so the same request can be sent again;
    - when the stored counter reaches 6 the metadata is distilled from the messages since the
      last distillation plus the previous metadata, merged by the metadata rules, and the counter
      drops by the messages covered (to 0). The window is the context the exchange read plus its
      two messages when nothing else landed in between, read afresh otherwise. An invalid answer
      is retried once; if it still fails the old metadata and the counter stay, the exchange
      still succeeds, and the next exchange tries again. A window is applied at most once even
      when exchanges race.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        assistant: SalesAssistant,
        clock: Clock,
        ids: IdSource,
        policy: ConversationPolicy | None = None,
    ) -> None:
        self._uow = uow
        self._assistant = assistant
        self._clock = clock
        self._ids = ids
        self._policy = policy or ConversationPolicy()

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
            aclosing(self._reply_events(exchange.request)) as events,
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

    async def _reply_events(self, request: ReplyRequest) -> AsyncGenerator[ReplyDelta | Generated]:
        if isinstance(self._assistant, StreamingSalesAssistant):
            async with aclosing(self._assistant.stream_reply(request)) as events:
                async for event in events:
                    yield event
            return
        reply = await self._assistant.reply(request)
        yield ReplyDelta(text=reply.text)
        yield reply

    @asynccontextmanager
    async def _exchange(
        self, user_id: UUID, content: str, conversation_id: UUID | None
    ) -> AsyncIterator[_Exchange]:
        """Validate, read what the prompt needs and start the title; inside the block the caller
        gets the reply. Leaving the block by an error cancels the title: nothing is stored."""
        text = clean_content(content)
        conversation, window = await self._read_context(user_id, conversation_id)
        request = ReplyRequest(
            customer_message=text,
            recent_turns=_turns(window, self._policy.max_recent_messages),
            metadata=conversation.metadata if conversation else None,
        )
        plan = advance(_state_of(conversation), ExchangeCompleted())
        title_task = (
            asyncio.create_task(self._title(text))
            if Action.WRITE_TITLE in plan.actions and conversation is None
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

    async def _finish(self, exchange: _Exchange, reply: Generated) -> ExchangeResult:
        """Store the exchange in one short transaction, then distil if the threshold says so."""
        stored = await self._store(exchange, reply)
        result = ExchangeResult(
            conversation=stored.conversation,
            user_message=stored.user_message,
            bot_message=stored.bot_message,
        )
        after = advance(
            state_before_last_exchange(
                stored.conversation.messages_since_context_update,
                stored.conversation.message_count,
            ),
            ExchangeCompleted(),
        )
        if Action.DISTIL_METADATA in after.actions:
            known = _known_window(exchange, stored, self._policy.max_distil_messages)
            distilled = await self._distil(stored.conversation, known)
            if distilled is not None:
                result = msgspec.structs.replace(result, conversation=distilled)
        return result

    async def _read_context(
        self, user_id: UUID, conversation_id: UUID | None
    ) -> tuple[Conversation | None, Sequence[Message]]:
        if conversation_id is None:
            return None, ()
        async with self._uow() as uow:
            found = await uow.conversations.get_with_messages(
                conversation_id, user_id, limit=self._policy.max_recent_messages
            )
        if found is None:
            raise ConversationNotFound
        conversation, latest = found
        return conversation, _since_distilled(conversation, latest)

    async def _title(self, first_message: str) -> tuple[str, TokenUsage]:
        try:
            answer = await self._assistant.title(TitleRequest(first_message=first_message))
        except AssistantUnavailable:
            logger.warning("title generation failed; using the message as the title")
            return title_from_answer("", first_message), TokenUsage()
        return title_from_answer(answer.text, first_message), answer.usage

    async def _store(self, exchange: _Exchange, reply: Generated) -> StoredExchange:
        conversation, text, title = exchange.conversation, exchange.text, exchange.title
        now = self._clock.now()
        usage = reply.usage + (title[1] if title else TokenUsage())
        async with self._uow() as uow:
            if conversation is None:
                conversation = Conversation(
                    id=self._ids.new_id(),
                    user_id=exchange.user_id,
                    title=title[0] if title else title_from_answer("", text),
                    created_at=now,
                    updated_at=now,
                )
                await uow.conversations.add(conversation)
            stored = await uow.conversations.record_exchange(
                ExchangeRecord(
                    conversation_id=conversation.id,
                    user_message_id=self._ids.new_id(),
                    bot_message_id=self._ids.new_id(),
                    user_content=text,
                    bot_content=reply.text,
                    usage=usage,
                    user_created_at=now,
                    bot_created_at=now,
                    context_chars=context_chars(exchange.request),
                )
            )
            await uow.commit()
        return stored

    async def _distil(
        self, conversation: Conversation, known: Sequence[Message] | None
    ) -> Conversation | None:
        """Best effort: the exchange is stored already, so no failure here may fail it (the
        client would send it again and store it twice). The old metadata stays instead."""
        try:
            async with asyncio.timeout(self._policy.distil_budget_s):
                return await self._distil_window(conversation, known)
        except (AssistantUnavailable, DatabaseUnavailable, TimeoutError) as error:
            logger.warning("metadata distillation failed (%s); the old metadata stays", error)
        except Exception:
            logger.exception("metadata distillation failed unexpectedly; the old metadata stays")
        return None

    async def _distil_window(
        self, conversation: Conversation, known: Sequence[Message] | None
    ) -> Conversation | None:
        window = known
        if window is None:
            async with self._uow() as uow:
                window = await _window(uow, conversation, self._policy.max_distil_messages)
        if not window:
            return None
        request = DistillationRequest(
            previous=conversation.metadata, turns=_turns(window, len(window))
        )
        for attempt in (1, 2):
            try:
                distilled = await self._assistant.distil(request)
                break
            except InvalidMetadataAnswer:
                logger.warning("metadata answer did not validate (attempt %d of 2)", attempt)
        else:
            return None
        merged = merge_metadata(
            conversation.metadata, distilled.metadata, self._policy.metadata_limits
        )
        now = self._clock.now()
        # Every message since the last distillation is covered, also the older ones the bounded
        # window left out of the prompt.
        through = window[-1].seq
        covered = through - conversation.distilled_through
        async with self._uow() as uow:
            applied = await uow.conversations.apply_distillation(
                conversation.id,
                expected_through=conversation.distilled_through,
                new_through=through,
                metadata=merged,
                covered_messages=covered,
                usage=distilled.usage,
                now=now,
            )
            if not applied:
                return None
            await uow.commit()
        state = advance(_state_of(conversation), MetadataDistilled(covered_messages=covered)).state
        return msgspec.structs.replace(
            conversation,
            metadata=merged,
            messages_since_context_update=state.counter,
            distilled_through=through,
            updated_at=now,
        )


class ListConversations:
    """The user's conversations, most recently updated first, a page at a time.

    Rules: the page size defaults to 50 and may not exceed 100; pages are keyset-paged on
    (updated_at, id), so a page never repeats a conversation that has not changed since; with a
    query, only conversations whose title or one message contains all its words.
    """

    def __init__(self, uow: UnitOfWorkFactory, paging: PagingPolicy | None = None) -> None:
        self._uow = uow
        self._limits = (paging or PagingPolicy()).conversations

    async def __call__(
        self,
        user_id: UUID,
        *,
        limit: int | None = None,
        after: ConversationCursor | None = None,
        query: str | None = None,
    ) -> ConversationPage:
        size = self._limits.size(limit)
        words = clean_query(query)
        async with self._uow() as uow:
            found = await uow.conversations.page_for_user(
                user_id, limit=size + 1, after=after, query=words
            )
        items = tuple(found[:size])
        more = len(found) > size
        last = items[-1] if items else None
        cursor = ConversationCursor(updated_at=last.updated_at, id=last.id) if last else None
        return ConversationPage(items=items, next=cursor if more else None)


class GetHistory:
    """A conversation's messages, oldest first, a page at a time (the latest page by default).

    Rules: someone else's conversation is not found; the page size defaults to 100 and may not
    exceed 500; ``before`` walks back through older pages without gaps or repeats, whatever is
    appended meanwhile.
    """

    def __init__(self, uow: UnitOfWorkFactory, paging: PagingPolicy | None = None) -> None:
        self._uow = uow
        self._limits = (paging or PagingPolicy()).messages

    async def __call__(
        self,
        user_id: UUID,
        conversation_id: UUID,
        *,
        limit: int | None = None,
        before: int | None = None,
    ) -> History:
        size = self._limits.size(limit)
        async with self._uow() as uow:
            found = await uow.conversations.get_with_messages(
                conversation_id, user_id, limit=size, before_seq=before
            )
        if found is None:
            raise ConversationNotFound
        conversation, page = found
        messages = tuple(page)
        more = bool(messages) and messages[0].seq > 1
        return History(
            conversation=conversation,
            messages=messages,
            next_before=messages[0].seq if more else None,
        )


class RenameConversation:
    """Set a conversation's title (1-255 characters after trimming)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, user_id: UUID, conversation_id: UUID, title: str) -> Conversation:
        cleaned = clean_title(title)
        async with self._uow() as uow:
            renamed = await uow.conversations.rename(
                conversation_id, user_id, cleaned, self._clock.now()
            )
            if renamed is None:
                raise ConversationNotFound
            await uow.commit()
        return renamed


class DeleteConversation:
    """Delete a conversation and its messages."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, user_id: UUID, conversation_id: UUID) -> None:
        async with self._uow() as uow:
            if not await uow.conversations.delete(conversation_id, user_id):
                raise ConversationNotFound
            await uow.commit()
