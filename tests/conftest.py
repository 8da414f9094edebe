"""Fixtures shared by every test layer: one embedded PostgreSQL server per test session.

The server lives in a temporary directory under /tmp (reachable by the unprivileged
user PostgreSQL runs as when the tests run as root), is tuned for throwaway data
(fsync off), and is stopped at the end of the session. Integration tests copy a
template database that already holds Spectral's schema, one copy per test. The server asks
every role for its password, like any embedded server: the URLs below (the superuser's, for
test plumbing) name the superuser's password file, never the password.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from spectral_deploy.config import DatabaseConfig
from spectral_deploy.db import Database
from spectral_deploy.db.embedded import EmbeddedServer, ServerStatus
from spectral_deploy.db.schema import install

# The longest files (minutes each, mostly waiting on real TTLs and subprocesses): handed to the
# xdist workers first, so they overlap the rest of the suite instead of ending it alone.
START_FIRST = (
    "tests/providers/test_production_story.py",
    "tests/acceptance/test_adopt_",
    "tests/acceptance/test_deploy_crash.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the files of START_FIRST to the front, in that order, each file's tests in order."""

    def rank(item: pytest.Item) -> int:
        ranks = [n for n, prefix in enumerate(START_FIRST) if item.nodeid.startswith(prefix)]
        return ranks[0] if ranks else len(START_FIRST)

    items.sort(key=rank)  # stable: the order within each file, and of the rest, is kept


# the GCS emulator and S3 server fixtures (started only by tests that use them)
pytest_plugins = ["tests.storage_servers"]

TEMPLATE_DATABASE = "spectral_template"
SCHEMA = "spectral"
THROWAWAY_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}
_counter = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[ServerStatus]:
    """A running embedded server for the whole session."""
    root = Path(tempfile.mkdtemp(prefix="spectral-test-"))
    root.chmod(0o755)
    server = EmbeddedServer(root / "pg")
    status = server.ensure_started(THROWAWAY_SETTINGS)
    try:
        yield status
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def server_url(status: ServerStatus, database: str) -> str:
    """The URL of ``database`` on the test server."""
    url = status.url(database)
    assert url is not None
    return url


@pytest.fixture(scope="session")
def template_database(pg_server: ServerStatus) -> str:
    """A database with Spectral's schema installed, to be copied per test."""
    with psycopg.connect(server_url(pg_server, "postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(TEMPLATE_DATABASE))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE_DATABASE)))
    with psycopg.connect(server_url(pg_server, TEMPLATE_DATABASE)) as conn:
        install(conn, SCHEMA)
    return TEMPLATE_DATABASE


@pytest.fixture
def empty_database(pg_server: ServerStatus) -> Iterator[str]:
    """A fresh empty database's URL (no Spectral schema)."""
    name = f"test_empty_{next(_counter)}"
    yield from _scratch(pg_server, name, template=None)


@pytest.fixture
def database(pg_server: ServerStatus, template_database: str) -> Iterator[Database]:
    """A fresh copy of the template: Spectral's schema, no rows."""
    name = f"test_{next(_counter)}"
    for url in _scratch(pg_server, name, template=template_database):
        yield Database(url=url, schema=SCHEMA, settings=DatabaseConfig(), embedded=True)


def _scratch(status: ServerStatus, name: str, *, template: str | None) -> Iterator[str]:
    admin = server_url(status, "postgres")
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        create = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template)
        )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(create)
    try:
        yield server_url(status, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
