"""The lint's type-change verdicts against what PostgreSQL really does.

For each pair of column types, the embedded server runs the ``ALTER COLUMN ... TYPE`` on
a table with a row and reports whether it rewrote the table (its file node changed) or
rebuilt an index on the column; the lint's verdict must agree: a widening (or no change)
touches nothing, everything it flags is rewritten (or re-indexed).
"""

from __future__ import annotations

import json

import psycopg
import pytest
from pglast.parser import parse_sql_json

from spectral_deploy.lint.coltype import ColumnType, Verdict, judge, type_of
from spectral_deploy.lint.engine import SqlText, lint_text
from spectral_deploy.lint.registry import find_rule

# (old type, new type, a value both hold, the verdict)
CASES = [
    ("varchar(20)", "varchar(100)", "'ab'", Verdict.WIDENING),
    ("varchar(20)", "varchar", "'ab'", Verdict.WIDENING),
    ("varchar(255)", "text", "'ab'", Verdict.WIDENING),
    ("character varying(20)", "character varying(20)", "'ab'", Verdict.SAME),
    ("text", "varchar", "'ab'", Verdict.WIDENING),
    ("varchar", "text", "'ab'", Verdict.WIDENING),
    ("varchar(100)", "varchar(20)", "'ab'", Verdict.NARROWING),
    ("text", "varchar(20)", "'ab'", Verdict.NARROWING),
    ("varchar", "varchar(20)", "'ab'", Verdict.NARROWING),
    ("numeric(10,2)", "numeric(12,2)", "1.5", Verdict.WIDENING),
    ("numeric(10,2)", "numeric", "1.5", Verdict.WIDENING),
    ("numeric(10)", "numeric(12,0)", "1", Verdict.WIDENING),
    ("decimal(10,2)", "numeric(14,2)", "1.5", Verdict.WIDENING),
    ("numeric(10,2)", "numeric(9,2)", "1.5", Verdict.NARROWING),
    ("numeric(10,2)", "numeric(10,4)", "1.5", Verdict.NARROWING),
    ("numeric(10,2)", "numeric(12,4)", "1.5", Verdict.REWRITE),
    ("numeric", "numeric(10,2)", "1.5", Verdict.NARROWING),
    ("bit varying(4)", "bit varying(8)", "B'101'", Verdict.WIDENING),
    ("varbit(8)", "varbit(4)", "B'101'", Verdict.NARROWING),
    ("bit(3)", "bit(4)", "NULL", Verdict.REWRITE),
    ("char(3)", "char(5)", "'ab'", Verdict.REWRITE),
    ("timestamp(3)", "timestamp(6)", "now()", Verdict.WIDENING),
    ("timestamp(3)", "timestamp", "now()", Verdict.WIDENING),
    ("timestamp", "timestamp(6)", "now()", Verdict.WIDENING),
    ("timestamp", "timestamp(3)", "now()", Verdict.NARROWING),
    ("timestamptz(0)", "timestamptz(3)", "now()", Verdict.WIDENING),
    ("time(2)", "time(4)", "now()", Verdict.WIDENING),
    ("time", "time(2)", "now()", Verdict.NARROWING),
    ("timetz(1)", "timetz", "now()", Verdict.WIDENING),
    ("interval(2)", "interval(5)", "'1 day'", Verdict.WIDENING),
    ("interval day to second(2)", "interval", "'1 day'", Verdict.WIDENING),
    ("interval", "interval day", "'1 day'", Verdict.NARROWING),
    ("cidr", "inet", "'10.0.0.0/8'", Verdict.WIDENING),
    ("inet", "cidr", "'10.0.0.0/8'", Verdict.REWRITE),
    ("integer", "bigint", "1", Verdict.REWRITE),
    ("smallint", "integer", "1", Verdict.REWRITE),
    ("integer", "text", "1", Verdict.REWRITE),
    ("integer", "numeric", "1", Verdict.REWRITE),
    ("real", "double precision", "1", Verdict.REWRITE),
    ("json", "jsonb", "'{}'", Verdict.REWRITE),
    ("varchar(20)[]", "varchar(30)[]", "'{a}'", Verdict.REWRITE),
    ("text[]", "text[]", "'{a}'", Verdict.SAME),
]


def parsed_type(text: str) -> ColumnType:
    """The lint's view of a type as a migration writes it."""
    tree = json.loads(parse_sql_json(f"CREATE TABLE x (c {text})"))
    column = tree["stmts"][0]["stmt"]["CreateStmt"]["tableElts"][0]["ColumnDef"]
    return type_of(column["typeName"], "public")


def filenodes(conn: psycopg.Connection[tuple[object, ...]]) -> tuple[object, object]:
    """The table's and its index's file nodes (they change when rewritten or rebuilt)."""
    row = conn.execute(
        "SELECT pg_relation_filenode('t'), pg_relation_filenode('t_c_idx')"
    ).fetchone()
    assert row is not None
    return row[0], row[1]


