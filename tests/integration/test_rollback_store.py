"""The rollbacks table on the real PostgreSQL: one open rollback, its plan read back by column
name, its progress never going backwards, its finish recorded once."""

from __future__ import annotations

import pytest

from spectral_deploy.db import Database
from spectral_deploy.errors import PreconditionFailed
from spectral_deploy.rollback import store as rollbacks
from spectral_deploy.rollback.plan import PlanStep, StepId
from spectral_deploy.rollback.store import RollbackOutcome

STEPS = (
    PlanStep(
        StepId.FLIP_BACK,
        "Flip back",
        "spectral-deploy dns point blue --yes",
        True,
        {"target": "blue"},
    ),
    PlanStep(StepId.INVESTIGATE, "Investigate", "spectral-deploy deploy <fixed tag>", False),
)


def _open(database: Database) -> int:
    with database.connect() as conn, conn.transaction():
        return rollbacks.insert(
            conn,
            database.schema,
            deploy_id=None,
            failure_class=2,
            facts={"tag": "v2.0.0", "to_generation": 2},
            reasons=("the CNAME points at green",),
            steps=STEPS,
            started_by="ops",
        )


def test_a_second_open_rollback_is_refused_and_the_first_stays(database: Database) -> None:
    """Opening a rollback while one is open fails as a precondition naming ``rollback run``."""
    first = _open(database)
    with pytest.raises(PreconditionFailed, match="another rollback is in progress") as caught:
        _open(database)
    assert caught.value.hint == "spectral-deploy rollback run"
    with database.connect() as conn:
        opened = rollbacks.open_rollback(conn, database.schema)
    assert opened is not None and opened.id == first


def test_the_plan_reads_back_by_column_with_typed_step_ids(database: Database) -> None:
    """Every column of the row maps to its field; step ids come back as ``StepId``."""
    rollback_id = _open(database)
    with database.connect() as conn:
        record = rollbacks.get(conn, database.schema, rollback_id)
        newest = rollbacks.latest(conn, database.schema)
    assert record is not None and newest == record
    assert (record.deploy_id, record.failure_class, record.started_by) == (None, 2, "ops")
    assert record.facts == {"tag": "v2.0.0", "to_generation": 2}
    assert record.reasons == ("the CNAME points at green",)
    assert record.steps == STEPS
    assert record.steps[0].id is StepId.FLIP_BACK and not record.steps[1].automatic
    assert (record.steps_done, record.finished_at, record.outcome) == (0, None, None)


def test_progress_never_goes_back_and_the_finish_is_recorded_once(database: Database) -> None:
    """``step_done`` keeps the highest count; a second ``finish`` changes nothing."""
    rollback_id = _open(database)
    schema = database.schema
    with database.connect() as conn, conn.transaction():
        rollbacks.step_done(conn, schema, rollback_id, 2)
        rollbacks.step_done(conn, schema, rollback_id, 1)
        rollbacks.finish(conn, schema, rollback_id, RollbackOutcome.ESCALATED)
        rollbacks.finish(conn, schema, rollback_id, RollbackOutcome.COMPLETED)
    with database.connect() as conn:
        record = rollbacks.get(conn, schema, rollback_id)
        still_open = rollbacks.open_rollback(conn, schema)
    assert record is not None and record.steps_done == 2
    assert record.outcome is RollbackOutcome.ESCALATED and record.finished_at is not None
    assert still_open is None
    assert _open(database) != rollback_id  # a finished rollback no longer blocks a new one


def test_a_missing_rollback_reads_as_none(database: Database) -> None:
    """No row: ``get``, ``latest`` and ``open_rollback`` answer None."""
    with database.connect() as conn:
        assert rollbacks.get(conn, database.schema, 41) is None
        assert rollbacks.latest(conn, database.schema) is None
        assert rollbacks.open_rollback(conn, database.schema) is None
