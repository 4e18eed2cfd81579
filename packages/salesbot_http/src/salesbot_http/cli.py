"""The ``salesbot`` command: serve the API, run migrations, clean up refresh tokens, grant the
admin role."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from uuid import UUID

import click
import msgspec

from salesbot_core.catalogue import CatalogueFormat, read_products, write_products
from salesbot_core.domain import Product
from salesbot_core.errors import InvalidCatalogue, InvalidInput, UserNotFound
from salesbot_core.ports.catalogue import ImportCounts
from salesbot_core.usecases import ExportCatalogue, IntegrityReport
from salesbot_http import database
from salesbot_http.logs import configure_logging
from salesbot_http.settings import Settings, SettingsError, load_environment, settings_from_env

logger = logging.getLogger("salesbot_http.cli")

SETTINGS_ERROR_EXIT = 2
INTEGRITY_VIOLATION_EXIT = 1
T = TypeVar("T")

if TYPE_CHECKING:
    from salesbot_http.container import Container


def _settings() -> Settings:
    """Settings from the environment and ``.env``; a bad one exits 2 with a one-line message."""
    try:
        settings = settings_from_env(load_environment())
    except SettingsError as exc:
        click.echo(f"salesbot: configuration error: {exc}", err=True)
        raise SystemExit(SETTINGS_ERROR_EXIT) from None
    configure_logging(settings.log_level)
    return settings


def describe_assistant(settings: Settings) -> str:
    if settings.uses_offline_assistant:
        return "offline sales assistant (no OPENAI_API_KEY set)"
    base_url = settings.openai_base_url or "https://api.openai.com/v1"
    return f"OpenAI-compatible assistant, model {settings.openai_model} at {base_url}"


def describe_database(settings: Settings, url: str) -> str:
    if settings.uses_embedded_database:
        return f"embedded PostgreSQL with data in {settings.data_dir} ({database.redact(url)})"
    return f"PostgreSQL at {database.redact(url)}"


@click.group(name="salesbot", context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="salesbot-http", prog_name="salesbot")
def main() -> None:
    """salesbot: AI sales conversations over HTTP.

    Configuration comes from the environment and a .env file in the working directory
    (DATABASE_URL, JWT_SECRET, OPENAI_API_KEY, CORS_ORIGIN, ...).
    """


@main.command()
@click.option("--host", default=None, help="Interface to bind [default: 127.0.0.1, or HOST].")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=None, help="[default: 3000, or PORT]."
)
@click.option(
    "--workers", type=click.IntRange(min=1), default=None, help="Worker processes [default: 1]."
)
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the API on granian.

    Without DATABASE_URL an embedded PostgreSQL is started (data under .salesbot/ or
    SALESBOT_DATA_DIR), migrated, and stopped on exit; with several workers this process owns
    it and hands its URL to the workers. While it serves, the other commands on the same data
    directory use it too (except db upgrade, downgrade and revision, which refuse).
    """
    from granian.constants import Interfaces  # noqa: PLC0415 - only `serve` needs the server
    from granian.log import LogLevels  # noqa: PLC0415
    from granian.server import Server  # noqa: PLC0415

    settings = _settings()
    bind_host = host or settings.host
    bind_port = port or settings.port
    worker_count = workers or settings.workers
    # The embedded database gets the demo catalogue before other commands may use it, so a
    # shop's own import never races the demo's rows.
    with database.configured_database(
        settings,
        database.Purpose.SERVE,
        before_sharing=lambda url: _import_demo_catalogue_if_empty(settings, url),
    ) as url:
        logger.info("database: %s", describe_database(settings, url))
        logger.info("assistant: %s", describe_assistant(settings))
        _hand_over_to_workers(settings, url)
        server = Server(
            target="salesbot_http.asgi:app",
            factory=True,
            interface=Interfaces.ASGI,
            address=bind_host,
            port=bind_port,
            workers=worker_count,
            log_level=LogLevels(settings.log_level.lower()),
            # A worker that does not stop within the bound is killed, so `serve` always exits
            # (granian workers can miss a stop signal when it races their event loop).
            workers_kill_timeout=settings.shutdown_timeout_s,
        )
        logger.info("serving on http://%s:%d with %d worker(s)", bind_host, bind_port, worker_count)
        server.serve()


