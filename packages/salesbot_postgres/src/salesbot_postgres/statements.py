"""Every statement salesbot runs at runtime, by name, as the SQL PostgreSQL receives.

Parameters are psycopg's ``%(name)s``; casts are written where PostgreSQL could not infer a
parameter's type (enums, ``jsonb``, both arms of a ``UNION``). A query with optional parts
(a cursor, a search) is a few named variants, built once at import, never per call: each
variant gets a plan of its own. The rules (how far a counter steps, what "closed" means) come
in as parameters from the core; no statement decides one.
"""

from __future__ import annotations

import zlib
from typing import Final

# ---------------------------------------------------------------- transactions

# Units of work run their reads in autocommit until the first write, which under READ
# COMMITTED observes what a transaction would (docs/decisions.md); pinned here, so a server
# or role default cannot change it.
BEGIN: Final = "BEGIN ISOLATION LEVEL READ COMMITTED"
COMMIT: Final = "COMMIT"
ROLLBACK: Final = "ROLLBACK"

# The health check.
SELECT_1: Final = "SELECT 1"

# ---------------------------------------------------------------- columns

USER_COLUMNS: Final = "id, email, password_hash, name, phone, role, created_at, updated_at"
TOKEN_COLUMNS: Final = (
    "id, user_id, family_id, token_hash, created_at, expires_at, last_used_at, revoked_at,"
    " revoked_reason, replaced_by, user_agent, ip"
)
CONVERSATION_COLUMNS: Final = (
    "id, user_id, title, metadata, messages_since_context_update, message_count,"
    " distilled_through, prompt_tokens, completion_tokens, history_chars, context_chars,"
    " full_history_chars, version, created_at, updated_at"
)
MESSAGE_COLUMNS: Final = (
    "id, conversation_id, seq, sender, content, created_at, prompt_tokens, completion_tokens"
)
DISTILLATION_COLUMNS: Final = (
    "conversation_id, distilled_at, through_seq, covered_messages, metadata, prompt_tokens,"
    " completion_tokens"
)

# ---------------------------------------------------------------- users

# ON CONFLICT on the lower(email) index: a duplicate is an answer (no row back), not an error
# that would abort the caller's transaction.
INSERT_USER: Final = f"""
INSERT INTO users ({USER_COLUMNS})
VALUES (%(id)s, %(email)s, %(password_hash)s, %(name)s, %(phone)s, %(role)s::user_role,
        %(created_at)s, %(updated_at)s)
ON CONFLICT (lower(email)) DO NOTHING
RETURNING id
"""
USER_BY_ID: Final = f"SELECT {USER_COLUMNS} FROM users WHERE id = %(id)s"
# Compares the expression the unique index covers.
USER_BY_EMAIL: Final = f"SELECT {USER_COLUMNS} FROM users WHERE lower(email) = lower(%(email)s)"
SET_USER_ROLE: Final = """
UPDATE users SET role = %(role)s::user_role, updated_at = %(now)s WHERE id = %(id)s
"""

# ---------------------------------------------------------------- refresh tokens

INSERT_TOKEN: Final = f"""
INSERT INTO refresh_tokens ({TOKEN_COLUMNS})
VALUES (%(id)s, %(user_id)s, %(family_id)s, %(token_hash)s, %(created_at)s, %(expires_at)s,
        %(last_used_at)s, %(revoked_at)s, %(revoked_reason)s, %(replaced_by)s, %(user_agent)s,
        %(ip)s)
"""
TOKEN_BY_HASH: Final = (
    f"SELECT {TOKEN_COLUMNS} FROM refresh_tokens WHERE token_hash = %(token_hash)s"
)
# The row lock makes concurrent rotations queue; each re-checks "revoked_at IS NULL" after the
# winner commits, so exactly one sees a row.
ROTATE_TOKEN: Final = """
UPDATE refresh_tokens
SET revoked_at = %(now)s, revoked_reason = %(reason)s, replaced_by = %(replaced_by)s,
    last_used_at = %(now)s
WHERE id = %(id)s AND revoked_at IS NULL
"""
REVOKE_TOKEN: Final = """
UPDATE refresh_tokens SET revoked_at = %(now)s, revoked_reason = %(reason)s
WHERE id = %(id)s AND revoked_at IS NULL
"""
REVOKE_FAMILY: Final = """
UPDATE refresh_tokens SET revoked_at = %(now)s, revoked_reason = %(reason)s
WHERE family_id = %(family_id)s AND revoked_at IS NULL
"""
REVOKE_USER_TOKENS: Final = """
UPDATE refresh_tokens SET revoked_at = %(now)s, revoked_reason = %(reason)s
WHERE user_id = %(user_id)s AND revoked_at IS NULL
"""
ACTIVE_TOKENS_FOR_USER: Final = f"""
SELECT {TOKEN_COLUMNS} FROM refresh_tokens
WHERE user_id = %(user_id)s AND revoked_at IS NULL AND expires_at > %(now)s
ORDER BY created_at DESC, id DESC
"""
# A session is a family; it started with the family's first token.
SESSIONS_FOR_USER: Final = """
SELECT t.family_id, t.created_at, t.expires_at, t.user_agent, t.ip,
       (SELECT min(f.created_at) FROM refresh_tokens AS f WHERE f.family_id = t.family_id)
           AS session_started_at
FROM refresh_tokens AS t
WHERE t.user_id = %(user_id)s AND t.revoked_at IS NULL AND t.expires_at > %(now)s
ORDER BY t.created_at DESC, t.family_id DESC
"""
REVOKE_SESSION: Final = """
UPDATE refresh_tokens SET revoked_at = %(now)s, revoked_reason = %(reason)s
WHERE user_id = %(user_id)s AND family_id = %(family_id)s AND revoked_at IS NULL
  AND expires_at > %(now)s
"""
# One key for "a token cleanup is running" in this database. Transaction-scoped: several
# processes run the cleanup on a schedule; the first takes the lock, the others find it taken
# and return at once instead of waiting or deleting the same rows.
TOKEN_CLEANUP_LOCK: Final = zlib.crc32(b"salesbot:refresh-token-cleanup")
TRY_TOKEN_CLEANUP_LOCK: Final = "SELECT pg_try_advisory_xact_lock(%(key)s::bigint) AS locked"
DELETE_STALE_TOKENS: Final = """
DELETE FROM refresh_tokens WHERE expires_at <= %(now)s OR revoked_at < %(revoked_before)s
"""

