"""The offline sales assistant: a deterministic, rule-based seller used when no LLM is configured.

It reads the same structured requests an LLM adapter gets (metadata + the turns since the last
distillation + the new message + the products the core picked from the shop's catalogue) and
answers from those products only, following the same sales rules as the LLM prompt: short
commercial answers with exact prices, never re-offer a rejected product, do not repeat offered
ones, compare the products on the table when asked, never repeat its previous reply, behaviour
by sale status, one concrete question at the end, and the customer's language (English or
Spanish).
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Sequence
from decimal import Decimal

from salesbot_core.domain import Product, SalesMetadata, SaleStatus, Sender, TokenUsage
from salesbot_core.grounding import format_price, rejects_name, retrieval_words, stated_budget
from salesbot_core.offline.catalogue import Category
from salesbot_core.offline.signals import (
    Language,
    Signals,
    category_of_label,
    category_of_product,
    detect_language,
    fold,
    products_in,
    read_message,
    rejected_phrases,
    rejecting_clauses,
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
DESCRIPTION_WORDS = 14
_NO_USAGE = TokenUsage()

_FILLER = re.compile(
    r"^(?:(?:hi|hello|hey|good (?:morning|afternoon|evening)|hola|buenas(?: tardes| noches)?|"
    r"buenos d[ií]as)[\s,!.]*)?"
    r"(?:(?:i am|i'm|im) looking for|i(?:'d| would) like|i want|i need|looking for|"
    r"estoy buscando|busco|quiero|necesito|me gustar[ií]a)?\s*(?:an?|un|una|unos|unas|some)?\s+",
    re.IGNORECASE,
)
# How a reply names a product, so the rule-based distillation can read the offers back:
# "the <name> (<price> <currency>" — see ``_offered_names``.
_OFFER = re.compile(r"\((?:[A-Z0-9-]+, )?[\d,]+\.\d{2} [A-Z]{3}\b")
_ARTICLE = re.compile(r"\b(?:the|The|el|El|la|La)\s")


def _money(amount: Decimal) -> str:
    return f"${amount:,.0f}"


def _join(items: list[str], language: Language) -> str:
    if len(items) <= 1:
        return "".join(items)
    last = " and " if language is Language.EN else " y "
    return ", ".join(items[:-1]) + last + items[-1]


def _about(product: Product) -> str:
    """The product's description, shortened to its first words (the catalogue's language)."""
    words = product.description.split()
    text = " ".join(words[:DESCRIPTION_WORDS]).rstrip(",;:.")
    return text + ("…" if len(words) > DESCRIPTION_WORDS else "")


def _named(product: Product, language: Language) -> str:
    article = "the" if language is Language.EN else "el"
    return f"{article} {product.name} ({format_price(product)}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _label(category: Category, language: Language) -> str:
    return category.label_en if language is Language.EN else category.label_es


class _Context:
    """What the conversation so far says, folded together with the new message."""

    def __init__(self, request: ReplyRequest) -> None:
        metadata = request.metadata or SalesMetadata()
        self.products = request.products
        self.catalogue_loaded = request.catalogue_loaded
        self.question = request.customer_message
        customer_turns = [t.content for t in request.recent_turns if t.sender is Sender.USER]
        fallback = detect_language(" ".join(customer_turns))
        self.signals = read_message(request.customer_message, fallback, self.products)
        self.language = self.signals.language
        self.rejected: list[Product] = [
            p for p in self.products if rejects_name(metadata.rejected_products, p.name, p.brand)
        ]
        for content in customer_turns:
            self.rejected.extend(read_message(content, products=self.products).rejected)
        self.rejected.extend(self.signals.rejected)
        offered_names = {fold(name) for name in metadata.offered_products}
        self.offered = [p for p in self.products if fold(p.name) in offered_names]
        self.bot_turns = [t.content for t in request.recent_turns if t.sender is Sender.BOT]
        self.last_reply = self.bot_turns[-1] if self.bot_turns else request.last_reply
        for content in self.bot_turns:
            self.offered.extend(products_in(content, self.products))
        self.category = self._category(request, metadata)
        self.budget = self.signals.budget or _budget_of(customer_turns, metadata)
        self.has_use = bool(self.signals.uses) or any(
            read_message(content).uses for content in customer_turns
        )
        # Where the sale stands now: the distilled status moved on by the turns since.
        self.status = metadata.sale_status
        self.bought: Product | None = None
        for content in customer_turns:
            said = read_message(content, products=self.products)
            self.status, _ = _next_status(self.status, said, bool(self.offered))
            if self.status is SaleStatus.CLOSED and said.wants_to_buy:
                self.bought = next(iter(said.products), None) or self._last_open_offer()

    def _category(self, request: ReplyRequest, metadata: SalesMetadata) -> Category | None:
        if self.signals.categories:
            return self.signals.categories[0]
        for turn in reversed(request.recent_turns):
            found = read_message(turn.content, products=self.products).categories
            if turn.sender is Sender.USER and found:
                return found[0]
        for interest in reversed(metadata.interests):
            category = category_of_label(interest)
            if category is not None:
                return category
        if self.offered:
            return category_of_product(self.offered[-1])
        return None

    def allowed(self, product: Product) -> bool:
        return product not in self.rejected

    def fresh_options(self) -> list[Product]:
        """Products picked for this reply, neither rejected nor offered yet, of the category
        asked about when some are, within the budget when some are (else the cheapest)."""
        pool = [p for p in self.products if self.allowed(p) and p not in self.offered]
        if self.category is not None:
            pool = [p for p in pool if self.category.covers(p.category)] or pool
        if self.budget is not None:
            affordable = [p for p in pool if p.price <= self.budget]
            pool = affordable or sorted(pool, key=lambda p: p.price)[:1]
        return pool[:MAX_OPTIONS]

    def _last_open_offer(self) -> Product | None:
        still_open = self.offered_still_open()
        return still_open[-1] if still_open else None

    def offered_still_open(self) -> list[Product]:
        return [p for p in unique_products(self.offered) if self.allowed(p)]


def unique_products(products: Sequence[Product]) -> list[Product]:
    return list({p.sku: p for p in reversed(products)}.values())[::-1]


def _budget_of(customer_turns: Sequence[str], metadata: SalesMetadata) -> Decimal | None:
    for content in reversed(customer_turns):
        budget = stated_budget(content)
        if budget is not None:
            return budget
    for interest in reversed(metadata.interests):
        budget = stated_budget(interest)
        if budget is not None:
            return budget
    return None


def _options_text(options: list[Product], language: Language) -> str:
    return _join([f"{_named(p, language)}, {_about(p)})" for p in options], language)


class OfflineSalesAssistant:
    """A credible rule-based salesperson: asks narrowing questions, proposes the products the
    core picked, compares them, notices price, buying and rejection words, and distils metadata
    by rules. Deterministic: the same request always gets the same answer. Reports no token
    usage (no LLM is called)."""

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
    """The reply, never word for word the assistant's previous one."""
    reply = _first_reply(ctx)
    if reply == ctx.last_reply:
        reply = _follow_up(ctx)
    return reply


