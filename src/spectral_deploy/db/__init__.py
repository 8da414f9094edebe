"""Database access: which server, Spectral's own schema, and connections with timeouts.

``open_database(config)`` is the entry point for commands: it resolves the URL
(starting the embedded server when no URL is configured), checks Spectral's
schema (installing it on the embedded server, which is ours), and returns a
``Database`` that opens connections.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from spectral_deploy.config import Config, DatabaseConfig
from spectral_deploy.db.connect import APPLICATION_NAME, connect, describe_target, resolve_url
from spectral_deploy.db.credentials import url_for_role
from spectral_deploy.db.pooler import refuse_transaction_pooler
from spectral_deploy.db.roles import Roles
from spectral_deploy.db.schema import install, require_schema
from spectral_deploy.errors import SchemaNotInstalled

__all__ = ["Database", "open_database", "roles_of"]


@dataclass(frozen=True)
class Database:
    """A reachable database holding Spectral's schema."""

    url: str = field(repr=False)
    schema: str
    settings: DatabaseConfig
    embedded: bool

    @property
    def roles(self) -> Roles:
        """The owner and app role names."""
        return Roles(owner=self.settings.owner_role, app=self.settings.app_role)

    @property
    def app_url(self) -> str:
        """The URL handed to apps: the app role's, never Spectral's own.

        ``database.app_url`` when set (external databases: the app role's login and
        password, from the environment); on the embedded server, the app role with its own
        password file (which holds no other role's password); otherwise Spectral's URL with
        the app role as the user and no password (an external database where the app's
        password comes from its own environment, e.g. PGPASSWORD).
        """
        if self.settings.app_url:
            return self.settings.app_url
        if self.embedded:
            return url_for_role(self.url, self.settings.app_role)
        params = {k: v for k, v in conninfo_to_dict(self.url).items() if v is not None}
        params.pop("password", None)
        params["user"] = self.settings.app_role
        return make_conninfo(**{k: str(v) for k, v in params.items()})

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


def open_database(
    config: Config, *, check_schema: bool = True, create: bool = False, session: bool = True
) -> Database:
    """Resolve and reach the database, and check Spectral's schema.

    ``create=True`` (commands that write: deploy, allocate, migrate apply, db start ...)
    may initialise and start the embedded server and install the schema there. Without
    it nothing is created: a missing server, database or schema (a mistyped data
    directory or ``database.schema``) is an error, exit 3, naming the command to run.
    ``session`` (every command of this tool) refuses a transaction pooler, which would
    break LISTEN/NOTIFY and the session advisory locks (``db/pooler.py``).
    """
    embedded = not (config.database.url and config.database.url.strip())
    if session and not embedded and config.database.url:
        refuse_transaction_pooler(config.database.url)
    database = Database(
        url=resolve_url(config, create=create),
        schema=config.database.schema,
        settings=config.database,
        embedded=embedded,
    )
    if check_schema:
        with database.connect() as conn:
            try:
                require_schema(conn, database.schema)
            except SchemaNotInstalled:
                if not (embedded and create):
                    raise
                install(conn, database.schema, database.roles, app_tables=True)
    return database


def roles_of(config: Config) -> Roles:
    """The configured owner and app roles."""
    return Roles(owner=config.database.owner_role, app=config.database.app_role)
