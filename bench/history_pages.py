"""History page latency against the size of the conversation: a page should cost the same at 100
messages as at 100,000.

    uv run python bench/history_pages.py [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

A scratch database is created on the given server (or on an embedded one started for the run),
migrated, and seeded in bulk with SQL (``INSERT ... SELECT generate_series``): one conversation
each of 100, 1,000, 10,000 and 100,000 messages. Every request goes through the real app
(routing, bearer auth, the use case, the repository, msgspec encoding, the envelope) with an
in-process ASGI client (Litestar's ``AsyncTestClient`` over httpx), so the figures are the app's
and PostgreSQL's, without a network or server in between. It prints p50 and p99 in milliseconds
of ``GET /chat/conversations/:id/history?limit=50`` for the latest page and for a deep page
(``before`` = the middle of the conversation).
"""

from __future__ import annotations

import asyncio
import functools
import uuid

from scratch import app_client, arguments, execute, measure, scratch_database, sign_up

SIZES = (100, 1_000, 10_000, 100_000)
PAGE = 50
RUNS = 300
WARMUP = 30

SEED_CONVERSATION = """
INSERT INTO conversations
    (id, user_id, title, message_count, distilled_through, created_at, updated_at)
VALUES (%(id)s, %(user)s, %(title)s, %(n)s, %(n)s, now(), now())
"""
# Customer lines are short, the seller's longer, as in a real sales chat.
SEED_MESSAGES = """
INSERT INTO messages (id, conversation_id, seq, sender, content, created_at)
SELECT gen_random_uuid(), %(id)s, s,
       CASE WHEN s %% 2 = 1 THEN 'user'::message_sender ELSE 'bot'::message_sender END,
       CASE WHEN s %% 2 = 1
            THEN 'Message ' || s || ': what about a laptop for design under 1500 euros?'
            ELSE 'Message ' || s || ': ' || repeat('The MacBook Air has a bright screen. ', 8)
       END,
       now() - (%(n)s - s) * interval '1 second'
FROM generate_series(1, %(n)s) AS s
"""


async def main() -> None:
    options = arguments(__doc__ or "")
    with scratch_database(options.database_url, keep=options.keep) as url:
        async with app_client(url) as (client, _):
            user_id, headers = await sign_up(client, "bench@example.com")
            conversations = {}
            for size in SIZES:
                conversation_id = str(uuid.uuid4())
                params = {"id": conversation_id, "user": user_id, "n": size, "title": f"{size}"}
                execute(url, SEED_CONVERSATION, params)
                execute(url, SEED_MESSAGES, params)
                conversations[size] = conversation_id
            execute(url, "ANALYZE")
            print(f"seeded {sum(SIZES):,} messages; {RUNS} requests per figure, page of {PAGE}")
            print(f"{'messages':>9} | {'latest p50':>10} {'p99':>7} | {'deep p50':>9} {'p99':>7}")
            for size, conversation_id in conversations.items():
                path = f"/chat/conversations/{conversation_id}/history"
                latest = {"limit": PAGE}
                deep = {"limit": PAGE, "before": size // 2 + 1}

                async def page(params: dict[str, int], path: str = path) -> None:
                    response = await client.get(path, params=params, headers=headers)
                    assert response.status_code == 200, response.text
                    assert len(response.json()["data"]["messages"]) == PAGE

                first = await measure(functools.partial(page, latest), runs=RUNS, warmup=WARMUP)
                middle = await measure(functools.partial(page, deep), runs=RUNS, warmup=WARMUP)
                print(
                    f"{size:>9,} | {first.p50:>8.2f}ms {first.p99:>5.2f}ms | "
                    f"{middle.p50:>7.2f}ms {middle.p99:>5.2f}ms"
                )


if __name__ == "__main__":
    asyncio.run(main())
