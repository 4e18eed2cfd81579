"""Sales insight on a big shop: ``GET /admin/analytics`` over 100,000 conversations should answer
within a second. Also times the hot-leads page and the full CSV export.

    uv run python bench/analytics.py [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
                                     [--conversations 100000]

A scratch database is created on the given server (or on an embedded one started for the run),
migrated, and seeded in bulk with SQL (``INSERT ... SELECT generate_series``): 10,000 customers,
the conversations (one in seven never distilled; the others with 2 interests and 2 offered
products out of a few dozen, a third with a rejected product, sale statuses evenly spread,
created over the last 90 days) and their two latest messages. The reader
(``PostgresInsight.figures``) is timed directly and through the real app (in-process ASGI client:
Litestar's ``AsyncTestClient`` over httpx, the admin's bearer token, the envelope).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from salesbot_postgres import Database, DatabaseConfig
from scratch import app_client, execute, measure, scratch_database, sign_up

RUNS = 10
INTERESTS = [
    "laptops", "gaming", "monitors", "design", "programming", "travel", "photo editing",
    "video editing", "music production", "office work", "students", "battery life",
    "lightweight", "4k", "ultrawide", "mechanical keyboards", "ergonomics", "webcams",
    "streaming", "printers", "storage", "networking", "tablets", "phones", "smart home",
    "headphones", "speakers", "docking", "accessories", "warranty",
]  # fmt: skip
PRODUCTS = [
    "MacBook Air 13", "MacBook Pro 14", "Dell XPS 13", "ThinkPad X1 Carbon", "HP Spectre x360",
    "ASUS ROG Zephyrus", "Razer Blade 15", "LG UltraFine 27", "Dell U2723QE", "Samsung Odyssey G7",
    "Logitech MX Master 3S", "Keychron K2", "Sony WH-1000XM5", "AirPods Pro", "iPad Air",
    "Galaxy Tab S9", "Anker 737 Dock", "Samsung T7 SSD", "WD My Passport", "Logitech C920",
    "Elgato Stream Deck", "Brother HL-L2350", "Netgear Orbi", "Google Nest Hub", "Bose SoundLink",
]  # fmt: skip

SEED_USERS = """
INSERT INTO users (id, email, password_hash, name)
SELECT gen_random_uuid(), 'customer' || s || '@example.com', 'not-a-hash', 'Customer ' || s
FROM generate_series(1, 10000) AS s
"""
SEED_CONVERSATIONS = """
WITH customers AS (
    SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM users WHERE role = 'customer'
)
INSERT INTO conversations
    (id, user_id, title, metadata, message_count, distilled_through, prompt_tokens,
     completion_tokens, history_chars, context_chars, full_history_chars, created_at, updated_at)
SELECT gen_random_uuid(), c.id, 'Conversation ' || s,
       CASE WHEN s %% 7 = 0 THEN NULL ELSE jsonb_build_object(
           'interests', jsonb_build_array(
               (%(interests)s::text[])[1 + s %% %(ni)s],
               (%(interests)s::text[])[1 + (s * 7) %% %(ni)s]),
           'offeredProducts', jsonb_build_array(
               (%(products)s::text[])[1 + s %% %(np)s],
               (%(products)s::text[])[1 + (s * 3) %% %(np)s]),
           'rejectedProducts', CASE WHEN s %% 3 = 0
               THEN jsonb_build_array((%(products)s::text[])[1 + (s * 11) %% %(np)s])
               ELSE '[]'::jsonb END,
           'saleStatus', (ARRAY['exploring', 'interested', 'negotiating', 'closed', 'lost'])
               [1 + (s / 7) %% 5],
           'lastIntent', 'compares prices')
       END,
       2 * (1 + s %% 15), 0, 400 * (1 + s %% 15), 100 * (1 + s %% 15),
       300 * (1 + s %% 15), 600 * (1 + s %% 15), 150 * (1 + s %% 15) * (2 + s %% 15),
       %(now)s - (s %% 90) * interval '1 day' - (s %% 86400) * interval '1 second',
       %(now)s - (s %% 90) * interval '1 day' + (s %% 3600) * interval '1 second'
