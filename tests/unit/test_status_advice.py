"""What `status` and the dashboard tell an operator to run next, decided from a snapshot (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from spectral_deploy.backup.catalog import CatalogEntry
from spectral_deploy.backup.manifest import Manifest, Verification
from spectral_deploy.cutover.model import Outcome
from spectral_deploy.cutover.observe import FlipState
from spectral_deploy.providers.base import Color
from spectral_deploy.web.advice import BACKUP_MAX_AGE_SECONDS
from spectral_deploy.web.model import (
    BackupState,
    BackupView,
    Level,
    Live,
    RollbackView,
    Slot,
    backup_view,
)
from tests.unit.statuskit import LIVE, NOW, VERIFIED, backlog, deploy_view, snapshot, worker

BOTH_RUNNING = (
    Slot(Color.BLUE, False, "running", 1, "v1.0.0", 2, True, "HTTP 200"),
    Slot(Color.GREEN, True, "running", 2, "v1.1.0", 2, True, "HTTP 200"),
)


def commands(snap: object) -> list[str]:
    return [c for a in snap.actions for c in a.commands]  # type: ignore[attr-defined]


def test_a_healthy_project_needs_nothing() -> None:
    """A live generation with its workers, a completed deploy and a fresh verified backup:
    no action."""
    snap = snapshot(
        deploy=deploy_view(step=11, finished_at=NOW, outcome=Outcome.COMPLETED),
        generations=(backlog(1, pending=3, workers=2, active=True),),
    )
    assert snap.actions == ()


def test_a_stranded_generation_gets_its_drain_command() -> None:
    """Rows at a generation with no live worker: critical, with the legacy-drain command."""
    snap = snapshot(
        generations=(backlog(1, workers=2, active=True), backlog(2, pending=40, in_flight=2))
    )
    (action,) = snap.actions
    assert action.level is Level.CRITICAL
    assert action.reason == "generation 2 is stranded: 42 row(s) and no live worker"
    assert action.commands == ("spectral-deploy drain --target-generation 2",)


def test_the_live_generation_without_workers_is_restarted_not_drained() -> None:
    """The live generation's workers are all gone: scale the live slot's workers back first."""
    snap = snapshot(generations=(backlog(1, pending=5, active=True),))
    (action,) = snap.actions
    assert action.commands == (
        "spectral-deploy hosting scale blue 2 --yes",
        "spectral-deploy drain --target-generation 1",
    )


def test_a_failed_deploy_says_where_and_offers_abort_then_resume() -> None:
    """A failed step: critical, names the step and the error, abort first (Class 1)."""
    snap = snapshot(deploy=deploy_view(failed_step=6, error="green never became healthy\nlog"))
    (action,) = snap.actions
    assert action.level is Level.CRITICAL
    assert action.reason == (
        "deploy #3 (v1.1.0) failed at step 6 (green-healthy): green never became healthy"
    )
    assert action.commands[:2] == ("spectral-deploy deploy abort", "spectral-deploy deploy resume")


def test_a_deploy_being_driven_needs_nobody() -> None:
    """A progressing deploy whose process holds the deploy lock: wait, nothing to run."""
    assert snapshot(deploy=deploy_view(driver_pid=4242)).actions == ()


def test_a_deploy_nobody_drives_is_an_orphan() -> None:
    """A progressing deploy with no process driving it crashed: resume or abort."""
    (action,) = snapshot(deploy=deploy_view(driver_pid=None)).actions
    assert action.reason == "deploy #3 (v1.1.0) stopped after step 5 and no process is driving it"
    assert action.commands == ("spectral-deploy deploy resume", "spectral-deploy deploy abort")


def test_the_hold_window_offers_watch_finish_and_the_rollback_plan() -> None:
    """During the hold window: informational, with the time left and the three commands."""
    view = deploy_view(step=11, flipped_at=NOW, hold_until=NOW + timedelta(seconds=300))
    live = replace(LIVE, color=Color.GREEN, generation=2, recorded_generation=2)
    (action,) = snapshot(live=live, deploy=view, slots=BOTH_RUNNING).actions
    assert action.level is Level.INFO
    assert "slot blue stays warm until 12:05:00 UTC (300 s left)" in action.reason
    assert action.commands == (
        "spectral-deploy deploy watch",
        "spectral-deploy deploy finish --when-due",
        "spectral-deploy rollback plan --symptom behavior",
    )


def test_an_expired_hold_window_asks_to_finish() -> None:
    """The hold window is over and blue still runs: a warning to finish."""
    view = deploy_view(step=11, flipped_at=NOW, hold_until=NOW - timedelta(seconds=1))
    (action,) = snapshot(deploy=view).actions
    assert action.level is Level.WARNING
    assert action.commands[0] == "spectral-deploy deploy finish"


def test_nothing_deployed_yet_suggests_the_first_deploy() -> None:
    """No deploy and no active generation: the first deploy is the next command."""
    snap = snapshot(live=Live(color=None, generation=None))
    assert commands(snap) == ["spectral-deploy deploy TAG"]


def test_dead_letters_are_a_warning_with_the_list_command() -> None:
    """Dead rows at a generation: a warning listing them."""
    (action,) = snapshot(generations=(backlog(1, dead=3, workers=2, active=True),)).actions
    assert action.level is Level.WARNING
    assert action.commands == ("spectral-deploy outbox dead list --generation 1",)


def test_backup_states_each_get_their_command() -> None:
    """No backup -> run one; never verified -> verify; unreadable storage -> list (to see
    why); older than the limit -> run one."""
    cases = {
        BackupView(BackupState.NONE, "file:///b"): ["spectral-deploy backup run"],
        replace(VERIFIED, state=BackupState.UNVERIFIED, verified_at=None): [
            "spectral-deploy backup verify --latest --identity FILE"
        ],
        BackupView(BackupState.UNKNOWN, "gs://b", error="403"): ["spectral-deploy backup list"],
        replace(VERIFIED, created_at=NOW - timedelta(seconds=BACKUP_MAX_AGE_SECONDS + 60)): [
            "spectral-deploy backup run"
        ],
    }
    for backup, expected in cases.items():
        assert commands(snapshot(backup=backup)) == expected, backup


def test_actions_come_most_urgent_first() -> None:
    """Critical (stranded) before warnings (backup) before information (hold window)."""
    view = deploy_view(step=11, flipped_at=NOW, hold_until=NOW + timedelta(seconds=60))
    snap = snapshot(
        deploy=view,
        generations=(backlog(2, pending=1),),
        backup=BackupView(BackupState.NONE, "file:///b"),
    )
    assert [a.level for a in snap.actions] == [Level.CRITICAL, Level.WARNING, Level.INFO]


def _entry(*, size: int | None, verification: Verification | None) -> CatalogEntry:
    manifest = Manifest(
        id="20261126T031700Z-3fa2c1",
        sha256="0" * 64,
        size_bytes=100,
        created_at=NOW - timedelta(hours=3),
        completed_at=NOW - timedelta(hours=3),
        database="shop",
        server_version="18.1",
        server_version_num=180001,
        pg_dump_version="18.1",
        tool_version="0.1",
        recipients=("age1x",),
        tables=(),
    )
    return CatalogEntry(manifest=manifest, verification=verification, stored_size=size)


def test_backup_view_reads_the_latest_catalog_entry() -> None:
    """The newest entry decides: verified, never verified, failed verification, damaged."""
    ok = Verification("x", NOW - timedelta(hours=2), ok=True)
    failed = Verification("x", NOW - timedelta(hours=2), ok=False, error="row counts differ")
    assert backup_view([], "s").state is BackupState.NONE
    assert backup_view([_entry(size=100, verification=ok)], "s").state is BackupState.VERIFIED
    assert backup_view([_entry(size=100, verification=None)], "s").state is BackupState.UNVERIFIED
    view = backup_view([_entry(size=100, verification=failed)], "s")
    assert (view.state, view.error) == (BackupState.VERIFY_FAILED, "row counts differ")
    damaged = backup_view([_entry(size=None, verification=ok)], "s")
    assert (damaged.state, damaged.error) == (BackupState.DAMAGED, "the stored object is missing")


def test_workers_are_counted_per_generation_and_state_with_stale_ones_apart() -> None:
    """A worker whose heartbeat stopped counts as ``stale``, not as the state it last wrote."""
    snap = snapshot(
        workers=(worker(1), worker(1), worker(2, "starting"), worker(2, "running", live=False))
    )
    assert [(w.generation, w.state, w.count) for w in snap.workers] == [
        (1, "running", 2),
        (2, "stale", 1),
        (2, "starting", 1),
    ]


def test_a_cname_at_a_stopped_slot_is_critical_with_the_repoint() -> None:
    """The record points at a slot that runs nothing: critical, and the fix points it back at
    the slot that serves."""
    live = replace(LIVE, color=Color.GREEN, generation=None, target="green", serving=False)
    snap = snapshot(live=live)
    critical = [a for a in snap.actions if a.level is Level.CRITICAL]
    assert critical[0].reason == (
        "the CNAME points at a stopped slot (green): public requests fail"
    )
    assert critical[0].commands == ("spectral-deploy dns point blue --yes",)


def test_a_cname_at_a_failing_slot_is_critical() -> None:
    """The record's slot runs but fails its health check: critical, repoint at the other."""
    failing = (
        Slot(Color.BLUE, True, "running", 1, "v1.0.0", 2, False, "HTTP 503"),
        Slot(Color.GREEN, False, "running", 2, "v1.1.0", 2, True, "HTTP 200"),
    )
    snap = snapshot(live=replace(LIVE, serving=False), slots=failing)
    (action,) = [a for a in snap.actions if a.level is Level.CRITICAL]
    assert "whose health check fails (HTTP 503)" in action.reason
    assert action.commands == ("spectral-deploy dns point green --yes",)


