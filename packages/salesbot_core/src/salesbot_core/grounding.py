"""The grounding rules: which of the shop's products a reply may name.

Pure functions from the customer's words and the sales record to a catalogue query and a
filter over its candidates: retrieval words (English and Spanish, a Spanish request finding an
English catalogue through a small glossary of shop words), the stated budget, the rejected
products and the stock order. ``usecases.grounding.PickProducts`` runs them against the port.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from decimal import Decimal

import msgspec

from salesbot_core.domain import Product, SalesMetadata
from salesbot_core.ports.insight import Count, OfferedProduct

# Products priced up to this many times the stated budget stay in (a customer "around 1500"
# will look at 1,699; not at 3,000).
BUDGET_STRETCH = Decimal("1.5")


class GroundingPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """``products``: at most this many in a reply's prompt (``CATALOGUE_PROMPT_PRODUCTS``),
    whose block takes at most ``prompt_chars`` characters (``CATALOGUE_PROMPT_CHARS``); the
    catalogue is asked for ``candidates_factor`` times as many, which the core filters; a lookup
    uses at most ``query_words`` words (``CATALOGUE_QUERY_WORDS``), the first ones found, so a
    long message cannot make the search unbounded."""

    products: int = 5
    prompt_chars: int = 1200
    candidates_factor: int = 4
    query_words: int = 32

    @property
    def candidates(self) -> int:
        return max(self.products, 1) * max(self.candidates_factor, 1)


# Spanish (and a few accent-free spellings) shop words → their English equivalents, so a
# Spanish request finds the products of an English catalogue. The Spanish word is kept too,
# for a Spanish catalogue.
GLOSSARY: dict[str, tuple[str, ...]] = {
    "portatil": ("laptop", "notebook"),
    "ordenador": ("laptop", "computer"),
    "computadora": ("laptop", "computer"),
    "computador": ("laptop", "computer"),
    "ligero": ("light", "lightweight"),
    "ligera": ("light", "lightweight"),
    "liviano": ("light", "lightweight"),
    "telefono": ("phone", "smartphone"),
    "movil": ("phone", "smartphone"),
    "celular": ("phone", "smartphone"),
    "auricular": ("headphones", "earbuds"),
    "audifono": ("headphones", "earbuds"),
    "casco": ("headphones",),
    "pantalla": ("screen", "display", "monitor"),
    "tableta": ("tablet",),
    "teclado": ("keyboard",),
    "raton": ("mouse",),
    "bateria": ("battery",),
    "camara": ("camera",),
    "barato": ("cheap", "budget"),
    "barata": ("cheap", "budget"),
    "potente": ("powerful", "performance"),
    "rapido": ("fast",),
    "rapida": ("fast",),
    "grande": ("large", "big"),
    "pequeno": ("small", "compact"),
    "pequena": ("small", "compact"),
    "juego": ("gaming", "games"),
    "videojuego": ("gaming", "games"),
    "jugar": ("gaming",),
    "trabajo": ("work", "business"),
    "oficina": ("office", "business"),
    "empresa": ("business",),
    "viaje": ("travel",),
    "viajar": ("travel",),
    "deporte": ("sport",),
    "correr": ("running", "sport"),
    "ruido": ("noise",),
    "cancelacion": ("cancelling", "noise"),
    "inalambrico": ("wireless",),
    "inalambrica": ("wireless",),
    "programar": ("programming", "developer"),
    "programacion": ("programming", "developer"),
    "estudiante": ("student",),
    "estudiar": ("student", "study"),
    "foto": ("photo", "camera"),
    "fotografia": ("photo", "camera"),
    "musica": ("music",),
    "sonido": ("sound", "audio"),
    "altavoz": ("speaker",),
    "reloj": ("watch",),
    "impresora": ("printer",),
    "cargador": ("charger",),
    "funda": ("case", "cover"),
    "mochila": ("backpack",),
    "silla": ("chair",),
    "memoria": ("memory",),
    "almacenamiento": ("storage",),
    "comodo": ("comfortable", "comfort"),
    "comoda": ("comfortable", "comfort"),
}

STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "from",
        "with",
        "without",
        "by",
        "about",
        "as",
        "is",
        "are",
        "was",
        "be",
        "been",
        "am",
        "i",
        "i'm",
        "im",
        "me",
        "my",
        "mine",
        "you",
        "your",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "what",
        "which",
        "who",
        "how",
        "much",
        "many",
        "do",
        "does",
        "did",
        "don't",
        "dont",
        "not",
        "no",
        "yes",
        "please",
        "thanks",
        "thank",
        "hi",
        "hello",
        "hey",
        "show",
        "tell",
        "give",
        "want",
        "wanted",
        "need",
        "like",
        "love",
        "would",
        "could",
        "should",
        "can",
        "will",
        "get",
        "got",
        "have",
        "has",
        "had",
        "looking",
        "look",
        "find",
        "one",
        "ones",
        "some",
        "any",
        "something",
        "anything",
        "best",
        "better",
        "good",
        "great",
        "really",
        "very",
        "more",
        "most",
        "less",
        "than",
        "under",
        "below",
        "over",
        "around",
        "up",
        "max",
        "maximum",
        "budget",
        "price",
        "prices",
        "cost",
        "costs",
        "dollars",
        "dollar",
        "euros",
        "euro",
        "usd",
        "eur",
        "bucks",
        "so",
        "also",
        "just",
        "only",
        "too",
        "other",
        "else",
        "all",
        "el",
        "la",
        "los",
        "las",
        "un",
        "una",
        "unos",
        "unas",
        "y",
        "o",
        "pero",
        "si",
        "de",
        "del",
        "al",
        "en",
        "con",
        "sin",
        "por",
        "para",
        "sobre",
        "como",
        "es",
        "son",
        "era",
        "ser",
        "estoy",
        "esta",
        "este",
        "esto",
        "estos",
        "estas",
        "ese",
        "esa",
        "eso",
        "esos",
        "esas",
        "aqui",
        "que",
        "qué",
        "cual",
        "cuál",
        "quien",
        "cuanto",
        "cuánto",
        "mucho",
        "muchos",
        "no",
        "sí",
        "me",
        "mi",
        "mis",
        "tu",
        "tus",
        "te",
        "se",
        "lo",
        "le",
        "les",
        "nos",
        "hola",
        "gracias",
        "busco",
        "buscando",
        "quiero",
        "queria",
        "necesito",
        "gusta",
        "gustan",
        "gustaria",
        "muestrame",
        "enseñame",
        "algo",
        "alguno",
        "alguna",
        "mejor",
        "mejores",
        "bueno",
        "buena",
        "muy",
        "mas",
        "menos",
        "hasta",
        "alrededor",
        "presupuesto",
        "precio",
        "precios",
        "cuesta",
        "dolares",
        "euros",
        "tengo",
        "tiene",
        "también",
        "tambien",
        "otro",
        "otra",
        "otros",
    ]
)

_NUMBER = r"\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{1,2})?|\d{2,7}(?:[.,]\d{1,2})?"
# A number followed by a unit is a size, not a budget ("under 2 kg", "15 pulgadas").
_NOT_UNIT = (
    r"(?!\s?(?:inch|inches|in\b|\"|kg|kilo|g\b|gb|tb|hz|mm|cm|pulgada|hora|hour|h\b|mah|w\b|"
    r"%|gramo|gram))"
)
_BUDGET = re.compile(
    r"(?:\$|€|usd\s?|eur\s?)\s?(" + _NUMBER + r")"
    r"|(" + _NUMBER + r")\s?(?:\$|€|usd\b|eur\b|dollars?\b|bucks\b|euros?\b|d[oó]lares\b)"
    r"|\b(?:under|below|less than|up to|around|about|max(?:imum)?|at most|no more than|"
    r"budget(?: is| of)?(?: around| about)?|menos de|hasta|alrededor de|unos|como mucho|"
    r"m[aá]ximo|presupuesto(?: es| de)?(?: unos| de)?)\s+(" + _NUMBER + r")\b" + _NOT_UNIT
)


def fold(text: str) -> str:
    """Lower case, accents removed (ñ kept), whitespace normalised: how words are compared.
    Composed first (NFC), so an ñ written as n and a combining tilde, as some exports write
    it, is kept as the ñ it is."""
    composed = unicodedata.normalize("NFC", text).lower()
    decomposed = unicodedata.normalize("NFD", composed.replace("ñ", "\0"))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return " ".join(stripped.replace("\0", "ñ").split())


def singular(word: str) -> str:
    """A folded word's singular, crudely ("laptops" → "laptop", "portatiles" → "portatil")."""
    if word.endswith("es") and word[:-2] in GLOSSARY:
        return word[:-2]  # Spanish: "portatiles" → "portatil"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """The words of ``text``, folded."""
    return re.findall(r"[\wñ]+", fold(text))


