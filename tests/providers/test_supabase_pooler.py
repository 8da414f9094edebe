"""Supabase's poolers, played by a local pooler in front of the test server: a transaction
pooler is detected (by port or by the server's answers) and refused for this tool's commands,
while apps emit through any pooler; through a session pooler everything works."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from spectral_deploy import emit
from spectral_deploy.config import load_config
from spectral_deploy.db import Database, open_database
from spectral_deploy.db.connect import connect
from spectral_deploy.db.pooler import probe, refuse_transaction_pooler
from spectral_deploy.errors import ConfigError
from spectral_deploy.ledger import generations
from tests.acceptance.sandbox import run_cli
from tests.providers.fakes.pooler import FakePooler

EMITS = 12  # more than psycopg's prepare_threshold (5): the statement would be prepared


def _dbname(database: Database) -> str:
    return str(conninfo_to_dict(database.url)["dbname"])


@pytest.fixture
def transaction_pooler(database: Database) -> Iterator[FakePooler]:
    """A transaction pooler (three server sessions, round robin) in front of the test DB."""
    with FakePooler(database.url, mode="transaction", sessions=3) as pooler:
        yield pooler


@pytest.fixture
def session_pooler(database: Database) -> Iterator[FakePooler]:
    """A session pooler in front of the test database."""
    with FakePooler(database.url, mode="session", sessions=2) as pooler:
        yield pooler


def test_the_fake_pooler_multiplexes_transactions(
    transaction_pooler: FakePooler, database: Database
) -> None:
    """What makes a transaction pooler dangerous here: one client connection, several
    server sessions, so LISTEN in one transaction hears nothing in the next."""
    url = transaction_pooler.url(_dbname(database))
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        pids = {conn.execute("SELECT pg_backend_pid()").fetchone() for _ in range(4)}
    assert len(pids) > 1


def test_apps_emit_through_a_transaction_pooler(
    transaction_pooler: FakePooler, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """emit() with psycopg's defaults (prepared after 5 runs) works through port 6543:
    every event lands, none is lost to a prepared statement left in another session."""
    with database.connect() as conn, conn.transaction():
        generation = generations.allocate(conn, database.schema, tag="v1", commit_sha="a" * 40)
    monkeypatch.setenv("SPECTRAL_GENERATION", str(generation.generation))
    url = transaction_pooler.url(_dbname(database))
    with psycopg.connect(url) as conn:
        for number in range(EMITS):
            with conn.transaction():
                emit(conn, "order.created", {"n": number})
    with database.connect() as conn:
        count = conn.execute("SELECT count(*) FROM spectral.outbox").fetchone()
    assert count == (EMITS,)
    assert len(transaction_pooler.stats.sessions_used) > 1


def test_the_server_answer_reveals_a_transaction_pooler_on_any_port(
    transaction_pooler: FakePooler, session_pooler: FakePooler, database: Database
) -> None:
    """A transaction pooler on an ordinary port (not 6543) is found by asking the server;
    a session pooler and a direct connection are not taken for one."""
    name = _dbname(database)
    assert probe(transaction_pooler.url(name))
    assert not probe(session_pooler.url(name))
    with pytest.raises(ConfigError, match=r"transaction pooler.*the server") as caught:
        refuse_transaction_pooler(transaction_pooler.url(name))
    assert "session pooler" in (caught.value.hint or "") and "5432" in (caught.value.hint or "")


def test_a_transaction_pooler_is_refused_for_this_tools_commands(
    transaction_pooler: FakePooler, database: Database, tmp_path: Path
) -> None:
    """The worker, migrations and the deploy through a transaction pooler: exit 2 naming
    DATABASE_URL and the session pooler, before anything runs."""
    url = transaction_pooler.url(_dbname(database))
    (tmp_path / "spectral.toml").write_text("", encoding="utf-8")
    for command in (
        ("worker", "--app", "tests.fixtures.outbox_app:handlers"),
        ("migrate", "apply", "--generation", "1"),
        ("deploy", "v1.0.0"),
        ("db", "init"),
    ):
        env = {"DATABASE_URL": url, "SPECTRAL_GENERATION": "1"}
        result = run_cli(tmp_path, command, env=env, timeout=60)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "transaction pooler" in result.stderr and "session pooler" in result.stderr
    config = load_config(cwd=tmp_path, environ={"DATABASE_URL": url})
    with pytest.raises(ConfigError):
        open_database(config)


def test_port_6543_is_refused_without_asking_the_server(tmp_path: Path) -> None:
    """Supabase's transaction pooler port is known: refused before any connection."""
    url = "postgresql://postgres.ref@aws-0-eu-west-1.pooler.supabase.com:6543/postgres"
    config = load_config(cwd=tmp_path, environ={"DATABASE_URL": url})
    with pytest.raises(ConfigError, match=r"port 6543"):
        open_database(config)


def test_this_tool_works_through_a_session_pooler(
    session_pooler: FakePooler, database: Database
) -> None:
    """Through a session pooler: connections come with prepared statements off and the
    timeouts set (poolers drop the options startup parameter); LISTEN/NOTIFY works."""
    # Supabase's pooler host name, reached at the local pooler's address
    url = (
        f"postgresql://{session_pooler.user}@aws-0-eu-west-1.pooler.supabase.com:"
        f"{session_pooler.port}/{_dbname(database)}?hostaddr=127.0.0.1"
    )
    with connect(url, settings=database.settings) as conn:
        assert conn.prepare_threshold is None
        row = conn.execute(
            "SELECT setting FROM pg_settings WHERE name = 'statement_timeout'"
        ).fetchone()
        assert row == (str(database.settings.statement_timeout_seconds * 1000),)
        conn.commit()
    with connect(url, autocommit=True) as listener, connect(url, autocommit=True) as talker:
        listener.execute("LISTEN spectral_probe")
        talker.execute("NOTIFY spectral_probe, 'hello'")
        note = next(listener.notifies(timeout=5, stop_after=1))
    assert note.payload == "hello"
