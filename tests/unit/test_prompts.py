"""The prompts: bounded reply context, title and distillation prompts, answer validation."""

from __future__ import annotations

import msgspec
import pytest

from salesbot_core.domain import SalesMetadata, SaleStatus, Sender, Turn
from salesbot_core.errors import InvalidMetadataAnswer
from salesbot_core.grounding import format_price
from salesbot_core.ports import DistillationRequest, ReplyRequest, TitleRequest
from salesbot_core.prompts import (
    NO_CATALOGUE,
    NOTHING_RELEVANT,
    PRODUCTS_HEADER,
    STATUS_GUIDANCE,
    catalogue_block,
    clean_title,
    distillation_prompt,
    fitting_products,
    metadata_json_schema,
    parse_metadata_answer,
    reply_prompt,
    title_prompt,
)
from tests.support.shop import SHOP, product


def test_reply_prompt_is_rules_metadata_recent_turns_and_the_new_message() -> None:
    metadata = SalesMetadata(
        interests=("laptop",),
        rejected_products=("Chromebook",),
        sale_status=SaleStatus.NEGOTIATING,
    )
    turns = (
        Turn(sender=Sender.USER, content="what about the XPS?"),
        Turn(sender=Sender.BOT, content="It costs more."),
    )
    prompt = reply_prompt(
        ReplyRequest(customer_message="and the MacBook?", recent_turns=turns, metadata=metadata)
    )
    assert [m.role for m in prompt] == ["system", "user", "assistant", "user"]
    system = prompt[0].content
    assert STATUS_GUIDANCE[SaleStatus.NEGOTIATING] in system
    assert "Chromebook" in system
    assert "customer's language" in system
    assert prompt[-1].content == "and the MacBook?"


def test_reply_prompt_without_metadata_uses_exploring_guidance() -> None:
    prompt = reply_prompt(ReplyRequest(customer_message="hi"))
    assert STATUS_GUIDANCE[SaleStatus.EXPLORING] in prompt[0].content
    assert "sales record" not in prompt[0].content
    assert len(prompt) == 2


def test_the_catalogue_block_lists_each_product_on_its_own_line() -> None:
    shop = fitting_products(SHOP, 1200)
    system = reply_prompt(
        ReplyRequest(customer_message="a laptop", products=shop, catalogue_loaded=True)
    )[0].content
    block = system.split(PRODUCTS_HEADER, 1)[1].strip().split("\n\n")[0].splitlines()
    assert len(block) == len(shop)
    for line, item in zip(block, shop, strict=True):
        assert line.startswith(f"- {item.sku} | {item.name} | ")
        assert format_price(item) in line
        assert ("in stock" if item.in_stock else "out of stock") in line
    assert NO_CATALOGUE not in system
    assert NOTHING_RELEVANT not in system


def test_the_block_is_bounded_whatever_the_catalogue() -> None:
    long = [
        product(
            f"SKU-{i}",
            f"Laptop {i}",
            brand="B",
            category="laptop",
            price="999.99",
            description="word " * 200,
        )
        for i in range(50)
    ]
    for limit in (200, 1200, 3000):
        kept = fitting_products(long, limit)
        block = catalogue_block(
            ReplyRequest(customer_message="x", products=kept, catalogue_loaded=True)
        )
        assert len(block) <= limit
        assert all(line.endswith("…") for line in block.splitlines()[1:])


def test_no_catalogue_says_name_no_product_and_nothing_relevant_says_so() -> None:
    without = reply_prompt(ReplyRequest(customer_message="a laptop"))[0].content
    assert NO_CATALOGUE in without
    assert "do not name any product" in without
    assert PRODUCTS_HEADER not in without
    nothing = reply_prompt(ReplyRequest(customer_message="a hose", catalogue_loaded=True))
    assert NOTHING_RELEVANT in nothing[0].content
    assert "do not invent products" in nothing[0].content
    assert PRODUCTS_HEADER not in nothing[0].content


def test_title_and_distillation_prompts_carry_their_input() -> None:
    title = title_prompt(TitleRequest(first_message="Busco un portátil"))
    assert title[-1].content == "Busco un portátil"
    assert "6 words" in title[0].content
    previous = SalesMetadata(interests=("phones",))
    distil = distillation_prompt(
        DistillationRequest(
            previous=previous, turns=(Turn(sender=Sender.USER, content="too expensive"),)
        )
    )
    assert '"interests":["phones"]' in distil[-1].content
    assert "Customer: too expensive" in distil[-1].content


def test_schema_is_strict_structured_output_form() -> None:
    schema = metadata_json_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(schema["properties"])
    assert schema["properties"]["saleStatus"]["enum"] == [s.value for s in SaleStatus]


def test_a_valid_answer_parses_into_the_domain_type() -> None:
    answer = {
        "interests": ["laptop"],
        "offeredProducts": ["MacBook Air M3"],
        "rejectedProducts": [],
        "saleStatus": "interested",
        "lastIntent": None,
    }
    parsed = parse_metadata_answer(msgspec.json.encode(answer).decode())
    assert parsed == SalesMetadata(
        interests=("laptop",),
        offered_products=("MacBook Air M3",),
        sale_status=SaleStatus.INTERESTED,
    )


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"saleStatus": "maybe"}',
        '{"interests": "laptop", "saleStatus": "exploring"}',
        "[]",
    ],
)
def test_an_invalid_answer_is_refused(text: str) -> None:
    with pytest.raises(InvalidMetadataAnswer):
        parse_metadata_answer(text)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ('"Programming Laptop Search."', "Programming Laptop Search"),
        ("one two three four five six seven eight", "one two three four five six"),
        ("", "Hi I need a phone"),
        ("   ", "Hi I need a phone"),
    ],
)
def test_clean_title(answer: str, expected: str) -> None:
    assert clean_title(answer, "Hi I need a phone") == expected
