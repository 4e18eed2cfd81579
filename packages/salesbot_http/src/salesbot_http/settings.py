"""Settings from the environment (and a ``.env`` file in the working directory).

Read once, by the composition root or the CLI; nothing here runs at import time.
"""

from __future__ import annotations

import math
import os
import re
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import msgspec
from dotenv import dotenv_values

from salesbot_core.clock import parse_duration
from salesbot_postgres import sqlalchemy_url

JWT_SECRET_MIN_BYTES = 32
WEBHOOK_SECRET_MIN_BYTES = 32
METADATA_FORMATS = ("json_schema", "json_object", "prompt")
HTTP_CLIENTS = ("aiohttp", "httpx")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
# An origin as a browser sends it: scheme, host and port, no path (not even a trailing "/").
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s?#]+")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    # Server
    host: str = "127.0.0.1"
    port: int = 3000
    workers: int = 1
    cors_origins: tuple[str, ...] = ("http://localhost:5173",)
    max_body_bytes: int = 64 * 1024
    # Database: None means the embedded server under data_dir
    database_url: str | None = None
    data_dir: Path = Path(".salesbot")
    # As root, where the embedded server keeps what its account cannot reach in data_dir (None:
    # the adapter's default, /var/lib/salesbot/embedded)
    embedded_home: Path | None = None
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_pool_timeout_s: float = 5.0
    db_statement_timeout_ms: int = 5000
    # libpq counts whole seconds, at least 2: a server that accepts but does not answer (frozen,
    # overloaded) is given up on after this long
    db_connect_timeout_s: float = 2.0
    health_timeout_s: float = 2.0
    # How long a stopping server lets a worker finish its requests before killing it: longer than
    # an LLM call may take (OPENAI_DEADLINE_S), so an exchange in flight completes.
    shutdown_timeout_s: int = 35
    # Tokens
    jwt_secret: str = ""
    jwt_refresh_secret: str = ""
    jwt_expires_in: timedelta = timedelta(minutes=15)
    # verified access tokens kept per process (what each says; expiry is checked every time)
    access_token_cache_size: int = 4096
    jwt_refresh_expires_in: timedelta = timedelta(days=7)
    bcrypt_rounds: int = 12
    hash_threads: int = 4
    hash_nice: int = 19
    token_cleanup_interval: timedelta = timedelta(hours=1)
    # Metadata distillation: one with its retry may take distil_budget_s (an exchange waits at
    # most that for a running one); it reads at most distil_max_messages; the sweep distils
    # conversations left due every distil_sweep_interval
    distil_budget_s: float = 8.0
    distil_max_messages: int = 24
    distil_sweep_interval: timedelta = timedelta(minutes=5)
    # Grounding: at most catalogue_prompt_products products in a reply's prompt, their block at
    # most catalogue_prompt_chars characters
    catalogue_prompt_products: int = 5
    catalogue_prompt_chars: int = 1200
    # The most words one catalogue lookup uses (a long message cannot make the search unbounded)
    catalogue_query_words: int = 32
    # seconds a worker takes a loaded catalogue as loaded before asking again (0: every reply)
    catalogue_loaded_ttl_s: float = 5.0
    # The most matches one catalogue search reads and ranks (a broad word cannot make it slow)
    catalogue_ranked_matches: int = 200
    # The console's conversation page (GET /admin/conversations/{id}): its latest messages and
    # distillations at most
    admin_transcript_messages: int = 500
    admin_transcript_distillations: int = 100
    # LLM: None means the offline assistant
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_timeout_s: float = 10.0
    openai_max_retries: int = 2
    openai_deadline_s: float = 30.0
    openai_metadata_format: str = "json_schema"
    openai_http_client: str = "aiohttp"
    # Login rate limiting: failed logins per account and per client address within the window
    # (0 turns a limit off); counted in Redis when redis_url is set, else in the process's memory
    login_max_failures_per_account: int = 10
    login_max_failures_per_client: int = 30
    login_failure_window: timedelta = timedelta(minutes=15)
    redis_url: str | None = None
    redis_namespace: str = "salesbot"
    log_level: str = "INFO"
    # Log any event-loop stall longer than this, with every thread's stack while it lasts
    # (0: off, nothing runs)
    loop_lag_log_ms: int = 0
    # Webhooks: every event goes to each URL (none: no events are kept), signed with the secret;
    # the workers look for due deliveries every webhook_poll_interval_s, claim webhook_batch at a
    # time (leased for webhook_lease_s), post webhook_concurrency at once with a
    # webhook_timeout_s timeout, and retry a failure after webhook_retry_base_s, doubling up to
    # webhook_retry_max_s, until webhook_retry_for has passed: then the delivery is dead
    webhook_urls: tuple[str, ...] = ()
    webhook_secret: str = ""
    webhook_timeout_s: float = 5.0
    webhook_poll_interval_s: float = 1.0
    webhook_batch: int = 50
    webhook_concurrency: int = 10
    webhook_lease_s: float = 60.0
    webhook_retry_base_s: float = 5.0
    webhook_retry_max_s: float = 3600.0
    webhook_retry_for: timedelta = timedelta(hours=24)
    # The catalogue: the largest file POST /admin/products/import accepts, and how many products
    # an import hands the database per statement
    catalogue_import_max_bytes: int = 50 * 1024 * 1024
    catalogue_import_batch: int = 5000

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def uses_offline_assistant(self) -> bool:
        return not self.openai_api_key