def _import_demo_catalogue_if_empty(settings: Settings, url: str) -> None:
    """The embedded database is a try-out: give it the demo catalogue, unless the shop has
    loaded one (an empty catalogue only: nothing of the shop's is ever touched)."""
    from salesbot_http.container import build_container  # noqa: PLC0415

    container = build_container(msgspec.structs.replace(settings, database_url=url))

    async def run() -> ImportCounts | None:
        try:
            if not await container.persistence.catalogue().is_empty():
                return None
            counts: ImportCounts = await container.usecases.import_catalogue()(
                read_products(demo_catalogue_lines(), CatalogueFormat.CSV)
            )
        finally:
            await container.shutdown().run()
        return counts

    counts = asyncio.run(run())
    if counts is None:
        logger.info("catalogue: the shop's own (not empty), the demo catalogue not imported")
    else:
        logger.info(
            "catalogue: was empty, imported the demo catalogue (%d products); load your own "
            "with `uv run salesbot catalogue import PATH --replace` (this server may keep running)",
            counts.created,
        )


def _hand_over_to_workers(settings: Settings, url: str) -> None:
    """Workers build their settings from the environment: give them what this process resolved
    (the embedded database's URL and the secrets generated for it)."""
    os.environ["DATABASE_URL"] = url
    os.environ["JWT_SECRET"] = settings.jwt_secret
    os.environ["JWT_REFRESH_SECRET"] = settings.jwt_refresh_secret


def _on_container(job: Callable[[Container], Awaitable[T]]) -> T:
    """Run ``job`` on a container over the configured, migrated database (the embedded one a
    running salesbot serves, if it does), its adapters shut down afterwards; database failures
    reported in one line."""
    from salesbot_http.container import build_container  # noqa: PLC0415

    settings = _settings()
    with database.configured_database(settings, database.Purpose.DATA) as url:
        database.require_migrated(url)
        container = build_container(msgspec.structs.replace(settings, database_url=url))

        async def run() -> T:
            try:
                return await job(container)
            finally:
                await container.shutdown().run()

        with database.reported_failures():
            return asyncio.run(run())


@main.group()
def db() -> None:
    """Database migrations (alembic) on the configured database."""


def _on_database(action: Callable[[str], T], purpose: database.Purpose) -> T:
    """Run ``action`` on the configured database's URL, reached as ``purpose`` says (the schema
    commands are refused while a salesbot serves the embedded database; the others use it)."""
    settings = _settings()
    with database.configured_database(settings, purpose) as url:
        return action(url)


@db.command()
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Upgrade the schema to REVISION [default: head]."""
    now = _on_database(lambda url: database.upgrade(url, revision), database.Purpose.SCHEMA)
    click.echo(f"database at revision {now}")


@db.command(context_settings={"ignore_unknown_options": True})
@click.argument("revision")
def downgrade(revision: str) -> None:
    """Downgrade the schema to REVISION: -1 for one step back, base for all."""
    now = _on_database(lambda url: database.downgrade(url, revision), database.Purpose.SCHEMA)
    click.echo(f"database at revision {now}")


@db.command()
def current() -> None:
    """Show the schema's current revision."""
    revision = _on_database(database.current, database.Purpose.DATA)
    click.echo(revision or "base (never migrated)")


@db.command()
def history() -> None:
    """List the migrations, newest first."""
    for line in database.history():
        click.echo(line)


@db.command()
@click.option("-m", "--message", required=True, help="What the migration does.")
@click.option(
    "--autogenerate/--empty",
    default=True,
    help="Compare the tables with the database [default] or write an empty migration.",
)
def revision(message: str, autogenerate: bool) -> None:
    """Create a new migration (the database must be at head to autogenerate)."""
    path = _on_database(
        lambda url: database.revision(url, message, autogenerate), database.Purpose.SCHEMA
    )
    click.echo(f"wrote {path}")


