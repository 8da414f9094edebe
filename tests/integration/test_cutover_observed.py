"""Decisions read the world: the deployer, the rollback planner and runner, status and /metrics
on the in-process fake world and the real PostgreSQL, one finding of issue 14 per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from spectral_deploy.cutover import store
from spectral_deploy.cutover.steps import StepFailed
from spectral_deploy.db import Database
from spectral_deploy.errors import CheckFailed, PreconditionFailed
from spectral_deploy.ledger.store import entries
from spectral_deploy.outbox.drain import unfinished_rows
from spectral_deploy.providers.base import Color
from spectral_deploy.rollback.classify import Symptom
from spectral_deploy.web.metrics import render_metrics
from spectral_deploy.web.model import Level
from tests.integration.fakeworld import (
    Operator,
    SimulatedCrash,
    crash_at,
    invariants,
)
from tests.unit.test_status_metrics import parse


@pytest.fixture
def operator(database: Database, tmp_path: Path) -> Iterator[Operator]:
    """v1.0.0 live on blue (generation 1), v2.0.0 tagged with one expand migration."""
    with Operator.deployed(tmp_path, database, "v1.0.0") as operator:
        yield operator


def crash_after_the_dns_changed(operator: Operator) -> None:
    """The reproduction: deploy v2.0.0 dies after the CNAME moved, before the flip is recorded."""
    with pytest.raises(SimulatedCrash), crash_at("flip:dns-changed"):
        operator.deploy("v2.0.0")
    assert operator.world.color_at(operator.world.record.target) is Color.GREEN


def test_abort_refuses_after_an_unrecorded_flip_and_names_the_way_out(operator: Operator) -> None:
    """The record points at green: abort exits 3 naming deploy resume and rollback run
    --symptom behavior, and stops nothing."""
    crash_after_the_dns_changed(operator)
    with pytest.raises(PreconditionFailed) as refused:
        operator.abort()
    assert refused.value.exit_code == 3
    assert "never recorded" in refused.value.message
    assert "spectral-deploy deploy resume" in (refused.value.hint or "")
    assert "spectral-deploy rollback run --symptom behavior" in (refused.value.hint or "")
    assert operator.world.serving(Color.GREEN), "green still serves"
    assert operator.world.public_request() == 200


def test_status_calls_it_critical_and_never_advises_abort(operator: Operator) -> None:
    """status: a critical action naming resume and the flip back; /metrics: both slots healthy,
    the live generation observed (2) beside the recorded one (1), the flip unrecorded."""
    crash_after_the_dns_changed(operator)
    snapshot = operator.status()
    critical = [a for a in snapshot.actions if a.level is Level.CRITICAL]
    assert critical and "never recorded the flip" in critical[0].reason
    assert critical[0].commands == (
        "spectral-deploy deploy resume",
        "spectral-deploy rollback run --symptom behavior",
    )
    assert not any("abort" in c for a in snapshot.actions for c in a.commands)
    assert (snapshot.live.color, snapshot.live.generation) == (Color.GREEN, 2)
    assert snapshot.live.recorded_generation == 1
    metrics = parse(render_metrics(snapshot))
    assert metrics["spectral_live_generation"] == {(): 2}
    assert metrics["spectral_recorded_generation"] == {(): 1}
    assert metrics["spectral_deploy_flip_unrecorded"] == {(): 1}
    assert metrics["spectral_slot_healthy"] == {(("color", "blue"),): 1, (("color", "green"),): 1}


def test_resume_records_the_flip_it_finds_once(operator: Operator) -> None:
    """deploy resume after the crash: the flip is recorded, not repeated; generation 2 live."""
    crash_after_the_dns_changed(operator)
    changes = operator.world.dns.changes
    deploy = operator.resume()
    assert deploy.flipped and operator.world.dns.changes == changes
    with operator.database.connect() as conn:
        flips = [
            e for e in entries(conn, operator.database.schema, deploy_id=deploy.id)
            if e.action == "flip" and e.outcome == "ok"
        ]  # fmt: skip
    assert len(flips) == 1 and flips[0].details["flipped_now"] is False
    assert invariants(operator) == []


def test_the_plan_after_an_unrecorded_flip_is_class_2_and_run_restores_blue(
    operator: Operator,
) -> None:
    """rollback plan reads the record, not the flag: Class 2; run flips back and drains."""
    crash_after_the_dns_changed(operator)
    operator.world.public_request()  # a row at generation 2, written by live traffic
    gathered, plan = operator.plan(Symptom.BEHAVIOR)
    assert plan.failure_class == 2, plan.reasons
    assert gathered.facts.cutover_completed
    record = operator.rollback_run(Symptom.BEHAVIOR)
    assert record.outcome == "completed"
    assert operator.world.color_at(operator.world.record.target) is Color.BLUE
    assert Color.GREEN not in operator.world.slots
    assert invariants(operator) == []


def test_class_3_after_an_unrecorded_flip_deploys_from_what_runs(operator: Operator) -> None:
    """A data fault after the crash: the prior code is redeployed from generation 2's slot,
    the flip the deploy never recorded is recorded as observed, nothing is left behind."""
    crash_after_the_dns_changed(operator)
    record = operator.rollback_run(Symptom.DATA)
    assert record.failure_class == 3 and record.outcome == "completed"
    with operator.database.connect() as conn:
        rollback_deploy = store.open_deploy(conn, operator.database.schema)
    assert rollback_deploy is not None and rollback_deploy.tag == "v2.0.0-rollback"
    assert (rollback_deploy.from_generation, rollback_deploy.generation) == (2, 3)
    assert invariants(operator) == []


def test_class_1_counts_the_rows_at_n_plus_1_and_adopts_them(operator: Operator) -> None:
    """Step 9 fails after the smoke test wrote a row at generation 2: the plan says how many
    and adopts them; the run's abort records the count; nothing stranded; not escalated."""
    operator.world.workers_start = False
    with pytest.raises(StepFailed):
        operator.deploy("v2.0.0")
    operator.world.request(Color.GREEN, "/orders")  # someone tries green by hand
    gathered, plan = operator.plan(None)
    assert plan.failure_class == 1
    assert gathered.facts.rows_at_new_generation == 2
    assert any("2 outbox row(s) wait at generation 2" in r for r in plan.reasons)
    assert [s.id for s in plan.steps] == ["abort-deploy", "drain", "investigate"]
    record = operator.rollback_run(None)
    assert record.outcome == "completed"
    with operator.database.connect() as conn:
        (abort,) = [
            e for e in entries(conn, operator.database.schema, kind="deploy")
            if e.action == "abort"
        ]  # fmt: skip
        left = unfinished_rows(conn, operator.database.schema, 2, None)
    assert (abort.details["rows_at_generation"], abort.details["rows_adopted"]) == (2, 2)
    assert abort.details["adopted_into"] == 1 and left == 0
    operator.world.clock.sleep(1)  # a moment later: the live fleet woke up for them
    assert operator.world.handled.get(1, 0) >= 2, "generation 1's workers handled them"
    assert invariants(operator) == []


