"""The drain's decisions in the library: the preflight it starts from and the adopt target."""

from __future__ import annotations

import socket
import subprocess
from uuid import uuid4

import pytest

from spectral_deploy.db import Database
from spectral_deploy.errors import GenerationRefused, PreconditionFailed, UsageError
from spectral_deploy.ledger import generations
from spectral_deploy.ledger.generations import GenerationState
from spectral_deploy.outbox import drain as drains
from spectral_deploy.outbox.pgstore import PostgresStore
from spectral_deploy.outbox.store import WorkerInfo, WorkerState
from tests.integration.workers import ensure_generations, scalar

STALE = 120.0


def _gone_worker(db: Database, generation: int) -> str:
    """A worker of this host registered as running whose process has ended."""
    ended = subprocess.Popen(["true"])
    ended.wait()
    worker = uuid4()
    store = PostgresStore(db.connect(), db.schema)
    host = socket.gethostname()
    store.register_worker(WorkerInfo(worker, generation, host, ended.pid, "app", 1, 30))
    store.set_worker_state(worker, WorkerState.RUNNING)
    store.close()
    return str(worker)


def _state(db: Database, worker: str) -> str:
    return str(scalar(db, f"SELECT state FROM spectral.workers WHERE id = '{worker}'"))


@pytest.mark.parametrize(("dry_run", "state"), [(True, "running"), (False, "stopped")])
def test_a_gone_worker_is_left_out_of_the_plan_and_released_unless_dry(
    db: Database, dry_run: bool, state: str
) -> None:
    """Named, not counted as live; a drain marks it stopped, a dry run leaves its row alone."""
    ensure_generations(db, 8)
    worker = _gone_worker(db, 8)
    with db.connect() as conn:
        opening = drains.open_drain(conn, db.schema, 8, stale_after=STALE, dry_run=dry_run)
    assert [str(w.id) for w in opening.gone] == [worker]
    assert opening.released is not dry_run
    assert opening.plan.live_workers == ()
    assert _state(db, worker) == state


def _plan(db: Database, generation: int) -> drains.Preflight:
    with db.connect() as conn:
        return drains.preflight(conn, db.schema, generation, stale_after=STALE)


def test_the_adopt_target_is_the_active_generation_or_refused(db: Database) -> None:
    """No --to-generation: the active one; none active: exit-3 failure; G itself: usage."""
    ensure_generations(db, 9)
    with db.connect() as conn:
        with pytest.raises(PreconditionFailed, match="no generation is active"):
            drains.adopt_target(conn, db.schema, _plan(db, 8), None, stale_after=STALE, force=False)
        with pytest.raises(UsageError, match="into itself"):
            drains.adopt_target(conn, db.schema, _plan(db, 8), 8, stale_after=STALE, force=False)
        generations.set_state(conn, db.schema, 9, GenerationState.ACTIVE)
        target = drains.adopt_target(
            conn, db.schema, _plan(db, 8), None, stale_after=STALE, force=False
        )
    assert target == drains.AdoptTarget(9, forced_past=None, live_workers=0)


def test_a_failed_or_missing_adopt_target_is_refused_unless_forced(db: Database) -> None:
    """A failed target and one never allocated are refused; --force adopts and says why."""
    ensure_generations(db, 9)
    with db.connect() as conn:
        generations.set_state(conn, db.schema, 9, GenerationState.FAILED)
        plan = _plan(db, 8)
        with pytest.raises(GenerationRefused, match="failed"):
            drains.adopt_target(conn, db.schema, plan, 9, stale_after=STALE, force=False)
        with pytest.raises(GenerationRefused, match="does not exist"):
            drains.adopt_target(conn, db.schema, plan, 40, stale_after=STALE, force=False)
        forced = drains.adopt_target(conn, db.schema, plan, 9, stale_after=STALE, force=True)
        missing = drains.adopt_target(conn, db.schema, plan, 40, stale_after=STALE, force=True)
    assert forced.forced_past == "failed"
    assert missing.forced_past == "does not exist"
