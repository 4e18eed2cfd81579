"""Whole exchanges through ``SendMessage`` with the real SDK against the fake server: the model and
key sent, the title on exchange 1, one strict structured-output distillation every third exchange,
a bounded reply prompt afterwards, validation of metadata answers, and token usage."""

from __future__ import annotations

import msgspec
import pytest
from openai_support import TEST_KEY, TEST_MODEL, Chat, MakeAssistant

from salesbot_core.domain import SalesMetadata, SaleStatus
from salesbot_core.ports import ReplyRequest, TitleRequest
from salesbot_core.prompts import metadata_json_schema, reply_prompt, title_prompt
from salesbot_openai.testing import Completion, FakeOpenAIServer, HttpError, RequestKind

FIRST = "Hola, busco un portátil ligero para diseño gráfico"
SECOND = "Mi presupuesto ronda los 1500 euros"
THIRD = "Prefiero pantalla de 14 pulgadas, nada de Windows"
FOURTH = "¿Cuál me recomiendas entonces?"

METADATA = SalesMetadata(
    interests=("portátil para diseño", "pantalla 14 pulgadas"),
    offered_products=("MacBook Air M3",),
    rejected_products=("equipos con Windows",),
    sale_status=SaleStatus.INTERESTED,
    last_intent="elegir modelo",
)


def metadata_json(metadata: SalesMetadata) -> str:
    return msgspec.json.encode(metadata).decode()


def as_wire(messages: tuple[object, ...]) -> list[dict[str, object]]:
    return [msgspec.to_builtins(message) for message in messages]


async def three_exchanges(chat: Chat) -> None:
    for content in (FIRST, SECOND, THIRD):
        await chat.send(content)


async def test_every_request_carries_the_configured_model_and_key(
    server: FakeOpenAIServer, chat: Chat
) -> None:
    await three_exchanges(chat)

    assert {request.kind for request in server.requests} == set(RequestKind)
    assert {request.model for request in server.requests} == {TEST_MODEL}
    assert {request.headers["authorization"] for request in server.requests} == {
        f"Bearer {TEST_KEY}"
    }
    assert {request.path for request in server.requests} == {"/v1/chat/completions"}


async def test_the_first_exchange_asks_for_a_title_of_at_most_six_words(
    server: FakeOpenAIServer, chat: Chat
) -> None:
    server.enqueue("title", Completion('"Portátil ligero para diseño gráfico profesional hoy."'))
    server.enqueue("reply", Completion("Tengo dos modelos ideales. ¿Qué presupuesto tienes?"))

    result = await chat.send(FIRST)

    titles = server.requests_of("title")
    assert len(titles) == 1
    assert titles[0].messages == as_wire(title_prompt(TitleRequest(first_message=FIRST)))
    assert result.conversation.title == "Portátil ligero para diseño gráfico profesional"
    assert chat.conversation.title == result.conversation.title
    replies = server.requests_of("reply")
    assert replies[0].messages == as_wire(reply_prompt(ReplyRequest(customer_message=FIRST)))
    assert result.bot_message.content == "Tengo dos modelos ideales. ¿Qué presupuesto tienes?"

    await chat.send(SECOND)

    assert len(server.requests_of("title")) == 1
    assert chat.conversation.title == "Portátil ligero para diseño gráfico profesional"


async def test_the_third_exchange_triggers_one_strict_structured_distillation(
    server: FakeOpenAIServer, chat: Chat
) -> None:
    server.enqueue("distil", Completion(metadata_json(METADATA)))

    await chat.send(FIRST)
    await chat.send(SECOND)
    assert server.requests_of("distil") == []
    assert chat.conversation.messages_since_context_update == 4

    await chat.send(THIRD)

    distils = server.requests_of("distil")
    assert len(distils) == 1
    assert distils[0].response_format == {
        "type": "json_schema",
        "json_schema": {
            "name": "sales_metadata",
            "strict": True,
            "schema": metadata_json_schema(),
        },
    }
    transcript = distils[0].messages[-1]["content"]
    assert all(text in transcript for text in (FIRST, SECOND, THIRD))
    assert chat.conversation.metadata == METADATA
    assert chat.conversation.messages_since_context_update == 0
    assert chat.conversation.distilled_through == 6


async def test_the_fourth_reply_prompt_carries_the_metadata_and_nothing_of_exchange_one(
    server: FakeOpenAIServer, chat: Chat
) -> None:
    first_reply = "Claro, el portátil ideal depende del software que uses"
    server.enqueue("reply", Completion(first_reply))
    server.enqueue("distil", Completion(metadata_json(METADATA)))
    await three_exchanges(chat)
    first_reply_prompt = server.requests_of("reply")[0].prompt_text
    assert FIRST in first_reply_prompt

    await chat.send(FOURTH)

    fourth = server.requests_of("reply")[-1]
    assert metadata_json(METADATA) in fourth.messages[0]["content"]
    assert [m["role"] for m in fourth.messages] == ["system", "user"]
    assert fourth.messages[-1]["content"] == FOURTH
    assert FIRST not in fourth.prompt_text
    assert first_reply not in fourth.prompt_text
    assert fourth.messages == as_wire(
        reply_prompt(ReplyRequest(customer_message=FOURTH, metadata=METADATA))
    )