# ---------------------------------------------------------------- conversations

INSERT_CONVERSATION: Final = f"""
INSERT INTO conversations ({CONVERSATION_COLUMNS})
VALUES (%(id)s, %(user_id)s, %(title)s, %(metadata)s::jsonb, %(messages_since_context_update)s,
        %(message_count)s, %(distilled_through)s, %(prompt_tokens)s, %(completion_tokens)s,
        %(history_chars)s, %(context_chars)s, %(full_history_chars)s, %(version)s,
        %(created_at)s, %(updated_at)s)
"""
CONVERSATION_FOR_USER: Final = f"""
SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = %(id)s AND user_id = %(user_id)s
"""
CONVERSATIONS_FOR_USER: Final = f"""
SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE user_id = %(user_id)s
ORDER BY updated_at DESC, id DESC
"""


def _conversations_page(condition: str) -> str:
    """Up to ``limit`` of a user's conversations meeting ``condition``, newest first (ties by
    id, descending): the index on (user_id, updated_at, id), scanned backwards."""
    return f"""
SELECT {CONVERSATION_COLUMNS} FROM conversations AS c
WHERE c.user_id = %(user_id)s AND {condition}
ORDER BY c.updated_at DESC, c.id DESC
LIMIT %(limit)s
"""


# Strictly after the cursor in that order.
_AFTER_CURSOR = "(c.updated_at, c.id) < (%(after_updated_at)s, %(after_id)s)"
# Every word of the query in the title or in one of the messages; the expressions are the ones
# the full-text indexes cover ('simple': no stemming, no stop words, any language).
_MATCHING = """(
    to_tsvector('simple'::regconfig, c.title) @@ plainto_tsquery('simple'::regconfig, %(query)s)
    OR EXISTS (
        SELECT FROM messages AS m
        WHERE m.conversation_id = c.id
          AND to_tsvector('simple'::regconfig, m.content)
              @@ plainto_tsquery('simple'::regconfig, %(query)s)
    )
)"""
NEWEST_CONVERSATIONS: Final = _conversations_page("true")
CONVERSATIONS_AFTER: Final = _conversations_page(_AFTER_CURSOR)
CONVERSATIONS_MATCHING: Final = _conversations_page(_MATCHING)
CONVERSATIONS_MATCHING_AFTER: Final = _conversations_page(f"{_AFTER_CURSOR} AND {_MATCHING}")

RENAME_CONVERSATION: Final = f"""
UPDATE conversations SET title = %(title)s, updated_at = %(now)s, version = version + 1
WHERE id = %(id)s AND user_id = %(user_id)s
RETURNING {CONVERSATION_COLUMNS}
"""
# Messages go with it (ON DELETE CASCADE).
# The deletion leaves the conversation's id behind: an outbox event naming it stays accounted
# for (CHECK_OUTBOX_EVENT_COMMITTED).
DELETE_CONVERSATION: Final = """
WITH gone AS (
    DELETE FROM conversations WHERE id = %(id)s AND user_id = %(user_id)s RETURNING id
)
INSERT INTO deleted_conversations (id) SELECT id FROM gone
"""


