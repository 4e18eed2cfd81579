"""The composition root: every adapter and use case salesbot runs with, chosen from ``Settings``.

Nothing is built at import time or when the container is created; providers build on first use.
Sub-containers declare what they need with ``providers.Dependency()``. Tests swap an adapter with
``container.<part>.<provider>.override(...)``, e.g.
``container.persistence.uow_factory.override(providers.Object(store.uow_factory))``.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import cast

from dependency_injector import containers, providers

from salesbot_core.grounding import GroundingPolicy
from salesbot_core.offline import OfflineSalesAssistant
from salesbot_core.ports import (
    AttemptCounter,
    Clock,
    IdSource,
    IntegrityChecker,
    PasswordHasher,
    SalesAssistant,
    SalesInsightReader,
    TokenIssuer,
    UnitOfWorkFactory,
    WebhookPoster,
)
from salesbot_core.ports.catalogue import Catalogue
from salesbot_core.tokens import TokenPolicy
from salesbot_core.usecases import (
    CheckEmail,
    CheckIntegrity,
    CleanupTokens,
    DeleteConversation,
    DeliverWebhooks,
    DeliveryPolicy,
    DistillationPolicy,
    Distillations,
    DistilMetadata,
    DistilPending,
    EndSession,
    ExportCatalogue,
    GetHistory,
    GetLeadConversation,
    GetProfile,
    GetSalesAnalytics,
    GrantAdmin,
    ImportCatalogue,
    LeadReadLimits,
    ListConversations,
    ListLeads,
    ListProducts,
    ListSessions,
    ListWebhookDeliveries,
    Login,
    LoginLimits,
    Logout,
    LogoutAll,
    RefreshSession,
    RegisterUser,
    RemoveProduct,
    RenameConversation,
    RetryWebhooks,
    SaveProduct,
    SendMessage,
    ThrottledLogin,
)
from salesbot_core.usecases.grounding import PickProducts
from salesbot_core.webhooks import RetryPolicy
from salesbot_http.controllers.products import CatalogueUpload
from salesbot_http.health import DatabaseProbe
from salesbot_http.lifecycle import ShutdownSteps
from salesbot_http.passwords import BcryptPasswordHasher
from salesbot_http.ratelimit import CountingMemoryStore, CountingRedisStore
from salesbot_http.settings import Settings
from salesbot_http.system import RandomIds, SystemClock
from salesbot_http.tokens import JwtAccessTokens
from salesbot_http.webhooks import HttpxWebhookPoster
from salesbot_openai import OpenAIConfig, OpenAISalesAssistant
from salesbot_openai.config import HttpClient, MetadataFormat
from salesbot_postgres import Database, DatabaseConfig

logger = logging.getLogger(__name__)

OFFLINE = "offline"
OPENAI = "openai"


def token_policy_from(settings: Settings) -> TokenPolicy:
    return TokenPolicy(
        access_ttl=settings.jwt_expires_in, refresh_ttl=settings.jwt_refresh_expires_in
    )


def grounding_policy_from(settings: Settings) -> GroundingPolicy:
    return GroundingPolicy(
        products=settings.catalogue_prompt_products,
        prompt_chars=settings.catalogue_prompt_chars,
        query_words=settings.catalogue_query_words,
    )


def distillation_policy_from(settings: Settings) -> DistillationPolicy:
    return DistillationPolicy(
        max_messages=settings.distil_max_messages, budget_s=settings.distil_budget_s
    )


def lead_read_limits_from(settings: Settings) -> LeadReadLimits:
    return LeadReadLimits(
        messages=settings.admin_transcript_messages,
        distillations=settings.admin_transcript_distillations,
    )


def _yield_the_cpu(nice: int) -> None:
    """Run this thread at CPU priority ``nice`` (Linux schedules threads one by one)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (AttributeError, OSError) as error:  # not Linux, or already nicer than asked
        logger.debug("bcrypt threads keep their CPU priority: %s", error)