def read_dotenv(path: Path) -> dict[str, str]:
    """The ``KEY=value`` lines of a ``.env`` file, read by python-dotenv (comments, ``export``,
    quotes and inline comments as docker compose reads them); no file, no values."""
    if not path.is_file():
        return {}
    return {key: value for key, value in dotenv_values(path).items() if value is not None}


def load_environment(cwd: Path | None = None) -> dict[str, str]:
    """The process environment over the ``.env`` file of ``cwd``: real variables win."""
    merged = read_dotenv((cwd or Path.cwd()) / ".env")
    merged.update(os.environ)
    return merged


def _int(env: Mapping[str, str], key: str, default: int, minimum: int = 0) -> int:
    raw = env.get(key)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{key} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{key} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], key: str, default: float, *, zero: bool = False) -> float:
    """A positive number (or zero, with ``zero``)."""
    raw = env.get(key)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{key} must be a number, got {raw!r}") from None
    if not 0 <= value < math.inf or (value == 0 and not zero):  # NaN fails it too
        raise SettingsError(f"{key} must be {'zero or ' if zero else ''}positive, got {value}")
    return value


def _choice(env: Mapping[str, str], key: str, default: str, allowed: tuple[str, ...]) -> str:
    raw = (env.get(key) or "").strip()
    if not raw:
        return default
    if raw not in allowed:
        raise SettingsError(f"{key} must be one of {', '.join(allowed)}, got {raw!r}")
    return raw


def _duration(env: Mapping[str, str], key: str, default: timedelta) -> timedelta:
    raw = env.get(key)
    if raw is None or raw.strip() == "":
        return default
    try:
        return parse_duration(raw)
    except ValueError as exc:
        raise SettingsError(f"{key}: {exc}") from None


def _database_url(env: Mapping[str, str]) -> str | None:
    """The configured database's URL, checked by the adapter's own rule now rather than at the
    first request; None for the embedded default."""
    url = env.get("DATABASE_URL", "").strip()
    if url:
        return _checked_database_url(url, "DATABASE_URL")
    host = env.get("DB_HOST", "").strip()
    if not host:
        return None
    # The seed's separate variables, assembled into a libpq URL.
    from urllib.parse import quote  # noqa: PLC0415

    user = quote(env.get("DB_USERNAME", "postgres"), safe="")
    password = env.get("DB_PASSWORD", "")
    auth = f"{user}:{quote(password, safe='')}" if password else user
    port = env.get("DB_PORT", "5432").strip() or "5432"
    database = quote(env.get("DB_DATABASE", "sales_chat_db"), safe="")
    return _checked_database_url(
        f"postgresql://{auth}@{host}:{port}/{database}", "DB_HOST and DB_*"
    )


def _checked_database_url(url: str, given_by: str) -> str:
    try:
        sqlalchemy_url(url)
    except ValueError as error:
        raise SettingsError(f"{given_by}: {error}") from None
    return url


def _secret(env: Mapping[str, str], key: str, data_dir: Path, embedded: bool) -> str:
    value = env.get(key, "")
    if value:
        if len(value.encode()) < JWT_SECRET_MIN_BYTES:
            raise SettingsError(f"{key} must be at least {JWT_SECRET_MIN_BYTES} bytes long")
        return value
    if not embedded:
        raise SettingsError(f"{key} is required when DATABASE_URL (or DB_HOST) is set")
    # Zero-setup mode: a secret generated once and kept beside the embedded database.
    try:
        return _kept_secret(key, data_dir)
    except OSError as error:
        # mkdir's FileExistsError: the path is there, as something other than a directory.
        exists = isinstance(error, FileExistsError)
        reason = "it is not a directory" if exists else error.strerror or str(error)
        raise SettingsError(
            f"SALESBOT_DATA_DIR ({data_dir}) cannot keep the generated {key}: {reason}"
        ) from None