def _with_page(condition: str) -> str:
    """A conversation's row if the user owns it, with a page of its messages (the ``limit``
    newest meeting ``condition``) as one JSON array, oldest first, built by PostgreSQL and
    decoded straight into domain messages (``mapping``): one round trip."""
    return f"""
SELECT {CONVERSATION_COLUMNS}, (
    SELECT coalesce(json_agg(json_build_object(
               'id', p.id, 'conversation_id', p.conversation_id, 'seq', p.seq,
               'sender', p.sender, 'content', p.content, 'created_at', p.created_at,
               'prompt_tokens', p.prompt_tokens, 'completion_tokens', p.completion_tokens
           ) ORDER BY p.seq), '[]')::text
    FROM (
        SELECT {MESSAGE_COLUMNS} FROM messages
        WHERE conversation_id = %(conversation_id)s AND {condition}
        ORDER BY seq DESC
        LIMIT %(limit)s
    ) AS p
) AS page_json
FROM conversations
WHERE id = %(conversation_id)s AND user_id = %(user_id)s
"""


CONVERSATION_WITH_LATEST_PAGE: Final = _with_page("true")
CONVERSATION_WITH_PAGE_BEFORE: Final = _with_page("seq < %(before_seq)s")

# The conversation as it stands, its row locked until the transaction ends: a plan made from it
# is not refused.
CONVERSATION_FOR_UPDATE: Final = f"""
SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = %(id)s FOR UPDATE
"""

# RECORD_EXCHANGE: the conversation's row as the core planned it (salesbot_core.exchange),
# inserted when new (expected_version NULL) or updated if its version did not move, and both
# messages appended to the row written. No row written, no messages: the caller plans again
# from CONVERSATION_FOR_UPDATE. Exchanges write only what an exchange changes.
RECORD_EXCHANGE: Final = f"""
WITH inserted AS (
    INSERT INTO conversations ({CONVERSATION_COLUMNS})
    SELECT %(id)s, %(user_id)s, %(title)s, %(metadata)s::jsonb,
           %(messages_since_context_update)s, %(message_count)s, %(distilled_through)s,
           %(prompt_tokens)s, %(completion_tokens)s, %(history_chars)s, %(context_chars)s,
           %(full_history_chars)s, %(version)s, %(created_at)s, %(updated_at)s
    WHERE %(expected_version)s::integer IS NULL
    ON CONFLICT (id) DO NOTHING
    RETURNING id
), updated AS (
    UPDATE conversations
    SET messages_since_context_update = %(messages_since_context_update)s,
        message_count = %(message_count)s,
        prompt_tokens = %(prompt_tokens)s,
        completion_tokens = %(completion_tokens)s,
        history_chars = %(history_chars)s,
        context_chars = %(context_chars)s,
        full_history_chars = %(full_history_chars)s,
        updated_at = %(updated_at)s,
        version = %(version)s
    WHERE id = %(id)s AND version = %(expected_version)s::integer
    RETURNING id
), written AS (
    SELECT id FROM inserted UNION ALL SELECT id FROM updated
), appended AS (
    INSERT INTO messages ({MESSAGE_COLUMNS})
    SELECT %(user_message_id)s::uuid, id, %(user_seq)s::integer, 'user'::message_sender,
           %(user_content)s::text, %(user_created_at)s::timestamptz, 0, 0
    FROM written
    UNION ALL
    SELECT %(bot_message_id)s::uuid, id, %(bot_seq)s::integer, 'bot'::message_sender,
           %(bot_content)s::text, %(bot_created_at)s::timestamptz,
           %(bot_prompt_tokens)s::integer, %(bot_completion_tokens)s::integer
    FROM written
)
SELECT id FROM written
"""

# APPLY_DISTILLATION: the conversation's row as the core planned it, if its version did not
# move (no row back otherwise), with its record kept in the history and the lease taken until
# %(lease_until)s ended, in one statement. Distillations write only what a distillation
# changes.
APPLY_DISTILLATION: Final = f"""
WITH applied AS (
    UPDATE conversations
    SET metadata = %(metadata)s::jsonb,
        distilled_through = %(distilled_through)s,
        messages_since_context_update = %(messages_since_context_update)s,
        prompt_tokens = %(prompt_tokens)s,
        completion_tokens = %(completion_tokens)s,
        updated_at = %(updated_at)s,
        version = %(version)s,
        distilling_until = CASE WHEN distilling_until = %(lease_until)s::timestamptz
                                THEN NULL ELSE distilling_until END
    WHERE id = %(id)s AND version = %(expected_version)s
    RETURNING id
), kept AS (
    INSERT INTO distillations ({DISTILLATION_COLUMNS})
    SELECT id, %(distilled_at)s, %(through_seq)s, %(covered_messages)s,
           %(record_metadata)s::jsonb, %(record_prompt_tokens)s, %(record_completion_tokens)s
    FROM applied
)
SELECT id FROM applied
"""