def hash_threads(threads: int, nice: int = 19) -> Iterator[ThreadPoolExecutor]:
    """The bounded pool bcrypt runs in; shut down with the container's resources.

    Its threads run at ``nice`` (19, the lowest priority, unless HASH_NICE says otherwise): when
    logins keep every core busy hashing, the event loop (and PostgreSQL) still get the CPU first,
    so other requests stay quick and logins queue instead. 0 leaves them at normal priority.
    """
    executor = ThreadPoolExecutor(
        max_workers=threads,
        thread_name_prefix="salesbot-bcrypt",
        initializer=functools.partial(_yield_the_cpu, nice) if nice else None,
    )
    try:
        yield executor
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


def login_limits(settings: Settings) -> LoginLimits:
    return LoginLimits(
        per_account=settings.login_max_failures_per_account,
        per_client=settings.login_max_failures_per_client,
        window=settings.login_failure_window,
    )


def login_attempts(settings: Settings, shutdown: ShutdownSteps) -> AttemptCounter:
    """Where failed logins are counted: Redis (shared by every worker and instance) when
    ``REDIS_URL`` is set, else this process's memory."""
    if settings.redis_url is None:
        return CountingMemoryStore()
    store = CountingRedisStore.from_url(settings.redis_url, namespace=settings.redis_namespace)
    shutdown.add(store.aclose)
    return store


def database_config(settings: Settings) -> DatabaseConfig:
    if settings.database_url is None:
        raise RuntimeError(
            "no database URL: set DATABASE_URL, or run `salesbot serve`, which starts the "
            "embedded database and hands its URL over"
        )
    return DatabaseConfig(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout_s=settings.db_pool_timeout_s,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        connect_timeout_s=settings.db_connect_timeout_s,
        ping_timeout_s=settings.health_timeout_s,
    )


def delivery_policy_from(settings: Settings) -> DeliveryPolicy:
    return DeliveryPolicy(
        batch=settings.webhook_batch,
        concurrency=settings.webhook_concurrency,
        lease_s=settings.webhook_lease_s,
        retry=RetryPolicy(
            base_s=settings.webhook_retry_base_s,
            max_delay_s=settings.webhook_retry_max_s,
            give_up_after=settings.webhook_retry_for,
        ),
    )


def webhook_poster(settings: Settings, shutdown: ShutdownSteps) -> WebhookPoster:
    poster = HttpxWebhookPoster(settings.webhook_timeout_s)
    shutdown.add(poster.aclose)
    return poster


def open_database(
    config: DatabaseConfig, shutdown: ShutdownSteps, webhook_urls: tuple[str, ...] = ()
) -> Database:
    """The pool; it connects on first use and is disposed of when the app stops. The outbox
    writes one delivery per event and webhook URL."""
    database = Database(config, webhook_urls)
    shutdown.add(database.dispose)
    return database


def unit_of_work_factory(database: Database) -> UnitOfWorkFactory:
    return database.unit_of_work


def insight_reader(database: Database) -> SalesInsightReader:
    return database.insight()


def catalogue_reader(database: Database, settings: Settings) -> Catalogue:
    return database.catalogue(
        ranked_matches=settings.catalogue_ranked_matches,
        loaded_ttl_s=settings.catalogue_loaded_ttl_s,
    )


def integrity_checker(database: Database) -> IntegrityChecker:
    return database.integrity()


def openai_config(settings: Settings) -> OpenAIConfig:
    return OpenAIConfig(
        api_key=settings.openai_api_key or "",
        base_url=settings.openai_base_url,
        model=settings.openai_model,
        timeout_s=settings.openai_timeout_s,
        max_retries=settings.openai_max_retries,
        deadline_s=settings.openai_deadline_s,
        metadata_format=cast("MetadataFormat", settings.openai_metadata_format),
        http_client=cast("HttpClient", settings.openai_http_client),
    )


def openai_assistant(config: OpenAIConfig, shutdown: ShutdownSteps) -> SalesAssistant:
    assistant = OpenAISalesAssistant.from_config(config)
    shutdown.add(assistant.aclose)
    return assistant


def assistant_kind(settings: Settings) -> str:
    return OFFLINE if settings.uses_offline_assistant else OPENAI


class Persistence(containers.DeclarativeContainer):
    """Where salesbot keeps its data: PostgreSQL (the configured server or the embedded one)."""

    settings = providers.Dependency(instance_of=Settings)
    shutdown = providers.Dependency(instance_of=ShutdownSteps)
    config = providers.Singleton(database_config, settings)
    database = providers.Singleton(open_database, config, shutdown, settings.provided.webhook_urls)
    uow_factory = providers.Singleton(unit_of_work_factory, database)
    insight = providers.Singleton(insight_reader, database)
    catalogue = providers.Singleton(catalogue_reader, database, settings)
    integrity = providers.Singleton(integrity_checker, database)


