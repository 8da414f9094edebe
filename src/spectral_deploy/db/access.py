"""The database seam: named statements run by name, errors translated once, rows mapped.

Every module that talks to PostgreSQL goes through a ``Statements`` bound to its ``.sql``
file and the configured schema::

    GENERATIONS = statements("spectral_deploy.ledger", "generations.sql")
    row = GENERATIONS(schema).one(conn, "get_generation", {"generation": 7}, into=_generation)

``one`` and ``all`` map each row by column name (``into(**row)``: a dataclass, or a
function that builds one), so no caller reads ``row[3]``; ``value`` is the first column of
the first row, ``values`` the first column of every row. A ``psycopg.Error`` becomes the
Spectral error tree here (``translate``), and ``translated()`` does the same around a
transaction of several statements.

A violation that means something to the caller is said with ``meaning``: a map from a
constraint (or index) name, or a SQLSTATE such as ``UNIQUE_VIOLATION``, to the error it
raises instead (``one(..., meaning={"deploys_one_open_idx": lambda: PreconditionFailed(...)})``).

Statements that are built at run time (a restore's checks, catalog introspection, a user's
migration) go through ``execute`` / ``fetch_one`` / ``fetch_all`` / ``fetch_value``: the same
translation and the same rows by column name, for a query that is not a named block.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, LiteralString, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import kwargs_row

from spectral_deploy.db.connect import translate
from spectral_deploy.db.queries import Queries, load_queries
from spectral_deploy.errors import SpectralError

__all__ = [
    "UNIQUE_VIOLATION",
    "Meaning",
    "Statements",
    "execute",
    "fetch_all",
    "fetch_one",
    "fetch_value",
    "fetch_values",
    "statements",
    "translated",
]

T = TypeVar("T")
Params = Mapping[str, Any] | Sequence[Any] | None
Connection = psycopg.Connection[Any]
Query = LiteralString | sql.SQL | sql.Composed
# a constraint/index name or a SQLSTATE -> the error that violation means to the caller
Meaning = Mapping[str, Callable[[], SpectralError]] | None

UNIQUE_VIOLATION = "23505"


@contextlib.contextmanager
def translated(meaning: Meaning = None) -> Iterator[None]:
    """Raise any ``psycopg.Error`` inside as the matching ``SpectralError`` (chained):
    the caller's ``meaning`` of that constraint or SQLSTATE first, else ``translate``."""
    try:
        yield
    except psycopg.Error as exc:
        if meaning:
            meant = meaning.get(exc.diag.constraint_name or "") or meaning.get(exc.sqlstate or "")
            if meant is not None:
                raise meant() from exc
        raise translate(exc) from exc


def execute(
    conn: Connection, query: Query, params: Params = None, *, meaning: Meaning = None
) -> int:
    """Execute ``query`` (built at run time); the number of rows it touched."""
    with translated(meaning), conn.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.rowcount


def fetch_one(
    conn: Connection,
    query: Query,
    params: Params = None,
    *,
    into: Callable[..., T],
    meaning: Meaning = None,
) -> T | None:
    """The first row of ``query`` as ``into(**columns)``, or None when there is none."""
    with translated(meaning), conn.cursor(row_factory=kwargs_row(into)) as cursor:
        return cursor.execute(query, params).fetchone()


def fetch_all(
    conn: Connection,
    query: Query,
    params: Params = None,
    *,
    into: Callable[..., T],
    meaning: Meaning = None,
) -> list[T]:
    """Every row of ``query``, each as ``into(**columns)``."""
    with translated(meaning), conn.cursor(row_factory=kwargs_row(into)) as cursor:
        return cursor.execute(query, params).fetchall()


def fetch_value(
    conn: Connection, query: Query, params: Params = None, *, meaning: Meaning = None
) -> Any:
    """The first column of the first row of ``query`` (None when no row)."""
    with translated(meaning), conn.cursor() as cursor:
        row = cursor.execute(query, params).fetchone()
    return None if row is None else row[0]


def fetch_values(
    conn: Connection, query: Query, params: Params = None, *, meaning: Meaning = None
) -> list[Any]:
    """The first column of every row of ``query`` (a one-column list: names, keys)."""
    with translated(meaning), conn.cursor() as cursor:
        return [row[0] for row in cursor.execute(query, params).fetchall()]


class Statements:
    """The named statements of one ``.sql`` file, bound to one schema."""

    def __init__(self, queries: Queries) -> None:
        self.queries = queries

    def run(
        self, conn: Connection, name: str, params: Params = None, *, meaning: Meaning = None
    ) -> int:
        """Execute ``name``; the number of rows it touched."""
        return execute(conn, self.queries[name], params, meaning=meaning)

    def one(
        self,
        conn: Connection,
        name: str,
        params: Params = None,
        *,
        into: Callable[..., T],
        meaning: Meaning = None,
    ) -> T | None:
        """The first row of ``name`` as ``into(**columns)``, or None when there is none."""
        return fetch_one(conn, self.queries[name], params, into=into, meaning=meaning)

    def all(
        self, conn: Connection, name: str, params: Params = None, *, into: Callable[..., T]
    ) -> list[T]:
        """Every row of ``name``, each as ``into(**columns)``."""
        return fetch_all(conn, self.queries[name], params, into=into)

    def value(
        self, conn: Connection, name: str, params: Params = None, *, meaning: Meaning = None
    ) -> Any:
        """The first column of the first row of ``name`` (None when no row)."""
        return fetch_value(conn, self.queries[name], params, meaning=meaning)

    def values(self, conn: Connection, name: str, params: Params = None) -> list[Any]:
        """The first column of every row of ``name``."""
        return fetch_values(conn, self.queries[name], params)


def statements(package: str, filename: str) -> Callable[[str], Statements]:
    """A factory of ``Statements`` for ``package/filename``, one per schema (cached)."""

    @functools.cache
    def bound(schema: str) -> Statements:
        return Statements(load_queries(package, filename, schema))

    return bound
