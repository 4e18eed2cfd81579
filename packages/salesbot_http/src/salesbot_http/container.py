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

from salesbot_core.offline import OfflineSalesAssistant
from salesbot_core.ports import (
    AttemptCounter,
    Clock,
    IdSource,
    PasswordHasher,
    SalesAssistant,
    SalesInsightReader,
    TokenIssuer,
    UnitOfWorkFactory,
)
from salesbot_core.tokens import TokenPolicy
from salesbot_core.usecases import (
    CheckEmail,
    CleanupTokens,
    DeleteConversation,
    DistillationPolicy,
    Distillations,
    DistilMetadata,
    DistilPending,
    EndSession,
    GetHistory,
    GetLeadConversation,
    GetProfile,
    GetSalesAnalytics,
    GrantAdmin,
    LeadReadLimits,
    ListConversations,
    ListLeads,
    ListSessions,
    Login,
    LoginLimits,
    Logout,
    LogoutAll,
    RefreshSession,
    RegisterUser,
    RenameConversation,
    SendMessage,
    ThrottledLogin,
)
from salesbot_http.health import DatabaseProbe
from salesbot_http.lifecycle import ShutdownSteps
from salesbot_http.passwords import BcryptPasswordHasher
from salesbot_http.ratelimit import CountingMemoryStore, CountingRedisStore
from salesbot_http.settings import Settings
from salesbot_http.system import RandomIds, SystemClock
from salesbot_http.tokens import JwtAccessTokens
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


def open_database(config: DatabaseConfig, shutdown: ShutdownSteps) -> Database:
    """The pool; it connects on first use and is disposed of when the app stops."""
    database = Database(config)
    shutdown.add(database.dispose)
    return database


def unit_of_work_factory(database: Database) -> UnitOfWorkFactory:
    return database.unit_of_work


def insight_reader(database: Database) -> SalesInsightReader:
    return database.insight()


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
    database = providers.Singleton(open_database, config, shutdown)
    uow_factory = providers.Singleton(unit_of_work_factory, database)
    insight = providers.Singleton(insight_reader, database)


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
        JwtAccessTokens, secret=settings.provided.jwt_secret, ttl=settings.provided.jwt_expires_in
    )


class UseCases(containers.DeclarativeContainer):
    """One instance of each use case (they keep no per-request state)."""

    uow_factory: providers.Dependency[UnitOfWorkFactory] = providers.Dependency()
    insight: providers.Dependency[SalesInsightReader] = providers.Dependency()
    assistant: providers.Dependency[SalesAssistant] = providers.Dependency()
    hasher: providers.Dependency[PasswordHasher] = providers.Dependency()
    issuer: providers.Dependency[TokenIssuer] = providers.Dependency()
    clock: providers.Dependency[Clock] = providers.Dependency()
    ids: providers.Dependency[IdSource] = providers.Dependency()
    token_policy = providers.Dependency(instance_of=TokenPolicy)
    distillation_policy = providers.Dependency(instance_of=DistillationPolicy)
    login_attempts: providers.Dependency[AttemptCounter] = providers.Dependency()
    login_limits = providers.Dependency(instance_of=LoginLimits)
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
    send_message = providers.Singleton(
        SendMessage, uow_factory, assistant, clock, ids, distillations
    )
    list_conversations = providers.Singleton(ListConversations, uow_factory)
    get_history = providers.Singleton(GetHistory, uow_factory)
    rename_conversation = providers.Singleton(RenameConversation, uow_factory, clock)
    delete_conversation = providers.Singleton(DeleteConversation, uow_factory)
    list_sessions = providers.Singleton(ListSessions, uow_factory, clock)
    end_session = providers.Singleton(EndSession, uow_factory, clock)
    grant_admin = providers.Singleton(GrantAdmin, uow_factory, clock)
    get_sales_analytics = providers.Singleton(GetSalesAnalytics, insight, clock)
    list_leads = providers.Singleton(ListLeads, insight)
    get_lead_conversation = providers.Singleton(GetLeadConversation, insight, lead_read_limits)


class Container(containers.DeclarativeContainer):
    """salesbot, assembled."""

    settings = providers.Dependency(instance_of=Settings)
    shutdown = providers.Singleton(ShutdownSteps)
    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(RandomIds)
    token_policy = providers.Singleton(token_policy_from, settings)
    distillation_policy = providers.Singleton(distillation_policy_from, settings)
    lead_read_limits = providers.Singleton(lead_read_limits_from, settings)

    persistence = providers.Container(Persistence, settings=settings, shutdown=shutdown)
    assistants = providers.Container(Assistants, settings=settings, shutdown=shutdown)
    security = providers.Container(Security, settings=settings, shutdown=shutdown)
    usecases = providers.Container(
        UseCases,
        uow_factory=persistence.uow_factory,
        insight=persistence.insight,
        assistant=assistants.assistant,
        hasher=security.password_hasher,
        issuer=security.token_issuer,
        clock=clock,
        ids=ids,
        token_policy=token_policy,
        distillation_policy=distillation_policy,
        login_attempts=security.login_attempts,
        login_limits=security.login_limits,
        lead_read_limits=lead_read_limits,
    )
    database_probe = providers.Singleton(
        DatabaseProbe,
        persistence.uow_factory,
        timeout=settings.provided.health_timeout_s,
    )


def build_container(settings: Settings) -> Container:
    """A container for ``settings``; adapters are built lazily, on first use."""
    return Container(settings=providers.Object(settings))