class Assistants(containers.DeclarativeContainer):
    """The sales assistant: OpenAI-compatible when a key is set, else the offline seller."""

    settings = providers.Dependency(instance_of=Settings)
    shutdown = providers.Dependency(instance_of=ShutdownSteps)
    offline = providers.Singleton(OfflineSalesAssistant)
    openai_config = providers.Singleton(openai_config, settings)
    openai = providers.Singleton(openai_assistant, openai_config, shutdown)
    assistant = providers.Selector(
        providers.Callable(assistant_kind, settings), offline=offline, openai=openai
    )


class Security(containers.DeclarativeContainer):
    """Password hashing, access tokens and the failed-login limits."""

    settings = providers.Dependency(instance_of=Settings)
    shutdown = providers.Dependency(instance_of=ShutdownSteps)
    login_limits = providers.Singleton(login_limits, settings)
    login_attempts = providers.Singleton(login_attempts, settings, shutdown)
    executor = providers.Resource(
        hash_threads, settings.provided.hash_threads, settings.provided.hash_nice
    )
    password_hasher = providers.Singleton(
        BcryptPasswordHasher, rounds=settings.provided.bcrypt_rounds, executor=executor
    )
    token_issuer = providers.Singleton(
        JwtAccessTokens,
        secret=settings.provided.jwt_secret,
        ttl=settings.provided.jwt_expires_in,
        cache_size=settings.provided.access_token_cache_size,
    )


class UseCases(containers.DeclarativeContainer):
    """One instance of each use case (they keep no per-request state)."""

    uow_factory: providers.Dependency[UnitOfWorkFactory] = providers.Dependency()
    insight: providers.Dependency[SalesInsightReader] = providers.Dependency()
    integrity: providers.Dependency[IntegrityChecker] = providers.Dependency()
    assistant: providers.Dependency[SalesAssistant] = providers.Dependency()
    hasher: providers.Dependency[PasswordHasher] = providers.Dependency()
    issuer: providers.Dependency[TokenIssuer] = providers.Dependency()
    clock: providers.Dependency[Clock] = providers.Dependency()
    ids: providers.Dependency[IdSource] = providers.Dependency()
    token_policy = providers.Dependency(instance_of=TokenPolicy)
    distillation_policy = providers.Dependency(instance_of=DistillationPolicy)
    login_attempts: providers.Dependency[AttemptCounter] = providers.Dependency()
    login_limits = providers.Dependency(instance_of=LoginLimits)
    catalogue: providers.Dependency[Catalogue] = providers.Dependency()
    grounding_policy = providers.Dependency(instance_of=GroundingPolicy)
    webhook_poster: providers.Dependency[WebhookPoster] = providers.Dependency()
    delivery_policy = providers.Dependency(instance_of=DeliveryPolicy)
    webhook_secret = providers.Dependency(instance_of=str)
    lead_read_limits = providers.Dependency(instance_of=LeadReadLimits)

    register_user = providers.Singleton(RegisterUser, uow_factory, hasher, clock, ids)
    check_email = providers.Singleton(CheckEmail, uow_factory)
    get_profile = providers.Singleton(GetProfile, uow_factory)
    # One Login for the process: it caches the decoy hash that makes unknown emails as slow as
    # wrong passwords.
    password_login = providers.Singleton(
        Login, uow_factory, hasher, issuer, clock, ids, token_policy
    )
    login = providers.Singleton(ThrottledLogin, password_login, login_attempts, login_limits)
    refresh_session = providers.Singleton(RefreshSession, uow_factory, issuer, clock, ids)
    logout = providers.Singleton(Logout, uow_factory, clock)
    logout_all = providers.Singleton(LogoutAll, uow_factory, clock)
    cleanup_tokens = providers.Singleton(CleanupTokens, uow_factory, clock, token_policy)
    distil_metadata = providers.Singleton(
        DistilMetadata, uow_factory, assistant, clock, distillation_policy
    )
    # One runner for the process: it knows which distillations are under way.
    distillations = providers.Singleton(Distillations, distil_metadata)
    distil_pending = providers.Singleton(DistilPending, uow_factory, distillations)
    pick_products = providers.Singleton(PickProducts, catalogue, grounding_policy)
    send_message = providers.Singleton(
        SendMessage, uow_factory, assistant, clock, ids, distillations, pick_products=pick_products
    )
    list_conversations = providers.Singleton(ListConversations, uow_factory)
    get_history = providers.Singleton(GetHistory, uow_factory)
    rename_conversation = providers.Singleton(RenameConversation, uow_factory, clock)
    delete_conversation = providers.Singleton(DeleteConversation, uow_factory)
    list_sessions = providers.Singleton(ListSessions, uow_factory, clock)
    end_session = providers.Singleton(EndSession, uow_factory, clock)
    grant_admin = providers.Singleton(GrantAdmin, uow_factory, clock)
    get_sales_analytics = providers.Singleton(GetSalesAnalytics, insight, clock, catalogue)
    list_leads = providers.Singleton(ListLeads, insight, catalogue=catalogue)
    deliver_webhooks = providers.Singleton(
        DeliverWebhooks, uow_factory, webhook_poster, clock, webhook_secret, delivery_policy
    )
    list_webhook_deliveries = providers.Singleton(ListWebhookDeliveries, uow_factory)
    retry_webhooks = providers.Singleton(RetryWebhooks, uow_factory, clock)
    catalogue_import_batch = providers.Dependency(instance_of=int)
    import_catalogue = providers.Singleton(ImportCatalogue, uow_factory, catalogue_import_batch)
    save_product = providers.Singleton(SaveProduct, uow_factory)
    remove_product = providers.Singleton(RemoveProduct, uow_factory)
    list_products = providers.Singleton(ListProducts, uow_factory)
    export_catalogue = providers.Singleton(ExportCatalogue, uow_factory)
    check_integrity = providers.Singleton(CheckIntegrity, integrity)
    get_lead_conversation = providers.Singleton(
        GetLeadConversation, insight, lead_read_limits, catalogue
    )