def test_a_plain_abort_adopts_the_rows_too(operator: Operator) -> None:
    """deploy abort by hand (the runbook's Class 1 command) leaves no row stranded."""
    operator.world.workers_start = False
    with pytest.raises(StepFailed):
        operator.deploy("v2.0.0")
    report = operator.abort()
    assert (report.rows_found, report.rows_adopted, report.adopted_into) == (1, 1, 1)
    assert report.blue_serving is True and "generation 1 answers" in report.blue_detail
    assert invariants(operator) == []


def test_an_aborted_deploy_never_decides_the_class(operator: Operator) -> None:
    """v2.0.0 completed, v3.0.0 aborted: a behavior incident is planned from v2.0.0 (Class 3:
    its blue is gone), not as a Class 1 no-op; --deploy still names the aborted one."""
    operator.world.vcs.commit({"app.py": "print('v3')\n"}, tag="v3.0.0")
    operator.deploy("v2.0.0")
    operator.finish()
    operator.world.workers_start = False
    with pytest.raises(StepFailed):
        operator.deploy("v3.0.0")
    operator.world.workers_start = True
    operator.abort()
    gathered, plan = operator.plan(Symptom.BEHAVIOR)
    assert gathered.deploy is not None and gathered.deploy.tag == "v2.0.0"
    assert plan.failure_class == 3
    assert gathered.facts.prior_commit == operator.world.vcs.tags["v1.0.0"]
    named, _ = operator.plan(Symptom.BEHAVIOR, deploy_id=3)
    assert named.deploy is not None and named.deploy.tag == "v3.0.0"


