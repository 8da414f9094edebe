"""Communications on the fake world and the real PostgreSQL: the incident note is appended
after the rollback is resolved, and its timeline covers this incident only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from spectral_deploy.db import Database
from spectral_deploy.ledger.store import entries
from spectral_deploy.rollback.classify import Symptom
from tests.integration.fakeworld import MIGRATION_V1, MIGRATION_V2, Operator


@pytest.fixture
def operator(database: Database, tmp_path: Path) -> Iterator[Operator]:
    """v1.0.0 then v2.0.0 deployed and finished; v3.0.0 cut over to green (the incident)."""
    operator = Operator.start(tmp_path, database)
    operator.world.vcs.commit(
        {
            "app.py": "print('v3')\n",
            "migrations/0000_gadgets.sql": MIGRATION_V1,
            "migrations/0001_widgets.sql": MIGRATION_V2,
        },
        tag="v3.0.0",
    )
    operator.deploy("v1.0.0")
    operator.deploy("v2.0.0")
    operator.finish()
    operator.deploy("v3.0.0")
    try:
        yield operator
    finally:
        operator.world.close()


def incident_log(operator: Operator) -> Path:
    return operator.root / operator.config.notify.incident_log


def test_the_incident_note_comes_after_resolution_with_this_incident_only(
    operator: Operator,
) -> None:
    """Class 2 of v3.0.0: the note follows the rollback's finish and holds no older deploy."""
    record = operator.rollback_run(Symptom.BEHAVIOR)
    assert record.outcome == "completed"
    note = incident_log(operator).read_text()
    assert "rollback of v3.0.0" in note
    assert "Outcome: completed" in note
    with operator.database.connect() as conn:
        ledger = entries(conn, operator.database.schema)
    finished = [e.id for e in ledger if e.kind == "rollback" and e.action == "finish"]
    incident = [
        e.id
        for e in ledger
        if e.action == "send-incident" and e.outcome == "ok" and e.intent_key is None
    ]
    assert finished and incident and incident[-1] > finished[-1]
    allocations = note.count("| step allocate-generation | ok |")
    assert allocations == 1, note  # v3.0.0's, never v1.0.0's or v2.0.0's
    assert "| 1 |" not in note  # nothing at generation 1 (v1.0.0) belongs to this incident


def test_stopped_before_the_end_no_incident_note_yet(operator: Operator) -> None:
    """A rollback that stops before its last step is not resolved: no note until it is."""
    runner = operator.runner()
    gathered, plan = operator.plan(Symptom.BEHAVIOR)
    record = runner.begin(plan, gathered.facts, gathered.deploy)
    runner.confirm = lambda step: step.id != "notify"
    stopped = runner.run(record)
    assert stopped.finished_at is None
    assert not incident_log(operator).exists()
    deliveries = runner.notify(stopped)
    pending = [d for d in deliveries if d.channel == "incident"]
    assert pending and pending[0].status == "pending"
    assert not incident_log(operator).exists()
    runner.confirm = lambda step: True
    assert runner.run(stopped).outcome == "completed"
    assert "rollback of v3.0.0" in incident_log(operator).read_text()
