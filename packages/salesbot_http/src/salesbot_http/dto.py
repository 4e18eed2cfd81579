"""The wire format: request and response bodies as msgspec Structs, camelCase on the wire.

Requests refuse unknown fields. The business rules (lengths after trimming, email and phone
formats) are the core's, so they hold for every entry point; the constraints here only describe
them in the OpenAPI document, or repeat those that trimming cannot change. Domain values are
turned into these Structs by the ``*_out`` functions, so the domain never sees a wire type.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

import msgspec

from salesbot_core.domain import (
    Conversation,
    Distillation,
    Message,
    Product,
    SalesMetadata,
    SaleStatus,
    Sender,
    Session,
    User,
)
from salesbot_core.ports import Count, Lead, LeadConversation, OfferedProduct
from salesbot_core.ports.catalogue import ImportCounts
from salesbot_core.usecases import (
    ExchangeResult,
    History,
    LoginResult,
    SalesAnalytics,
    TokenPair,
)
from salesbot_core.validation import (
    CONTENT_MAX_CHARS,
    EMAIL_MAX_CHARS,
    NAME_MAX_CHARS,
    NAME_MIN_CHARS,
    PASSWORD_MAX_CHARS,
    PASSWORD_MIN_CHARS,
    TITLE_MAX_CHARS,
)
from salesbot_core.webhooks import DeliveryStatus, EventType, WebhookDelivery

# The core's rules as JSON Schema patterns, documenting exactly what the core accepts (it enforces
# them, after trimming, with its own messages): a client that follows the document is never
# refused, and one that does not is. Whitespace is spelled out rather than written ``\s``: the
# core trims what Python's ``str.isspace`` calls whitespace, which is not JSON Schema's (ECMA-262)
# ``\s`` (it adds U+001C-U+001F and U+0085, and lacks U+FEFF). No text may hold a NUL.
_WS = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_SPACE, _VISIBLE, _ANY = f"[{_WS}]", f"[^{_WS}\\x00]", "[^\\x00]"
_CONTROL = r"\x00-\x1f\x7f"
_LOCAL, _LABEL = f"[^@{_WS}{_CONTROL}]", f"[^@.{_WS}{_CONTROL}]"
EMAIL_PATTERN = f"^{_SPACE}*{_LOCAL}+@{_LABEL}+(\\.{_LABEL}+)+{_SPACE}*$"
# At least three characters once whitespace runs are collapsed: three visible ones, or two words.
_THREE = f"{_VISIBLE}{_SPACE}*{_VISIBLE}{_SPACE}*{_VISIBLE}|{_VISIBLE}{_SPACE}+{_VISIBLE}"
NAME_PATTERN = f"^{_ANY}*({_THREE}){_ANY}*$"
PHONE_PATTERN = f"^{_SPACE}*(\\+[1-9][0-9]{{6,14}})?{_SPACE}*$"
# 1 to 5000 characters once trimmed, whatever surrounds them.
CONTENT_PATTERN = f"^{_SPACE}*{_VISIBLE}({_ANY}{{0,{CONTENT_MAX_CHARS - 2}}}{_VISIBLE})?{_SPACE}*$"
TITLE_PATTERN = f"^{_ANY}*{_VISIBLE}{_ANY}*$"


class RequestBody(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """Base of request bodies."""


class ResponseBody(msgspec.Struct, rename="camel", kw_only=True):
    """Base of response bodies."""


Email = Annotated[
    str,
    msgspec.Meta(
        # As sent: a longer address is refused here, before any trimming.
        max_length=EMAIL_MAX_CHARS,
        description="An email address; trimmed and compared case-insensitively.",
        examples=["customer@example.com"],
        extra_json_schema={"extra": {"pattern": EMAIL_PATTERN}},
    ),
]
# Login takes any text: whatever is typed, a failed login is the same 401.
LoginEmail = Annotated[
    str,
    msgspec.Meta(
        description="The email the account was registered with (any case, spaces trimmed).",
        examples=["customer@example.com"],
    ),
]
NewPassword = Annotated[
    str,
    msgspec.Meta(
        min_length=PASSWORD_MIN_CHARS,
        max_length=PASSWORD_MAX_CHARS,
        description=(
            f"{PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters of any kind, "
            "never trimmed or truncated."
        ),
        examples=["correct horse battery"],
    ),
]


class RegisterRequest(RequestBody):
    email: Email
    password: NewPassword
    name: Annotated[
        str,
        msgspec.Meta(
            # As sent; the core's 3 to 255 count after collapsing whitespace.
            max_length=NAME_MAX_CHARS,
            description=f"Trimmed, {NAME_MIN_CHARS} to {NAME_MAX_CHARS} characters.",
            examples=["Jane Doe"],
            extra_json_schema={"extra": {"pattern": NAME_PATTERN}},
        ),
    ]
    phone: (
        Annotated[
            str,
            msgspec.Meta(
                description="E.164, e.g. +14155552671 (optional).",
                examples=["+14155552671"],
                extra_json_schema={"extra": {"pattern": PHONE_PATTERN}},
            ),
        ]
        | None
    ) = None


class LoginRequest(RequestBody):
    email: LoginEmail
    password: str


class RefreshTokenRequest(RequestBody):
    refresh_token: Annotated[str, msgspec.Meta(description="The refresh token from login.")]


class SendMessageRequest(RequestBody):
    content: Annotated[
        str,
        msgspec.Meta(
            description=f"The customer's message: 1 to {CONTENT_MAX_CHARS} characters after trimming.",
            examples=["Hi, I am looking for a laptop for programming"],
            extra_json_schema={"extra": {"pattern": CONTENT_PATTERN}},
        ),
    ]
    conversation_id: UUID | None = msgspec.field(default=None)


class RenameConversationRequest(RequestBody):
    title: Annotated[
        str,
        msgspec.Meta(
            max_length=TITLE_MAX_CHARS,  # as sent, like a name
            description=f"1 to {TITLE_MAX_CHARS} characters after trimming.",
            examples=["Programming laptop"],
            extra_json_schema={"extra": {"pattern": TITLE_PATTERN}},
        ),
    ]


class UserOut(ResponseBody):
    id: UUID
    email: str
    name: str
    phone: str | None
    created_at: datetime


class UserSummary(ResponseBody):
    id: UUID
    email: str
    name: str


class TokensOut(ResponseBody):
    access_token: str
    refresh_token: str


class LoginOut(ResponseBody):
    access_token: str
    refresh_token: str
    user: UserSummary


class EmailCheckOut(ResponseBody):
    exists: bool


class ConversationRef(ResponseBody):
    id: UUID
    title: str


class ConversationOut(ResponseBody):
    id: UUID
    title: str
    created_at: datetime
    updated_at: datetime


class MessageOut(ResponseBody):
    id: UUID
    conversation_id: UUID
    content: str
    sender: Sender
    created_at: datetime


class ExchangeOut(ResponseBody):
    conversation: ConversationRef
    user_message: MessageOut
    bot_message: MessageOut


class HistoryOut(ResponseBody):
    conversation_id: UUID
    title: str
    messages: list[MessageOut]
    total_messages: int
    next_before: Annotated[
        int | None,
        msgspec.Meta(
            description=(
                "Older messages exist: pass this as `before` to read the page before these "
                "(null on the conversation's first page)."
            )
        ),
    ] = None


class HealthOut(ResponseBody):
    status: str
    database: str


class ReplyPieceOut(ResponseBody):
    """The data of a ``delta`` event of ``POST /chat/send/stream``."""

    text: str


class StreamErrorOut(ResponseBody):
    """The data of an ``error`` event of ``POST /chat/send/stream``: what the status would have
    been had the failure come before the stream started."""

    message: str
    status: int


class SessionOut(ResponseBody):
    """A signed-in device: one login and the refresh tokens rotated from it."""

    id: UUID
    created_at: Annotated[datetime, msgspec.Meta(description="The login.")]
    last_used_at: Annotated[datetime, msgspec.Meta(description="The login or the latest refresh.")]
    expires_at: Annotated[
        datetime, msgspec.Meta(description="When its refresh token stops working.")
    ]
    user_agent: str | None
    ip: str | None


class CountOut(ResponseBody, omit_defaults=True):
    """A ranked name; a product of the shop's catalogue also has its SKU, price (exact, a
    decimal string) and currency (absent for a name of no product, as before)."""

    name: str
    count: int
    sku: str | None = None
    price: Decimal | None = None
    currency: str | None = None


class OfferedProductOut(ResponseBody, omit_defaults=True):
    """A product offered to a lead as its metadata names it; a product of the shop's catalogue
    also has its SKU, price (exact, a decimal string) and currency, and its catalogue name."""

    name: str
    sku: str | None = None
    price: Decimal | None = None
    currency: str | None = None


_OFFERED = msgspec.Meta(
    description="The metadata's offeredProducts, each linked to the catalogue where it names "
    "a product (then with its SKU and price)."
)


class DayRateOut(ResponseBody):
    day: date
    started: Annotated[int, msgspec.Meta(description="Conversations started that day (UTC).")]
    closed: Annotated[int, msgspec.Meta(description="How many of them are closed sales now.")]
    rate: Annotated[float, msgspec.Meta(description="closed / started, 4 decimals.")]


class TokenFiguresOut(ResponseBody):
    exchanges: int
    prompt_tokens: int
    completion_tokens: int
    tokens_per_exchange: float


class ContextSavingOut(ResponseBody):
    """Conversation context the reply prompts carried against sending the whole history."""

    sent_chars: int
    full_history_chars: int
    saved_chars: int
    saved_ratio: float
    estimated_saved_tokens: Annotated[
        int, msgspec.Meta(description="saved characters / 4, a rule of thumb for English text.")
    ]


class AnalyticsOut(ResponseBody):
    conversations: int
    by_status: Annotated[
        dict[SaleStatus, int],
        msgspec.Meta(
            description="Every sale status; a conversation not yet distilled is exploring."
        ),
    ]
    top_interests: list[CountOut]
    most_offered: list[CountOut]
    most_rejected: list[CountOut]
    conversion: Annotated[
        list[DayRateOut],
        msgspec.Meta(description="Per UTC day; days without conversations left out."),
    ]
    tokens: TokenFiguresOut
    context: ContextSavingOut


class MetadataOut(ResponseBody):
    interests: list[str]
    offered_products: list[str]
    rejected_products: list[str]
    sale_status: SaleStatus
    last_intent: str | None


class CustomerOut(ResponseBody):
    id: UUID
    name: str
    email: str
    phone: str | None


class LeadOut(ResponseBody):
    conversation_id: UUID
    title: str
    sale_status: SaleStatus
    customer: CustomerOut
    metadata: Annotated[
        MetadataOut | None, msgspec.Meta(description="null until the first distillation.")
    ]
    offered_products: Annotated[list[OfferedProductOut], _OFFERED]
    last_message: MessageOut | None
    updated_at: datetime


def _utc(moment: datetime) -> datetime:
    """Times leave as UTC whatever zone the store handed back (PostgreSQL's sessions run in UTC,
    so a history page's times are most often UTC already: they are used as they are)."""
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        name=user.name,
        phone=user.phone,
        created_at=_utc(user.created_at),
    )


