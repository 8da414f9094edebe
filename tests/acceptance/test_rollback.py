"""Rollbacks of the sample shop end to end: Class 1, 2 and 3, and a crash in the middle."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from spectral_deploy.sandbox.shop import ShopRelease
from tests.acceptance.conftest import Project
from tests.acceptance.sandbox import Load, Sandbox, make_sandbox
from tests.waiting import wait_for


@pytest.fixture
def data_fault() -> Iterator[Sandbox]:
    """v1.0.0, then v1.1.0 which writes totals 100x too large (the runbook's Class 3)."""
    project = make_sandbox(
        (
            ShopRelease("v1.0.0", "1.0.0", migrations=2, writes_email=False),
            ShopRelease("v1.1.0", "1.1.0", migrations=3, fault="data"),
        )
    )
    try:
        yield project
    finally:
        project.down()
        shutil.rmtree(project.root, ignore_errors=True)


def assert_nothing_lost(sandbox: Sandbox) -> None:
    orders = sandbox.scalar("SELECT count(*) FROM orders")
    wait_for(lambda: sandbox.scalar("SELECT count(*) FROM handled_events") == orders)
    assert sandbox.scalar("SELECT count(*) FROM spectral.outbox") == 0


def test_class_2_flips_back_under_load_and_drains(sandbox: Sandbox) -> None:
    """Behavior fault: flip back to blue under load, green drains and stops, nothing lost."""
    sandbox.ok("deploy", "v1.0.0")
    sandbox.ok("deploy", "v1.1.0")
    plan = json.loads(
        sandbox.ok("rollback", "plan", "--symptom", "behavior", "--format", "json").stdout
    )
    assert plan["class"] == 2
    with Load(sandbox) as load:
        wait_for(lambda: load.served >= 20)
        result = sandbox.ok("rollback", "run", "--symptom", "behavior", "--yes")
        served = load.served
        wait_for(lambda: load.served >= served + 20)
    assert load.failed == [], load.failed[:5]
    assert "rollback #1 completed" in result.stdout
    status, body, _ = sandbox.get("/health")
    assert (status, body["generation"], body["version"]) == (200, 1, "1.0.0")
    states = dict(sandbox.query("SELECT generation, state FROM spectral.generations"))
    assert states == {1: "active", 2: "failed"}
    assert sandbox.deploy_status()["phase"] == "RolledBack"
    assert_nothing_lost(sandbox)
    assert sandbox.scalar("SELECT count(*) FROM orders WHERE generation = 2") > 0
    chat = (sandbox.root / ".spectral" / "chat.log").read_text().splitlines()
    message = json.loads(chat[-1])
    assert message["facts"]["tag"] == "v1.1.0"
    assert message["facts"]["generations (bad -> serving)"] == "2 -> 1"
    assert message["facts"]["failure class"] == "2"
    incident = (sandbox.root / "docs" / "incidents.md").read_text()
    assert "rollback of v1.1.0 (Class 2" in incident and "| deploy flip | ok |" in incident


def test_class_3_redeploys_the_prior_code_at_a_new_generation(data_fault: Sandbox) -> None:
    """Data fault: tag v1.1.0-rollback at the prior commit, deploy it as generation 3, drain 2."""
    sandbox = data_fault
    sandbox.ok("deploy", "v1.0.0")
    sandbox.ok("deploy", "v1.1.0")
    with Load(sandbox) as load:
        wait_for(lambda: load.served >= 10)
    bad_total = sandbox.scalar("SELECT max(total_cents) FROM orders WHERE generation = 2")
    assert bad_total == 125000, "the data fault wrote 100x totals"
    result = sandbox.ok("rollback", "run", "--symptom", "data", "--yes")
    assert "Class 3" in result.stdout
    assert "v1.1.0-rollback" in result.stdout
    commit = sandbox.commits["v1.0.0"]
    tagged = sandbox.query("SELECT commit_sha FROM spectral.generations WHERE generation = 3")
    assert tagged == [(commit,)]
    states = dict(sandbox.query("SELECT generation, state FROM spectral.generations"))
    assert states[3] == "active" and states[2] == "failed"
    status, body, _ = sandbox.get("/health")
    assert (status, body["generation"], body["version"]) == (200, 3, "1.0.0")
    assert_nothing_lost(sandbox)
    with Load(sandbox) as load:
        wait_for(lambda: load.served >= 5)
    assert sandbox.scalar("SELECT max(total_cents) FROM orders WHERE generation = 3") == 1250


def test_class_1_aborts_a_deploy_that_never_cut_over(sandbox: Sandbox) -> None:
    """Green's workers never run: the deploy stops at step 9; the plan is Class 1; run aborts."""
    sandbox.deploy_with_workers_that_never_run()
    plan = json.loads(sandbox.ok("rollback", "plan", "--format", "json").stdout)
    assert plan["class"] == 1
    assert plan["steps"][0]["command"] == "spectral-deploy deploy abort --yes"
    sandbox.ok("rollback", "run", "--yes")
    assert sandbox.deploy_status()["phase"] == "Aborted"
    assert sandbox.get("/health")[1]["generation"] == 1
    assert not (sandbox.root / ".spectral" / "chat.log").exists(), "Class 1 sends no chat"


def test_sigkill_during_rollback_run_then_resume(sandbox: Sandbox) -> None:
    """Killed after the flip back, resumed: the flip is not repeated, the rest completes."""
    sandbox.ok("deploy", "v1.0.0")
    sandbox.ok("deploy", "v1.1.0")
    crashed = sandbox.run(
        "rollback",
        "run",
        "--symptom",
        "behavior",
        "--yes",
        env={"SPECTRAL_CRASH_AT": "rollback-stop-workers:start"},
    )
    assert crashed.returncode == -9
    resumed = sandbox.ok("rollback", "run", "--yes")
    assert "resuming at step 2" in resumed.stdout
    assert "rollback #1 completed" in resumed.stdout
    flips = sandbox.scalar(
        "SELECT count(*) FROM spectral.ledger WHERE kind = 'rollback' AND action = 'flip-back' "
        "AND outcome = 'ok'"
    )
    assert flips == 1
    intents = sandbox.query(
        "SELECT intent_key, count(*) FROM spectral.ledger WHERE intent_key LIKE 'rollback:%%' "
        "GROUP BY 1 HAVING count(*) > 1"
    )
    assert intents == []
    assert sandbox.get("/health")[1]["generation"] == 1
    assert_nothing_lost(sandbox)


def test_plan_works_when_the_database_is_gone(project: Project, tmp_path: Path) -> None:
    """No database: Class 5 from the observation alone; --facts fills in the deploy's facts."""
    facts = tmp_path / "facts.json"
    facts.write_text(
        json.dumps(
            {
                "cutover_completed": True,
                "blue_warm": True,
                "tag": "v1.8.0",
                "from_generation": 7,
                "to_generation": 8,
            }
        )
    )
    result = project.run(
        "rollback", "plan", "--symptom", "behavior", "--facts", str(facts), "--format", "json",
        env={"DATABASE_URL": "postgresql://deploy@127.0.0.1:9/app"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["class"] == 5
    assert plan["facts"]["database_healthy"] is False
    assert any("database does not answer" in r for r in plan["reasons"])
    assert any(s["command"] == "spectral-deploy backup list" for s in plan["steps"])
    bad = tmp_path / "bad.json"
    bad.write_text('{"cutover_completed": "yes"}')
    refused = project.run("rollback", "plan", "--facts", str(bad))
    assert refused.returncode == 2
    assert f"{bad}: cutover_completed must be true or false" in refused.stderr
