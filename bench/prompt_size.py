"""How big the reply prompt gets over a 30-exchange sales conversation: the metadata design
against sending the whole history, without a catalogue and with the shop's catalogue block
(``CATALOGUE_PROMPT_PRODUCTS`` = 5, ``CATALOGUE_PROMPT_CHARS`` = 1200, the defaults).

Run ``uv run python bench/prompt_size.py``. Every exchange goes through the core's real
``SendMessage`` and the real OpenAI adapter, over HTTP, to the fake OpenAI-compatible server, which
records exactly what was sent. The "full history" column is the same prompt builder given every
earlier message and no metadata (what a design without distillation would send). Tokens are
estimated as characters / 4 (the fake server reports usage the same way).
"""

from __future__ import annotations

import asyncio
import math
from decimal import Decimal
from uuid import UUID

import msgspec

from salesbot_core.domain import Product, SalesMetadata, SaleStatus, Sender, Turn
from salesbot_core.grounding import GroundingPolicy
from salesbot_core.ports import ReplyRequest
from salesbot_core.prompts import reply_prompt
from salesbot_core.testing import FakeClock, InMemoryCatalogue, InMemoryStore, SequentialIds
from salesbot_core.usecases import SendMessage
from salesbot_core.usecases.grounding import PickProducts
from salesbot_openai import OpenAIConfig, OpenAISalesAssistant
from salesbot_openai.testing import Completion, FakeOpenAIServer, RecordedRequest

CUSTOMER_MESSAGES = (
    "Hi, I'm looking for a laptop for graphic design",
    "I mostly use Photoshop and Illustrator, sometimes a bit of Blender",
    "My budget is around 1500 euros",
    "I'd prefer something light, I travel a lot for work",
    "What screen size would you recommend?",
    "14 inches sounds right. Is the screen colour-accurate?",
    "I don't like Windows much, to be honest",
    "How does the MacBook Air compare with the MacBook Pro for my use?",
    "Is 16 GB of memory enough or should I go for 24?",
    "And storage? I keep a lot of big files",
    "Can I add an external SSD later instead?",
    "What about the battery on long flights?",
    "Does it get hot when rendering in Blender?",
    "I saw the Dell XPS 14 too, but it's Windows, so no",
    "Is there a student or professional discount?",
    "Can I pay in instalments?",
    "How long is the warranty?",
    "Could I extend it to three years?",
    "What's the delivery time to Valencia?",
    "Do you have it in space grey?",
    "Would a colour calibrator be worth adding?",
    "Which calibrator do you suggest?",
    "What about a sleeve for travelling?",
    "OK, and a USB-C hub with HDMI?",
    "Let's see the total with the hub and the sleeve",
    "Can you keep the calibrator out for now?",
    "Is the price with VAT included?",
    "Great, I think I'll take the MacBook Pro 14 with 24 GB",
    "How do I complete the order?",
    "Perfect, thank you for the help!",
)

PRODUCTS = (
    "MacBook Pro 14 M4",
    "MacBook Air 15 M3",
    "Dell XPS 14",
    "Calibrite Display Plus HL",
    "Incase travel sleeve",
    "Anker 7-in-1 USB-C hub",
)


def _product(sku: str, name: str, brand: str, category: str, price: str, about: str) -> Product:
    return Product(
        sku=sku,
        name=name,
        brand=brand,
        category=category,
        description=about,
        price=Decimal(price),
        currency="EUR",
        stock=4,
    )


