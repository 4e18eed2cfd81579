"""The ``salesbot`` command: serve the API, run migrations, clean up refresh tokens, grant the
admin role."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import TypeVar

import click
import msgspec

from salesbot_core.errors import InvalidInput, UserNotFound
from salesbot_core.usecases import IntegrityReport
from salesbot_http import database
from salesbot_http.logs import configure_logging
from salesbot_http.settings import Settings, SettingsError, load_environment, settings_from_env

logger = logging.getLogger("salesbot_http.cli")

SETTINGS_ERROR_EXIT = 2
INTEGRITY_VIOLATION_EXIT = 1
T = TypeVar("T")


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
    it and hands its URL to the workers.
    """
    from granian.constants import Interfaces  # noqa: PLC0415 - only `serve` needs the server
    from granian.log import LogLevels  # noqa: PLC0415
    from granian.server import Server  # noqa: PLC0415

    settings = _settings()
    bind_host = host or settings.host
    bind_port = port or settings.port
    worker_count = workers or settings.workers
    with database.configured_database(settings, migrate=True) as url:
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


def _hand_over_to_workers(settings: Settings, url: str) -> None:
    """Workers build their settings from the environment: give them what this process resolved
    (the embedded database's URL and the secrets generated for it)."""
    os.environ["DATABASE_URL"] = url
    os.environ["JWT_SECRET"] = settings.jwt_secret
    os.environ["JWT_REFRESH_SECRET"] = settings.jwt_refresh_secret


@main.group()
def db() -> None:
    """Database migrations (alembic) on the configured database."""


def _on_database(action: Callable[[str], T]) -> T:
    settings = _settings()
    with database.configured_database(settings, migrate=False) as url:
        return action(url)


@db.command()
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Upgrade the schema to REVISION [default: head]."""
    now = _on_database(lambda url: database.upgrade(url, revision))
    click.echo(f"database at revision {now}")


@db.command(context_settings={"ignore_unknown_options": True})
@click.argument("revision")
def downgrade(revision: str) -> None:
    """Downgrade the schema to REVISION: -1 for one step back, base for all."""
    now = _on_database(lambda url: database.downgrade(url, revision))
    click.echo(f"database at revision {now}")


@db.command()
def current() -> None:
    """Show the schema's current revision."""
    revision = _on_database(database.current)
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
    path = _on_database(lambda url: database.revision(url, message, autogenerate))
    click.echo(f"wrote {path}")


@db.command()
def check() -> None:
    """Check the stored invariants and list every violation; exit 1 if there is any.

    Message counts, contiguous sequence numbers, a reply to every customer message, the
    distillation counter, one live refresh token per session. Safe while serving (reads only).
    """
    from salesbot_http.container import build_container  # noqa: PLC0415

    settings = _settings()
    with database.configured_database(settings, migrate=False) as url:
        database.require_migrated(url)
        container = build_container(msgspec.structs.replace(settings, database_url=url))

        async def run() -> IntegrityReport:
            try:
                report: IntegrityReport = await container.usecases.check_integrity()()
            finally:
                await container.shutdown().run()
            return report

        with database.reported_failures():
            report = asyncio.run(run())
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
    from salesbot_http.container import build_container  # noqa: PLC0415

    settings = _settings()
    with database.configured_database(settings, migrate=False) as url:
        database.require_migrated(url)
        container = build_container(msgspec.structs.replace(settings, database_url=url))

        async def run() -> int:
            try:
                deleted: int = await container.usecases.cleanup_tokens()()
            finally:
                await container.shutdown().run()
            return deleted

        with database.reported_failures():
            deleted = asyncio.run(run())
    click.echo(f"deleted {deleted} stale refresh token(s)")


@main.group()
def conversations() -> None:
    """Conversation housekeeping."""


@conversations.command(name="distil-pending")
def distil_pending() -> None:
    """Distil the metadata of every conversation left due (a server stopped between a reply and
    its distillation, or the LLM failed); the server's sweep does the same on a schedule."""
    from salesbot_http.container import build_container  # noqa: PLC0415

    settings = _settings()
    with database.configured_database(settings, migrate=False) as url:
        database.require_migrated(url)
        container = build_container(msgspec.structs.replace(settings, database_url=url))

        async def run() -> tuple[int, int]:
            sweep = container.usecases.distil_pending()
            distilled = due = 0
            try:
                while True:
                    done = await sweep()
                    distilled, due = distilled + done, due + sweep.last_due
                    # Stop when nothing is left, or when some failed: they would come first
                    # again (they stay due for the next run or the server's sweep).
                    if sweep.last_due == 0 or done < sweep.last_due:
                        break
            finally:
                await container.shutdown().run()
            return distilled, due

        with database.reported_failures():
            distilled, due = asyncio.run(run())
    failed = f", {due - distilled} failed and stay due" if due > distilled else ""
    click.echo(f"distilled {distilled} conversation(s){failed}")


@main.group()
def users() -> None:
    """User accounts."""


@users.command(name="grant-admin")
@click.argument("email")
def grant_admin(email: str) -> None:
    """Give the account of EMAIL the admin role (the /admin routes).

    The role travels in the access token: it counts from the user's next login or token refresh.
    """
    from salesbot_http.container import build_container  # noqa: PLC0415

    settings = _settings()
    with database.configured_database(settings, migrate=False) as url:
        database.require_migrated(url)
        container = build_container(msgspec.structs.replace(settings, database_url=url))

        async def run() -> str:
            try:
                user = await container.usecases.grant_admin()(email)
            finally:
                await container.shutdown().run()
            return str(user.email)

        with database.reported_failures():
            try:
                granted = asyncio.run(run())
            except InvalidInput:
                raise click.ClickException(f"{email!r} is not an email address") from None
            except UserNotFound:
                raise click.ClickException(f"no user with the email {email!r}") from None
    click.echo(f"{granted} is now an admin; the role counts from their next login or token refresh")


if __name__ == "__main__":  # python -m salesbot_http.cli
    main()
