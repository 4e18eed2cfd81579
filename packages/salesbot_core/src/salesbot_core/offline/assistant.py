"""The offline sales assistant: a deterministic, rule-based seller used when no LLM is configured.

It reads the same structured requests an LLM adapter gets (metadata + the turns since the last
distillation + the new message) and answers from a small built-in catalogue, following the same
sales rules as the LLM prompt: short commercial answers, never re-offer a rejected product, do
not repeat offered ones, behaviour by sale status, one concrete question at the end, and the
customer's language (English or Spanish).
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator

from salesbot_core.domain import SalesMetadata, SaleStatus, Sender, TokenUsage, Turn
from salesbot_core.offline.catalogue import PRODUCTS, Category, Product
from salesbot_core.offline.signals import (
    Language,
    Signals,
    category_by_key,
    category_of_label,
    detect_language,
    fold,
    product_named,
    products_in,
    read_message,
    unique,
)
from salesbot_core.ports.assistant import (
    DistillationRequest,
    Distilled,
    Generated,
    ReplyDelta,
    ReplyRequest,
    TitleRequest,
)

MAX_OPTIONS = 3
_NO_USAGE = TokenUsage()

_FILLER = re.compile(
    r"^(?:(?:hi|hello|hey|good (?:morning|afternoon|evening)|hola|buenas(?: tardes| noches)?|"
    r"buenos d[ií]as)[\s,!.]*)?"
    r"(?:(?:i am|i'm|im) looking for|i(?:'d| would) like|i want|i need|looking for|"
    r"estoy buscando|busco|quiero|necesito|me gustar[ií]a)?\s*(?:an?|un|una|unos|unas|some)?\s+",
    re.IGNORECASE,
)


def _money(amount: int) -> str:
    return f"${amount:,}"


def _join(items: list[str], language: Language) -> str:
    if len(items) <= 1:
        return "".join(items)
    last = " and " if language is Language.EN else " y "
    return ", ".join(items[:-1]) + last + items[-1]


def _benefit(product: Product, language: Language) -> str:
    return product.benefit_en if language is Language.EN else product.benefit_es


def _label(category: Category, language: Language) -> str:
    return category.label_en if language is Language.EN else category.label_es


class _Context:
    """What the conversation so far says, folded together with the new message."""

    def __init__(self, request: ReplyRequest) -> None:
        metadata = request.metadata or SalesMetadata()
        earlier_customer = " ".join(
            t.content for t in request.recent_turns if t.sender is Sender.USER
        )
        fallback = detect_language(earlier_customer)
        self.signals = read_message(request.customer_message, fallback)
        self.language = self.signals.language
        self.status = metadata.sale_status
        self.rejected = _named_products(metadata.rejected_products)
        for turn in request.recent_turns:
            if turn.sender is Sender.USER and read_message(turn.content).rejects:
                self.rejected.extend(products_in(turn.content))
        if self.signals.rejects:
            self.rejected.extend(self.signals.products)
        self.offered = _named_products(metadata.offered_products)
        for turn in request.recent_turns:
            if turn.sender is Sender.BOT:
                self.offered.extend(products_in(turn.content))
        self.category = self._category(request, metadata)
        self.budget = self.signals.budget or _budget_of(request.recent_turns, metadata)
        self.has_use = bool(self.signals.uses) or any(
            read_message(t.content).uses for t in request.recent_turns if t.sender is Sender.USER
        )
        # Where the sale stands now: the distilled status moved on by the turns since.
        self.status = metadata.sale_status
        self.bought: Product | None = None
        for turn in request.recent_turns:
            if turn.sender is Sender.USER:
                said = read_message(turn.content)
                self.status, _ = _next_status(self.status, said, bool(self.offered))
                if self.status is SaleStatus.CLOSED and said.wants_to_buy:
                    self.bought = next(iter(said.products), None) or self._last_open_offer()

    def _category(self, request: ReplyRequest, metadata: SalesMetadata) -> Category | None:
        if self.signals.categories:
            return self.signals.categories[0]
        for turn in reversed(request.recent_turns):
            found = read_message(turn.content).categories
            if turn.sender is Sender.USER and found:
                return found[0]
        for interest in reversed(metadata.interests):
            category = category_of_label(interest)
            if category is not None:
                return category
        if self.offered:
            return category_by_key(self.offered[-1].category)
        return None

    def allowed(self, product: Product) -> bool:
        return product not in self.rejected

    def fresh_options(self) -> list[Product]:
        """Products of the category neither rejected nor offered yet, within budget if any."""
        if self.category is None:
            return []
        pool = [
            p
            for p in PRODUCTS
            if p.category == self.category.key and self.allowed(p) and p not in self.offered
        ]
        if self.budget is not None:
            affordable = [p for p in pool if p.price <= self.budget]
            pool = affordable or sorted(pool, key=lambda p: p.price)[:1]
        return pool[:MAX_OPTIONS]

    def _last_open_offer(self) -> Product | None:
        still_open = self.offered_still_open()
        return still_open[-1] if still_open else None

    def offered_still_open(self) -> list[Product]:
        return [p for p in unique_products(self.offered) if self.allowed(p)]


def unique_products(products: list[Product]) -> list[Product]:
    return list(dict.fromkeys(products))


def _named_products(names: tuple[str, ...]) -> list[Product]:
    return [p for p in (product_named(name) for name in names) if p is not None]


def _budget_of(turns: tuple[Turn, ...], metadata: SalesMetadata) -> int | None:
    for turn in reversed(turns):
        if turn.sender is Sender.USER:
            budget = read_message(turn.content).budget
            if budget is not None:
                return budget
    for interest in reversed(metadata.interests):
        match = re.search(r"\$([\d,]+)", interest)
        if match:
            return int(match.group(1).replace(",", ""))
    return None


def _options_text(options: list[Product], language: Language) -> str:
    return _join(
        [f"the {p.name} ({_money(p.price)}, {_benefit(p, language)})" for p in options]
        if language is Language.EN
        else [f"el {p.name} ({_money(p.price)}, {_benefit(p, language)})" for p in options],
        language,
    )


class OfflineSalesAssistant:
    """A credible rule-based salesperson: asks narrowing questions, proposes catalogue products,
    notices price, buying and rejection words, and distils metadata by rules. Deterministic:
    the same request always gets the same answer. Reports no token usage (no LLM is called)."""

    async def reply(self, request: ReplyRequest) -> Generated:
        return Generated(text=compose_reply(_Context(request)), usage=_NO_USAGE)

    async def stream_reply(self, request: ReplyRequest) -> AsyncGenerator[ReplyDelta | Generated]:
        """The same reply, word by word, as an LLM would stream it."""
        text = compose_reply(_Context(request))
        for piece in re.findall(r"\s*\S+\s*", text):
            yield ReplyDelta(text=piece)
        yield Generated(text=text, usage=_NO_USAGE)

    async def title(self, request: TitleRequest) -> Generated:
        return Generated(text=title_for(request.first_message), usage=_NO_USAGE)

    async def distil(self, request: DistillationRequest) -> Distilled:
        return Distilled(metadata=distil_by_rules(request), usage=_NO_USAGE)


def title_for(first_message: str) -> str:
    """The customer's first sentence without greeting and filler, capitalised: the answer a model
    gives to the title prompt. Like any assistant's, the use case cleans it (word limit,
    quotes, fallback) with ``salesbot_core.prompts.clean_title``."""
    first_sentence = re.split(r"(?<=[.!?])\s", first_message.strip(), maxsplit=1)[0]
    text = _FILLER.sub("", first_sentence.strip(), count=1) or first_sentence
    # Opening punctuation (``¿``) would hide the letter to capitalise.
    title = " ".join(text.strip(" .,!?¿¡").split())
    return title[:1].upper() + title[1:]


def compose_reply(ctx: _Context) -> str:
    s = ctx.signals
    if s.gives_up and not s.products:
        return _lost(ctx)
    buying = [p for p in s.products if ctx.allowed(p)] or ctx.offered_still_open()[-1:]
    if s.wants_to_buy and buying:
        return _closing(buying[0], ctx.language)
    if s.rejects and s.products:
        return _after_rejection(ctx, s)
    if s.asks_price:
        return _negotiating(ctx, s)
    if ctx.status is SaleStatus.CLOSED and ctx.bought is not None and not s.categories:
        return _closing(ctx.bought, ctx.language)
    if ctx.category is not None:
        return _proposal(ctx, ctx.category)
    return _exploring(ctx.language)


def _exploring(language: Language) -> str:
    if language is Language.EN:
        return (
            "Happy to help you find the right product! Which product are you looking for "
            "(a laptop, phone, headphones, a monitor or a tablet), and what budget do you "
            "have in mind?"
        )
    return (
        "¡Encantado de ayudarte a encontrar el producto ideal! ¿Qué producto buscas "
        "(portátil, teléfono, auriculares, monitor o tableta) y qué presupuesto tienes en mente?"
    )


def _proposal(ctx: _Context, category: Category) -> str:
    options = ctx.fresh_options()
    if not options:
        return _negotiating(ctx, ctx.signals)
    listed = _options_text(options, ctx.language)
    if ctx.language is Language.EN:
        opening = f"For {category.phrase_en} I would suggest {listed}."
        question = (
            "Which of these would you like to know more about?"
            if len(options) > 1 and ctx.has_use
            else "Would you like to know more about it?"
            if ctx.has_use
            else "What will you mainly use it for, so I can pick the best fit?"
        )
    else:
        opening = f"Para {category.phrase_es} te propongo {listed}."
        question = (
            "¿Sobre cuál quieres saber más?"
            if len(options) > 1 and ctx.has_use
            else "¿Quieres saber más sobre él?"
            if ctx.has_use
            else "¿Para qué lo vas a usar principalmente, así elijo el que mejor encaja?"
        )
    return f"{opening} {question}"


def _negotiating(ctx: _Context, s: Signals) -> str:
    on_table = [p for p in s.products if ctx.allowed(p)] or ctx.offered_still_open()
    if not on_table:
        on_table = ctx.fresh_options()
    if not on_table:
        return _exploring(ctx.language)
    en = ctx.language is Language.EN
    if len(on_table) == 1:
        p = on_table[0]
        if en:
            return (
                f"The {p.name} costs {_money(p.price)} and gives you {_benefit(p, ctx.language)}. "
                "Would you like me to reserve one for you?"
            )
        return (
            f"El {p.name} cuesta {_money(p.price)} y te ofrece {_benefit(p, ctx.language)}. "
            "¿Quieres que te reserve uno?"
        )
    a, b = sorted(on_table[-2:], key=lambda p: p.price)
    saving = b.price - a.price
    if en:
        difference = (
            f"The {a.name} saves you {_money(saving)}"
            if saving
            else "Both cost the same, so it comes down to taste"
        )
        return (
            f"The {a.name} costs {_money(a.price)} ({_benefit(a, ctx.language)}); the {b.name} "
            f"costs {_money(b.price)} ({_benefit(b, ctx.language)}). {difference}. "
            "Which one fits you better?"
        )
    difference = (
        f"Con el {a.name} te ahorras {_money(saving)}"
        if saving
        else "Cuestan lo mismo, así que es cuestión de gustos"
    )
    return (
        f"El {a.name} cuesta {_money(a.price)} ({_benefit(a, ctx.language)}); el {b.name} "
        f"cuesta {_money(b.price)} ({_benefit(b, ctx.language)}). {difference}. "
        "¿Cuál te encaja mejor?"
    )


def _after_rejection(ctx: _Context, s: Signals) -> str:
    names = _join([p.name for p in s.products], ctx.language)
    alternatives = (
        ctx.fresh_options()[:1] or [p for p in ctx.offered_still_open() if p not in s.products][-1:]
    )
    en = ctx.language is Language.EN
    noted = (
        f"Understood, I will leave the {names} out." if en else f"Entendido, descarto el {names}."
    )
    if not alternatives:
        ask = (
            "What matters most to you, so I can find something better?"
            if en
            else "¿Qué es lo más importante para ti, así busco algo mejor?"
        )
        return f"{noted} {ask}"
    alt = alternatives[0]
    if en:
        return (
            f"{noted} Instead, the {alt.name} ({_money(alt.price)}) offers "
            f"{_benefit(alt, ctx.language)}. Does that sound closer to what you want?"
        )
    return (
        f"{noted} En su lugar, el {alt.name} ({_money(alt.price)}) ofrece "
        f"{_benefit(alt, ctx.language)}. ¿Se acerca más a lo que buscas?"
    )


def _closing(product: Product, language: Language) -> str:
    if language is Language.EN:
        return (
            f"Great choice! The {product.name} is {_money(product.price)}. To finish, I need "
            "your delivery address and preferred payment method. Would you like home delivery "
            "or store pickup?"
        )
    return (
        f"¡Buena elección! El {product.name} cuesta {_money(product.price)}. Para terminar "
        "necesito tu dirección de entrega y el método de pago. ¿Prefieres envío a domicilio "
        "o recogida en tienda?"
    )


def _lost(ctx: _Context) -> str:
    alternative = ctx.fresh_options()[:1]
    en = ctx.language is Language.EN
    if not alternative:
        return (
            "No problem at all. Is there anything else I can help you find today?"
            if en
            else "Sin problema. ¿Hay algo más que pueda ayudarte a encontrar hoy?"
        )
    alt = alternative[0]
    if en:
        return (
            f"No problem, no pressure. One last idea: the {alt.name} ({_money(alt.price)}) "
            f"offers {_benefit(alt, ctx.language)}. Shall I keep it in mind for you?"
        )
    return (
        f"Sin problema. Una última idea: el {alt.name} ({_money(alt.price)}) ofrece "
        f"{_benefit(alt, ctx.language)}. ¿Quieres que lo tenga en cuenta?"
    )


_STATUS_RANK = {
    SaleStatus.EXPLORING: 0,
    SaleStatus.INTERESTED: 1,
    SaleStatus.NEGOTIATING: 2,
    SaleStatus.CLOSED: 3,
    SaleStatus.LOST: 0,
}


def _at_least(current: SaleStatus, wanted: SaleStatus) -> SaleStatus:
    if current is SaleStatus.LOST:
        return wanted
    return wanted if _STATUS_RANK[wanted] > _STATUS_RANK[current] else current


def distil_by_rules(request: DistillationRequest) -> SalesMetadata:
    """Metadata from the previous record and the new turns, by the same signals ``reply`` uses.
    The core merges it into the previous metadata (unions, de-duplication, caps)."""
    previous = request.previous or SalesMetadata()
    status = previous.sale_status
    interests: list[str] = []
    offered: list[str] = []
    rejected: list[str] = []
    intent = previous.last_intent
    language = Language.EN
    for turn in request.turns:
        if turn.sender is Sender.BOT:
            offered.extend(p.name for p in products_in(turn.content))
            continue
        s = read_message(turn.content, language)
        language = s.language
        interests.extend(_label(c, language) for c in s.categories)
        interests.extend(s.uses)
        if s.budget is not None:
            word = "budget up to" if language is Language.EN else "presupuesto hasta"
            interests.append(f"{word} {_money(s.budget)}")
        if s.rejects:
            rejected.extend(p.name for p in s.products)
        status, intent = _next_status(status, s, bool(offered or previous.offered_products))
    rejected_keys = {fold(name) for name in rejected}
    return SalesMetadata(
        interests=tuple(unique(interests)),
        offered_products=tuple(n for n in unique(offered) if fold(n) not in rejected_keys),
        rejected_products=tuple(unique(rejected)),
        sale_status=status,
        last_intent=intent,
    )


def _next_status(
    status: SaleStatus, s: Signals, anything_offered: bool
) -> tuple[SaleStatus, str | None]:
    if s.gives_up and not s.products:
        return SaleStatus.LOST, "not interested any more"
    if s.wants_to_buy and (s.products or anything_offered):
        named = f" the {s.products[0].name}" if s.products else ""
        return SaleStatus.CLOSED, f"buy{named}"
    if s.rejects and s.products:
        return _at_least(status, SaleStatus.INTERESTED), f"reject the {s.products[0].name}"
    if s.asks_price:
        if anything_offered or s.products:
            return _at_least(status, SaleStatus.NEGOTIATING), "compare prices"
        return _at_least(status, SaleStatus.INTERESTED), "ask about prices"
    if s.categories or s.products:
        return _at_least(
            status, SaleStatus.INTERESTED
        ), f"explore {s.categories[0].label_en} options"
    return status, "ask for advice"