@db.command()
def check() -> None:
    """Check the stored invariants and list every violation; exit 1 if there is any.

    Message counts, contiguous sequence numbers, a reply to every customer message, the
    distillation counter, one live refresh token per session. Safe while serving (reads only).
    """

    async def check_integrity(container: Container) -> IntegrityReport:
        report: IntegrityReport = await container.usecases.check_integrity()()
        return report

    report = _on_container(check_integrity)
    for violation in report.violations:
        click.echo(f"{violation.invariant}: {violation.subject}: {violation.detail}")
    for invariant in report.skipped:
        click.echo(f"skipped {invariant}: nothing stored to check it against")
    if not report.clean:
        click.echo(
            f"{len(report.violations)} violation(s) of {len(report.checked)} invariant(s)",
            err=True,
        )
        raise SystemExit(INTEGRITY_VIOLATION_EXIT)
    click.echo(f"no violations ({len(report.checked)} invariant(s) checked)")


@main.group()
def tokens() -> None:
    """Refresh-token housekeeping."""


@tokens.command()
def cleanup() -> None:
    """Delete expired refresh tokens and revoked ones older than 30 days (for cron)."""

    async def cleanup_tokens(container: Container) -> int:
        deleted: int = await container.usecases.cleanup_tokens()()
        return deleted

    deleted = _on_container(cleanup_tokens)
    click.echo(f"deleted {deleted} stale refresh token(s)")


@main.group()
def conversations() -> None:
    """Conversation housekeeping."""


@conversations.command(name="distil-pending")
def distil_pending() -> None:
    """Distil the metadata of every conversation left due (a server stopped between a reply and
    its distillation, or the LLM failed); the server's sweep does the same on a schedule."""

    async def sweep_all(container: Container) -> tuple[int, int]:
        sweep = container.usecases.distil_pending()
        distilled = due = 0
        while True:
            done = await sweep()
            distilled, due = distilled + done, due + sweep.last_due
            # Stop when nothing is left, or when some failed: they would come first again
            # (they stay due for the next run or the server's sweep).
            if sweep.last_due == 0 or done < sweep.last_due:
                return distilled, due

    distilled, due = _on_container(sweep_all)
    failed = f", {due - distilled} failed and stay due" if due > distilled else ""
    click.echo(f"distilled {distilled} conversation(s){failed}")


@main.group()
def webhooks() -> None:
    """Webhook deliveries."""


@webhooks.command(name="retry")
@click.argument("delivery_id", required=False)
@click.option("--dead", is_flag=True, help="Re-queue every dead delivery.")
def retry_webhooks(delivery_id: str | None, dead: bool) -> None:
    """Queue the delivery DELIVERY_ID (the X-Salesbot-Delivery id), or with --dead every dead
    one, again: attempts start from 0 with a fresh retry window; the server's workers send it."""

    if (delivery_id is None) == (not dead):
        raise click.UsageError("give a delivery id or --dead (not both)")
    target: UUID | None = None
    if delivery_id is not None:
        try:
            target = UUID(delivery_id)
        except ValueError:
            raise click.UsageError(f"{delivery_id!r} is not a delivery id (a UUID)") from None

    async def requeue(container: Container) -> int:
        retry = container.usecases.retry_webhooks()
        if target is not None:
            return 1 if await retry.one(target) else 0
        return int(await retry.dead())

    count = _on_container(requeue)
    if target is not None and count == 0:
        raise click.ClickException(f"no delivery {target} that is not already pending")
    click.echo(f"re-queued {count} webhook deliver{'y' if count == 1 else 'ies'}")


@main.group()
def users() -> None:
    """User accounts."""


@users.command(name="grant-admin")
@click.argument("email")
def grant_admin(email: str) -> None:
    """Give the account of EMAIL the admin role (the /admin routes).

    The role travels in the access token: it counts from the user's next login or token refresh.
    """

    async def grant(container: Container) -> str:
        user = await container.usecases.grant_admin()(email)
        return str(user.email)

    try:
        granted = _on_container(grant)
    except InvalidInput:
        raise click.ClickException(f"{email!r} is not an email address") from None
    except UserNotFound:
        raise click.ClickException(f"no user with the email {email!r}") from None
    click.echo(f"{granted} is now an admin; the role counts from their next login or token refresh")


