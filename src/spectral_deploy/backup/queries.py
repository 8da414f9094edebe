"""What backups read from a database, through the seam: the named statements of
``backup.sql`` and the one row count (the dump's manifest and a verified restore compare it).

``backup.sql`` names no table of Spectral's schema except where a query takes it as a
parameter, so the statements bound to any schema serve any database (``SERVER``).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from spectral_deploy.db.access import Statements, fetch_value, statements

__all__ = ["BACKUP", "SERVER", "catalog_statements", "count_rows"]

Connection = psycopg.Connection[Any]

BACKUP = statements("spectral_deploy.backup", "backup.sql")
# the schema backup.sql is bound to when a query names none of Spectral's tables
SERVER = "spectral"


def catalog_statements() -> Statements:
    """The statements of ``backup.sql`` for queries about the server and its catalog."""
    return BACKUP(SERVER)


def count_rows(conn: Connection, schema: str, name: str) -> int:
    """``count(*)`` of table ``schema.name`` (0 when the count returns nothing)."""
    statement = sql.SQL("SELECT count(*) FROM {}.{}").format(
        sql.Identifier(schema), sql.Identifier(name)
    )
    return int(fetch_value(conn, statement) or 0)