def _kept_secret(key: str, data_dir: Path) -> str:
    path = data_dir / f"{key.lower()}.secret"
    data_dir.mkdir(parents=True, exist_ok=True)
    generated = secrets.token_urlsafe(48)
    try:
        # Created readable by its owner only from the first byte, and never overwritten.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        kept = path.read_text(encoding="utf-8").strip()
        if len(kept.encode()) < JWT_SECRET_MIN_BYTES:
            raise SettingsError(
                f"{path} holds a {key} shorter than {JWT_SECRET_MIN_BYTES} bytes"
            ) from None
        return kept
    with os.fdopen(descriptor, "w", encoding="utf-8") as secret_file:
        secret_file.write(generated)
    return generated


def _cors_origins(env: Mapping[str, str]) -> tuple[str, ...]:
    """The origins browsers may call from; an empty CORS_ORIGIN allows none (no CORS)."""
    raw = env.get("CORS_ORIGIN", "http://localhost:5173")
    origins = tuple(o.strip() for o in raw.split(",") if o.strip())
    for origin in origins:
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise SettingsError(
                "CORS_ORIGIN must hold origins such as https://shop.example or "
                f"http://localhost:5173 (scheme, host and port, no path), or *; got {origin!r}"
            )
    return origins


def _redis_url(env: Mapping[str, str]) -> str | None:
    url = (env.get("REDIS_URL") or "").strip()
    if not url:
        return None
    if not url.startswith(REDIS_SCHEMES):
        # The value is not repeated: it may hold a password.
        raise SettingsError(f"REDIS_URL must start with {', '.join(REDIS_SCHEMES)}")
    return url


def _webhook_urls(env: Mapping[str, str]) -> tuple[str, ...]:
    urls = tuple(u.strip() for u in env.get("WEBHOOK_URLS", "").split(",") if u.strip())
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise SettingsError(f"WEBHOOK_URLS must hold http(s) URLs, got {url!r}")
    return urls


def _webhook_secret(env: Mapping[str, str], urls: tuple[str, ...]) -> str:
    secret = env.get("WEBHOOK_SECRET", "")
    if urls and not secret:
        raise SettingsError("WEBHOOK_SECRET is required when WEBHOOK_URLS is set")
    if secret and len(secret.encode()) < WEBHOOK_SECRET_MIN_BYTES:
        raise SettingsError(
            f"WEBHOOK_SECRET must be at least {WEBHOOK_SECRET_MIN_BYTES} bytes long"
        )
    return secret


