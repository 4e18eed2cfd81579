"""Distillation off the customer's wait: in the background, one per conversation at a time, and
nothing lost when it is cut short."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import UUID

from salesbot_core.domain import SalesMetadata
from salesbot_core.ports import DistillationRequest, Distilled, Generated, ReplyRequest
from salesbot_core.testing import ScriptedAssistant
from salesbot_core.usecases import DistillationPolicy, Distillations, DistilMetadata, DistilPending
from tests.unit.conftest import Core

USER = UUID(int=1000)


class GatedDistiller(ScriptedAssistant):
    """Distils only once ``go`` is set; ``distilling`` tells that a distillation has begun."""

    def __init__(self) -> None:
        super().__init__()
        self.distilling, self.go = asyncio.Event(), asyncio.Event()

    async def distil(self, request: DistillationRequest) -> Distilled:
        self.distilling.set()
        await self.go.wait()
        return await super().distil(request)


async def _two_exchanges(core: Core) -> UUID:
    first = await core.send(user_id=USER, content="laptop please")
    await core.send(user_id=USER, content="for coding", conversation_id=first.conversation.id)
    return first.conversation.id


async def test_the_exchange_returns_before_its_distillation_and_the_distillation_then_lands() -> (
    None
):
    assistant = GatedDistiller()
    core = Core(assistant=assistant)
    assistant.distillations.append(SalesMetadata(interests=("laptop",)))
    conversation_id = await _two_exchanges(core)

    third = await core.send(user_id=USER, content="under 1500", conversation_id=conversation_id)

    assert third.distillation_due
    assert third.bot_message.content == "Reply to: under 1500"
    assert third.conversation.metadata is None
    await assistant.distilling.wait()  # it started after the exchange returned, and waits
    assert core.send.distillations.running == 1
    assistant.go.set()
    distilled = await core.settle(conversation_id)
    assert distilled is not None
    stored = (await core.history(USER, conversation_id)).conversation
    assert stored.metadata == SalesMetadata(interests=("laptop",))
    assert stored.messages_since_context_update == 0
    assert core.send.distillations.running == 0


async def test_a_stop_before_the_distillation_leaves_it_due_and_the_next_exchange_distils_it() -> (
    None
):
    assistant = GatedDistiller()
    core = Core(assistant=assistant)
    conversation_id = await _two_exchanges(core)
    await core.send(user_id=USER, content="under 1500", conversation_id=conversation_id)
    await assistant.distilling.wait()

    cut_short = await core.send.distillations.drain(0.01)  # the process stops

    assert cut_short == 1
    left = (await core.history(USER, conversation_id)).conversation
    assert left.metadata is None
    assert left.messages_since_context_update == 6
    assistant.go.set()
    assistant.distillations.append(SalesMetadata(interests=("laptop",)))
    fourth = await core.send(user_id=USER, content="and light", conversation_id=conversation_id)
    assert fourth.distillation_due
    distilled = await core.settle(conversation_id)
    assert distilled is not None
    assert distilled.metadata == SalesMetadata(interests=("laptop",))
    assert (distilled.distilled_through, distilled.messages_since_context_update) == (8, 0)
    assert len(assistant.distil_requests[-1].turns) == 8


async def test_eight_racing_sends_into_a_due_conversation_make_one_distillation_call() -> None:
    class RacingReplies(GatedDistiller):
        """Replies once all eight racers wait for theirs, so all of them are in flight."""

        def __init__(self) -> None:
            super().__init__()
            self.waiting, self.all_in = 0, asyncio.Event()

        async def reply(self, request: ReplyRequest) -> Generated:
            if request.customer_message.startswith("racer"):
                self.waiting += 1
                if self.waiting == 8:
                    self.all_in.set()
                await self.all_in.wait()
            return await super().reply(request)

    assistant = RacingReplies()
    core = Core(assistant=assistant)
    conversation_id = await _two_exchanges(core)

    sends = await asyncio.gather(
        *(
            core.send(user_id=USER, content=f"racer {n}", conversation_id=conversation_id)
            for n in range(8)
        )
    )

    assert all(s.distillation_due for s in sends)
    assistant.go.set()
    distilled = await core.settle(conversation_id)
    assert len(assistant.distil_requests) == 1
    assert distilled is not None
    history = await core.history(USER, conversation_id)
    assert [m.seq for m in history.messages] == list(range(1, 21))
    stored = history.conversation
    assert stored.messages_since_context_update == stored.message_count - stored.distilled_through


async def test_a_send_during_a_running_distillation_gets_the_fresh_metadata() -> None:
    assistant = GatedDistiller()
    core = Core(assistant=assistant)
    fresh = SalesMetadata(interests=("gaming laptop",), offered_products=("Legion 5",))
    assistant.distillations.append(fresh)
    conversation_id = await _two_exchanges(core)
    await core.send(user_id=USER, content="under 1500", conversation_id=conversation_id)
    await assistant.distilling.wait()

    fourth = asyncio.create_task(
        core.send(user_id=USER, content="which one?", conversation_id=conversation_id)
    )
    await asyncio.sleep(0)  # let it start; it must wait for the distillation
    assert not fourth.done()
    assert [r.customer_message for r in assistant.reply_requests][-1] == "under 1500"
    assistant.go.set()
    await fourth

    request = assistant.reply_requests[-1]
    assert request.customer_message == "which one?"
    assert request.metadata == fresh
    assert request.recent_turns == ()


async def test_an_exchange_waits_for_a_running_distillation_no_longer_than_its_budget() -> None:
    assistant = GatedDistiller()  # never let go: the distillation outlives its budget
    core = Core(assistant=assistant)
    core.send.distillations = Distillations(
        DistilMetadata(
            core.store.uow_factory, assistant, core.clock, DistillationPolicy(budget_s=0.05)
        )
    )
    conversation_id = await _two_exchanges(core)
    await core.send(user_id=USER, content="under 1500", conversation_id=conversation_id)

    fourth = await core.send(user_id=USER, content="still there?", conversation_id=conversation_id)

    assert fourth.bot_message.content == "Reply to: still there?"
    assert assistant.reply_requests[-1].metadata is None
    await core.settle(conversation_id)
    assistant.go.set()


async def test_the_sweep_distils_conversations_left_due() -> None:
    assistant = GatedDistiller()
    core = Core(assistant=assistant)
    left_due = []
    for customer in range(3):
        user = UUID(int=5000 + customer)
        conversation_id = None
        for text in ("a", "b", "c"):
            result = await core.send(user_id=user, content=text, conversation_id=conversation_id)
            conversation_id = result.conversation.id
        left_due.append(conversation_id)
    assert await core.send.distillations.drain(0.01) == 3
    distilled_before = await core.list_conversations(USER)
    assert distilled_before.items == ()
    assistant.go.set()
    sweep = DistilPending(core.store.uow_factory, core.send.distillations, batch=2, concurrency=1)

    first, second, third = await sweep(), await sweep(), await sweep()

    assert (first, second, third) == (2, 1, 0)
    assert sweep.last_due == 0
    for conversation_id in left_due:
        conversation = core.store.state.conversations[conversation_id]
        assert conversation.metadata is not None
        assert conversation.messages_since_context_update == 0


async def test_a_distillation_another_process_runs_holds_the_lease_and_no_second_call_is_made() -> (
    None
):
    """Two instances over one store: each has its own runner, the lease is shared."""
    assistant = GatedDistiller()
    core = Core(assistant=assistant)
    conversation_id = await _two_exchanges(core)
    await core.send(user_id=USER, content="under 1500", conversation_id=conversation_id)
    await assistant.distilling.wait()  # the first instance is asking the LLM
    other = DistilMetadata(core.store.uow_factory, assistant, core.clock)

    # Without the lease it would wait at the gate with the first: bounded, it fails instead.
    assert await asyncio.wait_for(other(conversation_id), timeout=10) is None

    assistant.go.set()
    distilled = await core.settle(conversation_id)
    assert distilled is not None
    assert core.store.state.distillation_leases == {}  # given back when it ended
    assert len(assistant.distil_requests) == 1


async def test_a_lease_left_by_a_crashed_process_runs_out_by_itself() -> None:
    core = Core()
    conversation_id = await _two_exchanges(core)
    budget_s = DistillationPolicy().budget_s
    async with core.store.uow_factory() as uow:  # a process that claimed it, then died
        now = core.clock.now()
        until = now + timedelta(seconds=budget_s)
        assert await uow.conversations.claim_distillation(conversation_id, now=now, until=until)
        await uow.commit()
    distil = DistilMetadata(core.store.uow_factory, core.assistant, core.clock)

    assert await distil(conversation_id) is None
    core.clock.advance(timedelta(seconds=budget_s))
    distilled = await distil(conversation_id)

    assert distilled is not None
    assert distilled.distilled_through == 4
    assert core.store.state.distillation_leases == {}
