"""The ports: what the core needs from the outside world, as Protocols the adapters implement."""

from salesbot_core.ports.assistant import (
    DistillationRequest,
    Distilled,
    Generated,
    ReplyDelta,
    ReplyRequest,
    SalesAssistant,
    StreamingSalesAssistant,
    TitleRequest,
)
from salesbot_core.ports.clock import Clock, IdSource
from salesbot_core.ports.insight import (
    Count,
    DayConversion,
    Lead,
    LeadConversation,
    OfferedProduct,
    SalesFigures,
    SalesInsightReader,
    UsageTotals,
)
from salesbot_core.ports.integrity import IntegrityChecker, Invariant, Violation
from salesbot_core.ports.login_attempts import AttemptCounter, Tally
from salesbot_core.ports.outbox import Outbox, PostResult, WebhookDeliveries, WebhookPoster
from salesbot_core.ports.password_hasher import PasswordHasher
from salesbot_core.ports.token_issuer import AccessClaims, AccessToken, TokenIssuer
from salesbot_core.ports.unit_of_work import (
    ConversationRepository,
    RefreshTokenRepository,
    UnitOfWork,
    UnitOfWorkFactory,
    UserRepository,
)

__all__ = [
    "AccessClaims",
    "AccessToken",
    "AttemptCounter",
    "Clock",
    "ConversationRepository",
    "Count",
    "DayConversion",
    "DistillationRequest",
    "Distilled",
    "Generated",
    "IdSource",
    "IntegrityChecker",
    "Invariant",
    "Lead",
    "LeadConversation",
    "OfferedProduct",
    "Outbox",
    "PasswordHasher",
    "PostResult",
    "RefreshTokenRepository",
    "ReplyDelta",
    "ReplyRequest",
    "SalesAssistant",
    "SalesFigures",
    "SalesInsightReader",
    "StreamingSalesAssistant",
    "Tally",
    "TitleRequest",
    "TokenIssuer",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UsageTotals",
    "UserRepository",
    "Violation",
    "WebhookDeliveries",
    "WebhookPoster",
]
