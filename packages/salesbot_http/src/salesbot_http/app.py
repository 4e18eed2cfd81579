"""The Litestar application factory: routes, envelope, errors, auth, CORS, limits, OpenAPI."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from litestar import Litestar, Request
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import ValidationException

from salesbot_http.cleanup import run_periodically
from salesbot_http.container import Container, build_container
from salesbot_http.controllers import (
    AdminController,
    ChatController,
    ChatStreamController,
    DevicesController,
    HealthController,
    ProductsController,
    SessionsController,
    UsersController,
)
from salesbot_http.errors import exception_handlers
from salesbot_http.headers import add_response_headers
from salesbot_http.inflight import InFlight
from salesbot_http.loop_lag import loop_lag_logged
from salesbot_http.openapi import ClosedStructSchemaPlugin, openapi_config
from salesbot_http.request import SalesbotRequest
from salesbot_http.settings import Settings
from salesbot_http.state import CONTAINER_KEY
from salesbot_http.web.pages import page_handlers


def _package_version() -> str:
    try:
        return version("salesbot-http")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def _provide(provider: Callable[[], Any]) -> Provide:
    """Bridge one container provider into Litestar's dependency injection."""

    def provide() -> Any:
        return provider()

    return Provide(provide, sync_to_thread=False)


def _dependencies(container: Container) -> dict[str, Provide]:
    usecases = container.usecases
    return {
        "register_user": _provide(usecases.register_user),
        "check_email": _provide(usecases.check_email),
        "get_profile": _provide(usecases.get_profile),
        "login": _provide(usecases.login),
        "refresh_session": _provide(usecases.refresh_session),
        "logout": _provide(usecases.logout),
        "logout_all": _provide(usecases.logout_all),
        "send_message": _provide(usecases.send_message),
        "list_conversations": _provide(usecases.list_conversations),
        "get_history": _provide(usecases.get_history),
        "rename_conversation": _provide(usecases.rename_conversation),
        "delete_conversation": _provide(usecases.delete_conversation),
        "list_sessions": _provide(usecases.list_sessions),
        "end_session": _provide(usecases.end_session),
        "get_sales_analytics": _provide(usecases.get_sales_analytics),
        "list_leads": _provide(usecases.list_leads),
        "list_webhook_deliveries": _provide(usecases.list_webhook_deliveries),
        "retry_webhooks": _provide(usecases.retry_webhooks),
        "list_products": _provide(usecases.list_products),
        "save_product": _provide(usecases.save_product),
        "remove_product": _provide(usecases.remove_product),
        "catalogue_upload": _provide(container.catalogue_upload),
        "get_lead_conversation": _provide(usecases.get_lead_conversation),
        "database_probe": _provide(container.database_probe),
    }


async def refuse_repeated_query_parameters(request: Request[Any, Any, Any]) -> None:
    """No route takes a list in its query: a parameter given twice is refused rather than one of
    its values silently chosen (which one a proxy and the app would each pick may differ)."""
    query = request.query_params
    repeated = sorted(key for key in query if len(query.getall(key)) > 1)
    if repeated:
        raise ValidationException(
            extra=[{"key": key, "message": "given more than once"} for key in repeated]
        )


def _cors(settings: Settings) -> CORSConfig | None:
    if not settings.cors_origins:
        return None
    return CORSConfig(
        allow_origins=list(settings.cors_origins),
        # Browsers may read the next page's address of paged lists.
        expose_headers=["Link"],
        allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        # Credentials cannot be combined with a wildcard origin.
        allow_credentials="*" not in settings.cors_origins,
        max_age=600,
    )


