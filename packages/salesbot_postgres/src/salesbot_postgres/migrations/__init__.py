"""salesbot's schema migrations: alembic, configured in code, with its scripts shipped in this
package (``env.py`` and ``versions/`` beside this file), so no ``alembic.ini`` is needed.

What ``salesbot db upgrade|downgrade|current|history|revision`` calls. Synchronous (psycopg 3 in
blocking mode): run it before the event loop serves, or in a worker thread.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool

from salesbot_postgres.config import sqlalchemy_url
from salesbot_postgres.errors import unavailable_on_failure

SCRIPTS = Path(__file__).resolve().parent
VERSIONS = SCRIPTS / "versions"

__all__ = ["current", "downgrade", "head", "history", "revision", "upgrade"]


def _config(url: str | None = None, version_path: Path | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    # Revision ids are sequence numbers: versions/r0001_initial_schema.py, r0002_...
    config.set_main_option("file_template", "r%%(rev)s_%%(slug)s")
    locations = [VERSIONS] if version_path is None else [VERSIONS, version_path]
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(map(str, locations)))
    if url is not None:
        config.attributes["salesbot.url"] = sqlalchemy_url(url)
    ruff = shutil.which("ruff")
    if ruff is not None:
        # Generated scripts come out lint-clean and formatted, as the project's CI wants them.
        config.set_section_option("post_write_hooks", "hooks", "ruff_fix, ruff_format")
        for name, options in (
            ("ruff_fix", "check --fix --quiet REVISION_SCRIPT_FILENAME"),
            ("ruff_format", "format --quiet REVISION_SCRIPT_FILENAME"),
        ):
            config.set_section_option("post_write_hooks", f"{name}.type", "exec")
            config.set_section_option("post_write_hooks", f"{name}.executable", ruff)
            config.set_section_option("post_write_hooks", f"{name}.options", options)
    return config


# alembic keeps its running environment in module globals (alembic.context, alembic.op): one
# command at a time per process. Across processes env.py's advisory lock takes over.
_ONE_AT_A_TIME = threading.Lock()


@contextmanager
def _reachable() -> Iterator[None]:
    with _ONE_AT_A_TIME, unavailable_on_failure():
        yield


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` (default: the newest)."""
    with _reachable():
        command.upgrade(_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate down to ``revision`` (``base`` empties the schema, ``-1`` undoes the last one)."""
    with _reachable():
        command.downgrade(_config(url), revision)


def current(url: str) -> str | None:
    """The revision the database at ``url`` is at; None if it was never migrated."""
    engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    try:
        with _reachable(), engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head() -> str:
    """The newest revision the shipped scripts know."""
    heads = ScriptDirectory.from_config(_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migration scripts have {len(heads)} heads; expected one")
    return heads[0]


def history() -> list[str]:
    """One human line per revision, newest first: ``0001 -> 0002 (head), add ...``."""
    scripts = ScriptDirectory.from_config(_config())
    return [
        script.cmd_format(verbose=False, include_doc=True, include_parents=True)
        for script in scripts.walk_revisions()
    ]


def revision(
    url: str, message: str, autogenerate: bool = True, *, version_path: Path | None = None
) -> Path:
    """Write a new migration script and return its path. With ``autogenerate`` it holds what the
    models (``salesbot_postgres.schema``) add to the database at ``url``, which must be at head.
    Scripts go to the package's ``versions/`` (in a source checkout) unless ``version_path``."""
    config = _config(url, version_path)
    scripts = ScriptDirectory.from_config(config)
    numbers = [int(rev) for rev in (s.revision for s in scripts.walk_revisions()) if rev.isdigit()]
    rev_id = f"{max(numbers, default=0) + 1:04d}"
    with _reachable():
        written = command.revision(
            config,
            message=message,
            autogenerate=autogenerate,
            rev_id=rev_id,
            version_path=str(version_path) if version_path is not None else None,
        )
    scripts_written = written if isinstance(written, list) else [written]
    paths = [Path(s.path) for s in scripts_written if s is not None]
    if len(paths) != 1:
        raise RuntimeError("alembic wrote no migration script")
    return paths[0]
