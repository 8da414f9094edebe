"""What the workflows decide from the ledger: `deploy finish --when-due` (finish only a due,
clean deploy; refuse after a breach; "not now" otherwise) and `deploy TAG --trigger` (never a
tag twice; a push run leaves a rollback tag to its rollback)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from psycopg.types.json import Jsonb

from spectral_deploy.config import Config
from spectral_deploy.cutover import store
from spectral_deploy.cutover.due import BREACH_ACTION, Due, finish_when_due
from spectral_deploy.cutover.model import Outcome
from spectral_deploy.cutover.orchestrator import Deployer
from spectral_deploy.cutover.triggers import Trigger, workflow_skip
from spectral_deploy.db import Database
from spectral_deploy.errors import CheckFailed
from spectral_deploy.ledger import generations
from spectral_deploy.ledger.store import EntryKind, append
from spectral_deploy.ledger.store import Outcome as LedgerOutcome
from spectral_deploy.providers.base import Color, DnsRecord, Health

pytestmark = pytest.mark.db


class Slots:
    """Hosting and DNS as observed: both colors healthy, the record at ``target``."""

    def __init__(self, target: str = "green", healthy: bool = True) -> None:
        self.target = target
        self.healthy = healthy
        self.stopped: list[Color] = []

    def health(self, color: Color) -> Health:
        return Health(ok=self.healthy, detail="HTTP 200" if self.healthy else "HTTP 503")

    def read(self) -> DnsRecord:
        return DnsRecord(name="app.localhost", target=self.target, ttl=60)

    def current(self, color: Color) -> None:
        return None  # nothing to retire: finish closes the deploy

    def stop(self, color: Color) -> None:
        self.stopped.append(color)


def deployer(database: Database, slots: Slots, tmp_path: object) -> Deployer:
    config = Config(project_root=tmp_path, source="test")  # type: ignore[arg-type]
    return Deployer(
        config,
        database,
        hosting=slots,  # type: ignore[arg-type]
        dns=slots,  # type: ignore[arg-type]
        vcs=None,  # type: ignore[arg-type]
        source=None,  # type: ignore[arg-type]
        error_rate=None,
    )


def open_deploy(database: Database, tag: str, *, flipped: bool, hold_left: float) -> int:
    with database.connect() as conn, conn.transaction():
        deploy_id = store.insert(
            conn,
            database.schema,
            tag=tag,
            commit="c" * 40,
            from_generation=None,
            from_commit=None,
            blue=Color.BLUE,
            green=Color.GREEN,
            started_by="test",
        )
        allocated = generations.allocate(conn, database.schema, tag=tag, commit_sha="c" * 40)
        store.set_generation(conn, database.schema, deploy_id, allocated.generation)
        if flipped:
            store.mark_flipped(conn, database.schema, deploy_id, hold_left)
    return deploy_id


def test_nothing_open_and_not_cut_over_are_quiet(database: Database, tmp_path: object) -> None:
    """No deploy, or one that has not flipped: nothing to finish, no error."""
    slots = Slots()
    now = datetime.now(UTC)
    assert finish_when_due(deployer(database, slots, tmp_path), now).due is Due.NOTHING_OPEN
    open_deploy(database, "v1.0.0", flipped=False, hold_left=0)
    found = finish_when_due(deployer(database, slots, tmp_path), now)
    assert found.due is Due.NOT_CUT_OVER and "has not cut over" in found.message


def test_the_window_open_is_not_due(database: Database, tmp_path: object) -> None:
    """Cut over, window still open: 'N s left', nothing finished."""
    open_deploy(database, "v1.0.0", flipped=True, hold_left=600)
    found = finish_when_due(deployer(database, Slots(), tmp_path), datetime.now(UTC))
    assert found.due is Due.HOLDING and "s left" in found.message


def test_a_due_clean_deploy_is_finished(database: Database, tmp_path: object) -> None:
    """Window over, nothing recorded, green healthy and the record at green: finished."""
    deploy_id = open_deploy(database, "v1.0.0", flipped=True, hold_left=0)
    later = datetime.now(UTC) + timedelta(seconds=5)
    found = finish_when_due(deployer(database, Slots(), tmp_path), later)
    assert found.due is Due.FINISHED and found.report is not None
    with database.connect() as conn:
        closed = store.get(conn, database.schema, deploy_id)
    assert closed is not None and closed.outcome is Outcome.COMPLETED


def test_a_recorded_breach_is_refused_loudly(database: Database, tmp_path: object) -> None:
    """A breach recorded during the window: exit 1 naming it and the rollback command, and
    the deploy stays open."""
    deploy_id = open_deploy(database, "v1.2.0", flipped=True, hold_left=0)
    with database.connect() as conn:
        append(
            conn,
            database.schema,
            EntryKind.DEPLOY,
            BREACH_ACTION,
            outcome=LedgerOutcome.FAILED,
            deploy_id=deploy_id,
            details={"breach": "3 error(s) of v1.2.0 since the flip"},
        )
        conn.commit()
    later = datetime.now(UTC) + timedelta(seconds=5)
    with pytest.raises(CheckFailed, match="3 error") as caught:
        finish_when_due(deployer(database, Slots(), tmp_path), later)
    assert "rollback plan" in (caught.value.hint or "")
    with database.connect() as conn:
        assert store.open_deploy(conn, database.schema) is not None


def test_a_breach_observed_now_is_recorded_and_refused(
    database: Database, tmp_path: object
) -> None:
    """Green unhealthy when the window is over: recorded as a breach, refused."""
    deploy_id = open_deploy(database, "v1.2.0", flipped=True, hold_left=0)
    later = datetime.now(UTC) + timedelta(seconds=5)
    with pytest.raises(CheckFailed, match="green is unhealthy"):
        finish_when_due(deployer(database, Slots(healthy=False), tmp_path), later)
    with database.connect() as conn:
        actions = conn.execute(
            "SELECT action FROM spectral.ledger WHERE deploy_id = %s", (deploy_id,)
        ).fetchall()
    assert (BREACH_ACTION,) in actions


def test_another_process_driving_a_deploy_means_not_now(
    database: Database, tmp_path: object
) -> None:
    """A process holding the deploy lock: 'not now', the next scheduled run retries."""
    open_deploy(database, "v1.0.0", flipped=True, hold_left=0)
    later = datetime.now(UTC) + timedelta(seconds=5)
    with database.connect(autocommit=True) as holder, store.DeployLock(holder, database.schema):
        found = finish_when_due(deployer(database, Slots(), tmp_path), later)
    assert found.due is Due.BUSY


def test_a_tag_that_cut_over_is_never_deployed_again_by_a_workflow(database: Database) -> None:
    """A re-run (push or dispatch) of a tag whose deploy flipped: skipped, with the deploy."""
    assert workflow_skip(database, "v1.0.0", Trigger.PUSH) is None
    deploy_id = open_deploy(database, "v1.0.0", flipped=True, hold_left=60)
    for trigger in Trigger:
        skip = workflow_skip(database, "v1.0.0", trigger)
        assert skip is not None and f"deploy #{deploy_id}" in skip.reason


def test_an_aborted_deploy_of_the_tag_may_be_deployed_again(database: Database) -> None:
    """Class 1 then 're-tag and re-run': a deploy that never flipped does not count."""
    deploy_id = open_deploy(database, "v1.0.0", flipped=False, hold_left=0)
    with database.connect() as conn, conn.transaction():
        store.finish(conn, database.schema, deploy_id, Outcome.ABORTED)
    assert workflow_skip(database, "v1.0.0", Trigger.WORKFLOW_DISPATCH) is None


def test_a_push_run_leaves_a_rollback_tag_to_its_rollback(database: Database) -> None:
    """A rollback whose plan deploys v1.3.0-rollback: its push run skips, the dispatched run
    deploys; an unclaimed rollback tag pushed by a person deploys."""
    plan = [
        {"id": "close-deploy", "title": "", "command": "", "params": {}},
        {"id": "deploy-prior", "title": "", "command": "", "params": {"tag": "v1.3.0-rollback"}},
    ]
    with database.connect() as conn, conn.transaction():
        conn.execute(
            "INSERT INTO spectral.rollbacks (failure_class, facts, reasons, plan, started_by) "
            "VALUES (3, '{}', '[]', %s, 'test')",
            (Jsonb(plan),),
        )
    skip = workflow_skip(database, "v1.3.0-rollback", Trigger.PUSH)
    assert skip is not None and "is deployed by rollback #" in skip.reason
    assert workflow_skip(database, "v1.3.0-rollback", Trigger.WORKFLOW_DISPATCH) is None
    assert workflow_skip(database, "v1.1.0-rollback", Trigger.PUSH) is None