def _scheduled_jobs(container: Container) -> list[asyncio.Task[None]]:
    """The server's housekeeping: the refresh-token cleanup, the distillation sweep and, when
    webhook URLs are set, the webhook delivery."""
    settings: Settings = container.settings()

    async def cleanup() -> int:
        deleted: int = await container.usecases.cleanup_tokens()()
        return deleted

    async def sweep() -> int:
        distilled: int = await container.usecases.distil_pending()()
        return distilled

    async def deliver() -> int:
        delivered: int = await container.usecases.deliver_webhooks()()
        return delivered

    webhooks = (
        [
            asyncio.create_task(
                run_periodically(
                    deliver,
                    timedelta(seconds=settings.webhook_poll_interval_s),
                    done="delivered %d webhook events",
                ),
                name="salesbot-webhook-delivery",
            )
        ]
        if settings.webhook_urls
        else []
    )
    return [
        *webhooks,
        asyncio.create_task(
            run_periodically(
                cleanup,
                settings.token_cleanup_interval,
                done="refresh-token cleanup deleted %d stale tokens",
            ),
            name="salesbot-token-cleanup",
        ),
        asyncio.create_task(
            run_periodically(
                sweep,
                settings.distil_sweep_interval,
                done="the distillation sweep distilled %d conversations left due",
            ),
            name="salesbot-distillation-sweep",
        ),
    ]


@contextlib.asynccontextmanager
async def _lifespan(
    container: Container, in_flight: InFlight, run_scheduled_jobs: bool, _: Litestar
) -> AsyncIterator[None]:
    settings: Settings = container.settings()
    # Built before the first request, not by it: the OpenAI client's construction imports the
    # SDK's HTTP stack and loads the CA bundle, which held the event loop 0.1-0.9 s on the
    # first chat request of each worker (LOOP_LAG_LOG_MS caught it, bench/README.md).
    container.assistants.assistant()
    # Off by default (LOOP_LAG_LOG_MS=0): then nothing is started.
    async with loop_lag_logged(settings.loop_lag_log_ms):
        jobs = _scheduled_jobs(container) if run_scheduled_jobs else []
        try:
            yield
        finally:
            stopping_by = asyncio.get_running_loop().time() + max(
                1.0, settings.shutdown_timeout_s - 1.0
            )
            for job in jobs:
                job.cancel()
            for job in jobs:
                with contextlib.suppress(asyncio.CancelledError):
                    await job
            # Requests whose clients left are still in flight: let them finish, then the
            # distillations they started, all within the bound the server gives a worker to stop,
            # before closing the LLM client and the pool. Distillations cut short stay due.
            loop = asyncio.get_running_loop()
            await in_flight.drained(max(0.0, stopping_by - loop.time()))
            await container.usecases.distillations().drain(max(0.0, stopping_by - loop.time()))
            await container.shutdown().run()
            resources = container.shutdown_resources()
            if resources is not None:
                await resources
            # Everything built on those resources goes too, so the app can start again (a test
            # client, or a server, running its lifespan anew) without a closed pool or executor.
            container.reset_singletons()


def create_app(source: Container | Settings, *, run_scheduled_jobs: bool = True) -> Litestar:
    """The salesbot API over ``source``: a container (tests override its adapters first) or
    settings (a container is built from them). ``run_scheduled_jobs`` runs the refresh-token
    cleanup every ``TOKEN_CLEANUP_INTERVAL`` and the distillation sweep every
    ``DISTIL_SWEEP_INTERVAL`` while the app is up."""
    container = build_container(source) if isinstance(source, Settings) else source
    settings: Settings = container.settings()
    in_flight = InFlight()
    return Litestar(
        route_handlers=[
            UsersController,
            SessionsController,
            DevicesController,
            ChatController,
            ChatStreamController,
            AdminController,
            ProductsController,
            HealthController,
            *page_handlers(),
        ],
        dependencies=_dependencies(container),
        exception_handlers=exception_handlers(),
        cors_config=_cors(settings),
        request_max_body_size=settings.max_body_bytes,
        request_class=SalesbotRequest,
        openapi_config=openapi_config(_package_version()),
        plugins=[ClosedStructSchemaPlugin()],
        before_request=refuse_repeated_query_parameters,
        before_send=[add_response_headers],
        middleware=[in_flight.middleware],
        lifespan=[partial(_lifespan, container, in_flight, run_scheduled_jobs)],
        state=State({CONTAINER_KEY: container}),
        # Logging is the process's business (the CLI configures it), not the app's.
        logging_config=None,
        debug=False,
    )
