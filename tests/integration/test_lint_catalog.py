"""``lint --schema-from``: the schema model read from a live database's catalog."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from spectral_deploy.lint.catalog import read_catalog
from spectral_deploy.lint.engine import SqlText, Step, Timeline, lint_timelines
from spectral_deploy.lint.names import ObjectKind, QualifiedName
from spectral_deploy.lint.registry import all_rules
from spectral_deploy.lint.schema import Schema

RULES = tuple(rule for rule in all_rules() if rule.default)
SCHEMA = """
CREATE TYPE mood AS ENUM ('ok', 'sad');
CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name varchar(20) NOT NULL,
    email text COLLATE "C",
    total numeric(10, 2) DEFAULT 0,
    nothing int DEFAULT NULL,
    seen timestamptz(3),
    feeling mood,
    tags text[],
    CONSTRAINT email_set CHECK (email IS NOT NULL)
);
ALTER TABLE users ADD CONSTRAINT total_set CHECK (total IS NOT NULL) NOT VALID;
CREATE INDEX users_name ON users (lower(name));
CREATE VIEW active AS SELECT id, name FROM users;
CREATE SCHEMA billing;
CREATE TABLE billing.invoices (id int);
CREATE SCHEMA empty;
CREATE SEQUENCE counter;
"""


@pytest.fixture
def catalog_url(empty_database: str) -> str:
    """A database holding the schema above."""
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute(SCHEMA)
    return empty_database


def lint_against(model: Schema, sql: str) -> list[tuple[str, int, str]]:
    """Lint one change set against the catalog's model."""
    timeline = Timeline((Step(SqlText("m.sql", sql), 0),))
    report = lint_timelines([timeline], RULES, schema=model)
    assert not report.errors, report.errors
    return [(v.rule, v.line, v.message) for v in report.violations]


def test_the_catalog_model_has_the_real_types_and_constraints(catalog_url: str) -> None:
    """Types compare like a migration's; NOT NULL, defaults, checks, indexes, views."""
    model = read_catalog(catalog_url)
    users = QualifiedName("public", "users")
    columns = {name: model.column(users, name) for name in ("id", "name", "total", "nothing")}
    assert all(c is not None for c in columns.values())
    assert str(model.column(users, "name").type) == "varchar(20)"  # type: ignore[union-attr]
    assert str(model.column(users, "total").type) == "numeric(10, 2)"  # type: ignore[union-attr]
    assert str(model.column(users, "seen").type) == "timestamptz(3)"  # type: ignore[union-attr]
    assert model.column(users, "feeling").type.name == "public.mood"  # type: ignore[union-attr]
    assert model.column(users, "tags").type.array_dims == 1  # type: ignore[union-attr]
    assert model.column(users, "email").collation == "C"  # type: ignore[union-attr]
    assert [columns[n].not_null for n in ("id", "name", "total")] == [True, True, False]  # type: ignore[union-attr]
    assert [columns[n].default for n in ("id", "total", "nothing")] == [True, True, False]  # type: ignore[union-attr]
    email_check = model.not_null_check(users, "email")
    total_check = model.not_null_check(users, "total")
    assert email_check is not None and email_check.validated
    assert total_check is not None and not total_check.validated
    assert model.indexed(users, "name") and not model.indexed(users, "email")
    assert model.exists(ObjectKind.VIEW, QualifiedName("public", "active"))
    assert model.exists(ObjectKind.SEQUENCE, QualifiedName("public", "counter"))
    assert model.exists(ObjectKind.TABLE, QualifiedName("public", "nope")) is False
    assert model.objects_in("empty") == 0 and model.objects_in("billing") == 1