def test_a_cname_at_neither_slot_is_critical() -> None:
    """A record pointing at a target neither slot has, while a generation is live: critical."""
    snap = snapshot(live=replace(LIVE, color=None, generation=None, target="elsewhere.example"))
    (action,) = [a for a in snap.actions if a.level is Level.CRITICAL]
    assert "points at elsewhere.example, neither slot" in action.reason
    assert action.commands == ("spectral-deploy dns point blue --yes",)


def test_an_unrecorded_flip_is_critical_and_never_answered_with_abort() -> None:
    """Green gets the traffic, the deploy never recorded the flip, nobody drives it: resume
    or flip back; abort is not offered."""
    view = replace(
        deploy_view(driver_pid=None, step=10), flip=FlipState.UNRECORDED, flip_intent=True
    )
    live = replace(LIVE, color=Color.GREEN, generation=2)
    snap = snapshot(live=live, deploy=view, slots=BOTH_RUNNING)
    (action,) = [a for a in snap.actions if a.level is Level.CRITICAL]
    assert "never recorded the flip" in action.reason
    assert action.commands == (
        "spectral-deploy deploy resume",
        "spectral-deploy rollback run --symptom behavior",
    )
    assert not any("abort" in c for c in commands(snap))


def test_an_unrecorded_flip_with_its_driver_alive_is_left_alone() -> None:
    """The driver is between the DNS change and its record: nothing to do but wait."""
    view = replace(deploy_view(step=10), flip=FlipState.UNRECORDED)
    live = replace(LIVE, color=Color.GREEN, generation=2)
    assert snapshot(live=live, deploy=view, slots=BOTH_RUNNING).actions == ()