@main.group()
def catalogue() -> None:
    """The shop's catalogue: import a file of products, export it."""


DEMO_CATALOGUE = "demo_catalogue.csv"
CATALOGUE_ERROR_EXIT = 2
EXPORT_PART = 1000  # products written to stdout at a time


def demo_catalogue_lines() -> Iterator[bytes]:
    """The demo catalogue shipped with salesbot (``salesbot_http/data``), line by line."""
    with resources.files("salesbot_http").joinpath("data", DEMO_CATALOGUE).open("rb") as file:
        yield from file


def _file_lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        yield from file


def describe_import(counts: ImportCounts, *, replace: bool) -> str:
    removed = f", {counts.removed} removed" if replace else ""
    return f"{counts.created} created, {counts.updated} updated{removed}"


@catalogue.command(name="import")
@click.argument(
    "path", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--replace", is_flag=True, help="Also remove the products not in the file.")
@click.option("--demo", is_flag=True, help="Import the demo catalogue shipped with salesbot.")
def import_catalogue(path: Path | None, replace: bool, demo: bool) -> None:
    """Import the products of PATH (CSV with a header row, or .jsonl), upserted by sku.

    Columns: sku,name,brand,category,description,price,currency,stock,url (url optional; any
    other column becomes an attribute). A file breaking a rule imports nothing: the line and
    the problem are printed and the exit status is 2.
    """
    from salesbot_http.container import build_container  # noqa: PLC0415

    if (path is None) == (not demo):
        raise click.UsageError("give either PATH or --demo")
    if path is not None:
        lines, file_format, name = _file_lines(path), CatalogueFormat.of_path(path.name), str(path)
    else:
        lines, file_format, name = demo_catalogue_lines(), CatalogueFormat.CSV, DEMO_CATALOGUE
    settings = _settings()
    with database.configured_database(settings, database.Purpose.DATA) as url:
        database.require_migrated(url)
        container = build_container(msgspec.structs.replace(settings, database_url=url))

        async def run() -> ImportCounts:
            try:
                counts: ImportCounts = await container.usecases.import_catalogue()(
                    read_products(lines, file_format), replace=replace
                )
            finally:
                await container.shutdown().run()
            return counts

        with database.reported_failures():
            try:
                counts = asyncio.run(run())
            except InvalidCatalogue as error:
                click.echo(f"salesbot: {name}: {error.message}; nothing was imported", err=True)
                raise SystemExit(CATALOGUE_ERROR_EXIT) from None
    click.echo(describe_import(counts, replace=replace))


@catalogue.command(name="export")
@click.option(
    "--format",
    "file_format",
    type=click.Choice([f.value for f in CatalogueFormat]),
    default=CatalogueFormat.CSV.value,
    show_default=True,
    help="CSV with a header row, or JSON Lines (what `catalogue import` reads).",
)
def export_catalogue(file_format: str) -> None:
    """Write every product to standard output, by sku, in the import's format."""
    from salesbot_http.container import build_container  # noqa: PLC0415

    settings = _settings()
    chosen = CatalogueFormat(file_format)
    with database.configured_database(settings, database.Purpose.DATA) as url:
        database.require_migrated(url)
        container = build_container(msgspec.structs.replace(settings, database_url=url))

        async def run() -> None:
            out = sys.stdout
            export: ExportCatalogue = container.usecases.export_catalogue()
            part: list[Product] = []
            header = True
            try:
                async for product in export():
                    part.append(product)
                    if len(part) == EXPORT_PART:
                        out.writelines(write_products(part, chosen, header=header))
                        part, header = [], False
                out.writelines(write_products(part, chosen, header=header))
                out.flush()
            finally:
                await container.shutdown().run()

        with database.reported_failures():
            asyncio.run(run())


if __name__ == "__main__":  # python -m salesbot_http.cli
    main()
