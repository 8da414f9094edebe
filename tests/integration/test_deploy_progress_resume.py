"""Long waits report their progress, and ``deploy resume`` re-runs the failed step with the
current config (green deployed again when its settings changed), on the fake world."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from spectral_deploy.cutover import store
from spectral_deploy.cutover.model import Step
from spectral_deploy.cutover.steps import StepFailed
from spectral_deploy.db import Database
from spectral_deploy.ledger.store import EntryKind, Outcome, entries
from spectral_deploy.providers.base import Color
from spectral_deploy.waiting import WaitProgress
from tests.integration.fakeworld import Operator


@pytest.fixture
def operator(database: Database, tmp_path: Path) -> Iterator[Operator]:
    """v1.0.0 live on blue; v2.0.0 tagged; health and worker waits of 30 s."""
    operator = Operator.start(tmp_path, database)
    operator.config = replace(
        operator.config,
        deploy=replace(
            operator.config.deploy, health_timeout_seconds=30, workers_ready_timeout_seconds=30
        ),
    )
    operator.deploy("v1.0.0")
    try:
        yield operator
    finally:
        operator.world.close()


def deploy_green_runs(operator: Operator, deploy_id: int) -> int:
    with operator.database.connect() as conn:
        found = entries(conn, operator.database.schema, kind=EntryKind.STEP, deploy_id=deploy_id)
    return sum(1 for e in found if e.action == Step.DEPLOY_GREEN.slug and e.outcome == Outcome.OK)


def test_a_health_wait_reports_what_elapsed_limit_and_the_logs(operator: Operator) -> None:
    """Green never healthy: reports past 2 s name the slot, 30 s limit and its logs command."""
    operator.world.unhealthy.add(Color.GREEN)
    seen: list[WaitProgress] = []
    deployer = operator.deployer()
    deployer.progress = seen.append
    with pytest.raises(StepFailed) as failed:
        deployer.start("v2.0.0")
    assert "spectral-deploy logs green" in failed.value.message
    assert seen, "a 30 s wait said nothing"
    assert all(p.elapsed_seconds >= 2 and p.limit_seconds == 30 for p in seen)
    assert "health check" in seen[0].what
    assert seen[0].look == "spectral-deploy logs green"
    assert seen[-1].elapsed_seconds >= 25


def test_resume_after_fixing_the_config_deploys_green_again(operator: Operator) -> None:
    """Step 6 failed; web_command fixed: resume re-runs step 5 with it, then step 6 passes."""
    operator.world.unhealthy.add(Color.GREEN)
    with pytest.raises(StepFailed):
        operator.deploy("v2.0.0")
    with operator.database.connect() as conn:
        deploy = store.open_deploy(conn, operator.database.schema)
    assert deploy is not None and deploy.failed_step == Step.GREEN_HEALTHY
    assert deploy_green_runs(operator, deploy.id) == 1
    operator.world.unhealthy.discard(Color.GREEN)  # the fixed command serves
    operator.config = replace(
        operator.config,
        hosting=replace(operator.config.hosting, web_command="gunicorn app:fixed"),
    )
    resumed = operator.resume()
    assert resumed.flipped
    assert deploy_green_runs(operator, deploy.id) == 2
    assert any("hosting.web_command changed" in line for line in operator.said)


def test_resume_with_the_same_config_does_not_redeploy(operator: Operator) -> None:
    """Nothing changed: resume re-runs only the failed step."""
    operator.world.unhealthy.add(Color.GREEN)
    with pytest.raises(StepFailed):
        operator.deploy("v2.0.0")
    operator.world.unhealthy.discard(Color.GREEN)
    resumed = operator.resume()
    assert resumed.flipped
    assert deploy_green_runs(operator, resumed.id) == 1