class Container(containers.DeclarativeContainer):
    """salesbot, assembled."""

    settings = providers.Dependency(instance_of=Settings)
    shutdown = providers.Singleton(ShutdownSteps)
    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(RandomIds)
    token_policy = providers.Singleton(token_policy_from, settings)
    distillation_policy = providers.Singleton(distillation_policy_from, settings)
    grounding_policy = providers.Singleton(grounding_policy_from, settings)
    delivery_policy = providers.Singleton(delivery_policy_from, settings)
    webhook_poster = providers.Singleton(webhook_poster, settings, shutdown)
    lead_read_limits = providers.Singleton(lead_read_limits_from, settings)

    persistence = providers.Container(Persistence, settings=settings, shutdown=shutdown)
    assistants = providers.Container(Assistants, settings=settings, shutdown=shutdown)
    security = providers.Container(Security, settings=settings, shutdown=shutdown)
    usecases = providers.Container(
        UseCases,
        uow_factory=persistence.uow_factory,
        insight=persistence.insight,
        integrity=persistence.integrity,
        assistant=assistants.assistant,
        hasher=security.password_hasher,
        issuer=security.token_issuer,
        clock=clock,
        ids=ids,
        token_policy=token_policy,
        distillation_policy=distillation_policy,
        login_attempts=security.login_attempts,
        login_limits=security.login_limits,
        catalogue=persistence.catalogue,
        grounding_policy=grounding_policy,
        webhook_poster=webhook_poster,
        delivery_policy=delivery_policy,
        webhook_secret=settings.provided.webhook_secret,
        catalogue_import_batch=settings.provided.catalogue_import_batch,
        lead_read_limits=lead_read_limits,
    )
    catalogue_upload = providers.Singleton(
        CatalogueUpload,
        usecases.import_catalogue,
        max_bytes=settings.provided.catalogue_import_max_bytes,
    )
    database_probe = providers.Singleton(
        DatabaseProbe,
        persistence.uow_factory,
        timeout=settings.provided.health_timeout_s,
    )


def build_container(settings: Settings) -> Container:
    """A container for ``settings``; adapters are built lazily, on first use."""
    return Container(settings=providers.Object(settings))
