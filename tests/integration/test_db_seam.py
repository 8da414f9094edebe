"""The database seam (db/access.py): errors translated once, a violation's meaning said by
the caller, rows of run-time queries mapped by column name."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from psycopg import sql

from spectral_deploy.db import Database
from spectral_deploy.db.access import (
    UNIQUE_VIOLATION,
    execute,
    fetch_all,
    fetch_one,
    fetch_value,
)
from spectral_deploy.errors import DatabaseError, PreconditionFailed
from tests.integration.test_deploy_schedule import open_deploy

pytestmark = pytest.mark.db


@dataclass(frozen=True)
class Pair:
    name: str
    number: int


def test_a_second_open_deploy_is_a_failed_precondition(database: Database) -> None:
    """The open-deploy unique index means "another deploy is in progress" (not a raw error)."""
    open_deploy(database, "v1.0.0", flipped=False, hold_left=0)
    with pytest.raises(PreconditionFailed, match="another deploy is in progress") as refused:
        open_deploy(database, "v1.1.0", flipped=False, hold_left=0)
    assert refused.value.hint == "spectral-deploy deploy status"


def test_a_meaning_by_sqlstate_and_the_default_translation(database: Database) -> None:
    """A SQLSTATE in ``meaning`` raises the caller's error; any other failure is translated."""
    with database.connect() as conn:
        execute(conn, "CREATE TEMP TABLE seam (name text PRIMARY KEY, number int)")
        execute(conn, "INSERT INTO seam VALUES (%s, %s)", ("a", 1))
        with pytest.raises(PreconditionFailed, match="taken"):
            execute(
                conn,
                "INSERT INTO seam VALUES (%s, %s)",
                ("a", 2),
                meaning={UNIQUE_VIOLATION: lambda: PreconditionFailed("taken")},
            )
        conn.rollback()
        with pytest.raises(DatabaseError, match=r"\[42P01\]"):
            fetch_value(conn, "SELECT * FROM seam_missing")


def test_rows_of_a_run_time_query_are_mapped_by_column_name(database: Database) -> None:
    """fetch_one / fetch_all build ``into(**columns)`` whatever the column order."""
    with database.connect() as conn:
        query = sql.SQL("SELECT {} AS number, 'x' AS name").format(sql.Literal(7))
        assert fetch_one(conn, query, into=Pair) == Pair(name="x", number=7)
        rows = fetch_all(
            conn, "SELECT n AS number, 'r' || n AS name FROM generate_series(1, 2) n", into=Pair
        )
        assert rows == [Pair("r1", 1), Pair("r2", 2)]
        assert fetch_one(conn, "SELECT 1 AS number, 'x' AS name WHERE false", into=Pair) is None