async def test_an_invalid_metadata_answer_twice_keeps_the_old_metadata(
    server: FakeOpenAIServer, chat: Chat
) -> None:
    server.enqueue("distil", Completion(metadata_json(METADATA)))
    await three_exchanges(chat)
    assert chat.conversation.metadata == METADATA

    server.enqueue(
        "distil",
        Completion("The customer wants a laptop."),  # not JSON
        Completion('{"interests": "laptop", "saleStatus": "maybe"}'),  # wrong shape
    )
    for content in ("Y de memoria?", "Quiero 32 GB", "¿Hay stock?"):
        result = await chat.send(content)

    assert result.bot_message.content == "Reply to: ¿Hay stock?"
    assert len(server.requests_of("distil")) == 3
    assert chat.conversation.metadata == METADATA
    assert chat.conversation.messages_since_context_update == 6
    assert len(chat.messages) == 12

    await chat.send("Entonces lo compro")  # the next exchange tries again, and succeeds

    assert len(server.requests_of("distil")) == 4
    metadata = chat.conversation.metadata
    assert metadata is not None
    assert "Quiero 32 GB" in metadata.interests
    assert metadata.offered_products == METADATA.offered_products  # merged, not replaced
    assert chat.conversation.messages_since_context_update == 0


async def test_an_invalid_then_valid_metadata_answer_uses_the_valid_one(
    server: FakeOpenAIServer, chat: Chat
) -> None:
    truncated = metadata_json(METADATA)[:40]
    server.enqueue(
        "distil",
        Completion(truncated, finish_reason="length"),
        Completion(metadata_json(METADATA)),
    )

    await three_exchanges(chat)

    assert len(server.requests_of("distil")) == 2
    assert chat.conversation.metadata == METADATA
    assert chat.conversation.messages_since_context_update == 0


async def test_token_usage_lands_on_the_bot_message_and_the_conversation_totals(
    server: FakeOpenAIServer, chat: Chat
) -> None:
    server.enqueue(
        "title", Completion("Portátil para diseño", prompt_tokens=40, completion_tokens=5)
    )
    server.enqueue(
        "reply", Completion("¿Qué presupuesto?", prompt_tokens=120, completion_tokens=30)
    )
    server.enqueue("reply", Completion("Perfecto.", include_usage=False))
    server.enqueue("reply", Completion("Anotado.", prompt_tokens=200, completion_tokens=10))
    server.enqueue(
        "distil", Completion(metadata_json(METADATA), prompt_tokens=300, completion_tokens=60)
    )

    first = await chat.send(FIRST)
    assert (first.bot_message.prompt_tokens, first.bot_message.completion_tokens) == (160, 35)
    assert (first.user_message.prompt_tokens, first.user_message.completion_tokens) == (0, 0)
    second = await chat.send(SECOND)
    assert (second.bot_message.prompt_tokens, second.bot_message.completion_tokens) == (0, 0)
    third = await chat.send(THIRD)
    assert (third.bot_message.prompt_tokens, third.bot_message.completion_tokens) == (200, 10)

    conversation = chat.conversation
    assert conversation.prompt_tokens == 160 + 200 + 300
    assert conversation.completion_tokens == 35 + 10 + 60
    stored_bot = [m for m in chat.messages if m.sender == "bot"]
    assert [(m.prompt_tokens, m.completion_tokens) for m in stored_bot] == [
        (160, 35),
        (0, 0),
        (200, 10),
    ]


async def test_a_failed_title_falls_back_to_the_message_and_the_exchange_succeeds(
    server: FakeOpenAIServer, chat: Chat
) -> None:
    server.set_default(HttpError(500), kind="title")

    result = await chat.send(FIRST)

    assert len(server.requests_of("title")) == 2  # the first try and the SDK's one retry
    assert result.conversation.title == "Hola, busco un portátil ligero para"
    assert result.bot_message.content == f"Reply to: {FIRST}"


@pytest.mark.parametrize(
    ("metadata_format", "response_format"),
    [("json_object", {"type": "json_object"}), ("prompt", None)],
)
async def test_servers_without_json_schema_can_use_json_mode_or_the_prompt_alone(
    server: FakeOpenAIServer,
    make_assistant: MakeAssistant,
    metadata_format: str,
    response_format: dict[str, str] | None,
) -> None:
    chat = Chat(make_assistant(metadata_format=metadata_format))
    server.enqueue("distil", Completion(f"```json\n{metadata_json(METADATA)}\n```"))

    await three_exchanges(chat)

    distils = server.requests_of("distil")
    assert len(distils) == 1
    assert distils[0].response_format == response_format
    assert chat.conversation.metadata == METADATA
