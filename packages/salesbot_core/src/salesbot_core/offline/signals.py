"""What the offline assistant reads in a customer's words: language, products, categories, uses,
budget, and whether they ask about price, compare, want to buy, reject something (scoped to the
clause that rejects it) or give up. Products are the shop's, as the core picked them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from decimal import Decimal
from enum import StrEnum

import msgspec

from salesbot_core.domain import Product
from salesbot_core.grounding import STOP_WORDS, rejects_name, stated_budget, tokens
from salesbot_core.grounding import fold as plain_fold
from salesbot_core.offline.catalogue import CATEGORIES, Category


class Language(StrEnum):
    EN = "en"
    ES = "es"


_SPANISH_WORDS = frozenset(
    [
        "hola",
        "busco",
        "buscando",
        "quiero",
        "necesito",
        "para",
        "por",
        "que",
        "qué",
        "cuánto",
        "cuanto",
        "cuesta",
        "precio",
        "gracias",
        "el",
        "la",
        "los",
        "las",
        "un",
        "una",
        "unos",
        "unas",
        "es",
        "me",
        "mi",
        "con",
        "sí",
        "pero",
        "muy",
        "más",
        "mas",
        "algo",
        "tengo",
        "estoy",
        "trabajo",
        "programar",
        "juegos",
        "barato",
        "caro",
        "compro",
        "llevo",
        "también",
        "tambien",
        "cuál",
        "cual",
        "buenas",
        "buenos",
        "días",
        "dias",
        "tardes",
        "usar",
        "uso",
        "presupuesto",
    ]
)
_ENGLISH_WORDS = frozenset(
    [
        "hi",
        "hello",
        "i",
        "am",
        "looking",
        "for",
        "want",
        "need",
        "the",
        "a",
        "an",
        "is",
        "it",
        "my",
        "with",
        "yes",
        "but",
        "very",
        "more",
        "something",
        "have",
        "work",
        "price",
        "cost",
        "how",
        "much",
        "cheap",
        "expensive",
        "buy",
        "take",
        "thanks",
        "thank",
        "you",
        "which",
        "what",
        "would",
        "like",
        "use",
        "budget",
        "good",
        "morning",
    ]
)

_USES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    # (key, English label, Spanish label, words)
    (
        "programming",
        "programming",
        "programación",
        (
            "programming",
            "coding",
            "code",
            "developer",
            "development",
            "programar",
            "programación",
            "programacion",
            "desarrollo",
            "desarrollador",
        ),
    ),
    (
        "gaming",
        "gaming",
        "videojuegos",
        ("gaming", "games", "gamer", "juegos", "jugar", "videojuegos"),
    ),
    ("travel", "travel", "viajes", ("travel", "travelling", "traveling", "viajar", "viajes")),
    ("work", "work", "trabajo", ("work", "office", "business", "trabajo", "oficina", "empresa")),
    (
        "study",
        "study",
        "estudios",
        ("study", "school", "university", "college", "estudiar", "universidad", "colegio"),
    ),
    (
        "creative",
        "photo and video editing",
        "edición de foto y vídeo",
        (
            "photo",
            "photos",
            "photography",
            "video",
            "editing",
            "design",
            "foto",
            "fotos",
            "fotografía",
            "fotografia",
            "vídeo",
            "edición",
            "edicion",
            "diseño",
        ),
    ),
    ("music", "music", "música", ("music", "música", "musica", "podcast")),
    ("sport", "sport", "deporte", ("sport", "sports", "running", "gym", "deporte", "correr")),
)

_PRICE = re.compile(
    r"\b(price|prices|cost|costs|how much|cheaper|cheapest|discount|expensive|afford|"
    r"precio|precios|cuesta|cuestan|cu[aá]nto|barato|baratos|descuento|caro|caros)\b"
)
_BUY = re.compile(
    r"\b(i'?ll take|i will take|take it|buy it|buy the|purchase|order it|place an order|"
    r"checkout|check out|sold|lo compro|la compro|me lo llevo|me la llevo|lo quiero|"
    r"la quiero|hacer el pedido|comprarlo|comprarla)\b"
)
_REJECT = re.compile(
    r"(\bdon'?t (like|want)\b|\bdo not (like|want)\b|\bnot (a fan|for me|that one)\b|"
    r"\btoo (expensive|big|heavy|small)\b|\bno me (gustan?|convencen?|interesan?)\b|"
    r"\bno quiero\b|\b(muy|demasiado) (caro|grande|pesado)\b|\bhate\b|\brather not\b|"
    r"\bnot interested in\b)"
)
_GIVE_UP = re.compile(
    r"\b(not interested|no thanks|no thank you|forget it|never ?mind|just looking|"
    r"no gracias|no me interesa nada|olv[ií]dalo|d[eé]jalo|solo miraba)\b"
)
_COMPARE = re.compile(
    r"\b(which one|which is|which has|which of|best|better|compare|comparison|difference|"
    r"versus|vs|cu[aá]l|mejor|mejores|comparar|compara|diferencia)\b"
)
# Where one clause ends and the next begins: a rejection covers only its own clause ("I do not
# like Chromebooks, show me the MacBook" rejects the Chromebooks only).
_CLAUSE = re.compile(
    r"[,.;!?¡¿]|\b(?:but|instead|rather|show me|and show|pero|sino|en cambio|mu[eé]strame|"
    r"ens[eé]ñame)\b"
)
_REJECTED_THING = re.compile(
    r"(?:don'?t (?:like|want)|do not (?:like|want)|not (?:a fan of|interested in)|hate|"
    r"rather not have|no me (?:gustan?|convencen?|interesan?)|no quiero)\s+(.+)"
)
_ARTICLES = frozenset(
    [
        "the",
        "a",
        "an",
        "any",
        "el",
        "la",
        "los",
        "las",
        "un",
        "una",
        "unos",
        "unas",
        "lo",
        "ese",
        "esa",
        "esos",
        "esas",
        "this",
        "that",
        "these",
        "those",
    ]
)
_PRONOUNS = frozenset(
    ["it", "them", "that", "this", "one", "ones", "eso", "este", "esta", "ese", "esa"]
)


def fold(text: str) -> str:
    """Lower-cased, whitespace-normalised text for matching (accents kept: Spanish needs them)."""
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


def _words(text: str) -> list[str]:
    return re.findall(r"[\wáéíóúüñ']+", fold(text))


def detect_language(text: str, fallback: Language = Language.EN) -> Language:
    words = _words(text)
    if any(ch in text for ch in "¿¡ñÑ"):
        return Language.ES
    spanish = sum(word in _SPANISH_WORDS for word in words)
    english = sum(word in _ENGLISH_WORDS for word in words)
    if spanish > english:
        return Language.ES
    if english > spanish:
        return Language.EN
    return fallback


def _mentions(text: str, phrase: str) -> bool:
    return re.search(rf"(?<![\w]){re.escape(phrase)}(?![\w])", text) is not None


def _names_of(product: Product) -> tuple[str, ...]:
    """How a customer may refer to a product: its name, its brand, the distinctive words of its
    name ("MacBook" for "MacBook Air M3")."""
    words = [w for w in tokens(product.name) if len(w) >= 4 and w.isalpha() and w not in STOP_WORDS]
    return (plain_fold(product.name), plain_fold(product.brand), *words)


def _folded_words(text: str) -> str:
    # Plural mentions ("Chromebooks", "los Jabra") count as the singular name.
    return " ".join(w[:-1] if len(w) > 4 and w.endswith("s") else w for w in tokens(text))


def products_in(text: str, products: Sequence[Product]) -> list[Product]:
    """The products of ``products`` that ``text`` names, in their order."""
    plain, singular = plain_fold(text), _folded_words(text)
    return [
        p
        for p in products
        if any(
            name and (_mentions(plain, name) or _mentions(singular, name)) for name in _names_of(p)
        )
    ]


def clauses(text: str) -> list[str]:
    return [part.strip() for part in _CLAUSE.split(fold(text)) if part and part.strip()]


def rejected_phrases(text: str) -> list[str]:
    """What each rejecting clause of ``text`` rejects, as the customer named it ("Chromebooks",
    "Jabra"): the words after the rejection, articles dropped; nothing for a bare pronoun."""
    found: list[str] = []
    for clause in clauses(text):
        match = _REJECTED_THING.search(clause)
        if match is None:
            continue
        words = [w for w in match.group(1).split() if w not in _ARTICLES][:4]
        if words and not all(w in _PRONOUNS for w in words):
            phrase = " ".join(words)
            # As the customer wrote it ("Jabra", not "jabra"), when the text has it as is.
            said = re.search(re.escape(phrase), " ".join(text.split()), re.IGNORECASE)
            found.append(said.group(0) if said else phrase)
    return found


def rejecting_clauses(text: str) -> list[str]:
    return [c for c in clauses(text) if _REJECT.search(c)]


def categories_in(text: str, products: Sequence[Product] = ()) -> list[Category]:
    folded = fold(text)
    found = [c for c in CATEGORIES if any(_mentions(folded, fold(w)) for w in c.words)]
    for product in products_in(text, products):
        category = category_of_product(product)
        if category is not None and category not in found:
            found.append(category)
    return found


def category_of_product(product: Product) -> Category | None:
    return next((c for c in CATEGORIES if c.covers(product.category)), None)


def category_by_key(key: str) -> Category | None:
    return next((c for c in CATEGORIES if c.key == key), None)


def category_of_label(label: str) -> Category | None:
    folded = fold(label)
    return next(
        (c for c in CATEGORIES if folded in (c.key, fold(c.label_en), fold(c.label_es))), None
    )


def uses_in(text: str, language: Language) -> list[str]:
    folded = fold(text)
    return [
        (english if language is Language.EN else spanish)
        for _key, english, spanish, words in _USES
        if any(_mentions(folded, word) for word in words)
    ]


def budget_in(text: str) -> Decimal | None:
    return stated_budget(text)


class Signals(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the offline assistant notices in one customer message. ``products``: the
    ones it names outside any rejecting clause; ``rejected``: the ones a rejecting clause names;
    ``rejected_phrases``: what was rejected, in the customer's words."""

    language: Language
    products: tuple[Product, ...]
    rejected: tuple[Product, ...]
    rejected_phrases: tuple[str, ...]
    categories: tuple[Category, ...]
    uses: tuple[str, ...]
    budget: Decimal | None
    asks_price: bool
    compares: bool
    wants_to_buy: bool
    rejects: bool
    gives_up: bool


def read_message(
    text: str, fallback: Language = Language.EN, products: Sequence[Product] = ()
) -> Signals:
    folded = fold(text)
    language = detect_language(text, fallback)
    refused = rejecting_clauses(text)
    phrases = rejected_phrases(text)
    rejected = [
        p
        for p in products
        if any(products_in(c, [p]) for c in refused) or rejects_name(phrases, p.name, p.brand)
    ]
    named = [p for p in products_in(text, products) if p not in rejected]
    return Signals(
        language=language,
        products=tuple(named),
        rejected=tuple(rejected),
        rejected_phrases=tuple(phrases),
        categories=tuple(categories_in(text, products)),
        uses=tuple(uses_in(text, language)),
        budget=budget_in(text),
        asks_price=_PRICE.search(folded) is not None,
        compares=_COMPARE.search(folded) is not None,
        wants_to_buy=_BUY.search(folded) is not None,
        rejects=bool(refused),
        gives_up=_GIVE_UP.search(folded) is not None,
    )


def unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for item in items:
        seen.setdefault(item.casefold(), item)
    return list(seen.values())