def test_changes_are_judged_against_the_catalog(catalog_url: str) -> None:
    """Widening clean, narrowing flagged with the catalog's type, what exists known."""
    model = read_catalog(catalog_url)
    sql = (
        "ALTER TABLE users ALTER COLUMN name TYPE varchar(50);\n"
        "ALTER TABLE users ALTER COLUMN total TYPE numeric(8, 2);\n"
        "CREATE TABLE IF NOT EXISTS users (id bigint, name text);\n"
        "DROP TABLE IF EXISTS nope;\n"
        "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n"
        "ALTER TABLE users ALTER COLUMN total SET NOT NULL;\n"
        "DROP SCHEMA empty;\n"
        "DROP SCHEMA billing CASCADE;\n"
    )
    found = lint_against(model, sql)
    assert [(rule, line) for rule, line, _ in found] == [
        ("alter-column-type", 2),
        ("set-not-null", 6),
        ("drop-schema", 8),
    ]
    assert "from numeric(10, 2) to numeric(8, 2) narrows" in found[0][2]


def test_each_directory_gets_its_own_copy_of_the_catalog_model(catalog_url: str) -> None:
    """One timeline's changes do not leak into another's model."""
    model = read_catalog(catalog_url)
    first = Timeline((Step(SqlText("a.sql", "DROP TABLE users;"), 0),))
    second = Timeline((Step(SqlText("b.sql", "ALTER TABLE users ALTER name TYPE text;"), 0),))
    report = lint_timelines([first, second], RULES, schema=model)
    assert [(v.path, v.rule) for v in report.violations] == [("a.sql", "drop-table")]
    assert model.relation(QualifiedName("public", "users")) is not None


def run_lint(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The lint command line, as CI runs it."""
    return subprocess.run(
        [sys.executable, "-m", "spectral_deploy", "lint", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        check=False,
    )


def test_schema_from_on_the_command_line(catalog_url: str, tmp_path: Path) -> None:
    """--schema-from env:NAME reads the URL from the environment; history is not replayed."""
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations/0001_init.sql").write_text("CREATE TABLE users (name text);\n")
    (tmp_path / "migrations/0002_widen.sql").write_text(
        "ALTER TABLE users ALTER COLUMN name TYPE varchar(100);\n"
    )
    result = run_lint(
        tmp_path,
        "migrations/0002_widen.sql",
        "--schema-from",
        "env:PROD_URL",
        "--format",
        "json",
        env={"PROD_URL": catalog_url},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["violations"] == []
    replayed = run_lint(tmp_path, "migrations/0002_widen.sql", "--format", "json", env={})
    [violation] = json.loads(replayed.stdout)["violations"]
    assert "from text to varchar(100) narrows" in violation["message"]


def test_schema_from_an_unreachable_database_never_shows_the_password(tmp_path: Path) -> None:
    """A URL with a password: exit 3 naming host and database, no secret."""
    (tmp_path / "m.sql").write_text("SELECT 1;\n")
    url = "postgresql://deploy:s3cret-pw@127.0.0.1:9/prod?connect_timeout=2"
    result = run_lint(tmp_path, "m.sql", "--schema-from", url, env={})
    assert result.returncode != 0
    assert "127.0.0.1:9/prod" in result.stderr
    assert "s3cret-pw" not in result.stderr + result.stdout
    missing = run_lint(tmp_path, "m.sql", "--schema-from", "env:NOT_SET_ANYWHERE", env={})
    assert missing.returncode == 2
    assert "NOT_SET_ANYWHERE is not set" in missing.stderr


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://deploy:s3cret-pw@127.0.0.1:9/prod?connect_timeout=2",
        "postgresql://deploy:s3cret-pw%zz@127.0.0.1/prod",
        "host=127.0.0.1 password=s3cret-pw dbname",
    ],
)
def test_a_url_that_does_not_parse_or_connect_is_never_echoed(tmp_path: Path, url: str) -> None:
    """SQLAlchemy's driver form is accepted; a malformed one is refused without its text."""
    (tmp_path / "m.sql").write_text("SELECT 1;\n")
    result = run_lint(tmp_path, "m.sql", "--schema-from", url, env={})
    assert result.returncode in (2, 3), result.stderr
    assert "s3cret-pw" not in result.stderr + result.stdout
    assert "--schema-from" in result.stderr