def _first_reply(ctx: _Context) -> str:
    s = ctx.signals
    if s.gives_up and not s.products:
        return _lost(ctx)
    buying = [p for p in s.products if ctx.allowed(p)] or ctx.offered_still_open()[-1:]
    if s.wants_to_buy and buying:
        return _closing(buying[0], ctx.language)
    if s.rejects and (s.rejected or s.rejected_phrases):
        return _after_rejection(ctx, s)
    if s.compares and not s.asks_price:
        compared = _comparison(ctx, s)
        if compared is not None:
            return compared
    if s.asks_price:
        return _negotiating(ctx, s)
    if s.products:
        return _presenting(ctx, [p for p in s.products if ctx.allowed(p)])
    if ctx.status is SaleStatus.CLOSED and ctx.bought is not None and not s.categories:
        return _closing(ctx.bought, ctx.language)
    if ctx.category is not None or (ctx.products and (s.categories or s.uses or s.budget)):
        return _proposal(ctx, ctx.category)
    return _exploring(ctx)


def _exploring(ctx: _Context) -> str:
    if ctx.language is Language.EN:
        if ctx.catalogue_loaded and not ctx.products and ctx.signals.categories:
            return (
                "I am sorry, I have nothing matching that in our catalogue right now. Is "
                "there something else you are looking for, or a budget I should work with?"
            )
        return (
            "Happy to help you find the right product! Which product are you looking for "
            "(a laptop, phone, headphones, a monitor or a tablet), and what budget do you "
            "have in mind?"
        )
    if ctx.catalogue_loaded and not ctx.products and ctx.signals.categories:
        return (
            "Lo siento, ahora mismo no tengo nada parecido en el catálogo. ¿Buscas otra cosa, "
            "o con qué presupuesto quieres que busque?"
        )
    return (
        "¡Encantado de ayudarte a encontrar el producto ideal! ¿Qué producto buscas "
        "(portátil, teléfono, auriculares, monitor o tableta) y qué presupuesto tienes en mente?"
    )


