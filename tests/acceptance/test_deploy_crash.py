"""A deploy process SIGKILLed at any step, then `deploy resume`: the same end state as an
uninterrupted deploy (one generation, one flip, no duplicate intents, migrations once)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from spectral_deploy.sandbox.shop import ShopRelease
from tests.acceptance.sandbox import Sandbox, make_sandbox

CRASH_POINTS = [
    *(f"step-{step}:start" for step in range(1, 12)),
    "step-2:done",
    "step-4:done",
    "step-5:done",
    "flip:dns-changed",
    "step-11:done",
]


@pytest.fixture(scope="module")
def shared() -> Iterator[Sandbox]:
    """One sandbox for every crash: v1.0.0 live, each test deploys one more release."""
    project = make_sandbox()
    project.ok("deploy", "v1.0.0")
    try:
        yield project
    finally:
        project.down()
        shutil.rmtree(project.root, ignore_errors=True)


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_sigkill_then_resume(shared: Sandbox, point: str) -> None:
    """SIGKILL at the crash point, resume, and check the deploy ended as it should."""
    number = CRASH_POINTS.index(point) + 2
    tag = f"v2.{number}.0"
    migration = f"migrations/{100 + number:04d}_t{number}.sql"
    shared.release(
        ShopRelease(
            tag,
            f"2.{number}.0",
            migrations=3,
            extra_files={migration: f"CREATE TABLE t{number} (id int);\n"},
        )
    )
    crashed = shared.run("deploy", tag, env={"SPECTRAL_CRASH_AT": point})
    assert crashed.returncode == -9, (
        f"expected SIGKILL at {point}: {crashed.stdout}{crashed.stderr}"
    )

    resumed = shared.run("deploy", "resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    state = shared.deploy_status()
    assert state["tag"] == tag
    assert state["phase"] == "HoldWindow"
    deploy_id = state["id"]

    allocated = shared.scalar("SELECT count(*) FROM spectral.generations WHERE tag = %s", (tag,))
    assert allocated == 1, "exactly one generation allocated"
    intents = shared.scalar(
        "SELECT count(*) FROM spectral.ledger WHERE intent_key = %s", (f"deploy:{deploy_id}:flip",)
    )
    assert intents == 1
    flips = shared.scalar(
        "SELECT count(*) FROM spectral.ledger WHERE deploy_id = %s AND action = 'flip' "
        "AND outcome = 'ok'",
        (deploy_id,),
    )
    assert flips == 1, "one flip recorded"
    applied = shared.query(
        "SELECT filename, generation FROM spectral.app_migrations WHERE filename = %s",
        (migration.split("/")[1],),
    )
    assert applied == [(migration.split("/")[1], state["generation"])]
    status, body, _ = shared.get("/health")
    assert (status, body["generation"]) == (200, state["generation"])

    shared.ok("deploy", "finish", "--force", "--yes")
