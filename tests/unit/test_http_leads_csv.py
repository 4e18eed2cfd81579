"""The CSV export's cells: formula-safe, RFC 4180 quoted, lists joined with ``;``."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from salesbot_core.domain import Message, SalesMetadata, SaleStatus, Sender
from salesbot_core.ports import Lead, OfferedProduct
from salesbot_http.leads_csv import COLUMNS, csv_lines, header, lead_cells, leads_csv, safe_cell

MOMENT = datetime(2025, 1, 15, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("+14155552671", "+14155552671"),  # an E.164 phone number stays usable
        ("+1415555267100000", "'+1415555267100000"),  # too long to be one
        ("+1 415 555", "'+1 415 555"),
        ("Laptop = good", "Laptop = good"),
        ("", ""),
    ],
)
def test_a_cell_a_spreadsheet_would_run_is_shown_as_text(value: str, shown: str) -> None:
    assert safe_cell(value) == shown


def test_cells_are_quoted_as_rfc_4180_says() -> None:
    text = csv_lines([["plain", "a,b", 'say "hi"', "two\nlines"]])

    assert text == 'plain,"a,b","say ""hi""","two\nlines"\r\n'
    assert next(csv.reader(io.StringIO(text, newline=""))) == [
        "plain",
        "a,b",
        'say "hi"',
        "two\nlines",
    ]


def test_a_lead_is_one_row_in_column_order() -> None:
    conversation_id, customer_id = uuid.uuid4(), uuid.uuid4()
    lead = Lead(
        conversation_id=conversation_id,
        title="Laptop",
        customer_id=customer_id,
        customer_name="Jane Doe",
        customer_email="jane@example.com",
        customer_phone=None,
        metadata=SalesMetadata(
            interests=("laptops", "gaming"),
            offered_products=("MacBook Air",),
            rejected_products=("Dell XPS", "ThinkPad"),
            sale_status=SaleStatus.NEGOTIATING,
            last_intent="wants a discount",
        ),
        last_message=Message(
            id=uuid.uuid4(),
            conversation_id=conversation_id,
            seq=6,
            sender=Sender.BOT,
            content="10% off today",
            created_at=MOMENT,
        ),
        updated_at=MOMENT,
        offered_products=(
            OfferedProduct(
                name="MacBook Air", sku="LAP-MBA", price=Decimal("1099.00"), currency="USD"
            ),
        ),
    )

    cells = lead_cells(lead)

    assert dict(zip(COLUMNS, cells, strict=True)) == {
        "conversationId": str(conversation_id),
        "title": "Laptop",
        "customerName": "Jane Doe",
        "customerEmail": "jane@example.com",
        "customerPhone": "",
        "saleStatus": "negotiating",
        "interests": "laptops;gaming",
        "offeredProducts": "MacBook Air",
        "offeredSkus": "LAP-MBA",
        "offeredPrices": "1099.00 USD",
        "rejectedProducts": "Dell XPS;ThinkPad",
        "lastIntent": "wants a discount",
        "lastMessage": "10% off today",
        "lastMessageAt": "2025-01-15T10:30:00Z",
        "updatedAt": "2025-01-15T10:30:00Z",
    }
    assert leads_csv([lead]).count("\r\n") == 1
    assert header() == ",".join(COLUMNS) + "\r\n"
