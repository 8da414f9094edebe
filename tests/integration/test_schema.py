"""Spectral's own schema on a real PostgreSQL: install, upgrade, N-1 compatibility."""

from __future__ import annotations

import threading

import psycopg
import pytest

from spectral_deploy.db.schema import (
    bundled_migrations,
    install,
    installed_migrations,
    require_schema,
    required_version,
)
from spectral_deploy.errors import DatabaseError, SchemaNotInstalled

CATALOG_SNAPSHOT = """
SELECT c.relname, c.relkind, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = %s
ORDER BY 1, 3
"""


def snapshot(conn: psycopg.Connection[tuple[object, ...]], schema: str) -> list[tuple[object, ...]]:
    return conn.execute(CATALOG_SNAPSHOT, (schema,)).fetchall()


def test_install_is_idempotent(empty_database: str) -> None:
    """db init twice: the second run applies nothing and the catalog is unchanged."""
    with psycopg.connect(empty_database, autocommit=True) as conn:
        first = install(conn, "spectral")
        before = snapshot(conn, "spectral")
        second = install(conn, "spectral")
        after = snapshot(conn, "spectral")
    assert first.applied_now == tuple(m.version for m in bundled_migrations())
    assert second.applied_now == ()
    assert second.installed_version == required_version()
    assert before == after
    assert any(row[0] == "ledger" for row in before)


def test_schema_name_is_configurable_and_quoted(empty_database: str) -> None:
    """A schema name that needs quoting works end to end."""
    with psycopg.connect(empty_database) as conn:
        install(conn, "Deploy Ops")
        assert require_schema(conn, "Deploy Ops") == required_version()
        assert snapshot(conn, "Deploy Ops")


def test_missing_schema_asks_for_db_init(empty_database: str) -> None:
    """A database without the schema is a precondition error whose hint is db init."""
    with psycopg.connect(empty_database) as conn, pytest.raises(SchemaNotInstalled) as caught:
        require_schema(conn, "spectral")
    assert caught.value.hint == "spectral-deploy db init"


def test_a_newer_schema_is_accepted(empty_database: str) -> None:
    """N-1: a tool older than the schema keeps working (migrations only add)."""
    with psycopg.connect(empty_database) as conn:
        install(conn, "spectral")
        conn.execute(
            "INSERT INTO spectral.schema_migrations (version, name, checksum, tool_version) "
            "VALUES (999, 'from_the_future', 'x', '9.9.9')"
        )
        conn.commit()
        assert require_schema(conn, "spectral") == 999


def test_an_older_schema_asks_for_db_init(empty_database: str) -> None:
    """A tool newer than the schema refuses to run until db init upgrades it."""
    with psycopg.connect(empty_database) as conn:
        install(conn, "spectral")
        conn.execute(
            "DELETE FROM spectral.schema_migrations WHERE version = %s", (required_version(),)
        )
        if required_version() == 1:
            conn.execute(
                "INSERT INTO spectral.schema_migrations (version, name, checksum, tool_version) "
                "VALUES (0, 'baseline', 'x', '0.0.0')"
            )
        conn.commit()
        with pytest.raises(SchemaNotInstalled, match="needs version"):
            require_schema(conn, "spectral")


def test_an_edited_installed_migration_is_an_error(empty_database: str) -> None:
    """If the installed text differs from the shipped one, install stops and says so."""
    with psycopg.connect(empty_database) as conn:
        install(conn, "spectral")
        conn.execute(
            "UPDATE spectral.schema_migrations SET checksum = 'tampered' WHERE version = 1"
        )
        conn.commit()
        with pytest.raises(DatabaseError, match="different text"):
            install(conn, "spectral")


def test_concurrent_installs_apply_each_migration_once(empty_database: str) -> None:
    """Installers racing on one database are serialised by the advisory lock."""
    reports = []
    failures: list[BaseException] = []

    def run() -> None:
        try:
            with psycopg.connect(empty_database) as conn:
                reports.append(install(conn, "spectral"))
        except BaseException as exc:  # collected for the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    applied = [v for report in reports for v in report.applied_now]
    assert sorted(applied) == [m.version for m in bundled_migrations()]
    with psycopg.connect(empty_database) as conn:
        assert len(installed_migrations(conn, "spectral")) == len(bundled_migrations())
