"""Leads as CSV for a CRM import: one row per conversation, RFC 4180 quoting, UTF-8.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
return) as a formula, and a customer writes the messages and, through the LLM, the metadata: such
a cell gets a leading ``'`` so it is shown as text (OWASP's advice on CSV injection). The one
exception is a value that is exactly an E.164 phone number (``+`` and digits): it cannot be a
formula, and a CRM needs its ``+``.

``offeredSkus`` and ``offeredPrices`` line up with ``offeredProducts`` (the same separator, the
same order): the SKU and the price with its currency of each offered product the catalogue
has, empty for a name of no product.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from salesbot_core.ports import Lead

COLUMNS = (
    "conversationId",
    "title",
    "customerName",
    "customerEmail",
    "customerPhone",
    "saleStatus",
    "interests",
    "offeredProducts",
    "offeredSkus",
    "offeredPrices",
    "rejectedProducts",
    "lastIntent",
    "lastMessage",
    "lastMessageAt",
    "updatedAt",
)
LIST_SEPARATOR = ";"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PHONE = re.compile(r"\+[1-9][0-9]{1,14}")


def safe_cell(value: str) -> str:
    """``value`` as a spreadsheet shows it as text, never runs it."""
    if value.startswith(FORMULA_STARTS) and not _PHONE.fullmatch(value):
        return "'" + value
    return value


def _moment(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _joined(items: Iterable[str]) -> str:
    return LIST_SEPARATOR.join(items)


def lead_cells(lead: Lead) -> list[str]:
    """The row of ``lead``, cell by cell in ``COLUMNS`` order, before quoting."""
    metadata, last = lead.metadata, lead.last_message
    return [
        str(lead.conversation_id),
        lead.title,
        lead.customer_name,
        lead.customer_email,
        lead.customer_phone or "",
        lead.sale_status.value,
        _joined(metadata.interests) if metadata else "",
        _joined(metadata.offered_products) if metadata else "",
        _joined(p.sku or "" for p in lead.offered_products),
        _joined(f"{p.price} {p.currency}" if p.sku else "" for p in lead.offered_products),
        _joined(metadata.rejected_products) if metadata else "",
        (metadata.last_intent or "") if metadata else "",
        last.content if last else "",
        _moment(last.created_at) if last else "",
        _moment(lead.updated_at),
    ]


def csv_lines(rows: Iterable[Sequence[str]]) -> str:
    """``rows`` as CSV text (CRLF line ends, quoted where needed), every cell made safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue()


def header() -> str:
    return csv_lines([COLUMNS])


def leads_csv(leads: Iterable[Lead]) -> str:
    return csv_lines(lead_cells(lead) for lead in leads)