def settings_from_env(env: Mapping[str, str]) -> Settings:
    """Build and validate settings; raise ``SettingsError`` naming the faulty variable."""
    database_url = _database_url(env)
    data_dir = Path(env.get("SALESBOT_DATA_DIR", "") or ".salesbot")
    embedded = database_url is None
    origins = _cors_origins(env)
    webhook_urls = _webhook_urls(env)
    settings = Settings(
        host=env.get("HOST", "127.0.0.1") or "127.0.0.1",
        port=_int(env, "PORT", 3000, minimum=1),
        workers=_int(env, "WORKERS", 1, minimum=1),
        cors_origins=origins,
        max_body_bytes=_int(env, "MAX_BODY_BYTES", 64 * 1024, minimum=1024),
        database_url=database_url,
        data_dir=data_dir,
        embedded_home=Path(env["SALESBOT_EMBEDDED_HOME"])
        if env.get("SALESBOT_EMBEDDED_HOME", "").strip()
        else None,
        db_pool_size=_int(env, "DB_POOL_SIZE", 10, minimum=1),
        db_max_overflow=_int(env, "DB_MAX_OVERFLOW", 10),
        db_pool_timeout_s=_float(env, "DB_POOL_TIMEOUT_S", 5.0),
        db_statement_timeout_ms=_int(env, "DB_STATEMENT_TIMEOUT_MS", 5000, minimum=1),
        db_connect_timeout_s=_float(env, "DB_CONNECT_TIMEOUT_S", 2.0),
        health_timeout_s=_float(env, "HEALTH_TIMEOUT_S", 2.0),
        shutdown_timeout_s=_int(env, "SHUTDOWN_TIMEOUT_S", 35, minimum=1),
        jwt_secret=_secret(env, "JWT_SECRET", data_dir, embedded),
        jwt_refresh_secret=_secret(env, "JWT_REFRESH_SECRET", data_dir, embedded),
        jwt_expires_in=_duration(env, "JWT_EXPIRES_IN", timedelta(minutes=15)),
        access_token_cache_size=_int(env, "ACCESS_TOKEN_CACHE_SIZE", 4096),
        jwt_refresh_expires_in=_duration(env, "JWT_REFRESH_EXPIRES_IN", timedelta(days=7)),
        bcrypt_rounds=_int(env, "BCRYPT_ROUNDS", 12, minimum=4),
        hash_threads=_int(env, "HASH_THREADS", 4, minimum=1),
        hash_nice=_int(env, "HASH_NICE", 19, minimum=0),
        token_cleanup_interval=_duration(env, "TOKEN_CLEANUP_INTERVAL", timedelta(hours=1)),
        distil_budget_s=_float(env, "DISTIL_BUDGET_S", 8.0),
        distil_max_messages=_int(env, "DISTIL_MAX_MESSAGES", 24, minimum=2),
        distil_sweep_interval=_duration(env, "DISTIL_SWEEP_INTERVAL", timedelta(minutes=5)),
        catalogue_prompt_products=_int(env, "CATALOGUE_PROMPT_PRODUCTS", 5),
        catalogue_prompt_chars=_int(env, "CATALOGUE_PROMPT_CHARS", 1200),
        catalogue_query_words=_int(env, "CATALOGUE_QUERY_WORDS", 32, minimum=1),
        catalogue_loaded_ttl_s=_float(env, "CATALOGUE_LOADED_TTL_S", 5.0, zero=True),
        catalogue_ranked_matches=_int(env, "CATALOGUE_RANKED_MATCHES", 200, minimum=1),
        admin_transcript_messages=_int(env, "ADMIN_TRANSCRIPT_MESSAGES", 500, minimum=1),
        admin_transcript_distillations=_int(env, "ADMIN_TRANSCRIPT_DISTILLATIONS", 100, minimum=1),
        openai_api_key=env.get("OPENAI_API_KEY") or None,
        openai_base_url=env.get("OPENAI_BASE_URL") or None,
        openai_model=env.get("OPENAI_MODEL") or "gpt-4o-mini",
        openai_timeout_s=_float(env, "OPENAI_TIMEOUT_S", 10.0),
        openai_max_retries=_int(env, "OPENAI_MAX_RETRIES", 2),
        openai_deadline_s=_float(env, "OPENAI_DEADLINE_S", 30.0),
        openai_metadata_format=_choice(
            env, "OPENAI_METADATA_FORMAT", "json_schema", METADATA_FORMATS
        ),
        openai_http_client=_choice(env, "OPENAI_HTTP_CLIENT", "aiohttp", HTTP_CLIENTS),
        login_max_failures_per_account=_int(env, "LOGIN_MAX_FAILURES_PER_ACCOUNT", 10),
        login_max_failures_per_client=_int(env, "LOGIN_MAX_FAILURES_PER_IP", 30),
        login_failure_window=_duration(env, "LOGIN_FAILURE_WINDOW", timedelta(minutes=15)),
        redis_url=_redis_url(env),
        redis_namespace=(env.get("REDIS_NAMESPACE") or "salesbot").strip() or "salesbot",
        log_level=_choice(
            {"LOG_LEVEL": (env.get("LOG_LEVEL") or "").upper()}, "LOG_LEVEL", "INFO", LOG_LEVELS
        ),
        loop_lag_log_ms=_int(env, "LOOP_LAG_LOG_MS", 0),
        webhook_urls=webhook_urls,
        webhook_secret=_webhook_secret(env, webhook_urls),
        webhook_timeout_s=_float(env, "WEBHOOK_TIMEOUT_S", 5.0),
        webhook_poll_interval_s=_float(env, "WEBHOOK_POLL_INTERVAL_S", 1.0),
        webhook_batch=_int(env, "WEBHOOK_BATCH", 50, minimum=1),
        webhook_concurrency=_int(env, "WEBHOOK_CONCURRENCY", 10, minimum=1),
        webhook_lease_s=_float(env, "WEBHOOK_LEASE_S", 60.0),
        webhook_retry_base_s=_float(env, "WEBHOOK_RETRY_BASE_S", 5.0),
        webhook_retry_max_s=_float(env, "WEBHOOK_RETRY_MAX_S", 3600.0),
        webhook_retry_for=_duration(env, "WEBHOOK_RETRY_FOR", timedelta(hours=24)),
        catalogue_import_max_bytes=_int(
            env, "CATALOGUE_IMPORT_MAX_BYTES", 50 * 1024 * 1024, minimum=1024
        ),
        catalogue_import_batch=_int(env, "CATALOGUE_IMPORT_BATCH", 5000, minimum=1),
    )
    # A batch's outcomes are recorded when its last POST ends: its claims must outlast every
    # wave of WEBHOOK_CONCURRENCY POSTs at WEBHOOK_TIMEOUT_S each.
    waves = math.ceil(settings.webhook_batch / settings.webhook_concurrency)
    if settings.webhook_lease_s <= waves * settings.webhook_timeout_s:
        raise SettingsError(
            "WEBHOOK_LEASE_S must be longer than WEBHOOK_TIMEOUT_S times "
            "WEBHOOK_BATCH / WEBHOOK_CONCURRENCY (rounded up): a batch's claims must outlast it"
        )
    if settings.hash_nice > 19:  # the kernel's lowest priority
        raise SettingsError("HASH_NICE must be between 0 and 19")
    if settings.bcrypt_rounds > 31:
        raise SettingsError("BCRYPT_ROUNDS must be between 4 and 31")
    return settings
