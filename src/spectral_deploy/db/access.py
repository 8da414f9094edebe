"""The database seam: named statements run by name, errors translated once, rows mapped.

Every module that talks to PostgreSQL goes through a ``Statements`` bound to its ``.sql``
file and the configured schema::

    GENERATIONS = statements("spectral_deploy.ledger", "generations.sql")
    row = GENERATIONS(schema).one(conn, "get_generation", {"generation": 7}, into=_generation)

``one`` and ``all`` map each row by column name (``into(**row)``: a dataclass, or a
function that builds one), so no caller reads ``row[3]``; ``value`` is the first column of
the first row, ``values`` the first column of every row. A ``NamedTuple`` as ``into`` is
built by ``_make`` with its fields found among the columns by name once per statement, not
per row: the hot path's claim uses it. A ``psycopg.Error`` becomes the
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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, LiteralString, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import BaseRowFactory, RowMaker, kwargs_row

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
    "ping",
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
    conn: Connection,
    query: Query,
    params: Params = None,
    *,
    meaning: Meaning = None,
    prepare: bool | None = None,
) -> int:
    """Execute ``query`` (built at run time); the number of rows it touched.

    ``prepare=False``: never a prepared statement (a transaction pooler runs the next
    transaction in another session, where it would not exist)."""
    with translated(meaning), conn.cursor() as cursor:
        cursor.execute(query, params, prepare=prepare)
        return cursor.rowcount


def fetch_one(
    conn: Connection,
    query: Query,
    params: Params = None,
    *,
    into: Callable[..., T],
    meaning: Meaning = None,
    prepare: bool | None = None,
) -> T | None:
    """The first row of ``query`` as ``into(**columns)``, or None when there is none."""
    with translated(meaning), conn.cursor(row_factory=_rows(into)) as cursor:
        return cursor.execute(query, params, prepare=prepare).fetchone()


def fetch_all(
    conn: Connection,
    query: Query,
    params: Params = None,
    *,
    into: Callable[..., T],
    meaning: Meaning = None,
    binary: bool = False,
) -> list[T]:
    """Every row of ``query``, each as ``into(**columns)`` (``binary``: results in binary)."""
    with translated(meaning), conn.cursor(row_factory=_rows(into)) as cursor:
        return cursor.execute(query, params, binary=binary).fetchall()


def fetch_value(
    conn: Connection,
    query: Query,
    params: Params = None,
    *,
    meaning: Meaning = None,
    prepare: bool | None = None,
) -> Any:
    """The first column of the first row of ``query`` (None when no row)."""
    with translated(meaning), conn.cursor() as cursor:
        row = cursor.execute(query, params, prepare=prepare).fetchone()
    return None if row is None else row[0]


def fetch_values(
    conn: Connection, query: Query, params: Params = None, *, meaning: Meaning = None
) -> list[Any]:
    """The first column of every row of ``query`` (a one-column list: names, keys)."""
    with translated(meaning), conn.cursor() as cursor:
        return [row[0] for row in cursor.execute(query, params).fetchall()]


def ping(conn: Connection) -> None:
    """One round trip on ``conn``: a database that does not answer raises (translated)."""
    fetch_value(conn, "SELECT true")


class Statements:
    """The named statements of one ``.sql`` file, bound to one schema."""

    def __init__(self, queries: Queries) -> None:
        self.queries = queries

    def run(
        self,
        conn: Connection,
        name: str,
        params: Params = None,
        *,
        meaning: Meaning = None,
        prepare: bool | None = None,
    ) -> int:
        """Execute ``name``; the number of rows it touched."""
        return execute(conn, self.queries[name], params, meaning=meaning, prepare=prepare)

    def one(
        self,
        conn: Connection,
        name: str,
        params: Params = None,
        *,
        into: Callable[..., T],
        meaning: Meaning = None,
        prepare: bool | None = None,
    ) -> T | None:
        """The first row of ``name`` as ``into(**columns)``, or None when there is none."""
        return fetch_one(
            conn, self.queries[name], params, into=into, meaning=meaning, prepare=prepare
        )

    def all(
        self,
        conn: Connection,
        name: str,
        params: Params = None,
        *,
        into: Callable[..., T],
        binary: bool = False,
    ) -> list[T]:
        """Every row of ``name``, each as ``into(**columns)`` (``binary``: results in binary)."""
        return fetch_all(conn, self.queries[name], params, into=into, binary=binary)

    def value(
        self,
        conn: Connection,
        name: str,
        params: Params = None,
        *,
        meaning: Meaning = None,
        prepare: bool | None = None,
    ) -> Any:
        """The first column of the first row of ``name`` (None when no row)."""
        return fetch_value(conn, self.queries[name], params, meaning=meaning, prepare=prepare)

    def values(self, conn: Connection, name: str, params: Params = None) -> list[Any]:
        """The first column of every row of ``name``."""
        return fetch_values(conn, self.queries[name], params)

    def copy_rows(self, conn: Connection, name: str, rows: Iterable[Sequence[Any]]) -> int:
        """COPY ``rows`` with the ``COPY ... FROM STDIN`` statement ``name``; how many."""
        count = 0
        with translated(), conn.cursor() as cursor, cursor.copy(self.queries[name]) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count


def _rows(into: Callable[..., T]) -> BaseRowFactory[T]:
    """``into(**columns)`` per row; a NamedTuple by position, its fields found by name once."""
    fields: tuple[str, ...] | None = getattr(into, "_fields", None)
    make: Callable[[Sequence[Any]], T] | None = getattr(into, "_make", None)
    if fields is None or make is None:
        return kwargs_row(into)
    named, build = fields, make

    def factory(cursor: Any) -> RowMaker[T]:
        columns = tuple(column.name for column in cursor.description or ())
        if columns == named:
            return build
        if set(columns) != set(named) or len(columns) != len(named):
            raise TypeError(
                f"{getattr(into, '__name__', into)} has fields {', '.join(named)}; "
                f"the statement returns {', '.join(columns)}"
            )
        at = [columns.index(field) for field in named]
        return lambda values: build([values[index] for index in at])

    return factory


def statements(package: str, filename: str) -> Callable[[str], Statements]:
    """A factory of ``Statements`` for ``package/filename``, one per schema (cached)."""

    @functools.cache
    def bound(schema: str) -> Statements:
        return Statements(load_queries(package, filename, schema))

    return bound
