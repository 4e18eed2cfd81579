"""Every applied distillation is kept with the metadata it left, in the unit of work that
applied it; staff read a lead whole (``GetLeadConversation``)."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from salesbot_core.domain import Role, SalesMetadata, SaleStatus
from salesbot_core.errors import ConversationNotFound, Forbidden
from salesbot_core.usecases import DistilMetadata, GetLeadConversation, LeadReadLimits
from tests.unit.conftest import Core

FIRST = SalesMetadata(interests=("laptop",))
SECOND = SalesMetadata(
    interests=("laptop",), offered_products=("XPS",), sale_status=SaleStatus.NEGOTIATING
)


async def _exchanges(core: Core, user_id: UUID, count: int, into: UUID | None = None) -> UUID:
    conversation_id = into
    for n in range(count):
        result = await core.send(
            user_id=user_id, content=f"message {n}", conversation_id=conversation_id
        )
        conversation_id = result.conversation.id
        await core.settle(conversation_id)
    assert conversation_id is not None
    return conversation_id


async def test_each_distillation_is_kept_with_the_metadata_it_left(core: Core) -> None:
    anna = await core.register(email="anna@example.com", password="password123", name="Anna")
    core.assistant.distillations.extend([FIRST, SECOND])

    conversation_id = await _exchanges(core, anna.id, 6)

    read = GetLeadConversation(core.store.insight())
    found = await read(role=Role.ADMIN, conversation_id=conversation_id)
    assert [d.metadata for d in found.distillations] == [FIRST, SECOND]
    assert [(d.through_seq, d.covered_messages) for d in found.distillations] == [(6, 6), (12, 6)]
    assert found.lead.metadata == SECOND
    assert found.total_messages == 12
    assert [m.seq for m in found.messages] == list(range(1, 13))


async def test_a_distillation_that_is_not_applied_keeps_no_history(core: Core) -> None:
    anna = await core.register(email="anna@example.com", password="password123", name="Anna")
    core.assistant.distillations.append(FIRST)
    conversation_id = await _exchanges(core, anna.id, 3)
    # A second distillation of the same window: nothing new to cover, nothing applied.
    distil = DistilMetadata(core.store.uow_factory, core.assistant, core.clock)
    assert await distil(conversation_id) is None

    found = await GetLeadConversation(core.store.insight())(
        role=Role.ADMIN, conversation_id=conversation_id
    )
    assert [d.metadata for d in found.distillations] == [FIRST]


async def test_the_limits_keep_the_latest_messages_and_distillations(core: Core) -> None:
    anna = await core.register(email="anna@example.com", password="password123", name="Anna")
    core.assistant.distillations.extend([FIRST, SECOND])
    conversation_id = await _exchanges(core, anna.id, 6)

    read = GetLeadConversation(core.store.insight(), LeadReadLimits(messages=3, distillations=1))
    found = await read(role=Role.ADMIN, conversation_id=conversation_id)
    assert [m.seq for m in found.messages] == [10, 11, 12]
    assert [d.metadata for d in found.distillations] == [SECOND]
    assert (found.total_messages, found.total_distillations) == (12, 2)


async def test_only_admins_read_a_lead_and_an_unknown_one_is_not_found(core: Core) -> None:
    anna = await core.register(email="anna@example.com", password="password123", name="Anna")
    conversation_id = await _exchanges(core, anna.id, 1)
    read = GetLeadConversation(core.store.insight())

    with pytest.raises(Forbidden):
        await read(role=Role.CUSTOMER, conversation_id=conversation_id)
    with pytest.raises(ConversationNotFound):
        await read(role=Role.ADMIN, conversation_id=uuid4())
    found = await read(role=Role.ADMIN, conversation_id=conversation_id)
    assert found.distillations == ()
    assert found.lead.customer_email == "anna@example.com"