# What a distillation reads: the conversation and its latest messages after distilled_through,
# as one JSON array, oldest first.
DISTILLATION_WINDOW: Final = f"""
SELECT {CONVERSATION_COLUMNS}, (
    SELECT coalesce(json_agg(json_build_object(
               'id', p.id, 'conversation_id', p.conversation_id, 'seq', p.seq,
               'sender', p.sender, 'content', p.content, 'created_at', p.created_at,
               'prompt_tokens', p.prompt_tokens, 'completion_tokens', p.completion_tokens
           ) ORDER BY p.seq), '[]')::text
    FROM (
        SELECT {MESSAGE_COLUMNS} FROM messages AS m
        WHERE m.conversation_id = c.id AND m.seq > c.distilled_through
        ORDER BY m.seq DESC
        LIMIT %(limit)s
    ) AS p
) AS page_json
FROM conversations AS c
WHERE c.id = %(id)s
"""

# Conversations whose counter reached the core's threshold (%(at_least)s), least recently
# updated first: the distillation sweep.
# The distillation lease: at most one distillation per conversation across every process. The
# row lock makes racing claims queue; each re-checks the lease after the winner commits. Not a
# content change, so the version stays (an exchange planned meanwhile is not refused).
CLAIM_DISTILLATION: Final = """
UPDATE conversations SET distilling_until = %(until)s
WHERE id = %(id)s AND (distilling_until IS NULL OR distilling_until <= %(now)s)
  AND (%(distilled_through)s::integer IS NULL OR distilled_through = %(distilled_through)s)
RETURNING id
"""
RELEASE_DISTILLATION: Final = """
UPDATE conversations SET distilling_until = NULL
WHERE id = %(id)s AND distilling_until = %(until)s
"""
DUE_FOR_DISTILLATION: Final = """
SELECT id FROM conversations WHERE messages_since_context_update >= %(at_least)s
ORDER BY updated_at, id LIMIT %(limit)s
"""

# ---------------------------------------------------------------- messages

MESSAGES_AFTER: Final = f"""
SELECT {MESSAGE_COLUMNS} FROM messages
WHERE conversation_id = %(conversation_id)s AND seq > %(after_seq)s
ORDER BY seq
"""
# A page walking back from the newest message (rows newest first).
LATEST_MESSAGES: Final = f"""
SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = %(conversation_id)s
ORDER BY seq DESC LIMIT %(limit)s
"""
MESSAGES_BEFORE: Final = f"""
SELECT {MESSAGE_COLUMNS} FROM messages
WHERE conversation_id = %(conversation_id)s AND seq < %(before_seq)s
ORDER BY seq DESC LIMIT %(limit)s
"""

# ---------------------------------------------------------------- sales insight

# The planner takes every jsonb_array_elements_text call for 100 rows, judges the ranking
# expensive and JIT-compiles it: half a second of compiling for queries that run in tens of
# milliseconds. Off for the figures' transaction only.
JIT_OFF_FOR_TRANSACTION: Final = "SET LOCAL jit = off"
# Reads that must agree with each other (a lead and its totals) share one snapshot.
REPEATABLE_READ: Final = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
# Counts by sale status and the usage totals in one scan.
TOTALS_BY_STATUS: Final = """
SELECT sale_status, count(*) AS conversations, sum(message_count / 2) AS exchanges,
       sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
       sum(context_chars) AS context_chars, sum(full_history_chars) AS full_history_chars
FROM conversations
GROUP BY sale_status
"""
# Every ranked metadata list in one pass: each conversation's items are lower-cased and
# de-duplicated inside the LATERAL (so a plain count is "once per conversation", with no
# count(DISTINCT) sort), then ranked per list; ties by name in code-point order (as Python
# sorts).
TOP_ITEMS: Final = """
SELECT list, name, count FROM (
    SELECT items.list, items.name, count(*) AS count,
           row_number() OVER (
               PARTITION BY items.list ORDER BY count(*) DESC, items.name COLLATE "C"
           ) AS rank
    FROM conversations
    CROSS JOIN LATERAL (
        SELECT DISTINCT lists.list, lower(item.value) AS name
        FROM (VALUES ('interests'), ('offeredProducts'), ('rejectedProducts')) AS lists(list)
        CROSS JOIN LATERAL
            jsonb_array_elements_text(conversations.metadata -> lists.list) AS item(value)
    ) AS items
    WHERE conversations.metadata IS NOT NULL
    GROUP BY items.list, items.name
) AS ranked
WHERE rank <= %(top)s
ORDER BY list, rank
"""
# Conversations started per UTC day since a date, and how many of them are closed sales.
DAILY_CONVERSION: Final = """
SELECT date(timezone('UTC', created_at)) AS day, count(*) AS started,
       count(*) FILTER (WHERE sale_status = %(closed)s) AS closed
FROM conversations
WHERE created_at >= %(since)s
GROUP BY day
ORDER BY day
"""


