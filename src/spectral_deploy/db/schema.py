"""Spectral's own schema: installed and upgraded by forward-only migrations.

The migrations are ``db/migrations/NNNN_name.sql``, applied in order, each in
one transaction with its bookkeeping row, serialised by an advisory lock and
checksummed (an installed migration whose text changed is an error).

The same N-1 rule the product enforces on its users holds here: migrations only
add. So a tool older than the schema keeps working (``require_schema`` accepts a
newer schema), and a tool newer than the schema asks for ``db init``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

import psycopg
from psycopg import sql

from spectral_deploy._version import __version__
from spectral_deploy.db.access import execute, statements, translated
from spectral_deploy.db.roles import Roles, adopt_schema, apply_grants, ensure_roles
from spectral_deploy.errors import DatabaseError, SchemaNotInstalled

__all__ = [
    "AppliedMigration",
    "SchemaMigration",
    "SchemaReport",
    "bundled_migrations",
    "install",
    "installed_migrations",
    "require_schema",
    "required_version",
]

_FILENAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
Connection = psycopg.Connection[tuple[object, ...]]


@dataclass(frozen=True)
class SchemaMigration:
    """One migration shipped with this version of the tool."""

    version: int
    name: str
    text: str

    @property
    def checksum(self) -> str:
        """sha256 of the file's text."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


SCHEMA = statements("spectral_deploy.db", "schema.sql")


@dataclass(frozen=True)
class AppliedMigration:
    """One migration recorded as applied in the database."""

    version: int
    name: str
    checksum: str
    tool_version: str
    applied_at: datetime


@dataclass(frozen=True)
class SchemaReport:
    """What ``install`` found and did."""

    schema: str
    applied_now: tuple[int, ...]
    installed_version: int
    required_version: int


def bundled_migrations() -> list[SchemaMigration]:
    """The migrations shipped in the package, in version order."""
    folder = resources.files("spectral_deploy.db").joinpath("migrations")
    found: list[SchemaMigration] = []
    for entry in folder.iterdir():
        match = _FILENAME.match(entry.name)
        if match is None:
            continue
        found.append(
            SchemaMigration(
                version=int(match.group(1)),
                name=match.group(2),
                text=entry.read_text(encoding="utf-8"),
            )
        )
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"spectral's own migrations are not numbered 1..n: {versions}")
    return found


def required_version() -> int:
    """The schema version this tool needs (its newest migration)."""
    return bundled_migrations()[-1].version


def install(
    conn: Connection, schema: str, roles: Roles | None = None, *, app_tables: bool = False
) -> SchemaReport:
    """Create or upgrade the schema; running it again changes nothing.

    With ``roles`` the schema belongs to the owner role and the app role gets exactly the
    grants of ``db/grants.sql``: the roles are created if missing (NOLOGIN, when the
    connected user may create roles), an install made before them is handed over, and the
    migrations run as the owner role (``SET ROLE``) when another user is connected.
    ``app_tables`` (the embedded server) also shares the app's tables in ``public``.
    """
    queries = SCHEMA(schema)
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise RuntimeError("install() needs a connection that is not inside a transaction")
    was_autocommit = conn.autocommit
    conn.autocommit = True
    try:
        with translated():
            queries.run(conn, "lock_schema", {"schema": schema})
            try:
                with conn.transaction():
                    queries.run(conn, "create_schema")
                if roles is not None:
                    _become_owner(conn, schema, roles)
                applied = {m.version: m for m in installed_migrations(conn, schema)}
                applied_now: list[int] = []
                for migration in bundled_migrations():
                    done = applied.get(migration.version)
                    if done is not None:
                        if done.checksum != migration.checksum:
                            file = f"{migration.version:04d}_{migration.name}"
                            raise DatabaseError(
                                f"spectral's migration {file} was "
                                f"installed by spectral-deploy {done.tool_version} with different "
                                "text; the schema is not what this tool expects",
                                hint="reinstall the spectral-deploy version that installed it",
                            )
                        continue
                    with conn.transaction():
                        body = sql.SQL(migration.text).format(schema=sql.Identifier(schema))
                        execute(conn, body)
                        queries.run(
                            conn,
                            "record_migration",
                            {
                                "version": migration.version,
                                "name": migration.name,
                                "checksum": migration.checksum,
                                "tool_version": __version__,
                            },
                        )
                    applied_now.append(migration.version)
                if roles is not None:
                    apply_grants(conn, schema, roles, app_tables=app_tables)
            finally:
                if roles is not None:
                    queries.run(conn, "reset_role")
                queries.run(conn, "unlock_schema", {"schema": schema})
    finally:
        conn.autocommit = was_autocommit
    installed = max([*applied, *applied_now], default=0)
    return SchemaReport(
        schema=schema,
        applied_now=tuple(applied_now),
        installed_version=installed,
        required_version=required_version(),
    )


def _become_owner(conn: Connection, schema: str, roles: Roles) -> None:
    """Act as the owner role from here on (creating the roles and adopting an older install
    first, when the connected user is someone else)."""
    queries = SCHEMA(schema)
    if queries.value(conn, "current_user") == roles.owner:
        return
    ensure_roles(conn, roles, login=False)
    if not queries.value(conn, "may_become", {"role": roles.owner}):
        execute(
            conn,
            sql.SQL("GRANT {} TO CURRENT_USER WITH INHERIT TRUE, SET TRUE").format(
                sql.Identifier(roles.owner)
            ),
        )
    adopt_schema(conn, schema, roles)
    execute(conn, sql.SQL("SET ROLE {}").format(sql.Identifier(roles.owner)))


def installed_migrations(conn: Connection, schema: str) -> list[AppliedMigration]:
    """The migrations recorded in the database (empty when nothing is installed)."""
    queries = SCHEMA(schema)
    table = f"{_quote(schema)}.schema_migrations"
    if not queries.value(conn, "schema_exists", {"table": table}):
        return []
    return queries.all(conn, "applied_migrations", into=AppliedMigration)


def require_schema(conn: Connection, schema: str) -> int:
    """Fail unless the schema is at least the version this tool needs; return that version."""
    try:
        applied = installed_migrations(conn, schema)
    finally:
        if conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
            conn.rollback()
    installed = max((m.version for m in applied), default=0)
    needed = required_version()
    if not applied:
        raise SchemaNotInstalled(
            f"spectral's schema {schema!r} is not installed in this database",
            hint="spectral-deploy db init",
        )
    if installed < needed:
        raise SchemaNotInstalled(
            f"spectral's schema {schema!r} is at version {installed}; "
            f"this spectral-deploy needs version {needed}",
            hint="spectral-deploy db init",
        )
    return installed


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
