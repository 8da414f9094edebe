"""Connections: which database, with which timeouts, and what a failure means.

``resolve_url`` picks the configured URL or starts the embedded server.
``connect`` opens a psycopg connection with ``application_name`` and timeouts.
``translate`` turns psycopg errors into the Spectral error tree; it is the one
place that knows psycopg's exception classes.
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from spectral_deploy.config import Config, DatabaseConfig, production_providers
from spectral_deploy.db.credentials import Credentials
from spectral_deploy.db.embedded import SUPERUSER, EmbeddedServer
from spectral_deploy.db.pooler import is_pooled
from spectral_deploy.db.roles import (
    Roles,
    adopt_schema,
    apply_app_defaults,
    apply_grants,
    ensure_roles,
    set_password,
)
from spectral_deploy.errors import (
    ConfigError,
    DatabaseError,
    DatabaseUnreachable,
    LedgerIsAppendOnly,
    SchemaNotInstalled,
    SpectralError,
)

__all__ = [
    "APPLICATION_NAME",
    "LEDGER_APPEND_ONLY_SQLSTATE",
    "connect",
    "describe_target",
    "ensure_database",
    "require_database_url",
    "resolve_url",
    "translate",
]

APPLICATION_NAME = "spectral-deploy"
# Raised by the ledger's trigger; a custom SQLSTATE so we never match on message text.
LEDGER_APPEND_ONLY_SQLSTATE = "SD001"


def resolve_url(
    config: Config, *, start: bool = True, create: bool = True, upgrade_auth: bool = False
) -> str:
    """The configured database URL, or the embedded server's (started if needed): the
    owner role's, naming its password file.

    The embedded server is the local sandbox's. With a production provider configured, a
    missing or empty ``DATABASE_URL`` (an unset secret in a workflow is an empty string) is
    a configuration error before anything starts: otherwise a deploy would run against a
    throwaway database on the runner and take itself for the first deploy.

    With ``create=False`` (read-only commands) nothing is created: a data directory that
    holds no server, or a server without Spectral's database, is an error (exit 3) naming
    the command that creates one. An initialised server that is stopped is still started.
    ``upgrade_auth`` (``db start``) switches a server that trusts connections to passwords.

    The superuser is used only when the owner role cannot log in to its database yet (the
    roles, their passwords or the database are missing): to create or repair them.
    """
    if config.database.url and config.database.url.strip():
        return config.database.url
    require_database_url(config)
    server = EmbeddedServer(config.embedded_data_dir)
    status = (
        server.ensure_started(create=create, upgrade_auth=upgrade_auth)
        if start
        else server.status()
    )
    roles = Roles(owner=config.database.owner_role, app=config.database.app_role)
    database_url = status.url(config.embedded.database, user=roles.owner)
    superuser_url = status.url("postgres", user=SUPERUSER)
    if database_url is None or superuser_url is None:
        raise DatabaseUnreachable(
            f"the embedded PostgreSQL server in {config.embedded_data_dir} is not running",
            hint="spectral-deploy db start",
        )
    if not _owner_ready(database_url, roles, server.credentials, config.database):
        ensure_database(
            superuser_url,
            config.embedded.database,
            create=create,
            roles=roles,
            schema=config.database.schema,
            credentials=server.credentials,
        )
    return database_url


def require_database_url(config: Config) -> None:
    """ConfigError (exit 2) when production providers are configured but no database URL is."""
    production = production_providers(config)
    if (config.database.url and config.database.url.strip()) or not production:
        return
    which = ", ".join(f"{key} = {value!r}" for key, value in production.items())
    raise ConfigError(
        f"is empty or unset, but {config.source} configures production providers ({which}); "
        "the embedded PostgreSQL is only for the local sandbox, so nothing was started",
        key="DATABASE_URL",
        source="environment",
        hint="export DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/DB  (in GitHub Actions: "
        "set the DATABASE_URL secret; docs/production.md)",
    )


def _owner_ready(
    url: str, roles: Roles, credentials: Credentials, settings: DatabaseConfig
) -> bool:
    """The owner role logs in to Spectral's database, owns it, and the app role can log in
    (both with a stored password): nothing for the superuser to do."""
    if not (credentials.has(roles.owner) and credentials.has(roles.app)):
        return False
    try:
        with connect(url, settings=settings, autocommit=True) as conn:
            row = conn.execute(
                "SELECT pg_get_userbyid(d.datdba) = current_user AND EXISTS ("
                "SELECT 1 FROM pg_roles WHERE rolname = %s AND rolcanlogin) "
                "FROM pg_database d WHERE d.datname = current_database()",
                (roles.app,),
            ).fetchone()
    except (DatabaseUnreachable, psycopg.Error):
        return False
    return bool(row and row[0])


def ensure_database(
    maintenance_url: str,
    name: str,
    *,
    create: bool = True,
    roles: Roles | None = None,
    schema: str = "spectral",
    credentials: Credentials | None = None,
) -> None:
    """Create database ``name`` on the (embedded) server behind ``maintenance_url`` if it is
    missing (with ``create=False``, a missing one is ``SchemaNotInstalled``), with the owner
    and app roles, the database owned by the owner role (``roles``, the default names).

    With ``credentials`` (the embedded server) both roles log in with their stored
    passwords (made on first use); ``maintenance_url`` is the superuser's."""
    roles = roles or Roles()
    with connect(maintenance_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if (
            (row is None and create)
            or (row is not None and row[0] != roles.owner)
            or (row is not None and credentials is not None)
        ):
            ensure_roles(conn, roles, login=True)
        if credentials is not None and (row is not None or create):
            for role in (roles.owner, roles.app):
                password = credentials.password(role, create=True)
                assert password is not None
                set_password(conn, role, password)
        if row is not None and row[0] != roles.owner:
            _adopt_database(maintenance_url, name, roles, schema)
        exists = row
        if exists is None and not create:
            raise SchemaNotInstalled(
                f"the embedded PostgreSQL server has no database {name!r}: "
                "Spectral's schema was never installed here",
                hint="spectral-deploy db init",
            )
        if exists is None:
            # a concurrent command may create it first
            with contextlib.suppress(pg_errors.DuplicateDatabase):
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(name), sql.Identifier(roles.owner)
                    )
                )
            with connect(make_conninfo(maintenance_url, dbname=name), autocommit=True) as db:
                apply_app_defaults(db, roles)