def _proposal(ctx: _Context, category: Category | None) -> str:
    options = ctx.fresh_options()
    if not options:
        on_table = ctx.offered_still_open()
        return _negotiating(ctx, ctx.signals) if on_table else _exploring(ctx)
    listed = _options_text(options, ctx.language)
    if ctx.language is Language.EN:
        phrase = f"For {category.phrase_en} I" if category else "I"
        opening = f"{phrase} would suggest {listed}."
        question = (
            "Which of these would you like to know more about?"
            if len(options) > 1 and ctx.has_use
            else "Would you like to know more about it?"
            if ctx.has_use
            else "What will you mainly use it for, so I can pick the best fit?"
        )
    else:
        phrase = f"Para {category.phrase_es} te" if category else "Te"
        opening = f"{phrase} propongo {listed}."
        question = (
            "¿Sobre cuál quieres saber más?"
            if len(options) > 1 and ctx.has_use
            else "¿Quieres saber más sobre él?"
            if ctx.has_use
            else "¿Para qué lo vas a usar principalmente, así elijo el que mejor encaja?"
        )
    return f"{opening} {question}"


def _presenting(ctx: _Context, wanted: list[Product]) -> str:
    if not wanted:
        return _proposal(ctx, ctx.category)
    p = wanted[0]
    stock_en = (
        "" if p.in_stock else " It is out of stock right now, I can tell you when it is back."
    )
    stock_es = "" if p.in_stock else " Ahora mismo está agotado; puedo avisarte cuando vuelva."
    if ctx.language is Language.EN:
        return (
            f"Here it is: {_named(p, ctx.language)}): {_about(p)}.{stock_en} "
            "Would you like me to reserve one for you?"
        )
    return (
        f"Aquí lo tienes: {_named(p, ctx.language)}): {_about(p)}.{stock_es} "
        "¿Quieres que te reserve uno?"
    )


def _comparison(ctx: _Context, s: Signals) -> str | None:
    """Which of the products on the table (offered so far, else the ones picked now) fits the
    quality asked about, from their descriptions and attributes."""
    on_table = [p for p in s.products if ctx.allowed(p)] or ctx.offered_still_open()
    if len(on_table) < 2:
        on_table = unique_products([*on_table, *ctx.fresh_options()])
    if len(on_table) < 2:
        return None
    named = set(retrieval_words(w for p in on_table for w in (p.name, p.brand, p.category)))
    wanted = [w for w in retrieval_words([ctx.question]) if w not in named]
    if not wanted:
        return None

    def score(product: Product) -> int:
        about = set(retrieval_words([product.description, *product.attributes.values()]))
        return sum(w in about for w in wanted)

    best = max(on_table, key=score)
    if score(best) == 0:
        return None
    others = [p for p in on_table if p is not best]
    if ctx.language is Language.EN:
        names = _join(
            [*(f"the {p.name}" for p in others), _named(best, ctx.language)], ctx.language
        )
        return (
            f"Of {names}), the {best.name} is the best on "
            f"that: {_about(best)}. Shall I reserve it for you?"
        )
    names = _join([*(f"el {p.name}" for p in others), _named(best, ctx.language)], ctx.language)
    return f"Entre {names}), el {best.name} es el mejor en eso: {_about(best)}. ¿Te lo reservo?"


