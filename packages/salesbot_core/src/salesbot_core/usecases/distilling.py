"""Distilling a conversation's metadata: the use case, and the runner that keeps it off the
customer's wait (one distillation per conversation at a time, in the background)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

import msgspec

from salesbot_core.domain import Conversation, Message, Turn
from salesbot_core.errors import AssistantUnavailable, DatabaseUnavailable, InvalidMetadataAnswer
from salesbot_core.exchange import DistillationWrite, plan_distillation
from salesbot_core.metadata import MetadataLimits, merge_metadata
from salesbot_core.ports import Clock, DistillationRequest, SalesAssistant, UnitOfWorkFactory
from salesbot_core.threshold import DISTIL_AT
from salesbot_core.webhooks import distillation_events, moves_status

logger = logging.getLogger(__name__)


class DistillationPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """``max_messages`` bounds the window a distillation reads (however many exchanges a failing
    LLM let pile up); ``budget_s`` bounds one distillation with its retry, and how long an
    exchange waits for a running one."""

    max_messages: int = 24
    budget_s: float = 8.0
    metadata_limits: MetadataLimits = MetadataLimits()


class DistillationSource(msgspec.Struct, frozen=True, kw_only=True):
    """What a distillation reads: the conversation and its latest messages since the last
    distillation (at most the policy's ``max_messages``), oldest first."""

    conversation: Conversation
    messages: tuple[Message, ...]


def turns_of(messages: Sequence[Message]) -> tuple[Turn, ...]:
    return tuple(Turn(sender=m.sender, content=m.content) for m in messages)


class DistilMetadata:
    """Distil one conversation's sales metadata.

    Rules:
    - the LLM gets the previous metadata and the latest ``max_messages`` messages since the
      last distillation; its answer is merged by the metadata rules (``merge_metadata``);
    - an answer that does not validate is retried once; failing still, the old metadata and the
      counter stay, so the conversation stays due and the next exchange or the sweep tries again;
    - the metadata covers every message up to the window's last, also older ones the bound left
      out of the prompt; the counter drops by the messages covered (``plan_distillation``);
    - before the LLM call the conversation's distillation lease is claimed (compare-and-set in
      the store, until now + ``budget_s``): while another process holds a live one nothing is
      asked or applied, so across instances one distillation per conversation runs at a time;
      the claim also needs the conversation still distilled through where the window read it,
      so a window another process distilled meanwhile costs no LLM call;
      the lease is given back when the distillation ends (by the change that applies it, or
      after a distillation that applied nothing), or runs out by itself;
    - a conversation that changed while the LLM answered (an exchange landed) gets the plan made
      again from how it stands; if another distillation landed meanwhile nothing is applied, so
      a window is applied at most once;
    - a distillation that moves the sale status writes its lead events (``distillation_events``)
      to the outbox in its own transaction.
    - every applied distillation is kept in the history (``Distillation``), by the change that
      applies it, so the metadata can be followed as each distillation changed it.
    Returns the conversation as distilled, or None when nothing was applied.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        assistant: SalesAssistant,
        clock: Clock,
        policy: DistillationPolicy | None = None,
    ) -> None:
        self._uow = uow
        self._assistant = assistant
        self._clock = clock
        self.policy = policy or DistillationPolicy()

    async def __call__(
        self, conversation_id: UUID, source: DistillationSource | None = None
    ) -> Conversation | None:
        """Distil ``conversation_id``; ``source`` is what an exchange already holds (its read
        plus its two messages), so the distillation need not read it again."""
        if source is None:
            source = await self._read(conversation_id)
            if source is None:
                return None
        if not source.messages:
            return None
        now = self._clock.now()
        lease_until = now + timedelta(seconds=self.policy.budget_s)
        async with self._uow() as uow:
            # Compare-and-set on the window read: if another distillation covered it since,
            # the claim fails and no LLM call is made for a window already distilled.
            claimed = await uow.conversations.claim_distillation(
                conversation_id,
                now=now,
                until=lease_until,
                distilled_through=source.conversation.distilled_through,
            )
            await uow.commit()
        if not claimed:
            return None  # another process is distilling it; its answer covers this window
        distilled: Conversation | None = None
        try:
            # Applying a distillation ends its lease in the same change.
            distilled = await self._distil(conversation_id, source, lease_until)
        finally:
            if distilled is None:
                await self._release(conversation_id, lease_until)
        return distilled

    async def _release(self, conversation_id: UUID, lease_until: datetime) -> None:
        # Shielded: a distillation cut short (the budget, a shutdown) still gives its lease
        # back; if even that fails, the lease ends by itself at ``lease_until``.
        async def release() -> None:
            async with self._uow() as uow:
                await uow.conversations.release_distillation(conversation_id, until=lease_until)
                await uow.commit()

        try:
            await asyncio.shield(release())
        except DatabaseUnavailable:
            logger.warning("could not release a distillation lease; it ends by itself")

    async def _distil(
        self, conversation_id: UUID, source: DistillationSource, lease_until: datetime
    ) -> Conversation | None:
        request = DistillationRequest(
            previous=source.conversation.metadata, turns=turns_of(source.messages)
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
            source.conversation.metadata, distilled.metadata, self.policy.metadata_limits
        )
        now = self._clock.now()

        def plan(before: Conversation) -> DistillationWrite:
            return plan_distillation(
                before,
                metadata=merged,
                through=source.messages[-1].seq,
                usage=distilled.usage,
                now=now,
            )

        before = source.conversation
        write = plan(before)
        async with self._uow() as uow:
            conversations = uow.conversations
            if not await conversations.apply_distillation(write, lease_until=lease_until):
                current = await conversations.for_update(conversation_id)
                if current is None or current.distilled_through != (
                    source.conversation.distilled_through
                ):
                    return None  # gone, or another distillation covered this window
                before, write = current, plan(current)
                if not await conversations.apply_distillation(write, lease_until=lease_until):
                    return None
            if moves_status(before, write):
                # In the distillation's own transaction: committed with it, or gone with it.
                customer = await uow.users.get(before.user_id)
                await uow.outbox.add(distillation_events(before, write, customer))
            await uow.commit()
        return write.conversation

    async def _read(self, conversation_id: UUID) -> DistillationSource | None:
        async with self._uow() as uow:
            found = await uow.conversations.window(conversation_id, limit=self.policy.max_messages)
        if found is None:
            return None
        conversation, messages = found
        return DistillationSource(conversation=conversation, messages=tuple(messages))


class Distillations:
    """Runs ``DistilMetadata`` in the background, at most one per conversation at a time.

    Rules:
    - ``schedule`` starts a distillation and returns at once; while one runs for the
      conversation, scheduling another does nothing (racing exchanges make one LLM call);
    - each is bounded by the policy's ``budget_s``; a failure is logged and never reaches an
      exchange (the conversation stays due);
    - ``settled`` waits, at most ``budget_s``, for a running one: an exchange calls it before
      reading its context, so its prompt carries the fresh metadata;
    - ``drain`` waits for all of them, within a bound (at shutdown); those cut short are
      cancelled and their conversations stay due for the next exchange or the sweep.
    Library users: ``await distillations.settled(conversation_id)`` after a send to see its
    distillation land, or ``await distillations.drain(timeout)`` before stopping.
    """

    def __init__(self, distil: DistilMetadata) -> None:
        self._distil = distil
        self._running: dict[UUID, asyncio.Task[Conversation | None]] = {}

    @property
    def budget_s(self) -> float:
        return self._distil.policy.budget_s

    @property
    def max_messages(self) -> int:
        return self._distil.policy.max_messages

    @property
    def running(self) -> int:
        """How many distillations are under way."""
        return len(self._running)

    def schedule(self, conversation_id: UUID, source: DistillationSource | None = None) -> bool:
        """Start distilling ``conversation_id`` in the background; False when one already runs."""
        if conversation_id in self._running:
            return False
        task = asyncio.create_task(
            self._bounded(conversation_id, source), name=f"salesbot-distil-{conversation_id}"
        )
        self._running[conversation_id] = task

        def finished(done: asyncio.Task[Conversation | None]) -> None:
            if self._running.get(conversation_id) is done:
                del self._running[conversation_id]

        task.add_done_callback(finished)
        return True

    async def settled(self, conversation_id: UUID) -> Conversation | None:
        """Wait for the conversation's running distillation, if any, at most ``budget_s``; the
        conversation as it distilled, or None (none ran, it failed, or the wait ran out)."""
        task = self._running.get(conversation_id)
        if task is None:
            return None
        done, _ = await asyncio.wait({task}, timeout=self.budget_s)
        if task in done and not task.cancelled():
            return task.result()
        return None

    async def drain(self, timeout_s: float) -> int:
        """Wait up to ``timeout_s`` for every running distillation; cancel the rest and return
        how many were cut short."""
        tasks = set(self._running.values())
        if not tasks:
            return 0
        _, pending = await asyncio.wait(tasks, timeout=timeout_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
            logger.warning(
                "%d metadata distillations were cut short; their conversations stay due",
                len(pending),
            )
        return len(pending)

    async def _bounded(
        self, conversation_id: UUID, source: DistillationSource | None
    ) -> Conversation | None:
        try:
            async with asyncio.timeout(self.budget_s):
                return await self._distil(conversation_id, source)
        except (AssistantUnavailable, DatabaseUnavailable, TimeoutError) as error:
            logger.warning("metadata distillation failed (%r); the old metadata stays", error)
        except Exception:
            logger.exception("metadata distillation failed unexpectedly; the old metadata stays")
        return None


class DistilPending:
    """Distil the conversations left due: a process stopped between a reply and its
    distillation, or the LLM failed. Run by the server every ``DISTIL_SWEEP_INTERVAL`` and by
    ``salesbot conversations distil-pending``.

    Rules: due means the counter reached the threshold; at most ``batch`` conversations per call,
    least recently updated first, ``concurrency`` at a time; conversations whose distillation
    already runs here are left to it. Returns how many were distilled (``last_due``: how many
    were due).
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        distillations: Distillations,
        *,
        batch: int = 100,
        concurrency: int = 4,
    ) -> None:
        self._uow = uow
        self._distillations = distillations
        self._batch = batch
        self._concurrency = concurrency
        self.last_due = 0

    async def __call__(self) -> int:
        async with self._uow() as uow:
            due = await uow.conversations.due_for_distillation(
                at_least=DISTIL_AT, limit=self._batch
            )
        self.last_due = len(due)
        distilled = 0
        for start in range(0, len(due), self._concurrency):
            chunk = due[start : start + self._concurrency]
            scheduled = [c for c in chunk if self._distillations.schedule(c)]
            for conversation_id in scheduled:
                if await self._distillations.settled(conversation_id) is not None:
                    distilled += 1
        return distilled
