"""Connections: timeouts, application name, and one clear line when the server is away."""

from __future__ import annotations

from pathlib import Path

import pytest

from spectral_deploy.config import DatabaseConfig, load_config
from spectral_deploy.db import Database, open_database
from spectral_deploy.db.connect import connect
from spectral_deploy.errors import DatabaseUnreachable, SchemaNotInstalled
from tests.ports import refusing_port


def test_unreachable_server_names_host_and_port_not_the_password() -> None:
    """A refused connection is one error naming host:port, never the password."""
    with refusing_port() as port, pytest.raises(DatabaseUnreachable) as caught:
        url = f"postgresql://deploy:hunter2@127.0.0.1:{port}/app"
        connect(url, settings=DatabaseConfig(connect_timeout_seconds=2))
    message = str(caught.value)
    assert f"127.0.0.1:{port}/app" in message
    assert "hunter2" not in message
    assert "\n" not in message


def test_garbage_url_is_a_clear_error() -> None:
    """A URL libpq cannot parse is reported as such."""
    with pytest.raises(DatabaseUnreachable, match="not valid"):
        connect("postgresql://[bad")


def test_sessions_carry_timeouts_and_name(database: Database) -> None:
    """statement_timeout, lock_timeout and application_name are set from config."""
    settings = DatabaseConfig(statement_timeout_seconds=7, lock_timeout_seconds=2)
    with connect(database.url, settings=settings, application_name="spectral-test") as conn:
        assert conn.execute("SHOW statement_timeout").fetchone() == ("7s",)
        assert conn.execute("SHOW lock_timeout").fetchone() == ("2s",)
        assert conn.execute("SHOW application_name").fetchone() == ("spectral-test",)


def test_external_database_without_schema_asks_for_init(
    empty_database: str, tmp_path: Path
) -> None:
    """An external database is never changed implicitly: db init is required."""
    config = load_config(cwd=tmp_path, environ={"DATABASE_URL": empty_database})
    with pytest.raises(SchemaNotInstalled):
        open_database(config)


def test_external_database_with_schema_opens(database: Database, tmp_path: Path) -> None:
    """With the schema installed, open_database returns a usable Database."""
    config = load_config(cwd=tmp_path, environ={"DATABASE_URL": database.url})
    opened = open_database(config)
    assert not opened.embedded
    with opened.connect() as conn:
        assert conn.execute("SELECT count(*) FROM spectral.ledger").fetchone() == (0,)