def tokens_out(tokens: TokenPair) -> TokensOut:
    return TokensOut(access_token=tokens.access_token.token, refresh_token=tokens.refresh_token)


def login_out(result: LoginResult) -> LoginOut:
    user = result.user
    return LoginOut(
        access_token=result.tokens.access_token.token,
        refresh_token=result.tokens.refresh_token,
        user=UserSummary(id=user.id, email=user.email, name=user.name),
    )


def conversation_out(conversation: Conversation) -> ConversationOut:
    return ConversationOut(
        id=conversation.id,
        title=conversation.title,
        created_at=_utc(conversation.created_at),
        updated_at=_utc(conversation.updated_at),
    )


def message_out(message: Message) -> MessageOut:
    return MessageOut(
        id=message.id,
        conversation_id=message.conversation_id,
        content=message.content,
        sender=message.sender,
        created_at=_utc(message.created_at),
    )


def exchange_out(result: ExchangeResult) -> ExchangeOut:
    return ExchangeOut(
        conversation=ConversationRef(id=result.conversation.id, title=result.conversation.title),
        user_message=message_out(result.user_message),
        bot_message=message_out(result.bot_message),
    )


def history_out(history: History) -> HistoryOut:
    return HistoryOut(
        conversation_id=history.conversation.id,
        title=history.conversation.title,
        messages=[message_out(m) for m in history.messages],
        total_messages=history.conversation.message_count,
        next_before=history.next_before,
    )