@pytest.mark.parametrize(("old", "new", "value", "verdict"), CASES)
def test_verdict_matches_what_postgres_does(
    empty_database: str, old: str, new: str, value: str, verdict: Verdict
) -> None:
    """Widenings rewrite nothing and keep the value; the rest rewrite the table."""
    assert judge(parsed_type(old), parsed_type(new)) is verdict
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE t (id int, c {old})")
        conn.execute(f"INSERT INTO t VALUES (1, {value})")
        indexable = "[]" not in old and "json" not in old and "bit" not in old
        conn.execute(
            "CREATE INDEX t_c_idx ON t (c)" if indexable else "CREATE INDEX t_c_idx ON t (id)"
        )
        before_value = conn.execute("SELECT c::text FROM t").fetchone()
        before = filenodes(conn)
        conn.execute(f"ALTER TABLE t ALTER COLUMN c TYPE {new}")
        after = filenodes(conn)
        after_value = conn.execute("SELECT c::text FROM t").fetchone()
    rewrote = before[0] != after[0]
    if verdict in (Verdict.SAME, Verdict.WIDENING):
        assert not rewrote and before[1] == after[1], (old, new)
        assert after_value == before_value
    else:
        assert rewrote, (old, new)


@pytest.mark.parametrize(
    ("old", "new"), [("timestamp", "timestamptz"), ("timestamptz", "timestamp")]
)
def test_time_zone_changes_rewrite_unless_the_session_is_utc(
    empty_database: str, old: str, new: str
) -> None:
    """timestamp <-> timestamptz: no rewrite in UTC, a rewrite elsewhere; flagged either way."""
    assert judge(parsed_type(old), parsed_type(new)) is Verdict.ZONE
    rewrote = {}
    with psycopg.connect(empty_database, autocommit=True) as conn:
        for zone in ("UTC", "America/Los_Angeles"):
            conn.execute(f"SET TimeZone = '{zone}'")
            conn.execute("DROP TABLE IF EXISTS t")
            conn.execute(f"CREATE TABLE t (id int, c {old})")
            conn.execute("INSERT INTO t VALUES (1, now())")
            conn.execute("CREATE INDEX t_c_idx ON t (id)")
            before = filenodes(conn)
            conn.execute(f"ALTER TABLE t ALTER COLUMN c TYPE {new}")
            rewrote[zone] = filenodes(conn)[0] != before[0]
    assert rewrote == {"UTC": False, "America/Los_Angeles": True}


def test_citext_relabels_unless_an_index_reads_the_column(empty_database: str) -> None:
    """text <-> citext rewrites nothing, but rebuilds an index on the column."""
    with psycopg.connect(empty_database, autocommit=True) as conn:
        try:
            conn.execute("CREATE EXTENSION citext")
        except psycopg.errors.FeatureNotSupported:  # pragma: no cover - contrib missing
            pytest.skip("the embedded server has no citext")
        except psycopg.errors.UndefinedFile:  # pragma: no cover
            pytest.skip("the embedded server has no citext")
        conn.execute("CREATE TABLE t (id int, c text)")
        conn.execute("INSERT INTO t VALUES (1, 'Ab')")
        conn.execute("CREATE INDEX t_c_idx ON t (id)")
        before = filenodes(conn)
        conn.execute("ALTER TABLE t ALTER COLUMN c TYPE citext")
        assert filenodes(conn) == before
        conn.execute("DROP INDEX t_c_idx")
        conn.execute("CREATE INDEX t_c_idx ON t (c)")
        before = filenodes(conn)
        conn.execute("ALTER TABLE t ALTER COLUMN c TYPE text")
        after = filenodes(conn)
    assert after[0] == before[0] and after[1] != before[1]
    text, citext = parsed_type("text"), parsed_type("public.citext")
    assert judge(text, citext) is Verdict.WIDENING
    assert judge(citext, text, indexed=True) is Verdict.REWRITE


# (the column added, whether adding-column-rewrites-table flags it)
ADDED_COLUMNS = [
    ("c uuid DEFAULT gen_random_uuid()", True),
    ("c double precision DEFAULT random()", True),
    ("c timestamptz DEFAULT clock_timestamp()", True),
    ("c bigserial", True),
    ("c int GENERATED ALWAYS AS IDENTITY", True),
    ("c int GENERATED ALWAYS AS (id + 1) STORED", True),
    ("c int GENERATED ALWAYS AS (id + 1) VIRTUAL", False),
    ("c timestamptz NOT NULL DEFAULT now()", False),
    ("c timestamptz DEFAULT CURRENT_TIMESTAMP", False),
    ("c text NOT NULL DEFAULT 'x' || 'y'", False),
    ("c int DEFAULT 1 + 2", False),
    ("c uuid", False),
]


@pytest.mark.parametrize(("column", "flagged"), ADDED_COLUMNS)
def test_added_columns_are_flagged_exactly_when_postgres_rewrites(
    empty_database: str, column: str, flagged: bool
) -> None:
    """adding-column-rewrites-table fires on the ADD COLUMNs that change the file node."""
    rule = find_rule("adding-column-rewrites-table")
    assert rule is not None
    history = (SqlText("0001.sql", "CREATE TABLE t (id int);"),)
    sql = f"ALTER TABLE t ADD COLUMN {column};"
    assert bool(lint_text(sql, [rule], history=history).violations) is flagged
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int)")
        conn.execute("INSERT INTO t VALUES (1)")
        conn.execute("CREATE INDEX t_c_idx ON t (id)")
        before = filenodes(conn)
        conn.execute(sql)
        assert (filenodes(conn)[0] != before[0]) is flagged, column