def retrieval_words(texts: Iterable[str]) -> tuple[str, ...]:
    """The words to look the catalogue up by, in order of first appearance: stop words and
    bare numbers dropped, plurals made singular, Spanish shop words joined by their English
    equivalents (``GLOSSARY``)."""
    found: dict[str, None] = {}
    for text in texts:
        for token in tokens(text):
            if token in STOP_WORDS or token.isdigit() or len(token) < 2:
                continue
            word = singular(token)
            if word in STOP_WORDS:
                continue
            found.setdefault(word)
            for english in GLOSSARY.get(word, GLOSSARY.get(token, ())):
                found.setdefault(singular(english))
    return tuple(found)


def _amount(text: str) -> Decimal:
    # "1,200" and "1.200" are thousands; "1200.50" has cents.
    cents = re.search(r"[.,](\d{1,2})$", text)
    whole = text[: cents.start()] if cents else text
    value = Decimal(re.sub(r"[.,]", "", whole))
    return value + (Decimal(cents.group(1)) / 10 ** len(cents.group(1)) if cents else 0)


def stated_budget(text: str) -> Decimal | None:
    """The budget a customer states ("under 1000", "around 1500 dollars", "menos de 800
    euros", "about $1,200", "hasta 900"), or None."""
    match = _BUDGET.search(fold(text))
    if match is None:
        return None
    return _amount(next(group for group in match.groups() if group))


