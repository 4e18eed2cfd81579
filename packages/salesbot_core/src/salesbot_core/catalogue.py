"""The rules of a catalogue file: what a valid product is, the two file formats (CSV with a
header row, JSON Lines) read as a stream of products, and written back the same way.

A file is valid only as a whole: the first broken rule raises ``InvalidCatalogue`` naming its
line (the CSV header is line 1; a JSON Lines file's first product is line 1), and the import
that was reading it (``usecases.catalogue.ImportCatalogue``) writes nothing.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Any

import msgspec

from salesbot_core.domain import Product
from salesbot_core.errors import InvalidCatalogue, InvalidInput


class CatalogueFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"

    @classmethod
    def of_path(cls, name: str) -> CatalogueFormat:
        """The format a file name says (``.jsonl``/``.ndjson``: JSON Lines; else CSV)."""
        return cls.JSONL if name.lower().endswith((".jsonl", ".ndjson")) else cls.CSV


# The columns of a CSV file, in the order an export writes them. ``url`` and ``attributes``
# (a JSON object) may be left out; any other extra column becomes an attribute.
COLUMNS = ("sku", "name", "brand", "category", "description", "price", "currency", "stock", "url")
REQUIRED = COLUMNS[:-1]
ATTRIBUTES_COLUMN = "attributes"

MAX_SKU = 64
MAX_TEXT = 255
MAX_DESCRIPTION = 4000
MAX_PRICE = Decimal("9999999999.99")  # numeric(12, 2)
MAX_STOCK = 2**31 - 1
# What a sku may be (at most MAX_SKU characters), as one regular expression for those who
# describe it, such as an OpenAPI document: parts of letters, digits and . _ -, the first
# starting with a letter or digit, joined by single "/"s, no part of dots alone. So every sku is
# a path an HTTP client and server keep as it is: no "//", no "/" at the end, no "." or ".."
# part, which they would collapse into another product's sku.
SKU_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._\-]*(?:/\.*[A-Za-z0-9_\-][A-Za-z0-9._\-]*)*"
_SKU = re.compile(SKU_PATTERN)
_CURRENCY = re.compile(r"[A-Z]{3}")
_PRICE = re.compile(r"\d+(\.\d{1,2})?")
_URL = re.compile(r"https?://\S+")
_JSON_LINE = msgspec.json.Decoder(float_hook=Decimal)  # exact prices
_JSON_NUMBERS = msgspec.json.Encoder(decimal_format="number")


def _text(fields: Mapping[str, Any], name: str, limit: int, *, required: bool = True) -> str:
    value = fields.get(name)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text")  # noqa: TRY004 (a file's value, not a bug)
    value = value.strip()
    if required and not value:
        raise ValueError(f"{name} is missing")
    if len(value) > limit:
        raise ValueError(f"{name} is longer than {limit} characters")
    return value


def _price(value: Any) -> Decimal:
    # JSON numbers arrive as Decimal (read_products decodes them so), CSV cells as text.
    text = value.strip() if isinstance(value, str) else str(value)
    number = isinstance(value, (str, int, Decimal)) and not isinstance(value, bool)
    if number and _PRICE.fullmatch(text) and Decimal(text) <= MAX_PRICE:
        return Decimal(text).quantize(Decimal("0.01"))
    raise ValueError(
        f"price must be a decimal such as 1299.00 (at most 2 decimals), not {text or 'empty'!r}"
    )


def _stock(value: Any) -> int:
    if isinstance(value, str) and re.fullmatch(r"\d+", value.strip()):
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_STOCK:
        return value
    raise ValueError(f"stock must be a whole number of units, 0 or more, not {value!r}")


def _attributes(value: Any) -> dict[str, str]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = msgspec.json.decode(value)
        except msgspec.DecodeError:
            raise ValueError("attributes must be a JSON object") from None
    if not isinstance(value, dict):
        raise ValueError("attributes must be a JSON object")  # noqa: TRY004 (a file's value)
    attributes: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, (dict, list)) or item is None:
            raise ValueError(f"attribute {key!r} must be text or a number")
        attributes[str(key)] = item if isinstance(item, str) else msgspec.json.encode(item).decode()
    return attributes


_SKU_RULE = (
    "sku {!r}: only letters, digits and . _ - /, starting with a letter or digit, with / only "
    "between parts (no //, no / at the end, no part of dots alone)"
)
_CURRENCY_RULE = "currency must be 3 capital letters (ISO 4217, e.g. USD), not {!r}"


def _matching(value: str, pattern: re.Pattern[str], rule: str) -> str:
    if not pattern.fullmatch(value):
        raise ValueError(rule.format(value))
    return value


def product_from_fields(fields: Mapping[str, Any], *, line: int | None) -> Product:
    """One product from its fields (text, or JSON values), by the catalogue's rules: a file's
    ``line`` breaking one is ``InvalidCatalogue`` naming the line and the first rule broken; a
    product on its own (``line`` None) is ``InvalidInput`` of the ``product``."""
    try:
        sku = _matching(_text(fields, "sku", MAX_SKU), _SKU, _SKU_RULE)
        currency = _matching(_text(fields, "currency", 3), _CURRENCY, _CURRENCY_RULE)
        url = _text(fields, "url", 2000, required=False) or None
        if url is not None:
            url = _matching(url, _URL, "url must be an http:// or https:// address")
        return Product(
            sku=sku,
            name=_text(fields, "name", MAX_TEXT),
            brand=_text(fields, "brand", MAX_TEXT),
            category=_text(fields, "category", MAX_TEXT),
            description=_text(fields, "description", MAX_DESCRIPTION, required=False),
            price=_price(fields.get("price", "")),
            currency=currency,
            stock=_stock(fields.get("stock", "")),
            url=url,
            attributes=_attributes(fields.get(ATTRIBUTES_COLUMN)),
        )
    except ValueError as error:
        if line is None:
            raise InvalidInput("product", str(error)) from None
        raise InvalidCatalogue(line, str(error)) from None


def _decoded(lines: Iterable[bytes]) -> Iterator[str]:
    for number, raw in enumerate(lines, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidCatalogue(number, "is not UTF-8 text") from None
        yield text.removeprefix("\ufeff") if number == 1 else text


def _unique(products: Iterator[tuple[int, Product]]) -> Iterator[Product]:
    first_line: dict[str, int] = {}
    for line, product in products:
        seen = first_line.setdefault(product.sku, line)
        if seen != line:
            raise InvalidCatalogue(line, f"sku {product.sku!r} is already on line {seen}")
        yield product


def _csv_products(lines: Iterable[bytes]) -> Iterator[tuple[int, Product]]:
    reader = csv.reader(_decoded(lines), strict=True)
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise InvalidCatalogue(1, "the file is empty: a header row is needed") from None
    except csv.Error as error:
        raise InvalidCatalogue(1, f"is not CSV ({error})") from None
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise InvalidCatalogue(1, f"the header lacks the column(s) {', '.join(missing)}")
    if len(set(header)) != len(header):
        raise InvalidCatalogue(1, "the header names a column twice")
    extra = [name for name in header if name not in COLUMNS and name != ATTRIBUTES_COLUMN]
    line = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise InvalidCatalogue(line, f"is not CSV ({error})") from None
        if row and any(cell.strip() for cell in row):
            if len(row) != len(header):
                raise InvalidCatalogue(
                    line, f"has {len(row)} cells where the header has {len(header)}"
                )
            fields: dict[str, Any] = dict(zip(header, row, strict=True))
            attributes = _attributes_of_row(fields, extra, line)
            fields[ATTRIBUTES_COLUMN] = attributes
            yield line, product_from_fields(fields, line=line)
        line = reader.line_num + 1


def _attributes_of_row(fields: dict[str, Any], extra: list[str], line: int) -> dict[str, str]:
    try:
        attributes = _attributes(fields.get(ATTRIBUTES_COLUMN))
    except ValueError as error:
        raise InvalidCatalogue(line, str(error)) from None
    attributes.update({name: fields[name].strip() for name in extra if fields[name].strip()})
    return attributes


def _jsonl_products(lines: Iterable[bytes]) -> Iterator[tuple[int, Product]]:
    for line, text in enumerate(_decoded(lines), start=1):
        if not text.strip():
            continue
        try:
            fields = _JSON_LINE.decode(text)
        except msgspec.DecodeError as error:
            raise InvalidCatalogue(line, f"is not JSON ({error})") from None
        if not isinstance(fields, dict):
            raise InvalidCatalogue(line, "must be a JSON object, one product per line")
        yield line, product_from_fields(fields, line=line)


def read_products(lines: Iterable[bytes], file_format: CatalogueFormat) -> Iterator[Product]:
    """The products of a file given as its lines (bytes, as a binary file or a body yields
    them), validated one by one as they stream; ``InvalidCatalogue`` at the first line that
    breaks a rule, a sku seen twice included."""
    parse = _jsonl_products if file_format is CatalogueFormat.JSONL else _csv_products
    return _unique(parse(lines))


def write_products(
    products: Iterable[Product], file_format: CatalogueFormat, *, header: bool = True
) -> Iterator[str]:
    """The products as a file ``read_products`` reads back (CSV: a header row, then the columns
    and ``attributes`` as a JSON object; JSON Lines: one object per line, price a number).
    ``header=False`` continues a CSV file written in parts."""
    if file_format is CatalogueFormat.JSONL:
        for product in products:
            yield _jsonl_line(product)
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow((*COLUMNS, ATTRIBUTES_COLUMN))
    for product in products:
        writer.writerow(
            (
                product.sku,
                product.name,
                product.brand,
                product.category,
                product.description,
                f"{product.price:.2f}",
                product.currency,
                product.stock,
                product.url or "",
                msgspec.json.encode(product.attributes).decode() if product.attributes else "",
            )
        )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _jsonl_line(product: Product) -> str:
    fields: dict[str, Any] = {
        "sku": product.sku,
        "name": product.name,
        "brand": product.brand,
        "category": product.category,
        "description": product.description,
        "price": product.price,
        "currency": product.currency,
        "stock": product.stock,
        "url": product.url,
        "attributes": product.attributes,
    }
    return _JSON_NUMBERS.encode(fields).decode() + "\n"
