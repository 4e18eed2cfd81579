"""Settings from the environment: defaults, the seed's variables, and refusals that name the
variable."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from salesbot_http import settings as settings_module
from salesbot_http.settings import SettingsError, load_environment, settings_from_env
from tests.support.serve import serve_env

SECRET = "s" * 32
SECRETS = {"JWT_SECRET": SECRET, "JWT_REFRESH_SECRET": SECRET}
# A configured database and its secrets: the least a non-embedded start needs.
CONFIGURED = {"DATABASE_URL": "postgresql://x/y", **SECRETS}


def test_defaults_with_the_embedded_database(tmp_path: Path) -> None:
    settings = settings_from_env({"SALESBOT_DATA_DIR": str(tmp_path)})

    assert settings.port == 3000
    assert settings.uses_embedded_database
    assert settings.uses_offline_assistant
    assert settings.cors_origins == ("http://localhost:5173",)
    assert settings.max_body_bytes == 64 * 1024
    assert settings.bcrypt_rounds == 12
    assert settings.hash_nice == 19
    assert settings.jwt_expires_in == timedelta(minutes=15)
    assert settings.jwt_refresh_expires_in == timedelta(days=7)
    assert len(settings.jwt_secret.encode()) >= 32
    # Generated once, kept in the data dir, the same next time.
    again = settings_from_env({"SALESBOT_DATA_DIR": str(tmp_path)})
    assert again.jwt_secret == settings.jwt_secret
    assert again.jwt_refresh_secret == settings.jwt_refresh_secret != settings.jwt_secret
    assert (tmp_path / "jwt_secret.secret").stat().st_mode & 0o777 == 0o600
    # A kept secret that is too short is refused like a configured one.
    (tmp_path / "jwt_secret.secret").write_text("short")
    with pytest.raises(SettingsError, match="JWT_SECRET"):
        settings_from_env({"SALESBOT_DATA_DIR": str(tmp_path)})


def test_the_embedded_servers_home_as_root_is_read(tmp_path: Path) -> None:
    default = settings_from_env({"SALESBOT_DATA_DIR": str(tmp_path)})
    chosen = settings_from_env(
        {"SALESBOT_DATA_DIR": str(tmp_path), "SALESBOT_EMBEDDED_HOME": "/srv/salesbot-pg"}
    )

    assert default.embedded_home is None  # the adapter's /var/lib/salesbot/embedded
    assert chosen.embedded_home == Path("/srv/salesbot-pg")


def test_the_seeds_database_variables_make_a_url() -> None:
    settings = settings_from_env(
        {
            "DB_HOST": "db",
            "DB_PORT": "5433",
            "DB_USERNAME": "app",
            "DB_PASSWORD": "p@ss",
            "DB_DATABASE": "sales_chat_db",
            "JWT_SECRET": SECRET,
            "JWT_REFRESH_SECRET": SECRET,
        }
    )
    assert settings.database_url == "postgresql://app:p%40ss@db:5433/sales_chat_db"


def test_cors_origin_is_a_comma_list() -> None:
    settings = settings_from_env(
        {
            "DATABASE_URL": "postgresql://x/y",
            "JWT_SECRET": SECRET,
            "JWT_REFRESH_SECRET": SECRET,
            "CORS_ORIGIN": "https://shop.example, https://admin.shop.example,",
        }
    )
    assert settings.cors_origins == ("https://shop.example", "https://admin.shop.example")


def test_webhook_settings_are_read() -> None:
    base = CONFIGURED
    defaults = settings_from_env(base)
    assert defaults.webhook_urls == ()
    assert defaults.webhook_timeout_s == 5.0
    assert defaults.webhook_retry_for == timedelta(hours=24)
    assert (defaults.webhook_retry_base_s, defaults.webhook_retry_max_s) == (5.0, 3600.0)
    assert (defaults.webhook_batch, defaults.webhook_concurrency) == (50, 10)
    assert (defaults.webhook_lease_s, defaults.webhook_poll_interval_s) == (60.0, 1.0)

    settings = settings_from_env(
        {
            **base,
            "WEBHOOK_URLS": "https://crm.example/hook, http://10.0.0.5:8080/in,",
            "WEBHOOK_SECRET": "w" * 32,
            "WEBHOOK_TIMEOUT_S": "2.5",
            "WEBHOOK_POLL_INTERVAL_S": "0.2",
            "WEBHOOK_BATCH": "7",
            "WEBHOOK_CONCURRENCY": "3",
            "WEBHOOK_LEASE_S": "30",
            "WEBHOOK_RETRY_BASE_S": "0.5",
            "WEBHOOK_RETRY_MAX_S": "60",
            "WEBHOOK_RETRY_FOR": "2h",
        }
    )
    assert settings.webhook_urls == ("https://crm.example/hook", "http://10.0.0.5:8080/in")
    assert settings.webhook_secret == "w" * 32
    assert settings.webhook_timeout_s == 2.5
    assert settings.webhook_poll_interval_s == 0.2
    assert (settings.webhook_batch, settings.webhook_concurrency) == (7, 3)
    assert settings.webhook_lease_s == 30.0
    assert (settings.webhook_retry_base_s, settings.webhook_retry_max_s) == (0.5, 60.0)
    assert settings.webhook_retry_for == timedelta(hours=2)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"WEBHOOK_URLS": "https://crm.example/hook"}, "WEBHOOK_SECRET"),
        ({"WEBHOOK_URLS": "https://crm.example/hook", "WEBHOOK_SECRET": "short"}, "WEBHOOK_SECRET"),
        ({"WEBHOOK_URLS": "crm.example/hook", "WEBHOOK_SECRET": "w" * 32}, "WEBHOOK_URLS"),
        ({"WEBHOOK_TIMEOUT_S": "0"}, "WEBHOOK_TIMEOUT_S"),
        ({"WEBHOOK_TIMEOUT_S": "10", "WEBHOOK_LEASE_S": "5"}, "WEBHOOK_LEASE_S"),
        # 200 claimed, 10 POSTs at a time, 5 s each: the batch can take 100 s, past its lease.
        ({"WEBHOOK_BATCH": "200", "WEBHOOK_CONCURRENCY": "10"}, "WEBHOOK_LEASE_S"),
        ({"WEBHOOK_BATCH": "0"}, "WEBHOOK_BATCH"),
        ({"WEBHOOK_RETRY_FOR": "soon"}, "WEBHOOK_RETRY_FOR"),
    ],
)
def test_a_bad_webhook_setting_is_refused_by_name(env: dict[str, str], variable: str) -> None:
    base = CONFIGURED
    with pytest.raises(SettingsError, match=variable):
        settings_from_env({**base, **env})


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"JWT_SECRET": "short", "JWT_REFRESH_SECRET": SECRET}, "JWT_SECRET"),
        ({"JWT_SECRET": SECRET}, "JWT_REFRESH_SECRET"),
        ({**SECRETS, "PORT": "x"}, "PORT"),
        (
            {**SECRETS, "MAX_BODY_BYTES": "10"},
            "MAX_BODY_BYTES",
        ),
        (
            {**SECRETS, "HEALTH_TIMEOUT_S": "0"},
            "HEALTH_TIMEOUT_S",
        ),
        (
            {**SECRETS, "OPENAI_METADATA_FORMAT": "xml"},
            "OPENAI_METADATA_FORMAT",
        ),
        (
            {**SECRETS, "OPENAI_HTTP_CLIENT": "curl"},
            "OPENAI_HTTP_CLIENT",
        ),
        ({**SECRETS, "LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ({**SECRETS, "HASH_NICE": "20"}, "HASH_NICE"),
        ({**SECRETS, "HASH_NICE": "-1"}, "HASH_NICE"),
        (
            {**SECRETS, "JWT_EXPIRES_IN": "99999999999d"},
            "JWT_EXPIRES_IN",
        ),
        (
            {**SECRETS, "DISTIL_BUDGET_S": "0"},
            "DISTIL_BUDGET_S",
        ),
        (
            {**SECRETS, "DISTIL_MAX_MESSAGES": "1"},
            "DISTIL_MAX_MESSAGES",
        ),
        (
            {**SECRETS, "DISTIL_SWEEP_INTERVAL": "soon"},
            "DISTIL_SWEEP_INTERVAL",
        ),
        (
            {**SECRETS, "ACCESS_TOKEN_CACHE_SIZE": "-1"},
            "ACCESS_TOKEN_CACHE_SIZE",
        ),
        (
            {**SECRETS, "CATALOGUE_LOADED_TTL_S": "-1"},
            "CATALOGUE_LOADED_TTL_S",
        ),
        (
            {**SECRETS, "DISTIL_BUDGET_S": "nan"},
            "DISTIL_BUDGET_S",
        ),
        (
            {**SECRETS, "CATALOGUE_LOADED_TTL_S": "inf"},
            "CATALOGUE_LOADED_TTL_S",
        ),
    ],
)
def test_a_bad_setting_is_refused_by_name(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        settings_from_env({"DATABASE_URL": "postgresql://x/y", **env})


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL: .*postgresql://, not mysql://"),
        ({"DATABASE_URL": "notaurl"}, "DATABASE_URL: .*not a valid postgresql:// URL"),
        ({"DATABASE_URL": "", "DB_HOST": "db", "DB_PORT": "five"}, "DB_HOST and DB_"),
        ({"REDIS_URL": "notaurl"}, "REDIS_URL must start with redis://"),
        ({"REDIS_URL": "http://cache:6379"}, "REDIS_URL"),
        ({"CORS_ORIGIN": "not-an-origin"}, "CORS_ORIGIN .*'not-an-origin'"),
        ({"CORS_ORIGIN": "https://shop.example/"}, "CORS_ORIGIN .*no path"),
    ],
)
def test_a_malformed_address_is_refused_at_start_not_at_the_first_request(
    env: dict[str, str], variable: str
) -> None:
    with pytest.raises(SettingsError, match=variable):
        settings_from_env(CONFIGURED | env)


@pytest.mark.parametrize(
    "env",
    [
        {"DATABASE_URL": "postgresql://admin:p@ss:w0rd@db.example/shop"},
        {"DATABASE_URL": "", "DB_HOST": "db", "DB_PORT": "w0rd", "DB_PASSWORD": "w0rd"},
        {"REDIS_URL": "w0rd@cache:6379"},
    ],
)
def test_a_malformed_address_is_refused_without_repeating_its_password(
    env: dict[str, str],
) -> None:
    with pytest.raises(SettingsError) as refused:
        settings_from_env(CONFIGURED | env)
    assert "w0rd" not in str(refused.value)


def test_an_empty_cors_origin_allows_no_origin_and_star_any() -> None:
    base = CONFIGURED
    assert settings_from_env(base | {"CORS_ORIGIN": ""}).cors_origins == ()
    assert settings_from_env(base | {"CORS_ORIGIN": "*"}).cors_origins == ("*",)
    redis = settings_from_env(base | {"REDIS_URL": "rediss://:pw@cache:6380/2"})
    assert redis.redis_url == "rediss://:pw@cache:6380/2"


@pytest.mark.parametrize("place", ["a file", "under a file"])
def test_a_data_directory_that_cannot_keep_the_secrets_is_refused_by_name(
    tmp_path: Path, place: str
) -> None:
    blocker = tmp_path / "README.md"
    blocker.write_text("not a directory")
    data_dir = blocker if place == "a file" else blocker / "data"

    with pytest.raises(SettingsError, match=r"SALESBOT_DATA_DIR \(.*\) cannot keep"):
        settings_from_env({"SALESBOT_DATA_DIR": str(data_dir)})


def test_the_environment_wins_over_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text(
        "# comment\nexport PORT=4000\nCORS_ORIGIN='https://a.example'\nLOG_LEVEL=debug\n"
        'WORKERS=3 # inline comment, as docker compose allows\nOPENAI_MODEL="a # b"\n'
    )
    monkeypatch.setenv("PORT", "5000")

    env = load_environment(tmp_path)

    assert env["PORT"] == "5000"
    assert env["CORS_ORIGIN"] == "https://a.example"
    assert env["LOG_LEVEL"] == "debug"
    assert env["WORKERS"] == "3"
    assert env["OPENAI_MODEL"] == "a # b"


def test_the_distillation_settings_are_read_and_reach_the_runner() -> None:
    from salesbot_http.container import build_container

    settings = settings_from_env(
        {
            "DATABASE_URL": "postgresql://x/y",
            "JWT_SECRET": SECRET,
            "JWT_REFRESH_SECRET": SECRET,
            "DISTIL_BUDGET_S": "2.5",
            "DISTIL_MAX_MESSAGES": "10",
            "DISTIL_SWEEP_INTERVAL": "30s",
        }
    )
    assert (settings.distil_budget_s, settings.distil_max_messages) == (2.5, 10)
    assert settings.distil_sweep_interval == timedelta(seconds=30)
    runner = build_container(settings).usecases.distillations()
    assert (runner.budget_s, runner.max_messages) == (2.5, 10)


def test_the_access_token_cache_size_is_read_and_reaches_the_issuer() -> None:
    from salesbot_http.container import build_container

    env = CONFIGURED
    assert settings_from_env(env).access_token_cache_size == 4096
    settings = settings_from_env({**env, "ACCESS_TOKEN_CACHE_SIZE": "0"})
    assert settings.access_token_cache_size == 0
    issuer = build_container(settings).security.token_issuer()
    assert not hasattr(issuer._read, "cache_info")
    kept = build_container(settings_from_env(env)).security.token_issuer()
    assert kept._read.cache_info().maxsize == 4096  # type: ignore[attr-defined]


def test_the_catalogue_loaded_ttl_is_read_and_zero_is_allowed(tmp_path: Path) -> None:
    env = {"SALESBOT_DATA_DIR": str(tmp_path)}
    assert settings_from_env(env).catalogue_loaded_ttl_s == 5.0
    assert settings_from_env({**env, "CATALOGUE_LOADED_TTL_S": "0"}).catalogue_loaded_ttl_s == 0
    assert settings_from_env({**env, "CATALOGUE_LOADED_TTL_S": "1.5"}).catalogue_loaded_ttl_s == 1.5


def test_the_catalogue_prompt_bounds_are_read(tmp_path: Path) -> None:
    defaults = settings_from_env({"SALESBOT_DATA_DIR": str(tmp_path)})
    assert (defaults.catalogue_prompt_products, defaults.catalogue_prompt_chars) == (5, 1200)
    settings = settings_from_env(
        {
            "SALESBOT_DATA_DIR": str(tmp_path),
            "CATALOGUE_PROMPT_PRODUCTS": "3",
            "CATALOGUE_PROMPT_CHARS": "600",
        }
    )
    assert (settings.catalogue_prompt_products, settings.catalogue_prompt_chars) == (3, 600)
    with pytest.raises(SettingsError, match="CATALOGUE_PROMPT_CHARS"):
        settings_from_env({"SALESBOT_DATA_DIR": str(tmp_path), "CATALOGUE_PROMPT_CHARS": "x"})


def test_the_catalogue_import_limits_are_read() -> None:
    base = CONFIGURED
    defaults = settings_from_env(base)
    settings = settings_from_env(
        {**base, "CATALOGUE_IMPORT_MAX_BYTES": "4096", "CATALOGUE_IMPORT_BATCH": "250"}
    )
    assert defaults.catalogue_import_max_bytes == 50 * 1024 * 1024
    assert defaults.catalogue_import_batch == 5000
    assert settings.catalogue_import_max_bytes == 4096
    assert settings.catalogue_import_batch == 250
    with pytest.raises(SettingsError, match="CATALOGUE_IMPORT_BATCH"):
        settings_from_env({**base, "CATALOGUE_IMPORT_BATCH": "0"})
    with pytest.raises(SettingsError, match="CATALOGUE_IMPORT_MAX_BYTES"):
        settings_from_env({**base, "CATALOGUE_IMPORT_MAX_BYTES": "10"})


def test_the_consoles_conversation_limits_are_read() -> None:
    base = {**SECRETS, "DATABASE_URL": "postgresql://x/y"}
    default = settings_from_env(base)
    chosen = settings_from_env(
        {**base, "ADMIN_TRANSCRIPT_MESSAGES": "40", "ADMIN_TRANSCRIPT_DISTILLATIONS": "7"}
    )

    assert (default.admin_transcript_messages, default.admin_transcript_distillations) == (
        500,
        100,
    )
    assert (chosen.admin_transcript_messages, chosen.admin_transcript_distillations) == (40, 7)
    with pytest.raises(SettingsError, match="ADMIN_TRANSCRIPT_MESSAGES"):
        settings_from_env({**base, "ADMIN_TRANSCRIPT_MESSAGES": "0"})


def test_the_catalogue_query_bound_is_read(tmp_path: Path) -> None:
    settings = settings_from_env(
        {"SALESBOT_DATA_DIR": str(tmp_path), "CATALOGUE_QUERY_WORDS": "12"}
    )
    assert settings.catalogue_query_words == 12
    assert settings_from_env({"SALESBOT_DATA_DIR": str(tmp_path)}).catalogue_query_words == 32


def test_a_served_test_inherits_no_variable_the_settings_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``tests.support.serve.serve_env`` names salesbot's variables by prefix and by name; every
    variable ``settings.py`` reads must be among them, or a developer's value would reach the
    servers under test."""
    source = Path(settings_module.__file__).read_text(encoding="utf-8")
    read = set(re.findall(r'env(?:\.get\(|\[|, )"([A-Z][A-Z0-9_]+)"', source))
    assert {"DATABASE_URL", "OPENAI_API_KEY", "REDIS_URL", "HOST", "CORS_ORIGIN"} <= read
    for name in read:
        monkeypatch.setenv(name, "inherited")

    env = serve_env()

    assert {name for name in read if env.get(name) == "inherited"} == set()
