"""The database seam: named statements run by name, errors translated once, rows mapped.

Every module that talks to PostgreSQL goes through a ``Statements`` bound to its ``.sql``
file and the configured schema::

    GENERATIONS = statements("spectral_deploy.ledger", "generations.sql")
    row = GENERATIONS(schema).one(conn, "get_generation", {"generation": 7}, into=_generation)

``one`` and ``all`` map each row by column name (``into(**row)``: a dataclass, or a
function that builds one), so no caller reads ``row[3]``; ``value`` is the first column of
the first row. A ``NamedTuple`` as ``into`` is built by ``_make`` with its fields found among
the columns by name once per statement, not per row: the hot path's claim uses it. A
``psycopg.Error`` becomes the Spectral error tree here (``translate``), and ``translated()``
does the same around a transaction of several statements.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg.rows import BaseRowFactory, RowMaker, kwargs_row

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

    def run(
        self, conn: Connection, name: str, params: Params = None, *, prepare: bool | None = None
    ) -> int:
        """Execute ``name``; the number of rows it touched.

        ``prepare=False``: never a prepared statement (a transaction pooler runs the next
        transaction in another session, where it would not exist)."""
        with translated(), conn.cursor() as cursor:
            cursor.execute(self.queries[name], params, prepare=prepare)
            return cursor.rowcount

    def one(
        self,
        conn: Connection,
        name: str,
        params: Params = None,
        *,
        into: Callable[..., T],
        prepare: bool | None = None,
    ) -> T | None:
        """The first row of ``name`` as ``into(**columns)``, or None when there is none."""
        with translated(), conn.cursor(row_factory=_rows(into)) as cursor:
            return cursor.execute(self.queries[name], params, prepare=prepare).fetchone()

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
        with translated(), conn.cursor(row_factory=_rows(into)) as cursor:
            return cursor.execute(self.queries[name], params, binary=binary).fetchall()

    def value(
        self, conn: Connection, name: str, params: Params = None, *, prepare: bool | None = None
    ) -> Any:
        """The first column of the first row of ``name`` (None when no row)."""
        with translated(), conn.cursor() as cursor:
            row = cursor.execute(self.queries[name], params, prepare=prepare).fetchone()
        return None if row is None else row[0]

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