def session_out(session: Session) -> SessionOut:
    return SessionOut(
        id=session.id,
        created_at=_utc(session.created_at),
        last_used_at=_utc(session.last_used_at),
        expires_at=_utc(session.expires_at),
        user_agent=session.user_agent,
        ip=session.ip,
    )


def _counts(counts: tuple[Count, ...]) -> list[CountOut]:
    return [
        CountOut(name=c.name, count=c.count, sku=c.sku, price=c.price, currency=c.currency)
        for c in counts
    ]


def analytics_out(analytics: SalesAnalytics) -> AnalyticsOut:
    tokens, context = analytics.tokens, analytics.context
    return AnalyticsOut(
        conversations=analytics.conversations,
        by_status={status: analytics.by_status.get(status, 0) for status in SaleStatus},
        top_interests=_counts(analytics.top_interests),
        most_offered=_counts(analytics.most_offered),
        most_rejected=_counts(analytics.most_rejected),
        conversion=[
            DayRateOut(day=d.day, started=d.started, closed=d.closed, rate=d.rate)
            for d in analytics.conversion
        ],
        tokens=TokenFiguresOut(
            exchanges=tokens.exchanges,
            prompt_tokens=tokens.prompt_tokens,
            completion_tokens=tokens.completion_tokens,
            tokens_per_exchange=tokens.tokens_per_exchange,
        ),
        context=ContextSavingOut(
            sent_chars=context.sent_chars,
            full_history_chars=context.full_history_chars,
            saved_chars=context.saved_chars,
            saved_ratio=context.saved_ratio,
            estimated_saved_tokens=context.estimated_saved_tokens,
        ),
    )


