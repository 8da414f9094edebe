"""The database seam's row mapping: a NamedTuple row is filled by column name, not position."""

from __future__ import annotations

from typing import NamedTuple

import pytest
from psycopg import sql

from spectral_deploy.db import Database
from spectral_deploy.db.access import Statements
from spectral_deploy.db.queries import Queries, Query


class Pair(NamedTuple):
    """Two named values."""

    a: int
    b: str


def _statements(**bodies: str) -> Statements:
    queries = {
        name: Query(name, "", sql.Composed([sql.SQL(body)])) for name, body in bodies.items()
    }
    return Statements(Queries("test", queries))


def test_a_namedtuple_row_takes_its_fields_by_column_name_in_any_order(db: Database) -> None:
    """Columns in another order than the fields still land in the field of their name."""
    statements = _statements(
        ordered="SELECT 1 AS a, 'x' AS b UNION ALL SELECT 2, 'y'",
        swapped="SELECT 'x' AS b, 1 AS a UNION ALL SELECT 'y', 2",
    )
    with db.connect() as conn:
        assert statements.all(conn, "ordered", into=Pair) == [Pair(1, "x"), Pair(2, "y")]
        assert statements.all(conn, "swapped", into=Pair) == [Pair(1, "x"), Pair(2, "y")]
        assert statements.one(conn, "swapped", into=Pair) == Pair(1, "x")


def test_a_namedtuple_row_refuses_columns_that_are_not_its_fields(db: Database) -> None:
    """A statement whose columns drifted from the row type fails naming both, not silently."""
    statements = _statements(drifted="SELECT 1 AS a, 'x' AS c")
    with db.connect() as conn, pytest.raises(TypeError, match=r"fields a, b.*returns a, c"):
        statements.all(conn, "drifted", into=Pair)


def test_copy_rows_writes_every_row_and_counts_them(db: Database) -> None:
    """``copy_rows`` streams rows through COPY FROM STDIN and says how many it wrote."""
    statements = _statements(copy="COPY pg_temp.pairs (a, b) FROM STDIN")
    with db.connect() as conn:
        conn.execute("CREATE TEMP TABLE pairs (a int, b text)")
        assert statements.copy_rows(conn, "copy", iter([(1, "x"), (2, "y")])) == 2
        rows = conn.execute("SELECT a, b FROM pg_temp.pairs ORDER BY a").fetchall()
    assert rows == [(1, "x"), (2, "y")]
