"""The deploy ledger on a real PostgreSQL: append-only, filterable, intents recorded once."""

from __future__ import annotations

import psycopg
import pytest

from spectral_deploy.db import Database
from spectral_deploy.db.connect import translate
from spectral_deploy.errors import LedgerIsAppendOnly
from spectral_deploy.ledger import store
from spectral_deploy.ledger.store import EntryKind, Outcome


def test_append_and_read_back(database: Database) -> None:
    """An entry comes back with who, when, generations and details."""
    with database.connect() as conn:
        entry = store.append(
            conn,
            database.schema,
            EntryKind.ROLLBACK,
            "flip-back",
            outcome=Outcome.OK,
            actor="alice",
            from_generation=8,
            to_generation=7,
            details={"class": 2, "tag": "v1.8.0"},
        )
        conn.commit()
        [read] = store.entries(conn, database.schema)
    assert read == entry
    assert (read.kind, read.action, read.outcome, read.actor) == (
        "rollback",
        "flip-back",
        "ok",
        "alice",
    )
    assert read.details == {"class": 2, "tag": "v1.8.0"}
    assert read.as_json()["from_generation"] == 8


def test_filters_and_tail(database: Database) -> None:
    """Filter by kind, deploy and generation; tail returns the newest, oldest first."""
    with database.connect() as conn:
        for index in range(5):
            store.append(
                conn, database.schema, EntryKind.STEP, f"step-{index}", deploy_id=1, generation=3
            )
        store.append(conn, database.schema, EntryKind.DRAIN, "drain", to_generation=3)
        store.append(conn, database.schema, EntryKind.DEPLOY, "other", deploy_id=2, generation=4)
        conn.commit()
        assert len(store.entries(conn, database.schema, kind="step")) == 5
        assert len(store.entries(conn, database.schema, deploy_id=2)) == 1
        assert len(store.entries(conn, database.schema, generation=3)) == 6
        tail = store.tail(conn, database.schema, 2)
        assert [e.action for e in tail] == ["drain", "other"]
        after = store.entries(conn, database.schema, after_id=tail[0].id)
        assert [e.action for e in after] == ["other"]


def test_an_intent_is_recorded_once(database: Database) -> None:
    """The same intent key twice: the second returns None and the first stands."""
    with database.connect() as conn:
        first = store.record_intent(
            conn, database.schema, EntryKind.DEPLOY, "flip", "deploy-1/flip"
        )
        again = store.record_intent(
            conn, database.schema, EntryKind.DEPLOY, "flip", "deploy-1/flip"
        )
        conn.commit()
        assert first is not None and first.outcome == "intent"
        assert again is None
        assert store.entry_by_intent(conn, database.schema, "deploy-1/flip") == first


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE spectral.ledger SET outcome = 'ok'",
        "DELETE FROM spectral.ledger",
        "TRUNCATE spectral.ledger",
    ],
)
def test_history_cannot_be_rewritten(database: Database, statement: str) -> None:
    """UPDATE, DELETE and TRUNCATE are refused, even for the superuser."""
    with database.connect() as conn:
        store.append(conn, database.schema, EntryKind.DEPLOY, "start", outcome=Outcome.STARTED)
        conn.commit()
        with pytest.raises(psycopg.Error) as caught:
            conn.execute(statement)
        conn.rollback()
        assert isinstance(translate(caught.value), LedgerIsAppendOnly)
        assert caught.value.sqlstate == "SD001"
        assert len(store.entries(conn, database.schema)) == 1