def metadata_out(metadata: SalesMetadata) -> MetadataOut:
    return MetadataOut(
        interests=list(metadata.interests),
        offered_products=list(metadata.offered_products),
        rejected_products=list(metadata.rejected_products),
        sale_status=metadata.sale_status,
        last_intent=metadata.last_intent,
    )


def lead_out(lead: Lead) -> LeadOut:
    return LeadOut(
        conversation_id=lead.conversation_id,
        title=lead.title,
        sale_status=lead.sale_status,
        customer=CustomerOut(
            id=lead.customer_id,
            name=lead.customer_name,
            email=lead.customer_email,
            phone=lead.customer_phone,
        ),
        metadata=metadata_out(lead.metadata) if lead.metadata else None,
        offered_products=_offered(lead.offered_products),
        last_message=message_out(lead.last_message) if lead.last_message else None,
        updated_at=_utc(lead.updated_at),
    )


def _offered(products: tuple[OfferedProduct, ...]) -> list[OfferedProductOut]:
    return [
        OfferedProductOut(name=p.name, sku=p.sku, price=p.price, currency=p.currency)
        for p in products
    ]


class WebhookDeliveryOut(ResponseBody):
    id: Annotated[UUID, msgspec.Meta(description="The X-Salesbot-Delivery a receiver got.")]
    event_id: UUID
    event_type: EventType
    url: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    last_status: Annotated[
        int | None, msgspec.Meta(description="The receiver's last HTTP status, if it answered.")
    ]
    next_attempt_at: Annotated[
        datetime | None, msgspec.Meta(description="When it is tried next; null unless pending.")
    ]
    delivered_at: datetime | None
    created_at: datetime


def webhook_delivery_out(delivery: WebhookDelivery) -> WebhookDeliveryOut:
    return WebhookDeliveryOut(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        url=delivery.url,
        status=delivery.status,
        attempts=delivery.attempts,
        last_error=delivery.last_error,
        last_status=delivery.last_status,
        next_attempt_at=_utc(delivery.next_attempt_at) if delivery.next_attempt_at else None,
        delivered_at=_utc(delivery.delivered_at) if delivery.delivered_at else None,
        created_at=_utc(delivery.created_at),
    )


