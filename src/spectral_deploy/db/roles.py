"""Least privilege: an owner role for Spectral's schema, an app role for the apps.

* The **owner** role (``database.owner_role``, default ``spectral_owner``) owns Spectral's
  schema and every object in it. Spectral's own commands connect as it (on the embedded
  server; on an external database, as a login role that is a member of it). It is not a
  superuser: it cannot ``SET session_replication_role`` or touch another database.
* The **app** role (``database.app_role``, default ``spectral_app``) is what apps and their
  workers connect as. It may emit and run workers, per object, as ``grants.sql`` lists;
  it owns nothing of Spectral's, so it can neither alter the ledger nor disable its
  trigger, and it cannot read Spectral's history at all.

The grant list lives in ``db/grants.sql`` (block ``grant_app``); ``apply_grants`` runs it
after every schema install, so extending it is one line there.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import psycopg
from psycopg import sql

from spectral_deploy.db.queries import parse_blocks
from spectral_deploy.errors import PreconditionFailed

__all__ = [
    "Roles",
    "adopt_schema",
    "apply_app_defaults",
    "apply_grants",
    "ensure_roles",
    "role_exists",
    "set_password",
]

Connection = psycopg.Connection[tuple[object, ...]]


@dataclass(frozen=True)
class Roles:
    """The two role names."""

    owner: str = "spectral_owner"
    app: str = "spectral_app"


def _block(name: str, schema: str, roles: Roles) -> sql.Composed:
    text = resources.files("spectral_deploy.db").joinpath("grants.sql").read_text("utf-8")
    body = {block: statement for block, _, statement in parse_blocks(text)}[name]
    return sql.SQL(body).format(
        schema=sql.Identifier(schema),
        owner=sql.Identifier(roles.owner),
        app=sql.Identifier(roles.app),
    )


def role_exists(conn: Connection, name: str) -> bool:
    """Whether role ``name`` exists."""
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is not None


def ensure_roles(conn: Connection, roles: Roles, *, login: bool) -> None:
    """Create the owner and app roles if missing (neither a superuser; ``login`` on the
    embedded server, NOLOGIN group roles on an external one); needs CREATEROLE."""
    for name, extra in ((roles.owner, "CREATEDB"), (roles.app, "NOCREATEDB")):
        if role_exists(conn, name):
            continue
        statement = sql.SQL(
            "CREATE ROLE {} {} NOSUPERUSER {} NOCREATEROLE NOREPLICATION NOBYPASSRLS"
        ).format(
            sql.Identifier(name),
            sql.SQL("LOGIN" if login else "NOLOGIN"),
            sql.SQL(extra),
        )
        try:
            conn.execute(statement)
        except psycopg.errors.DuplicateObject:
            pass  # a concurrent installer made it
        except psycopg.errors.InsufficientPrivilege as exc:
            raise PreconditionFailed(
                f"role {name!r} does not exist and {_current_user(conn)!r} may not create it",
                hint=f"as an admin: CREATE ROLE {name} NOLOGIN; then run db init again "
                "(docs/security.md lists the grants)",
            ) from exc
    for name in (roles.owner, roles.app):
        superuser = conn.execute(
            "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = %s", (name,)
        ).fetchone()
        if superuser and superuser[0]:
            raise PreconditionFailed(
                f"role {name!r} is a superuser or bypasses row security; Spectral's roles "
                "must not be",
                hint=f"ALTER ROLE {name} NOSUPERUSER NOBYPASSRLS",
            )


def set_password(conn: Connection, role: str, password: str) -> None:
    """Let ``role`` log in with ``password`` (scram-sha-256). Only the salted verifier,
    computed here by libpq, reaches the server: the password is in no statement, so no
    server log line can hold it."""
    verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
    conn.execute(
        sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(verifier.decode("ascii"))
        )
    )


def adopt_schema(conn: Connection, schema: str, roles: Roles) -> None:
    """Make the owner role own the schema and everything in it (an install made before the
    roles existed belongs to whoever ran it). Run as that owner or a superuser."""
    owner = roles.owner
    conn.execute(
        sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(sql.Identifier(schema), sql.Identifier(owner))
    )
    params = {"schema": schema, "owner": owner}
    rows = conn.execute(_block("owned_relations", schema, roles), params).fetchall()
    for kind, name in rows:
        conn.execute(
            sql.SQL("ALTER {} {}.{} OWNER TO {}").format(
                sql.SQL(str(kind)),
                sql.Identifier(schema),
                sql.Identifier(str(name)),
                sql.Identifier(owner),
            )
        )
    functions = conn.execute(_block("owned_functions", schema, roles), params).fetchall()
    for (signature,) in functions:
        conn.execute(
            sql.SQL("ALTER FUNCTION {} OWNER TO {}").format(
                sql.SQL(str(signature)), sql.Identifier(owner)
            )
        )


def apply_grants(conn: Connection, schema: str, roles: Roles, *, app_tables: bool) -> None:
    """Revoke everything the app role held on Spectral's objects, then grant ``grant_app``;
    ``app_tables`` (the embedded server) also shares the app's own tables in ``public``."""
    conn.execute(_block("revoke_app", schema, roles))
    conn.execute(_block("grant_app", schema, roles))
    if app_tables:
        conn.execute(_block("app_tables_default", schema, roles))


def apply_app_defaults(conn: Connection, roles: Roles) -> None:
    """The app's own tables in ``public`` (made by the owner role) are the app's to use."""
    conn.execute(_block("app_tables_default", "public", roles))


def _current_user(conn: Connection) -> str:
    row = conn.execute("SELECT current_user").fetchone()
    return str(row[0]) if row else "?"