def test_volatile_function_list_covers_the_servers_catalog(empty_database: str) -> None:
    """Every volatile pg_catalog function of the test server is in the lint's list."""
    from spectral_deploy.lint.rules.adding_column_rewrites_table import (  # noqa: PLC0415
        volatile_functions,
    )

    with psycopg.connect(empty_database, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT DISTINCT proname FROM pg_proc WHERE provolatile = 'v'"
            " AND pronamespace = 'pg_catalog'::regnamespace AND prokind = 'f'"
        ).fetchall()
    catalog = {name for (name,) in rows}
    assert catalog, "the catalog query found no volatile functions"
    assert catalog - volatile_functions() == set()


# (the column added with a foreign key, whether foreign-key-without-not-valid flags it, and
# how the server shows a check: a column NULL everywhere passes any check, so a scan of the
# table shows it; one filled with values users lacks fails it (a rewrite scans anyway))
REFERENCING_COLUMNS = [
    ("c int REFERENCES users (id)", False, "scan"),
    ("c int DEFAULT NULL REFERENCES users (id)", True, "scan"),
    ("c int DEFAULT 5000 REFERENCES users (id)", True, "failure"),
    ("c int NOT NULL DEFAULT 5000 REFERENCES users (id)", True, "failure"),
    ("c serial REFERENCES users (id)", True, "failure"),
    ("c int GENERATED ALWAYS AS (id + 5000) STORED REFERENCES users (id)", True, "failure"),
    # PostgreSQL does not check an identity column's inline key (its values go unchecked)
    ("c int GENERATED BY DEFAULT AS IDENTITY (START 5000) REFERENCES users (id)", False, "failure"),
]


@pytest.mark.parametrize(("column", "flagged", "observed_by"), REFERENCING_COLUMNS)
def test_added_foreign_keys_are_flagged_exactly_when_postgres_checks_them(
    empty_database: str, column: str, flagged: bool, observed_by: str
) -> None:
    """ADD COLUMN ... REFERENCES is flagged exactly when PostgreSQL checks the existing rows."""
    rule = find_rule("foreign-key-without-not-valid")
    assert rule is not None
    history = (
        SqlText("0001.sql", "CREATE TABLE users (id int PRIMARY KEY); CREATE TABLE t (id int);"),
    )
    sql = f"ALTER TABLE t ADD COLUMN {column};"
    assert bool(lint_text(sql, [rule], history=history).violations) is flagged
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE users (id int PRIMARY KEY)")
        conn.execute("INSERT INTO users VALUES (1)")
        conn.execute("CREATE TABLE t (id int)")
        conn.execute("INSERT INTO t SELECT g FROM generate_series(1, 1000) g")
        before = seq_scans(conn, "t")
        try:
            conn.execute(sql)
        except psycopg.errors.ForeignKeyViolation:
            checked = True
        else:
            checked = observed_by == "scan" and seq_scans(conn, "t") != before
        assert checked is flagged, column


def seq_scans(conn: psycopg.Connection[tuple[object, ...]], table: str) -> object:
    """How many sequential scans of ``table`` the statistics have seen (flushed first)."""
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(
        "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = %s", (table,)
    ).fetchone()
    assert row is not None
    return row[0]


# (the column added, whether check-without-not-valid flags it): flagged exactly when the
# server scans the table without rewriting it
CHECKED_COLUMNS = [
    ("c int CHECK (c >= 0)", True),
    ("c int DEFAULT 0 CHECK (c >= 0)", True),
    ("c int NOT NULL DEFAULT 0", False),
    ("c int", False),
]


@pytest.mark.parametrize(("column", "flagged"), CHECKED_COLUMNS)
def test_added_checks_are_flagged_exactly_when_postgres_scans(
    empty_database: str, column: str, flagged: bool
) -> None:
    """ADD COLUMN ... CHECK is flagged, as PostgreSQL scans the table to check it."""
    rule = find_rule("check-without-not-valid")
    assert rule is not None
    history = (SqlText("0001.sql", "CREATE TABLE t (id int);"),)
    sql = f"ALTER TABLE t ADD COLUMN {column};"
    assert bool(lint_text(sql, [rule], history=history).violations) is flagged
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int)")
        conn.execute("INSERT INTO t SELECT g FROM generate_series(1, 1000) g")
        before, node = seq_scans(conn, "t"), filenodes_of(conn, "t")
        conn.execute(sql)
        assert filenodes_of(conn, "t") == node, "a rewrite would scan anyway"
        assert (seq_scans(conn, "t") != before) is flagged, column


def filenodes_of(conn: psycopg.Connection[tuple[object, ...]], table: str) -> object:
    """The table's file node (a rewrite changes it)."""
    row = conn.execute("SELECT pg_relation_filenode(%s::regclass)", (table,)).fetchone()
    assert row is not None
    return row[0]