# ---------------------------------------------------------------- the catalogue


class ProductIn(RequestBody):
    """One product as ``PUT /admin/products/{sku}`` takes it (the sku is the path's)."""

    name: Annotated[
        str, msgspec.Meta(description="1 to 255 characters", examples=["MacBook Air M3"])
    ]
    brand: Annotated[str, msgspec.Meta(description="1 to 255 characters", examples=["Apple"])]
    category: Annotated[str, msgspec.Meta(description="1 to 255 characters", examples=["Laptops"])]
    price: Annotated[
        Decimal,
        msgspec.Meta(
            description="0 or more, at most 2 decimals (a JSON number or a string)",
            examples=["1099.00"],
        ),
    ]
    currency: Annotated[str, msgspec.Meta(description="ISO 4217, e.g. USD", examples=["USD"])]
    stock: Annotated[int, msgspec.Meta(description="Units on hand (0: out of stock)", ge=0)]
    description: str = ""
    url: str | None = None
    attributes: dict[str, str] = msgspec.field(default_factory=dict)


class ProductOut(ResponseBody):
    sku: str
    name: str
    brand: str
    category: str
    description: str
    price: Annotated[str, msgspec.Meta(description="Exact, 2 decimals", examples=["1099.00"])]
    currency: str
    stock: int
    in_stock: bool
    url: str | None
    attributes: dict[str, str]


class ImportOut(ResponseBody):
    created: int
    updated: int
    removed: int


def product_out(product: Product) -> ProductOut:
    return ProductOut(
        sku=product.sku,
        name=product.name,
        brand=product.brand,
        category=product.category,
        description=product.description,
        price=f"{product.price:.2f}",
        currency=product.currency,
        stock=product.stock,
        in_stock=product.in_stock,
        url=product.url,
        attributes=dict(product.attributes),
    )


def import_out(counts: ImportCounts) -> ImportOut:
    return ImportOut(created=counts.created, updated=counts.updated, removed=counts.removed)


class DistillationOut(ResponseBody):
    distilled_at: datetime
    through_message: Annotated[
        int, msgspec.Meta(description="The position (1-based) of the last message it covered.")
    ]
    covered_messages: int
    metadata: Annotated[MetadataOut, msgspec.Meta(description="The metadata it left.")]
    prompt_tokens: int
    completion_tokens: int


class LeadConversationOut(ResponseBody):
    conversation_id: UUID
    title: str
    sale_status: SaleStatus
    customer: CustomerOut
    metadata: Annotated[
        MetadataOut | None, msgspec.Meta(description="Now; null until the first distillation.")
    ]
    offered_products: Annotated[list[OfferedProductOut], _OFFERED]
    updated_at: datetime
    messages: Annotated[list[MessageOut], msgspec.Meta(description="The latest, oldest first.")]
    total_messages: int
    distillations: Annotated[
        list[DistillationOut],
        msgspec.Meta(description="The latest, oldest first: how the metadata changed."),
    ]
    total_distillations: int


def distillation_out(distillation: Distillation) -> DistillationOut:
    return DistillationOut(
        distilled_at=_utc(distillation.distilled_at),
        through_message=distillation.through_seq,
        covered_messages=distillation.covered_messages,
        metadata=metadata_out(distillation.metadata),
        prompt_tokens=distillation.prompt_tokens,
        completion_tokens=distillation.completion_tokens,
    )


def lead_conversation_out(found: LeadConversation) -> LeadConversationOut:
    lead = lead_out(found.lead)
    return LeadConversationOut(
        conversation_id=lead.conversation_id,
        title=lead.title,
        sale_status=lead.sale_status,
        customer=lead.customer,
        metadata=lead.metadata,
        offered_products=lead.offered_products,
        updated_at=lead.updated_at,
        messages=[message_out(m) for m in found.messages],
        total_messages=found.total_messages,
        distillations=[distillation_out(d) for d in found.distillations],
        total_distillations=found.total_distillations,
    )