def _leads(condition: str) -> str:
    """Conversations meeting ``condition`` with their customer and last message, newest first."""
    return f"""
SELECT c.id, c.title, c.metadata, c.updated_at,
       u.id AS customer_id, u.name AS customer_name, u.email AS customer_email,
       u.phone AS customer_phone,
       m.id AS m_id, m.conversation_id AS m_conversation_id, m.seq AS m_seq,
       m.sender AS m_sender, m.content AS m_content, m.created_at AS m_created_at,
       m.prompt_tokens AS m_prompt_tokens, m.completion_tokens AS m_completion_tokens
FROM conversations AS c
JOIN users AS u ON u.id = c.user_id
LEFT JOIN LATERAL (
    SELECT {MESSAGE_COLUMNS} FROM messages
    WHERE conversation_id = c.id
    ORDER BY seq DESC
    LIMIT 1
) AS m ON true
WHERE {condition}
ORDER BY c.updated_at DESC, c.id DESC
LIMIT %(limit)s
"""


_WITH_STATUS = "c.sale_status = %(status)s"
LEADS: Final = _leads("true")
LEADS_AFTER: Final = _leads(_AFTER_CURSOR)
LEADS_WITH_STATUS: Final = _leads(_WITH_STATUS)
LEADS_WITH_STATUS_AFTER: Final = _leads(f"{_WITH_STATUS} AND {_AFTER_CURSOR}")
# The search comes lower-cased (the core's lead_search); position() needs no LIKE escaping.
_SEARCHED = """(
    position(%(search)s IN lower(u.name)) > 0
    OR position(%(search)s IN lower(u.email)) > 0
    OR position(%(search)s IN lower(c.title)) > 0
)"""
LEADS_SEARCHED: Final = _leads(_SEARCHED)
LEADS_SEARCHED_AFTER: Final = _leads(f"{_SEARCHED} AND {_AFTER_CURSOR}")
LEADS_WITH_STATUS_SEARCHED: Final = _leads(f"{_WITH_STATUS} AND {_SEARCHED}")
LEADS_WITH_STATUS_SEARCHED_AFTER: Final = _leads(
    f"{_WITH_STATUS} AND {_SEARCHED} AND {_AFTER_CURSOR}"
)

# ---------------------------------------------------------------- webhooks (the outbox)

# An event and its deliveries, one per webhook URL, in the caller's transaction.
INSERT_WEBHOOK_EVENT: Final = """
WITH event AS (
    INSERT INTO webhook_events (id, type, data, occurred_at)
    VALUES (gen_random_uuid(), %(type)s, %(data)s::jsonb, %(occurred_at)s)
    RETURNING id
)
INSERT INTO webhook_deliveries (id, event_id, url, next_attempt_at, queued_at, created_at)
SELECT gen_random_uuid(), event.id, url, %(occurred_at)s, %(occurred_at)s, %(occurred_at)s
FROM event, unnest(%(urls)s::text[]) AS url
"""

# Due pending deliveries, leased to this claim: rows another worker is claiming are skipped
# (SKIP LOCKED), and the lease (next_attempt_at) makes a dead worker's claims due again.
CLAIM_WEBHOOK_DELIVERIES: Final = """
WITH due AS (
    SELECT id FROM webhook_deliveries
    WHERE status = 'pending' AND next_attempt_at <= %(now)s
    ORDER BY next_attempt_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE webhook_deliveries AS d
SET attempts = d.attempts + 1, claim = gen_random_uuid(), next_attempt_at = %(lease_until)s
FROM due, webhook_events AS e
WHERE d.id = due.id AND e.id = d.event_id
RETURNING d.id, d.claim, d.event_id, d.url, d.attempts, d.queued_at,
          e.type, e.data, e.occurred_at
"""
# A batch's outcomes in one statement, each kept only under the claim that made it (the ids
# kept come back), and written as the core made it (``DeliveryOutcome``: what the delivery
# becomes is the core's rule); a time an outcome has none of stays as it was.
RECORD_WEBHOOK_OUTCOMES: Final = """
UPDATE webhook_deliveries AS d
SET status = o.becomes,
    delivered_at = COALESCE(o.delivered_at, d.delivered_at),
    next_attempt_at = COALESCE(o.next_attempt_at, d.next_attempt_at),
    last_status = o.status, last_error = o.error, claim = NULL
FROM unnest(%(ids)s::uuid[], %(claims)s::uuid[], %(becomes)s::text[],
            %(statuses)s::integer[], %(errors)s::text[], %(next_attempt_ats)s::timestamptz[],
            %(delivered_ats)s::timestamptz[])
     AS o(id, claim, becomes, status, error, next_attempt_at, delivered_at)
WHERE d.id = o.id AND d.claim = o.claim AND d.status = 'pending'
RETURNING d.id
"""
_REQUEUE = """
UPDATE webhook_deliveries
SET status = 'pending', attempts = 0, claim = NULL, next_attempt_at = %(now)s,
    queued_at = %(now)s, delivered_at = NULL
"""
REQUEUE_WEBHOOK_DELIVERY: Final = _REQUEUE + "WHERE id = %(id)s AND status <> 'pending'"
REQUEUE_DEAD_WEBHOOK_DELIVERIES: Final = _REQUEUE + "WHERE status = 'dead'"


