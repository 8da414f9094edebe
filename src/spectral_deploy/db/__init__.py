"""Database access: which server, Spectral's own schema, and connections with timeouts.

``open_database(config)`` is the entry point for commands: it resolves the URL
(starting the embedded server when no URL is configured), checks Spectral's
schema (installing it on the embedded server, which is ours), and returns a
``Database`` that opens connections.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from spectral_deploy.config import Config, DatabaseConfig
from spectral_deploy.db.connect import APPLICATION_NAME, connect, describe_target, resolve_url
from spectral_deploy.db.pooler import refuse_transaction_pooler
from spectral_deploy.db.schema import install, require_schema
from spectral_deploy.errors import SchemaNotInstalled

__all__ = ["Database", "open_database"]


@dataclass(frozen=True)
class Database:
    """A reachable database holding Spectral's schema."""

    url: str = field(repr=False)
    schema: str
    settings: DatabaseConfig
    embedded: bool

    @property
    def target(self) -> str:
        """``host:port/dbname`` for messages (no credentials)."""
        return describe_target(self.url)

    def connect(
        self, *, autocommit: bool = False, application_name: str = APPLICATION_NAME
    ) -> psycopg.Connection[tuple[object, ...]]:
        """A new connection with Spectral's timeouts."""
        return connect(
            self.url,
            settings=self.settings,
            autocommit=autocommit,
            application_name=application_name,
        )


def open_database(config: Config, *, check_schema: bool = True, session: bool = True) -> Database:
    """Resolve, reach and (on the embedded server) install the schema.

    ``session`` (every command of this tool) refuses a transaction pooler, which would
    break LISTEN/NOTIFY and the session advisory locks (``db/pooler.py``).
    """
    embedded = not (config.database.url and config.database.url.strip())
    if session and not embedded and config.database.url:
        refuse_transaction_pooler(config.database.url)
    database = Database(
        url=resolve_url(config),
        schema=config.database.schema,
        settings=config.database,
        embedded=embedded,
    )
    if check_schema:
        with database.connect() as conn:
            try:
                require_schema(conn, database.schema)
            except SchemaNotInstalled:
                if not embedded:
                    raise
                install(conn, database.schema)
    return database
