"""The database seam: named statements run by name, errors translated once, rows mapped.

Every module that talks to PostgreSQL goes through a ``Statements`` bound to its ``.sql``
file and the configured schema::

    GENERATIONS = statements("spectral_deploy.ledger", "generations.sql")
    row = GENERATIONS(schema).one(conn, "get_generation", {"generation": 7}, into=_generation)

``one`` and ``all`` map each row by column name (``into(**row)``: a dataclass, or a
function that builds one), so no caller reads ``row[3]``; ``value`` is the first column of
the first row. A ``psycopg.Error`` becomes the Spectral error tree here (``translate``),
and ``translated()`` does the same around a transaction of several statements.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import psycopg
from psycopg.rows import kwargs_row

from spectral_deploy.db.connect import translate
from spectral_deploy.db.queries import Queries, load_queries

__all__ = ["Statements", "statements", "translated"]

T = TypeVar("T")
Params = Mapping[str, Any] | None
Connection = psycopg.Connection[Any]


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Raise any ``psycopg.Error`` inside as the matching ``SpectralError`` (chained)."""
    try:
        yield
    except psycopg.Error as exc:
        raise translate(exc) from exc


class Statements:
    """The named statements of one ``.sql`` file, bound to one schema."""

    def __init__(self, queries: Queries) -> None:
        self.queries = queries

    def run(self, conn: Connection, name: str, params: Params = None) -> int:
        """Execute ``name``; the number of rows it touched."""
        with translated(), conn.cursor() as cursor:
            cursor.execute(self.queries[name], params)
            return cursor.rowcount

    def one(
        self, conn: Connection, name: str, params: Params = None, *, into: Callable[..., T]
    ) -> T | None:
        """The first row of ``name`` as ``into(**columns)``, or None when there is none."""
        with translated(), conn.cursor(row_factory=kwargs_row(into)) as cursor:
            return cursor.execute(self.queries[name], params).fetchone()

    def all(
        self, conn: Connection, name: str, params: Params = None, *, into: Callable[..., T]
    ) -> list[T]:
        """Every row of ``name``, each as ``into(**columns)``."""
        with translated(), conn.cursor(row_factory=kwargs_row(into)) as cursor:
            return cursor.execute(self.queries[name], params).fetchall()

    def value(self, conn: Connection, name: str, params: Params = None) -> Any:
        """The first column of the first row of ``name`` (None when no row)."""
        with translated(), conn.cursor() as cursor:
            row = cursor.execute(self.queries[name], params).fetchone()
        return None if row is None else row[0]


def statements(package: str, filename: str) -> Callable[[str], Statements]:
    """A factory of ``Statements`` for ``package/filename``, one per schema (cached)."""

    @functools.cache
    def bound(schema: str) -> Statements:
        return Statements(load_queries(package, filename, schema))

    return bound