FROM generate_series(1, %(count)s) AS s
JOIN customers AS c ON c.n = s %% 10000
"""
SEED_MESSAGES = """
INSERT INTO messages (id, conversation_id, seq, sender, content, created_at)
SELECT gen_random_uuid(), c.id, m.seq,
       CASE WHEN m.seq = 1 THEN 'user'::message_sender ELSE 'bot'::message_sender END,
       CASE WHEN m.seq = 1 THEN 'Can you do a better price on the bundle?'
            ELSE 'I can offer 10%% off the MacBook Air with the dock, today only.' END,
       c.updated_at
FROM conversations AS c CROSS JOIN (VALUES (1), (2)) AS m(seq)
"""


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", help="a PostgreSQL server [default: embedded]")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return parser.parse_args()


def seed(url: str, count: int, now: datetime) -> float:
    started = time.perf_counter()
    execute(url, SEED_USERS)
    execute(
        url,
        SEED_CONVERSATIONS,
        {
            "interests": INTERESTS,
            "products": PRODUCTS,
            "ni": len(INTERESTS),
            "np": len(PRODUCTS),
            "count": count,
            "now": now,
        },
    )
    execute(url, SEED_MESSAGES)
    execute(url, "VACUUM ANALYZE")
    return time.perf_counter() - started


async def main() -> None:
    args = options()
    now = datetime.now(UTC)
    with scratch_database(args.database_url, keep=args.keep) as url:
        async with app_client(url) as (client, _):
            await sign_up(client, "staff@example.com")
            execute(url, "UPDATE users SET role = 'admin' WHERE email = 'staff@example.com'")
            # Logged in again: the role travels in the access token.
            _, headers = await sign_up(client, "staff@example.com", register=False)

            took = seed(url, args.conversations, now)
            print(f"seeded {args.conversations:,} conversations in {took:.1f}s")

            database = Database(DatabaseConfig(url))
            reader = database.insight()
            since = now - timedelta(days=29)
            reader_times = []
            for _ in range(RUNS + 1):
                started = time.perf_counter()
                figures = await reader.figures(since=since, top=10)
                reader_times.append(time.perf_counter() - started)
            await database.dispose()
            reader_times = reader_times[1:]  # the first run warms the cache
            assert figures.conversations == args.conversations

            async def analytics() -> None:
                response = await client.get("/admin/analytics", headers=headers)
                assert response.status_code == 200, response.text

            route = await measure(analytics, runs=RUNS, warmup=1)

            async def hot_leads() -> None:
                response = await client.get(
                    "/admin/leads", params={"saleStatus": "negotiating"}, headers=headers
                )
                assert response.status_code == 200, response.text

            leads = await measure(hot_leads, runs=50, warmup=5)

            started = time.perf_counter()
            export = await client.get("/admin/leads.csv", headers=headers)
            csv_seconds = time.perf_counter() - started
            assert export.status_code == 200
            rows = export.text.count("\r\n") - 1  # lines end with CRLF; newlines in cells are LF

            print(
                f"PostgresInsight.figures: median {statistics.median(reader_times) * 1000:.0f} ms, "
                f"max {max(reader_times) * 1000:.0f} ms ({RUNS} runs)"
            )
            print(
                f"GET /admin/analytics: median {route.p50:.0f} ms, max {route.samples[-1]:.0f} ms "
                f"({RUNS} runs)"
            )
            print(
                f"GET /admin/leads?saleStatus=negotiating: p50 {leads.p50:.1f} ms, "
                f"p99 {leads.p99:.1f} ms"
            )
            print(
                f"GET /admin/leads.csv: {rows:,} rows, {len(export.content) / 1e6:.1f} MB "
                f"in {csv_seconds:.1f} s"
            )
            if statistics.median(reader_times) > 1:
                print("analytics over one second", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
