"""What the offline assistant reads in a customer's words: language, products, categories, uses,
budget, and whether they ask about price, want to buy, reject something or give up."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from enum import StrEnum

import msgspec

from salesbot_core.offline.catalogue import CATEGORIES, PRODUCTS, Category, Product


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
    r"\btoo (expensive|big|heavy|small)\b|\bno me (gusta|convence|interesa)\b|"
    r"\bno quiero\b|\b(muy|demasiado) (caro|grande|pesado)\b|\bhate\b|\brather not\b|"
    r"\bnot interested in\b)"
)
_GIVE_UP = re.compile(
    r"\b(not interested|no thanks|no thank you|forget it|never ?mind|just looking|"
    r"no gracias|no me interesa nada|olv[ií]dalo|d[eé]jalo|solo miraba)\b"
)
_BUDGET = re.compile(
    r"(?:\$|usd\s?|€|eur\s?)\s?(\d{2,5})|(\d{2,5})\s?(?:\$|€|usd|eur|dollars|euros|d[oó]lares)"
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


def products_in(text: str) -> list[Product]:
    """Catalogue products named in ``text``, in catalogue order."""
    folded = fold(text)
    return [p for p in PRODUCTS if any(_mentions(folded, name) for name in p.names())]


def product_named(name: str) -> Product | None:
    wanted = fold(name)
    return next((p for p in PRODUCTS if wanted in p.names()), None)


def categories_in(text: str) -> list[Category]:
    folded = fold(text)
    found = [c for c in CATEGORIES if any(_mentions(folded, word) for word in c.words)]
    for product in products_in(text):
        category = next(c for c in CATEGORIES if c.key == product.category)
        if category not in found:
            found.append(category)
    return found


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


def budget_in(text: str) -> int | None:
    match = _BUDGET.search(fold(text))
    if match is None:
        return None
    return int(match.group(1) or match.group(2))


class Signals(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the offline assistant notices in one customer message."""

    language: Language
    products: tuple[Product, ...]
    categories: tuple[Category, ...]
    uses: tuple[str, ...]
    budget: int | None
    asks_price: bool
    wants_to_buy: bool
    rejects: bool
    gives_up: bool


def read_message(text: str, fallback: Language = Language.EN) -> Signals:
    folded = fold(text)
    language = detect_language(text, fallback)
    return Signals(
        language=language,
        products=tuple(products_in(text)),
        categories=tuple(categories_in(text)),
        uses=tuple(uses_in(text, language)),
        budget=budget_in(text),
        asks_price=_PRICE.search(folded) is not None,
        wants_to_buy=_BUY.search(folded) is not None,
        rejects=_REJECT.search(folded) is not None,
        gives_up=_GIVE_UP.search(folded) is not None,
    )


def unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for item in items:
        seen.setdefault(item.casefold(), item)
    return list(seen.values())