def latest_budget(texts: Sequence[str]) -> Decimal | None:
    """The budget stated last among ``texts`` (newest last)."""
    for text in reversed(texts):
        budget = stated_budget(text)
        if budget is not None:
            return budget
    return None


def price_ceiling(budget: Decimal | None) -> Decimal | None:
    return None if budget is None else budget * BUDGET_STRETCH


def _phrase_in(phrase: str, text: str) -> bool:
    return re.search(rf"(?<![\wñ]){re.escape(phrase)}(?![\wñ])", text) is not None


def is_rejected(product: Product, rejected: Iterable[str]) -> bool:
    """Whether the customer rejected ``product``: a rejected name that is its name, its brand
    (a rejected brand removes all its products) or whole words of its name ("Chromebooks"
    rejects every "… Chromebook …"); case- and accent-insensitive, plurals as singulars."""
    return rejects_name(rejected, product.name, product.brand)


def rejects_name(rejected: Iterable[str], name: str, brand: str = "") -> bool:
    """``is_rejected`` for a product known by its name (and brand) only."""
    name, brand = fold(name), fold(brand)
    for item in rejected:
        wanted = fold(item)
        if not wanted:
            continue
        for form in dict.fromkeys((wanted, " ".join(singular(w) for w in wanted.split()))):
            if form in (name, brand) or _phrase_in(form, name) or _phrase_in(name, form):
                return True
    return False


def choose(
    candidates: Sequence[Product], rejected: Iterable[str], limit: int
) -> tuple[Product, ...]:
    """At most ``limit`` of the candidates (most relevant first), none rejected, in-stock ones
    before out-of-stock ones (relevance order kept within each)."""
    rejected = tuple(rejected)
    kept = [p for p in candidates if not is_rejected(p, rejected)]
    ordered = [p for p in kept if p.in_stock] + [p for p in kept if not p.in_stock]
    return tuple(ordered[: max(limit, 0)])


def grounding_texts(
    customer_message: str, earlier_customer_turns: Sequence[str], metadata: SalesMetadata | None
) -> list[str]:
    """What a reply's retrieval reads, most important first: the new message, the customer's
    turns since the last distillation (newest first), the record's interests."""
    interests = list(metadata.interests) if metadata else []
    return [customer_message, *reversed(earlier_customer_turns), *interests]


def format_price(product: Product) -> str:
    """The exact price with its currency, as every reply names it: ``1,099.00 USD``."""
    return f"{product.price:,.2f} {product.currency}"


def name_key(name: str) -> str:
    """The key a product's name is compared by: the name folded (``fold``: case, accents other
    than ñ and extra spaces aside), so "portatil  PRO 14" names "Portátil Pro 14". The one
    owner of that rule: a store keeps each product's key as the core computes it (PostgreSQL:
    ``products.name_key``) and finds products by it, so no store writes the rule again."""
    return fold(name)


def product_named(name: str, products: Iterable[Product]) -> Product | None:
    """The product whose name has the key of ``name`` (``name_key``)."""
    wanted = name_key(name)
    return next((p for p in products if name_key(p.name) == wanted), None)


def link_counts(counts: Sequence[Count], products: Sequence[Product]) -> tuple[Count, ...]:
    """Ranked product names linked to the catalogue: a name that is a product's gets its SKU,
    catalogue name, price and currency, and counts of one SKU add up; ranked again (most
    frequent first, ties by name). Names of no product stay as they are."""
    linked: dict[str, Count] = {}
    for count in counts:
        product = product_named(count.name, products)
        key = f"sku:{product.sku}" if product else f"name:{count.name}"
        before = linked.get(key)
        total = count.count + (before.count if before else 0)
        linked[key] = (
            Count(
                name=product.name,
                count=total,
                sku=product.sku,
                price=product.price,
                currency=product.currency,
            )
            if product
            else msgspec.structs.replace(count, count=total)
        )
    return tuple(sorted(linked.values(), key=lambda c: (-c.count, c.name.casefold())))


def names_to_look_up(names: Iterable[str]) -> list[str]:
    """What to ask ``Catalogue.named`` for so that every product ``product_named`` would link
    one of ``names`` to is found: the distinct keys of ``names`` (``name_key``), in order."""
    return list(dict.fromkeys(name_key(name) for name in names))


def link_names(names: Sequence[str], products: Sequence[Product]) -> tuple[OfferedProduct, ...]:
    """Offered product names linked to the catalogue, in their order: a name that is a
    product's (``product_named``) gets its SKU, catalogue name, price and currency; others stay
    as they are."""
    linked = []
    for name in names:
        product = product_named(name, products)
        linked.append(
            OfferedProduct(
                name=product.name, sku=product.sku, price=product.price, currency=product.currency
            )
            if product
            else OfferedProduct(name=name)
        )
    return tuple(linked)
