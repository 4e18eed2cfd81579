"""salesbot's PostgreSQL adapter: the schema, the repositories and unit of work behind the core's
persistence port, alembic migrations (``salesbot_postgres.migrations``) and the embedded server
used when no database is configured. Importing it starts and connects to nothing."""

from salesbot_postgres.config import DatabaseConfig, redacted, sqlalchemy_url
from salesbot_postgres.database import Database
from salesbot_postgres.embedded import EmbeddedPostgres, shared_url
from salesbot_postgres.errors import (
    DataDirectoryInUse,
    DataDirectoryNotShared,
    EmbeddedPostgresError,
    EmbeddedServerUnreachable,
)
from salesbot_postgres.unit_of_work import PostgresUnitOfWork

__all__ = [
    "DataDirectoryInUse",
    "DataDirectoryNotShared",
    "Database",
    "DatabaseConfig",
    "EmbeddedPostgres",
    "EmbeddedPostgresError",
    "EmbeddedServerUnreachable",
    "PostgresUnitOfWork",
    "redacted",
    "shared_url",
    "sqlalchemy_url",
]
