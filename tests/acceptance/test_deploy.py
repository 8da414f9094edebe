"""Blue/green deploys of the sample shop, end to end, with the local providers."""

from __future__ import annotations

import json
import os
import signal

from spectral_deploy.sandbox.shop import ShopRelease
from tests.acceptance.sandbox import Load, Sandbox
from tests.waiting import wait_for


def test_blue_then_green_under_load(sandbox: Sandbox) -> None:
    """v1.0.0 as gen 1, then v1.1.0 as gen 2 while orders flow: no failed request, every event
    handled, each migration applied once with the generation that applied it."""
    first = sandbox.ok("deploy", "v1.0.0")
    assert "first deploy: complete" in first.stdout
    status, body, color = sandbox.get("/health")
    assert (status, body["generation"]) == (200, 1)
    blue = color

    with Load(sandbox) as load:
        wait_for(lambda: load.served >= 20)
        second = sandbox.ok("deploy", "v1.1.0")
        assert "is live on slot" in second.stdout
        wait_for(lambda: load.by_color.get(blue, 0) > 0 and len(load.by_color) == 2, 30)
        served_before = load.served
        wait_for(lambda: load.served >= served_before + 20)
    assert load.failed == [], load.failed[:5]

    status, body, green = sandbox.get("/health")
    assert (status, body["generation"], body["version"]) == (200, 2, "1.1.0")
    assert green != blue

    orders = sandbox.scalar("SELECT count(*) FROM orders")
    assert orders == load.served
    wait_for(lambda: sandbox.scalar("SELECT count(*) FROM handled_events") == orders)
    per_generation = dict(sandbox.query("SELECT generation, count(*) FROM orders GROUP BY 1"))
    assert set(per_generation) == {1, 2}, "both generations took orders across the flip"

    migrations = sandbox.query(
        "SELECT filename, generation FROM spectral.app_migrations ORDER BY filename"
    )
    assert migrations == [
        ("0001_create_orders.sql", 1),
        ("0002_create_handled_events.sql", 1),
        ("0003_orders_add_customer_email.sql", 2),
    ]
    state = sandbox.deploy_status()
    assert (state["phase"], state["generation"], state["from_generation"]) == ("HoldWindow", 2, 1)
    flips = sandbox.scalar(
        "SELECT count(*) FROM spectral.ledger WHERE kind = 'deploy' AND action = 'flip' "
        "AND outcome = 'ok'"
    )
    assert flips == 2

    early = sandbox.run("deploy", "finish", "--yes")
    assert early.returncode == 3, early.stderr
    assert "is in its hold window until" in early.stderr and "s left" in early.stderr
    assert "--force" in early.stderr
    assert sandbox.deploy_status()["phase"] == "HoldWindow"
    finished = sandbox.ok("deploy", "finish", "--force", "--yes")
    assert "completed" in finished.stdout
    assert sandbox.deploy_status()["phase"] == "Completed"
    generations = dict(sandbox.query("SELECT generation, state FROM spectral.generations"))
    assert generations == {1: "retired", 2: "active"}
    outbox = sandbox.scalar("SELECT count(*) FROM spectral.outbox")
    assert outbox == 0


def test_lint_violation_stops_at_step_3_with_blue_untouched(sandbox: Sandbox) -> None:
    """A release adding NOT NULL without default is stopped by the lint; blue keeps serving."""
    sandbox.ok("deploy", "v1.0.0")
    sandbox.release(
        ShopRelease(
            "v1.2.0",
            "1.2.0",
            migrations=2,
            extra_files={
                "migrations/0005_orders_tier.sql": (
                    "ALTER TABLE orders ADD COLUMN tier text NOT NULL;\n"
                )
            },
        )
    )
    result = sandbox.run("deploy", "v1.2.0")
    assert result.returncode == 1
    assert "stopped at step 3 (lint-migrations)" in result.stderr
    assert "adding-required-column" in result.stderr
    assert "next: spectral-deploy deploy abort" in result.stderr
    state = sandbox.deploy_status()
    assert (state["phase"], state["failed_step"], state["step"]) == ("Failed", 3, 2)
    status, body, _ = sandbox.get("/health")
    assert (status, body["generation"]) == (200, 1)
    assert sandbox.scalar("SELECT count(*) FROM spectral.app_migrations") == 2
    aborted = sandbox.ok("deploy", "abort", "--yes")
    assert "aborted" in aborted.stdout
    assert dict(sandbox.query("SELECT generation, state FROM spectral.generations")) == {
        1: "active",
        2: "failed",
    }


def test_workers_that_never_run_stop_at_step_9(sandbox: Sandbox) -> None:
    """Green's workers crash at start: step 9 fails (Class 1), the CNAME stays on blue."""
    # step 9 waits out its whole timeout (it does not stop early when every worker has died), so
    # the window is what a loaded machine needs for a worker to start, fail its import and
    # record the error that the failure must quote
    result = sandbox.deploy_with_workers_that_never_run(
        "handlers broken in 1.2.0", ready_timeout=15
    )
    assert "stopped at step 9 (workers-running)" in result.stderr
    assert "handlers broken in 1.2.0" in result.stderr
    status, body, _ = sandbox.get("/health")
    assert (status, body["generation"]) == (200, 1)
    plan = sandbox.deploy_status()
    assert plan["next"][0] == "spectral-deploy deploy abort"
    sandbox.ok("deploy", "abort", "--yes")
    assert sandbox.get("/health")[1]["generation"] == 1


def test_hold_window_watch_reports_a_breach(sandbox: Sandbox) -> None:
    """Green stops answering during the hold window: watch exits 1 with the rollback command."""
    sandbox.ok("deploy", "v1.0.0")
    sandbox.ok("deploy", "v1.1.0")
    quiet = sandbox.ok("deploy", "watch", "--seconds", "1")
    assert "no breach" in quiet.stdout
    green = sandbox.deploy_status()["green"]
    status = json.loads(
        (sandbox.root / ".spectral" / "hosting" / green / "status.json").read_text()
    )
    web = status["web"]["pid"]
    os.kill(web, signal.SIGSTOP)
    try:
        breach = sandbox.run("deploy", "watch", "--seconds", "10")
    finally:
        os.kill(web, signal.SIGCONT)
    assert breach.returncode == 1
    assert "hold-window breach" in breach.stderr and "green is unhealthy" in breach.stderr
    assert "next: spectral-deploy rollback plan --symptom behavior" in breach.stderr
    assert sandbox.scalar("SELECT count(*) FROM spectral.ledger WHERE action = 'hold-breach'") == 1
