"""Fixtures of the tests that run worker and drain processes on the real server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from spectral_deploy.db import Database
from tests.fixtures.outbox_app import CREATE_TABLE
from tests.integration.workers import WorkerProcess, ensure_generations

ALLOCATED_GENERATIONS = 12


@pytest.fixture
def db(database: Database) -> Database:
    """The test database with the handlers' record tables and generations 1 to 12 allocated
    (emit and workers refuse a generation that was never allocated)."""
    with database.connect() as conn:
        conn.execute(CREATE_TABLE)
        conn.commit()
    ensure_generations(database, ALLOCATED_GENERATIONS)
    return database


@pytest.fixture
def workers(db: Database) -> Iterator[list[WorkerProcess]]:
    """Started workers; any still running at the end are killed (before the database goes)."""
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait()