def test_the_ledger_and_the_record_disagreeing_is_critical() -> None:
    """The record's slot runs generation 2, the ledger says 1, no deploy explains it."""
    live = replace(LIVE, color=Color.GREEN, generation=2)
    snap = snapshot(live=live, slots=BOTH_RUNNING)
    (action,) = snap.actions
    assert action.level is Level.CRITICAL
    assert action.reason == (
        "the ledger says generation 1 is live, but the CNAME sends traffic to slot green, "
        "which runs generation 2"
    )
    assert action.commands[0] == "spectral-deploy dns point blue --yes"


def test_a_rollback_nobody_drives_is_critical_with_rollback_run() -> None:
    """A rollback that stopped mid-way (crashed) is resumed by rollback run."""
    stopped = RollbackView(1, 2, 1, 4, "Green's workers drain generation 2", None)
    (action,) = snapshot(rollback=stopped).actions
    assert action.level is Level.CRITICAL
    assert action.reason == (
        "rollback #1 (class 2) stopped before step 2 of 4 (Green's workers drain generation 2) "
        "and no process is driving it"
    )
    assert action.commands == ("spectral-deploy rollback run",)
    running = RollbackView(1, 2, 1, 4, "drain", 4242)
    assert [a.level for a in snapshot(rollback=running).actions] == [Level.INFO]


def test_the_probe_answered_by_the_other_slot_is_a_warning() -> None:
    """Resolvers still caching the old answer: a warning, not a guess at what is live."""
    live = replace(LIVE, probe_color=Color.GREEN, probe_generation=2, probe_detail="HTTP 200")
    (action,) = snapshot(live=live, slots=BOTH_RUNNING).actions
    assert action.level is Level.WARNING
    assert "answered by slot green (generation 2) while the CNAME points at blue" in action.reason