def _negotiating(ctx: _Context, s: Signals) -> str:
    on_table = [p for p in s.products if ctx.allowed(p)] or ctx.offered_still_open()
    if not on_table:
        on_table = ctx.fresh_options()
    if not on_table:
        return _exploring(ctx)
    en = ctx.language is Language.EN
    if len(on_table) == 1:
        p = on_table[0]
        if en:
            return (
                f"The {p.name} costs {format_price(p)}: {_about(p)}. "
                "Would you like me to reserve one for you?"
            )
        return f"El {p.name} cuesta {format_price(p)}: {_about(p)}. ¿Quieres que te reserve uno?"
    a, b = sorted(on_table[-2:], key=lambda p: p.price)
    saving = b.price - a.price
    if en:
        difference = (
            f"The {a.name} saves you {_money(saving)}"
            if saving
            else "Both cost the same, so it comes down to taste"
        )
        return _cap(
            f"{_named(a, ctx.language)}, {_about(a)}) and {_named(b, ctx.language)}, "
            f"{_about(b)}). {difference}. Which one fits you better?"
        )
    difference = (
        f"Con el {a.name} te ahorras {_money(saving)}"
        if saving
        else "Cuestan lo mismo, así que es cuestión de gustos"
    )
    return _cap(
        f"{_named(a, ctx.language)}, {_about(a)}) y {_named(b, ctx.language)}, "
        f"{_about(b)}). {difference}. ¿Cuál te encaja mejor?"
    )


def _after_rejection(ctx: _Context, s: Signals) -> str:
    # As the customer put it ("the Jabra" for all its products), else by the products' names.
    names = _join(list(s.rejected_phrases) or [p.name for p in s.rejected], ctx.language)
    wanted = [p for p in s.products if ctx.allowed(p)]
    alternatives = wanted[:1] or ctx.fresh_options()[:1] or ctx.offered_still_open()[-1:]
    en = ctx.language is Language.EN
    article = "los" if s.rejected_phrases else "el"
    noted = (
        f"Understood, I will leave the {names} out."
        if en
        else f"Entendido, descarto {article} {names}."
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
            f"{noted} Instead, {_named(alt, ctx.language)}): {_about(alt)}. "
            "Does that sound closer to what you want?"
        )
    return (
        f"{noted} En su lugar, {_named(alt, ctx.language)}): {_about(alt)}. "
        "¿Se acerca más a lo que buscas?"
    )


def _follow_up(ctx: _Context) -> str:
    """Something new when the rules would say the same as last time: the next option not yet
    offered, else a question about what would tip the decision."""
    fresh = [p for p in ctx.fresh_options() if p.name not in (ctx.last_reply or "")]
    en = ctx.language is Language.EN
    if fresh:
        p = fresh[0]
        if en:
            return (
                f"Another option worth a look: {_named(p, ctx.language)}): {_about(p)}. "
                "How does it compare with what you had in mind?"
            )
        return (
            f"Otra opción que merece la pena: {_named(p, ctx.language)}): {_about(p)}. "
            "¿Cómo encaja con lo que tenías en mente?"
        )
    if en:
        return (
            "To help you decide, tell me what matters most to you: price, weight, battery "
            "or something else?"
        )
    return (
        "Para ayudarte a decidir, ¿qué es lo que más te importa: precio, peso, batería u otra cosa?"
    )


