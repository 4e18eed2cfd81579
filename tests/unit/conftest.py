"""The core wired to its in-memory adapters, as a library user would test with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

import pytest

from salesbot_core.domain import Conversation
from salesbot_core.testing import (
    FakeClock,
    FakeTokenIssuer,
    FastPasswordHasher,
    InMemoryStore,
    ScriptedAssistant,
    SequentialIds,
)
from salesbot_core.tokens import TokenPolicy
from salesbot_core.usecases import (
    CheckEmail,
    CleanupTokens,
    DeleteConversation,
    GetHistory,
    GetProfile,
    GrantAdmin,
    ListConversations,
    Login,
    Logout,
    LogoutAll,
    RefreshSession,
    RegisterUser,
    RenameConversation,
    SendMessage,
)


class CountingHasher(FastPasswordHasher):
    """Counts verifications, so tests can see that every login failure costs the same work."""

    def __init__(self) -> None:
        self.verifications = 0

    async def verify(self, password: str, password_hash: str) -> bool:
        self.verifications += 1
        return await super().verify(password, password_hash)


@dataclass
class Core:
    store: InMemoryStore = field(default_factory=InMemoryStore)
    assistant: ScriptedAssistant = field(default_factory=ScriptedAssistant)
    clock: FakeClock = field(default_factory=FakeClock)
    ids: SequentialIds = field(default_factory=SequentialIds)
    hasher: CountingHasher = field(default_factory=CountingHasher)
    policy: TokenPolicy = field(default_factory=TokenPolicy)

    def __post_init__(self) -> None:
        uow = self.store.uow_factory
        self.issuer = FakeTokenIssuer(self.policy.access_ttl)
        self.register = RegisterUser(uow, self.hasher, self.clock, self.ids)
        self.check_email = CheckEmail(uow)
        self.profile = GetProfile(uow)
        self.grant_admin = GrantAdmin(uow, self.clock)
        self.login = Login(uow, self.hasher, self.issuer, self.clock, self.ids, self.policy)
        self.refresh = RefreshSession(uow, self.issuer, self.clock, self.ids)
        self.logout = Logout(uow, self.clock)
        self.logout_all = LogoutAll(uow, self.clock)
        self.cleanup = CleanupTokens(uow, self.clock, self.policy)
        self.send = SendMessage(uow, self.assistant, self.clock, self.ids)
        self.list_conversations = ListConversations(uow)
        self.history = GetHistory(uow)
        self.rename = RenameConversation(uow, self.clock)
        self.delete = DeleteConversation(uow)

    async def settle(self, conversation_id: UUID) -> Conversation | None:
        """Wait for the conversation's background distillation, if one runs."""
        return await self.send.distillations.settled(conversation_id)


@pytest.fixture
def core() -> Core:
    return Core()