def _deliveries(condition: str) -> str:
    """Deliveries meeting ``condition`` with their event's type, newest first."""
    return f"""
SELECT d.id, d.event_id, e.type AS event_type, d.url, d.status, d.attempts, d.last_error,
       d.last_status, d.next_attempt_at, d.delivered_at, d.created_at
FROM webhook_deliveries AS d
JOIN webhook_events AS e ON e.id = d.event_id
WHERE {condition}
ORDER BY d.created_at DESC, d.id DESC
LIMIT %(limit)s
"""


_DELIVERY_AFTER = "(d.created_at, d.id) < (%(after_created_at)s, %(after_id)s)"
_DELIVERY_WITH_STATUS = "d.status = %(status)s"
WEBHOOK_DELIVERIES: Final = _deliveries("true")
WEBHOOK_DELIVERIES_AFTER: Final = _deliveries(_DELIVERY_AFTER)
WEBHOOK_DELIVERIES_WITH_STATUS: Final = _deliveries(_DELIVERY_WITH_STATUS)
WEBHOOK_DELIVERIES_WITH_STATUS_AFTER: Final = _deliveries(
    f"{_DELIVERY_WITH_STATUS} AND {_DELIVERY_AFTER}"
)

# ---------------------------------------------------------------- the catalogue

PRODUCT_COLUMNS: Final = (
    "sku, name, brand, category, description, price, currency, stock, url, attributes"
)
# What a write gives of a product: its columns and its name's key (the core's
# ``grounding.name_key``, computed by ``mapping.product_copy_row``), which no read returns.
PRODUCT_WRITE_COLUMNS: Final = f"{PRODUCT_COLUMNS}, name_key"

# The admin list's ``q`` as one tsquery: ``%(words)s`` is the words OR-ed (``laptop | ligero``,
# built by ``mapping.tsquery_text`` from word characters only), each stemmed in English and in
# Spanish, as the products' vector was (schema.PRODUCT_SEARCH_SQL).
PRODUCT_QUERY: Final = (
    "(to_tsquery('english'::regconfig, %(words)s) || to_tsquery('spanish'::regconfig, %(words)s))"
)


def _search_products(condition: str) -> str:
    """The ``limit`` products matching the words, those matching every word first, then those
    matching some; within each, best ranked first: ts_rank weighs a match in the name (A) over
    brand and category (B) over the description (C); ties by sku.

    At most ``ranked`` matches are read and ranked, which bounds the cost of a broad word (a
    GIN index finds matches but does not order them, so ranking all of ``laptop`` in a big
    category reads thousands of rows). The ``every`` matches come first; only when they are
    fewer than ``ranked`` are the others read, word by word in the words' order (``alone``:
    one GIN scan of one word's lexemes, stopped by the LIMIT once enough are found, costs far
    less than one scan of every word's lexemes OR-ed), de-duplicated before ranking.
    ``%(words)s`` is a text[] of words (``mapping.search_words``); each stands for its English
    and Spanish lexemes (to_tsvector, as the products' vector was made), de-duplicated, since a
    GIN scan's cost grows with the lexemes it merges. A word that either dictionary drops (a
    stop word: English "the" is a Spanish lexeme, Spanish "de" an English one) is not searched
    for. quote_literal makes each lexeme a tsquery literal, whatever it holds."""
    return f"""
WITH stemmed AS (
    SELECT n, to_tsvector('english'::regconfig, w) AS english,
           to_tsvector('spanish'::regconfig, w) AS spanish
    FROM unnest(%(words)s::text[]) WITH ORDINALITY AS given(w, n)
),
word AS (
    SELECT n, array(
        SELECT DISTINCT quote_literal(lexeme) FROM unnest(tsvector_to_array(english || spanish))
        AS lexeme
    ) AS lexemes
    FROM stemmed WHERE length(english) > 0 AND length(spanish) > 0
),
q AS (
    SELECT
        (SELECT string_agg(DISTINCT lexeme, ' | ') FROM word, unnest(lexemes) AS lexeme
        )::tsquery AS some,
        (SELECT string_agg('(' || array_to_string(lexemes, ' | ') || ')', ' & ') FROM word
        )::tsquery AS every
),
alone AS (
    SELECT n, array_to_string(lexemes, ' | ')::tsquery AS query FROM word ORDER BY n
),
candidates AS (
    (SELECT p.*, 0 AS tier FROM products AS p, q
     WHERE p.search @@ q.every AND {condition} LIMIT %(ranked)s)
    UNION ALL
    (SELECT found.* FROM alone, q, LATERAL (
        SELECT p.*, 1 AS tier FROM products AS p
        WHERE p.search @@ alone.query AND NOT p.search @@ q.every AND {condition}
        LIMIT %(ranked)s
     ) AS found
     LIMIT %(ranked)s)
    LIMIT %(ranked)s
)
SELECT {PRODUCT_COLUMNS}
FROM (SELECT DISTINCT ON (sku) * FROM candidates ORDER BY sku, tier) AS c, q
ORDER BY tier, ts_rank(search, q.some) DESC, sku
LIMIT %(limit)s
"""