def _closing(product: Product, language: Language) -> str:
    if language is Language.EN:
        return (
            f"Great choice! {_cap(_named(product, language))})."
            " To finish, I need your delivery address and preferred payment method. Would you "
            "like home delivery or store pickup?"
        )
    return (
        f"¡Buena elección! {_cap(_named(product, language))}). Para terminar necesito tu "
        "dirección de entrega y el método de pago. ¿Prefieres envío a domicilio o recogida en "
        "tienda?"
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
            f"No problem, no pressure. One last idea: {_named(alt, ctx.language)}): "
            f"{_about(alt)}. Shall I keep it in mind for you?"
        )
    return (
        f"Sin problema. Una última idea: {_named(alt, ctx.language)}): {_about(alt)}. "
        "¿Quieres que lo tenga en cuenta?"
    )


def _offered_names(text: str) -> list[str]:
    """The products a reply of this assistant offered, by the name it gave them: the words
    between the last article and each "(<price> <currency>"."""
    names: list[str] = []
    for match in _OFFER.finditer(text):
        before = text[: match.start()].rstrip()
        articles = list(_ARTICLE.finditer(before))
        if articles:
            name = before[articles[-1].end() :].strip()
            if 0 < len(name.split()) <= 8:
                names.append(name)
    return names


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
    Offered products are named as the replies named them (the catalogue's names); a rejection
    records only what its own clause names. The core merges it into the previous metadata
    (unions, de-duplication, caps)."""
    previous = request.previous or SalesMetadata()
    status = previous.sale_status
    interests: list[str] = []
    offered: list[str] = []
    rejected: list[str] = []
    intent = previous.last_intent
    language = Language.EN
    for turn in request.turns:
        if turn.sender is Sender.BOT:
            offered.extend(_offered_names(turn.content))
            continue
        s = read_message(turn.content, language)
        language = s.language
        interests.extend(_label(c, language) for c in s.categories)
        interests.extend(s.uses)
        if s.budget is not None:
            word = "budget up to" if language is Language.EN else "presupuesto hasta"
            interests.append(f"{word} {_money(s.budget)}")
        if s.rejects:
            rejected.extend(_rejected_in(turn.content, [*previous.offered_products, *offered]))
        status, intent = _next_status(status, s, bool(offered or previous.offered_products))
    return SalesMetadata(
        interests=tuple(unique(interests)),
        offered_products=tuple(n for n in unique(offered) if not rejects_name(rejected, n)),
        rejected_products=tuple(unique(rejected)),
        sale_status=status,
        last_intent=intent,
    )


def _rejected_in(text: str, offered: Sequence[str]) -> list[str]:
    """What a customer message rejects: the offered products a rejecting clause names (by
    their catalogue names), else the thing named as the customer said it ("Jabra")."""
    phrases = rejected_phrases(text)
    clauses = " ".join(rejecting_clauses(text))
    named = [
        name for name in unique(offered) if rejects_name(phrases, name) or fold(name) in clauses
    ]
    return named or phrases


def _next_status(
    status: SaleStatus, s: Signals, anything_offered: bool
) -> tuple[SaleStatus, str | None]:
    if s.gives_up and not s.products:
        return SaleStatus.LOST, "not interested any more"
    if s.wants_to_buy and (s.products or anything_offered):
        named = f" the {s.products[0].name}" if s.products else ""
        return SaleStatus.CLOSED, f"buy{named}"
    if s.rejects and (s.rejected or s.rejected_phrases):
        thing = s.rejected[0].name if s.rejected else s.rejected_phrases[0]
        return _at_least(status, SaleStatus.INTERESTED), f"reject the {thing}"
    if s.asks_price:
        if anything_offered or s.products:
            return _at_least(status, SaleStatus.NEGOTIATING), "compare prices"
        return _at_least(status, SaleStatus.INTERESTED), "ask about prices"
    if s.categories:
        return _at_least(
            status, SaleStatus.INTERESTED
        ), f"explore {s.categories[0].label_en} options"
    if s.products:
        return _at_least(status, SaleStatus.INTERESTED), f"explore the {s.products[0].name}"
    return status, "ask for advice"
