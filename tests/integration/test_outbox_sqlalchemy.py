"""Emitting through SQLAlchemy joins the session's transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from spectral_deploy.db import Database
from spectral_deploy.errors import UsageError
from spectral_deploy.outbox.sqlalchemy import emit, emit_many
from tests.integration.workers import ensure_generations


@pytest.fixture(autouse=True)
def allocated(database: Database) -> None:
    """Generations 1 to 3 exist: emit refuses a generation that was never allocated."""
    ensure_generations(database, 3)


def engine_url(database: Database) -> str:
    return database.url.replace("postgresql://", "postgresql+psycopg://", 1)


def test_session_rollback_and_commit(database: Database) -> None:
    """Rolled back with the session, committed with it."""
    engine = create_engine(engine_url(database))
    try:
        with Session(engine) as session:
            emit(session, "order.created", {"id": 1}, generation=2)
            session.rollback()
        with Session(engine) as session, session.begin():
            session.execute(text("SELECT 1"))
            emit(session, "order.created", {"id": 2}, key="c-9", generation=2)
            emit_many(session, [("order.paid", {"id": 2})], generation=2)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT topic, key, payload FROM spectral.outbox ORDER BY id")
            ).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [
        ("order.created", "c-9", {"id": 2}),
        ("order.paid", None, {"id": 2}),
    ]


def test_connection_works_too(database: Database) -> None:
    """A Core Connection in a transaction is accepted as well."""
    engine = create_engine(engine_url(database))
    try:
        with engine.begin() as conn:
            emit(conn, "t", {}, generation=3)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM spectral.outbox")).scalar() == 1
    finally:
        engine.dispose()


def test_other_drivers_are_refused(database: Database) -> None:
    """Not psycopg 3: a UsageError saying which URL scheme to use."""

    class FakeDriverConnection:
        pass

    class FakeConnection:
        class connection:  # mirrors SQLAlchemy's attribute names
            driver_connection = FakeDriverConnection()

    with pytest.raises(UsageError, match="not psycopg 3") as caught:
        emit(FakeConnection(), "t", {}, generation=1)  # type: ignore[arg-type]
    assert caught.value.hint is not None and "postgresql+psycopg://" in caught.value.hint