SEARCH_PRODUCTS: Final = _search_products("true")
SEARCH_PRODUCTS_UP_TO: Final = _search_products("p.price <= %(max_price)s")
# Index ix_products_name_key. ``%(keys)s`` are name keys as the core computes them.
PRODUCTS_NAMED: Final = f"""
SELECT {PRODUCT_COLUMNS} FROM products WHERE name_key = ANY(%(keys)s::text[]) ORDER BY sku
"""
ANY_PRODUCT: Final = "SELECT EXISTS (SELECT FROM products) AS any"
PRODUCT_BY_SKU: Final = f"SELECT {PRODUCT_COLUMNS} FROM products WHERE sku = %(sku)s"
DELETE_PRODUCT: Final = "DELETE FROM products WHERE sku = %(sku)s"
# An anti-join (hashed), not ``sku <> ALL(...)``, which compares each row with every sku.
DELETE_PRODUCTS_NOT_IN: Final = """
DELETE FROM products AS p
WHERE NOT EXISTS (SELECT FROM unnest(%(skus)s::text[]) AS k(sku) WHERE k.sku = p.sku)
"""

# An upsert streams its rows into this temporary table (COPY), then one statement upserts
# them all by sku: the only place the rule "a product is its sku" is written.
CREATE_PRODUCT_IMPORT: Final = """
CREATE TEMPORARY TABLE IF NOT EXISTS product_import (
    sku text NOT NULL, name text NOT NULL, brand text NOT NULL, category text NOT NULL,
    description text NOT NULL, price numeric(12, 2) NOT NULL, currency text NOT NULL,
    stock integer NOT NULL, url text, attributes jsonb NOT NULL, name_key text NOT NULL
) ON COMMIT DROP
"""
CLEAR_PRODUCT_IMPORT: Final = "TRUNCATE product_import"
COPY_PRODUCT_IMPORT: Final = f"COPY product_import ({PRODUCT_WRITE_COLUMNS}) FROM STDIN"
# xmax is 0 on a row this statement inserted, and set on one it updated.
UPSERT_PRODUCT_IMPORT: Final = f"""
WITH written AS (
    INSERT INTO products ({PRODUCT_WRITE_COLUMNS}, created_at, updated_at)
    SELECT {PRODUCT_WRITE_COLUMNS}, now(), now() FROM product_import
    ON CONFLICT (sku) DO UPDATE SET
        name = EXCLUDED.name, name_key = EXCLUDED.name_key, brand = EXCLUDED.brand,
        category = EXCLUDED.category, description = EXCLUDED.description,
        price = EXCLUDED.price, currency = EXCLUDED.currency, stock = EXCLUDED.stock,
        url = EXCLUDED.url, attributes = EXCLUDED.attributes, updated_at = EXCLUDED.updated_at
    RETURNING xmax = 0 AS created
)
SELECT count(*) FILTER (WHERE created) AS created,
       count(*) FILTER (WHERE NOT created) AS updated
FROM written
"""


def _products_page(condition: str) -> str:
    """Up to ``limit`` products meeting ``condition``, by sku (the primary key's order)."""
    return f"""
SELECT {PRODUCT_COLUMNS} FROM products
WHERE {condition}
ORDER BY sku
LIMIT %(limit)s
"""


_PRODUCT_AFTER = "sku > %(after)s"
_PRODUCT_MATCHING = f"search @@ {PRODUCT_QUERY}"
_PRODUCT_IN_CATEGORY = "lower(category) = lower(%(category)s)"


def _page_variant(after: bool, query: bool, category: bool) -> str:
    parts = [
        part
        for wanted, part in (
            (after, _PRODUCT_AFTER),
            (query, _PRODUCT_MATCHING),
            (category, _PRODUCT_IN_CATEGORY),
        )
        if wanted
    ]
    return _products_page(" AND ".join(parts) or "true")


# (after, query, category) -> the statement; every variant built here, once.
PRODUCTS_PAGE: Final = {
    (after, query, category): _page_variant(after, query, category)
    for after in (False, True)
    for query in (False, True)
    for category in (False, True)
}
# ---------------------------------------------------------------- integrity (`salesbot db check`)