def _adopt_database(maintenance_url: str, name: str, roles: Roles, schema: str) -> None:
    """A database made before the roles existed: hand it and its schemas to the owner role,
    and grant the app role its share (as the superuser)."""
    with connect(make_conninfo(maintenance_url, dbname=name), autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(name), sql.Identifier(roles.owner)
            )
        )
        schemas = conn.execute(
            r"SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\_%%' "
            "AND nspname <> 'information_schema'"
        ).fetchall()
        for (found,) in schemas:
            adopt_schema(conn, str(found), roles)
        if any(found == schema for (found,) in schemas):
            apply_grants(conn, schema, roles, app_tables=True)
        else:
            apply_app_defaults(conn, roles)


def describe_target(url: str) -> str:
    """``host:port/dbname`` of a URL, without user or password."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparseable database URL>"
    host = str(params.get("host") or "localhost")
    port = str(params.get("port") or "5432")
    dbname = str(params.get("dbname") or params.get("user") or "")
    return f"{host}:{port}/{dbname}"


def connect(
    url: str,
    *,
    settings: DatabaseConfig | None = None,
    application_name: str = APPLICATION_NAME,
    autocommit: bool = False,
) -> psycopg.Connection[tuple[object, ...]]:
    """Open a connection with Spectral's timeouts; unreachable servers raise one clear error.

    Through a pooler (``db/pooler.py``) prepared statements are off and the timeouts are set
    with ``SET`` once connected: poolers refuse or drop the ``options`` startup parameter.
    """
    settings = settings or DatabaseConfig()
    timeouts = {
        "statement_timeout": settings.statement_timeout_seconds * 1000,
        "lock_timeout": settings.lock_timeout_seconds * 1000,
    }
    pooled = is_pooled(url)
    extra: dict[str, Any] = (
        {"prepare_threshold": None}
        if pooled
        else {"options": " ".join(f"-c {name}={value}" for name, value in timeouts.items())}
    )
    try:
        conn = psycopg.connect(
            url,
            autocommit=autocommit,
            connect_timeout=settings.connect_timeout_seconds,
            application_name=application_name,
            **extra,
        )
        if pooled:
            with conn.transaction():
                for name, value in timeouts.items():
                    conn.execute(
                        "SELECT set_config(%s, %s, false)", (name, str(value)), prepare=False
                    )
        return conn
    except psycopg.OperationalError as exc:
        reason = _first_line(str(exc))
        raise DatabaseUnreachable(
            f"cannot reach PostgreSQL at {describe_target(url)}: {reason}",
            hint="check DATABASE_URL, or unset it to use the embedded server "
            "(spectral-deploy db start)",
        ) from exc
    except psycopg.ProgrammingError as exc:
        raise DatabaseUnreachable(
            f"the database URL is not valid: {_first_line(str(exc))}",
            hint="DATABASE_URL must look like postgresql://user@host:5432/dbname",
        ) from exc


def translate(exc: psycopg.Error) -> SpectralError:
    """Map a psycopg error to the Spectral error tree."""
    if exc.sqlstate == LEDGER_APPEND_ONLY_SQLSTATE:
        return LedgerIsAppendOnly(
            "the deploy ledger is append-only: rows cannot be updated or deleted"
        )
    if isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None:
        return DatabaseUnreachable(f"lost the database connection: {_first_line(str(exc))}")
    state = f" [{exc.sqlstate}]" if exc.sqlstate else ""
    return DatabaseError(f"database error{state}: {_first_line(str(exc))}")


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "unknown error"
