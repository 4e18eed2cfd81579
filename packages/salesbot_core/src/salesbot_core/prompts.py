"""The prompts salesbot sends to an LLM, built by pure functions from the assistant requests.

The reply prompt is the sales rules + the current metadata + only the turns since the metadata
was last distilled: never the whole history, so it stays bounded however long a conversation is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from salesbot_core.domain import ChatMessage, Product, SalesMetadata, SaleStatus, Sender, Turn
from salesbot_core.errors import InvalidMetadataAnswer
from salesbot_core.grounding import format_price
from salesbot_core.ports.assistant import DistillationRequest, ReplyRequest, TitleRequest

TITLE_MAX_WORDS = 6
# A product line's description is cut to this many characters (at a word), so one long
# description does not crowd the others out of the block.
DESCRIPTION_CHARS = 120

PRODUCTS_HEADER = (
    "Products from the shop's catalogue you may offer (name only these, with these exact "
    "prices and stock; SKU | name | price | stock | description):"
)
NO_CATALOGUE = (
    "The shop has not loaded its catalogue: do not name any product, price or stock; ask what "
    "the customer needs and say you will check what the shop has."
)
NOTHING_RELEVANT = (
    "Nothing in the shop's catalogue matches this request: say so plainly, do not invent "
    "products, and ask one question that could lead to something the shop has."
)

SALES_RULES = """\
You are a sales assistant for an online shop, chatting with a customer.
How you work:
- Keep answers short and commercial: two to five sentences, no filler.
- Never offer again a product the customer has rejected.
- Do not repeat products you have already offered; build on them or bring something new.
- Always end with exactly one concrete question that moves the sale forward.
- Reply in the customer's language.
- Never invent prices, stock or delivery dates you were not given; say you will confirm them."""

STATUS_GUIDANCE: dict[SaleStatus, str] = {
    SaleStatus.EXPLORING: (
        "The customer is still exploring: ask at most two questions that narrow down "
        "what they need (use, budget, preferences)."
    ),
    SaleStatus.INTERESTED: (
        "The customer is interested: propose two or three concrete options that fit what "
        "they told you, each with its main benefit."
    ),
    SaleStatus.NEGOTIATING: (
        "The customer is negotiating: compare price and benefits of the options on the "
        "table and help them decide."
    ),
    SaleStatus.CLOSED: (
        "The sale is closed: confirm the choice and the next steps (payment, delivery)."
    ),
    SaleStatus.LOST: (
        "The sale looks lost: offer one last alternative that avoids what they rejected, "
        "without insisting."
    ),
}

TITLE_RULES = f"""\
Write a title for a shop chat that starts with the customer message below.
At most {TITLE_MAX_WORDS} words, in the customer's language, no quotes, no final punctuation.
Answer with the title only."""

DISTIL_RULES = """\
You maintain a sales record of a shop chat. From the previous record (if any) and the new
messages, write the updated record as JSON with these fields:
- interests: what the customer is interested in (short phrases)
- offeredProducts: products the assistant has offered
- rejectedProducts: products the customer has rejected
- saleStatus: one of exploring, interested, negotiating, closed, lost
- lastIntent: the customer's latest intent in a few words, or null
Keep items from the previous record unless the new messages contradict them.
Answer with the JSON object only."""


def _metadata_block(metadata: SalesMetadata) -> str:
    return msgspec.json.encode(metadata).decode()


def _turn_message(turn: Turn) -> ChatMessage:
    if turn.sender is Sender.USER:
        return ChatMessage(role="user", content=turn.content)
    return ChatMessage(role="assistant", content=turn.content)


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:.") + "…"


def product_line(product: Product) -> str:
    """One product as the prompt lists it, on one line."""
    stock = "in stock" if product.in_stock else "out of stock"
    description = _short(product.description, DESCRIPTION_CHARS)
    return f"- {product.sku} | {product.name} | {format_price(product)} | {stock} | {description}"


def fitting_products(products: Sequence[Product], max_chars: int) -> tuple[Product, ...]:
    """The products whose lines fit in a block of ``max_chars`` characters (header included),
    in order; one that does not fit is dropped whole, never cut, and the next may still fit."""
    used = len(PRODUCTS_HEADER)
    kept: list[Product] = []
    for product in products:
        size = 1 + len(product_line(product))  # the newline before it
        if used + size <= max_chars:
            kept.append(product)
            used += size
    return tuple(kept)


def catalogue_block(request: ReplyRequest) -> str:
    """What the prompt says of the shop's products: the ones the core picked for this reply
    (already bounded by ``fitting_products``), that nothing fits, or that there is no
    catalogue."""
    if not request.catalogue_loaded:
        return NO_CATALOGUE
    if not request.products:
        return NOTHING_RELEVANT
    return "\n".join((PRODUCTS_HEADER, *(product_line(p) for p in request.products)))


def reply_prompt(request: ReplyRequest) -> tuple[ChatMessage, ...]:
    """The sales rules (+ status guidance, the catalogue block and metadata), the recent turns,
    the new message."""
    status = request.metadata.sale_status if request.metadata else SaleStatus.EXPLORING
    system = f"{SALES_RULES}\n\n{STATUS_GUIDANCE[status]}\n\n{catalogue_block(request)}"
    if request.metadata is not None:
        system += (
            "\n\nWhat you know about this customer so far (sales record, JSON):\n"
            f"{_metadata_block(request.metadata)}"
        )
    return (
        ChatMessage(role="system", content=system),
        *(_turn_message(turn) for turn in request.recent_turns),
        ChatMessage(role="user", content=request.customer_message),
    )


def title_prompt(request: TitleRequest) -> tuple[ChatMessage, ...]:
    return (
        ChatMessage(role="system", content=TITLE_RULES),
        ChatMessage(role="user", content=request.first_message),
    )


def distillation_prompt(request: DistillationRequest) -> tuple[ChatMessage, ...]:
    previous = _metadata_block(request.previous) if request.previous else "none yet"
    transcript = "\n".join(
        f"{'Customer' if turn.sender is Sender.USER else 'Assistant'}: {turn.content}"
        for turn in request.turns
    )
    return (
        ChatMessage(role="system", content=DISTIL_RULES),
        ChatMessage(
            role="user",
            content=f"Previous record: {previous}\n\nNew messages:\n{transcript}",
        ),
    )


def metadata_json_schema() -> dict[str, Any]:
    """The JSON Schema of the distillation answer, in the strict form Structured Outputs needs
    (every property required, no additional properties; ``lastIntent`` nullable)."""
    string_list = {"type": "array", "items": {"type": "string"}}
    return {
        "type": "object",
        "properties": {
            "interests": string_list,
            "offeredProducts": string_list,
            "rejectedProducts": string_list,
            "saleStatus": {"type": "string", "enum": [status.value for status in SaleStatus]},
            "lastIntent": {"type": ["string", "null"]},
        },
        "required": [
            "interests",
            "offeredProducts",
            "rejectedProducts",
            "saleStatus",
            "lastIntent",
        ],
        "additionalProperties": False,
    }


def parse_metadata_answer(text: str) -> SalesMetadata:
    """Validate an LLM's JSON answer into ``SalesMetadata``; raise ``InvalidMetadataAnswer``."""
    try:
        return msgspec.json.decode(text.strip().encode(), type=SalesMetadata, strict=True)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise InvalidMetadataAnswer(f"metadata answer does not validate: {exc}") from exc


def clean_title(text: str, fallback_from: str) -> str:
    """At most ``TITLE_MAX_WORDS`` words, no quotes or trailing punctuation; from the customer's
    first message when the LLM gave nothing usable. The one place a title is cleaned: the use
    case applies it to whatever an assistant answered, which every assistant returns as is."""
    words = text.replace("\n", " ").strip().strip("\"'`*#").split()
    if not words:
        words = fallback_from.split()
    title = " ".join(words[:TITLE_MAX_WORDS]).strip(" .,:;!?¡¿\"'`")
    return title[:255] or "New conversation"