# Each returns the violations of one invariant (salesbot_core.ports.Invariant) as
# (subject, detail) rows, in a stable order; each is one statement, so one snapshot: an exchange
# or a rotation committing meanwhile is seen whole or not at all. Always run with parameters
# (``%%`` is a literal ``%``).
CHECK_MESSAGE_COUNT: Final = """
SELECT c.id::text AS subject,
       format('message_count is %%s, it has %%s message(s)', c.message_count, count(m.id))
           AS detail
FROM conversations AS c LEFT JOIN messages AS m ON m.conversation_id = c.id
GROUP BY c.id
HAVING c.message_count <> count(m.id)
ORDER BY c.id
"""
CHECK_CONTIGUOUS_SEQUENCE: Final = """
SELECT conversation_id::text AS subject,
       format('seq runs %%s..%%s over %%s message(s) (%%s distinct), not 1..%%s',
              min(seq), max(seq), count(*), count(DISTINCT seq), count(*)) AS detail
FROM messages
GROUP BY conversation_id
HAVING min(seq) <> 1 OR max(seq) <> count(*) OR count(DISTINCT seq) <> count(*)
ORDER BY conversation_id
"""
CHECK_EVERY_MESSAGE_ANSWERED: Final = """
SELECT subject, detail FROM (
    SELECT conversation_id AS id, conversation_id::text AS subject, seq,
           format('message %%s is from the %%s at an %%s seq', seq, sender,
                  CASE WHEN seq %% 2 = 1 THEN 'odd' ELSE 'even' END) AS detail
    FROM messages
    WHERE (seq %% 2 = 1) <> (sender = 'user'::message_sender)
    UNION ALL
    SELECT m.conversation_id, m.conversation_id::text, m.seq,
           format('customer message %%s has no reply', m.seq)
    FROM messages AS m
    WHERE m.sender = 'user'::message_sender
      AND NOT EXISTS (
          SELECT 1 FROM messages AS r
          WHERE r.conversation_id = m.conversation_id AND r.seq = m.seq + 1
            AND r.sender = 'bot'::message_sender)
) AS found
ORDER BY id, seq, detail
"""
CHECK_COUNTER: Final = """
SELECT id::text AS subject,
       format('messages_since_context_update is %%s, message_count - distilled_through is %%s',
              messages_since_context_update, message_count - distilled_through) AS detail
FROM conversations
WHERE messages_since_context_update <> message_count - distilled_through
ORDER BY id
"""
# Live: neither revoked nor expired at %(now)s.
CHECK_ONE_LIVE_TOKEN_PER_FAMILY: Final = """
SELECT family_id::text AS subject,
       format('%%s live refresh tokens in one family', count(*)) AS detail
FROM refresh_tokens
WHERE revoked_at IS NULL AND expires_at > %(now)s
GROUP BY family_id
HAVING count(*) > 1
ORDER BY family_id
"""
# Every event names its conversation. One whose conversation was never stored (nor deleted)
# came from a change that did not commit; a lead.* event of a stored conversation must match
# the distillation that made the move (its conversation, its time, the status it left), unless
# it is older than the first distillation kept (history began with migration 0007).
CHECK_OUTBOX_EVENT_COMMITTED: Final = """
WITH events AS (
    SELECT e.id, e.type, e.occurred_at, e.data->'conversation'->>'id' AS conversation_id,
           e.data->>'from' AS moved_from, e.data->>'to' AS moved_to,
           c.id IS NOT NULL AS stored, gone.id IS NOT NULL AS deleted
    FROM webhook_events AS e
    LEFT JOIN conversations AS c ON c.id::text = e.data->'conversation'->>'id'
    LEFT JOIN deleted_conversations AS gone ON gone.id::text = e.data->'conversation'->>'id'
)
SELECT id::text AS subject, detail FROM (
    SELECT id, occurred_at,
           format('%%s event names conversation %%s, which was never stored',
                  type, coalesce(conversation_id, '(none)')) AS detail
    FROM events
    WHERE NOT stored AND NOT deleted
    UNION ALL
    SELECT id, occurred_at,
           format('%%s event (%%s -> %%s at %%s) of conversation %%s matches no distillation '
                  'that made the move', type, moved_from, moved_to, occurred_at, conversation_id)
    FROM events AS e
    WHERE stored AND type LIKE 'lead.%%'
      AND occurred_at >= (SELECT min(distilled_at) FROM distillations)
      AND NOT EXISTS (
          SELECT FROM distillations AS d
          WHERE d.conversation_id::text = e.conversation_id
            AND d.distilled_at = e.occurred_at
            AND d.metadata->>'saleStatus' = e.moved_to)
) AS found
ORDER BY occurred_at, id, detail
"""
# Whether a table is stored (the outbox arrives with the webhooks migration).
TABLE_EXISTS: Final = "SELECT to_regclass(%(table)s) IS NOT NULL AS present"
# One lead by its conversation's id (the LIMIT parameter is 1).
LEAD: Final = _leads("c.id = %(id)s")
# How many messages and distillations a conversation has.
LEAD_TOTALS: Final = """
SELECT (SELECT count(*) FROM messages WHERE conversation_id = %(id)s) AS messages,
       (SELECT count(*) FROM distillations WHERE conversation_id = %(id)s) AS distillations
"""
# A conversation's latest distillations (rows newest first).
LATEST_DISTILLATIONS: Final = f"""
SELECT {DISTILLATION_COLUMNS} FROM distillations WHERE conversation_id = %(conversation_id)s
ORDER BY through_seq DESC, id DESC LIMIT %(limit)s
"""