# A shop of 60 products: the conversation's own, and a crowd of others that share its words.
CATALOGUE = (
    _product(
        "LAP-MBP14",
        "MacBook Pro 14 M4",
        "Apple",
        "laptop",
        "1999.00",
        "14-inch Liquid Retina XDR display, colour-accurate, M4 chip for Photoshop and Blender.",
    ),
    _product(
        "LAP-MBA15",
        "MacBook Air 15 M3",
        "Apple",
        "laptop",
        "1599.00",
        "Light 15-inch laptop with an all-day battery, quiet fanless design for travel.",
    ),
    _product(
        "LAP-XPS14",
        "Dell XPS 14",
        "Dell",
        "laptop",
        "1699.00",
        "14-inch OLED laptop with Windows, powerful for creative work.",
    ),
    _product(
        "ACC-CAL",
        "Calibrite Display Plus HL",
        "Calibrite",
        "accessory",
        "299.00",
        "Colour calibrator for screens up to 2000 nits, for design work.",
    ),
    _product(
        "ACC-SLV",
        "Incase travel sleeve",
        "Incase",
        "accessory",
        "49.00",
        "Padded sleeve for 14-inch laptops, for travelling.",
    ),
    _product(
        "ACC-HUB",
        "Anker 7-in-1 USB-C hub",
        "Anker",
        "accessory",
        "59.00",
        "USB-C hub with HDMI 4K, SD card reader and 100 W pass-through charging.",
    ),
    *(
        _product(
            f"LAP-{n:03}",
            f"Laptop model {n}",
            ("Lenovo", "HP", "ASUS", "Acer")[n % 4],
            "laptop",
            f"{700 + 25 * n}.00",
            f"{13 + n % 4}-inch laptop for work, study and travel, with a light body and good battery.",
        )
        for n in range(54)
    ),
)


def bot_reply(exchange: int, message: str) -> str:
    """A reply of a realistic length (three to four sentences, ~350 characters)."""
    product = PRODUCTS[exchange % len(PRODUCTS)]
    other = PRODUCTS[(exchange + 1) % len(PRODUCTS)]
    return (
        f"Good question about that: “{message[:60]}”. For graphic design the {product} is a strong "
        f"fit, with a colour-accurate screen and enough power for Photoshop and Illustrator. "
        f"The {other} is an alternative if weight or price matter more to you. "
        f"I will confirm the exact price and stock for you. Which of the two should we look at first?"
    )