def test_status_names_a_cname_at_a_stopped_slot_and_the_command_that_fixes_it(
    operator: Operator,
) -> None:
    """Green stops under the record (what the old abort did): critical, with the command that
    points the record back at the slot that serves; typing it restores service."""
    operator.deploy("v2.0.0")
    operator.world.hosting.stop(Color.GREEN)
    snapshot = operator.status()
    (stopped,) = [a for a in snapshot.actions if "stopped slot" in a.reason]
    assert stopped.level is Level.CRITICAL
    assert "the CNAME points at a stopped slot (green)" in stopped.reason
    assert stopped.commands[0] == "spectral-deploy dns point blue --yes"
    metrics = parse(render_metrics(snapshot))
    assert metrics["spectral_slot_healthy"][(("color", "green"),)] == 0
    assert metrics["spectral_live_generation"] == {(): 0}
    assert metrics["spectral_live_serving"] == {(): 0}
    operator.follow(stopped.commands[0])
    assert operator.world.public_request() == 200


def test_abort_while_a_driver_runs_says_how_to_stop_it(operator: Operator) -> None:
    """Another process holds the deploy lock: abort names its pid and how to stop it."""
    operator.world.workers_start = False
    with pytest.raises(StepFailed):
        operator.deploy("v2.0.0")
    database = operator.database
    with (
        database.connect(autocommit=True, application_name=store.driver_application_name()) as c,
        store.DeployLock(c, database.schema),
        pytest.raises(PreconditionFailed) as refused,
    ):
        operator.abort()
    assert "is driving a deploy right now (process" in refused.value.message
    assert "kill " in (refused.value.hint or "") and "Ctrl-C" in (refused.value.hint or "")


def test_finish_refuses_when_the_record_points_back_at_blue(operator: Operator) -> None:
    """Someone flipped back by hand: finishing would stop the live slot, so it refuses."""
    operator.deploy("v2.0.0")
    operator.dns_point("blue")
    with pytest.raises(PreconditionFailed, match="finishing would stop slot blue"):
        operator.finish()
    assert operator.world.serving(Color.BLUE)


def test_finish_refuses_while_a_rollback_of_the_deploy_is_open(operator: Operator) -> None:
    """A Class 2 rollback crashed before its flip back: finish would stop its target."""
    operator.deploy("v2.0.0")
    with pytest.raises(SimulatedCrash), crash_at("rollback-flip-back:start"):
        operator.rollback_run(Symptom.BEHAVIOR)
    with pytest.raises(PreconditionFailed, match="rollback #1 of deploy #2 is in progress"):
        operator.finish()
    assert operator.rollback_run(None).outcome == "completed"
    assert invariants(operator) == []


def test_a_slot_resolvers_still_reach_is_not_retired(operator: Operator) -> None:
    """After the flip back, the public probe still lands on green (cached answers): retiring
    green is refused and the plan notes the probe."""
    operator.deploy("v2.0.0")
    operator.world.cached = Color.GREEN
    operator.dns_point("blue")
    gathered, _ = operator.plan(Symptom.BEHAVIOR)
    assert any("public probe was answered by slot green" in n for n in gathered.notes)
    with pytest.raises(CheckFailed, match="still receives public traffic"):
        operator.rollback_run(Symptom.BEHAVIOR)
    assert operator.world.serving(Color.GREEN)
    operator.world.cached = None
    assert operator.rollback_run(None).outcome == "completed"
    assert invariants(operator) == []


def test_a_half_done_abort_is_finished_never_undone(operator: Operator) -> None:
    """Abort killed after it stopped green: resume refuses (it would run the deploy on a
    stopped green) and names deploy abort, status says the same, and abort finishes it."""
    operator.world.workers_start = False
    with pytest.raises(StepFailed):
        operator.deploy("v2.0.0")
    operator.world.workers_start = True
    with pytest.raises(SimulatedCrash), crash_at("abort:slot-stopped"):
        operator.abort()
    with pytest.raises(PreconditionFailed, match="a `deploy abort` started") as refused:
        operator.resume()
    assert refused.value.hint == "spectral-deploy deploy abort"
    first = next(a for a in operator.status().actions if a.level is Level.CRITICAL)
    assert "a deploy abort started and did not end" in first.reason
    assert first.commands == ("spectral-deploy deploy abort",)
    assert operator.abort().rows_found == 1
    assert invariants(operator) == []


def test_the_cutover_never_points_the_record_at_a_slot_that_does_not_serve(
    operator: Operator,
) -> None:
    """Green stopped after the final gate: the cutover step refuses to flip to it."""
    with pytest.raises(SimulatedCrash), crash_at("step-11:start"):
        operator.deploy("v2.0.0")
    operator.world.hosting.stop(Color.GREEN)
    with pytest.raises(StepFailed, match="runs nothing, not generation 2"):
        operator.resume()
    assert operator.world.color_at(operator.world.record.target) is Color.BLUE
    assert operator.world.public_request() == 200