def metadata_after(exchange: int) -> SalesMetadata:
    """What a model would distil after ``exchange`` (1-based) exchanges."""
    statuses = (SaleStatus.EXPLORING, SaleStatus.INTERESTED, SaleStatus.NEGOTIATING)
    status = SaleStatus.CLOSED if exchange >= 28 else statuses[min(exchange // 10, 2)]
    return SalesMetadata(
        interests=(
            "laptop for graphic design",
            "Photoshop, Illustrator, some Blender",
            "light, for travelling",
            "14-inch colour-accurate screen",
            "budget around 1500 EUR",
        )[: 2 + exchange // 6],
        offered_products=PRODUCTS[: min(len(PRODUCTS), 1 + exchange // 5)],
        rejected_products=("Windows laptops", "Dell XPS 14") if exchange >= 14 else (),
        sale_status=status,
        last_intent=CUSTOMER_MESSAGES[exchange - 1][:60],
    )


def chars(messages: list[dict[str, object]]) -> int:
    """Characters of a prompt as sent: the text of every message."""
    return sum(len(str(message.get("content") or "")) for message in messages)


def tokens(n_chars: int) -> int:
    return math.ceil(n_chars / 4)


class Row(msgspec.Struct, frozen=True):
    exchange: int
    window: int
    with_metadata: int
    full_history: int
    distilled: bool


async def run(
    catalogue: InMemoryCatalogue | None = None,
) -> tuple[list[Row], list[RecordedRequest], int]:
    with FakeOpenAIServer() as server:
        for n, message in enumerate(CUSTOMER_MESSAGES, start=1):
            server.enqueue("reply", Completion(bot_reply(n, message)))
        for n in range(3, len(CUSTOMER_MESSAGES) + 1, 3):
            server.enqueue("distil", Completion(msgspec.json.encode(metadata_after(n)).decode()))
        config = OpenAIConfig(api_key="bench", base_url=server.base_url)
        store = InMemoryStore()
        rows: list[Row] = []
        async with OpenAISalesAssistant.from_config(config) as assistant:
            pick = PickProducts(catalogue, GroundingPolicy()) if catalogue else None
            send = SendMessage(
                store.uow_factory, assistant, FakeClock(), SequentialIds(), pick_products=pick
            )
            history: list[Turn] = []
            conversation_id: UUID | None = None
            for n, message in enumerate(CUSTOMER_MESSAGES, start=1):
                distils_before = len(server.requests_of("distil"))
                result = await send(
                    user_id=UUID(int=1), content=message, conversation_id=conversation_id
                )
                conversation_id = result.conversation.id
                sent = server.requests_of("reply")[-1].messages
                full = reply_prompt(
                    ReplyRequest(customer_message=message, recent_turns=tuple(history))
                )
                rows.append(
                    Row(
                        exchange=n,
                        window=len(sent) - 2,
                        with_metadata=chars(sent),
                        full_history=sum(len(m.content) for m in full),
                        distilled=len(server.requests_of("distil")) > distils_before,
                    )
                )
                history += [
                    Turn(sender=Sender.USER, content=message),
                    Turn(sender=Sender.BOT, content=result.bot_message.content),
                ]
            # The last distillation runs in the background: let it finish before the client closes.
            if conversation_id is not None:
                await send.distillations.settled(conversation_id)
        assert conversation_id is not None
        prompt_tokens = store.state.conversations[conversation_id].prompt_tokens
        return rows, server.requests_of("distil"), prompt_tokens


def main() -> None:
    rows, distils, recorded_prompt_tokens = asyncio.run(run())
    grounded, _, grounded_tokens = asyncio.run(run(InMemoryCatalogue(CATALOGUE)))
    print("Reply prompt per exchange (characters, ~tokens = characters / 4)")
    print(
        f"{'exch':>4} {'window':>6} {'metadata design':>17} {'with catalogue':>16} "
        f"{'full history':>15} {'saving':>7}"
    )
    for row, with_block in zip(rows, grounded, strict=True):
        saving = 1 - with_block.with_metadata / row.full_history
        mark = "  ← metadata distilled after this reply" if row.distilled else ""
        print(
            f"{row.exchange:>4} {row.window:>6} "
            f"{row.with_metadata:>7} {f'~{tokens(row.with_metadata)}':>9} "
            f"{with_block.with_metadata:>7} {f'~{tokens(with_block.with_metadata)}':>8} "
            f"{row.full_history:>6} {f'~{tokens(row.full_history)}':>8} {saving:>7.0%}{mark}"
        )
    design = sum(row.with_metadata for row in rows)
    block = sum(row.with_metadata for row in grounded)
    full = sum(row.full_history for row in rows)
    distil_chars = sum(chars(request.messages) for request in distils)
    print()
    print(
        f"reply prompts, 30 exchanges:  metadata design {design} chars (~{tokens(design)} tokens)"
    )
    print(f"                              with catalogue  {block} chars (~{tokens(block)} tokens)")
    print(f"                              full history    {full} chars (~{tokens(full)} tokens)")
    print(
        f"                              saving          {1 - design / full:.0%} "
        f"({1 - block / full:.0%} with the catalogue block)"
    )
    print(
        f"plus {len(distils)} distillation calls: {distil_chars} chars (~{tokens(distil_chars)} "
        f"tokens); all calls together save {1 - (design + distil_chars) / full:.0%}"
    )
    print(
        f"largest reply prompt: metadata design {max(r.with_metadata for r in rows)} chars, "
        f"with catalogue {max(r.with_metadata for r in grounded)} chars, "
        f"full history {max(r.full_history for r in rows)} chars"
    )
    print(
        f"prompt tokens recorded on the conversation (reply + title + distil): "
        f"{recorded_prompt_tokens} ({grounded_tokens} with the catalogue block)"
    )


if __name__ == "__main__":
    main()
