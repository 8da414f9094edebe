"""Crashes at the worst moments, then the command the tool advises, end to end on the local
sandbox under live traffic: every recovery ends with the public address answering, counted by
the load generator (0 failed requests after the recovery completes)."""

from __future__ import annotations

import json
import tomllib
import urllib.request

from tests.acceptance.sandbox import Load, Sandbox
from tests.waiting import wait_for

CRASH = "SPECTRAL_CRASH_AT"


def critical(sandbox: Sandbox) -> list[dict[str, object]]:
    """The critical actions of `status --format json`."""
    status = json.loads(sandbox.ok("status", "--format", "json").stdout)
    return [a for a in status["next"] if a["level"] == "critical"]


def settle(sandbox: Sandbox, load: Load) -> None:
    """Let traffic run after the recovery: 30 more requests, none of them failed."""
    failed, served = len(load.failed), load.served
    wait_for(lambda: load.served >= served + 30)
    assert load.failed[failed:] == [], load.failed[failed:][:5]


def crash_after_the_dns_changed(sandbox: Sandbox) -> None:
    """The reproduction: the deploy of v1.1.0 is killed after the CNAME moved to green."""
    sandbox.ok("deploy", "v1.0.0")
    crashed = sandbox.run("deploy", "v1.1.0", env={CRASH: "flip:dns-changed"})
    assert crashed.returncode == -9, crashed.stdout + crashed.stderr


def test_the_reproduction_abort_refuses_and_the_advised_resume_restores_service(
    sandbox: Sandbox,
) -> None:
    """Crash at flip:dns-changed: status calls it critical and advises resume (never abort);
    `deploy abort --yes` exits 3 naming the way out and stops nothing; the advised `deploy
    resume` records the flip; the router serves generation 2 with no failed request."""
    crash_after_the_dns_changed(sandbox)
    with Load(sandbox) as load:
        wait_for(lambda: load.served >= 10)
        (action,) = critical(sandbox)
        assert action["commands"] == [
            "spectral-deploy deploy resume",
            "spectral-deploy rollback run --symptom behavior",
        ]
        refused = sandbox.run("deploy", "abort", "--yes")
        assert refused.returncode == 3, refused.stdout + refused.stderr
        assert "spectral-deploy deploy resume" in refused.stderr
        assert "rollback run --symptom behavior" in refused.stderr
        assert sandbox.get("/health")[0] == 200, "abort stopped nothing"
        sandbox.ok(*str(action["commands"][0]).split()[1:])
        settle(sandbox, load)
    assert load.failed == [], load.failed[:5]
    status, body, upstream = sandbox.get("/health")
    assert (status, body["generation"], upstream) == (200, 2, "green")
    assert critical(sandbox) == []
    metrics = json.loads(sandbox.ok("status", "--format", "json").stdout)["live"]
    assert (metrics["generation"], metrics["recorded_generation"]) == (2, 2)


def test_the_other_advised_command_flips_back_to_blue(sandbox: Sandbox) -> None:
    """Crash at flip:dns-changed, then `rollback run --symptom behavior`: planned as Class 2
    (the record is read, not the flag), traffic back on blue, generation 2 drained."""
    crash_after_the_dns_changed(sandbox)
    plan = json.loads(
        sandbox.ok("rollback", "plan", "--symptom", "behavior", "--format", "json").stdout
    )
    assert plan["class"] == 2, plan["reasons"]
    with Load(sandbox) as load:
        wait_for(lambda: load.served >= 10)
        result = sandbox.ok("rollback", "run", "--symptom", "behavior", "--yes")
        assert "rollback #1 completed" in result.stdout
        settle(sandbox, load)
    assert load.failed == [], load.failed[:5]
    status, body, upstream = sandbox.get("/health")
    assert (status, body["generation"], upstream) == (200, 1, "blue")
    assert critical(sandbox) == []
    wait_for(
        lambda: (
            sandbox.scalar("SELECT count(*) FROM handled_events")
            == sandbox.scalar("SELECT count(*) FROM orders")
        )
    )


def test_class_1_adopts_the_rows_smoke_traffic_wrote_at_n_plus_1(sandbox: Sandbox) -> None:
    """Green's workers never run (step 9 fails) and orders reach green's own address: the
    Class 1 plan counts them, `rollback run` aborts and adopts them into generation 1, every
    order is handled, and public traffic never failed."""
    sandbox.deploy_with_workers_that_never_run()
    green = tomllib.loads((sandbox.root / "spectral.toml").read_text())["hosting"]["green_port"]
    for _ in range(3):
        request = urllib.request.Request(
            f"http://127.0.0.1:{green}/orders",
            data=json.dumps({"customer": "smoke", "total_cents": 100}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
    with Load(sandbox) as load:
        plan = json.loads(sandbox.ok("rollback", "plan", "--format", "json").stdout)
        assert plan["class"] == 1
        assert plan["facts"]["rows_at_new_generation"] >= 3
        assert [s["id"] for s in plan["steps"]][:2] == ["abort-deploy", "drain"]
        result = sandbox.ok("rollback", "run", "--yes")
        assert "rollback #1 completed" in result.stdout
        settle(sandbox, load)
    assert load.failed == [], load.failed[:5]
    assert sandbox.scalar("SELECT count(*) FROM spectral.outbox WHERE generation = 2") == 0
    wait_for(
        lambda: (
            sandbox.scalar("SELECT count(*) FROM handled_events")
            == sandbox.scalar("SELECT count(*) FROM orders")
        )
    )
    adopted = sandbox.scalar(
        "SELECT details->>'rows_at_generation' FROM spectral.ledger "
        "WHERE kind = 'deploy' AND action = 'abort'"
    )
    assert int(adopted) >= 3


def test_a_crash_during_the_flip_back_then_status_s_advice(sandbox: Sandbox) -> None:
    """`rollback run` is killed after pointing the record back at blue: status names the
    stopped rollback, and its command (`rollback run`) finishes it without a second flip."""
    sandbox.ok("deploy", "v1.0.0")
    sandbox.ok("deploy", "v1.1.0")
    with Load(sandbox) as load:
        wait_for(lambda: load.served >= 10)
        crashed = sandbox.run(
            "rollback",
            "run",
            "--symptom",
            "behavior",
            "--yes",
            env={CRASH: "rollback-flip-back:dns-changed"},
        )
        assert crashed.returncode == -9
        (action,) = critical(sandbox)
        assert "rollback #1 (class 2) stopped before step 1" in str(action["reason"])
        assert action["commands"] == ["spectral-deploy rollback run"]
        result = sandbox.ok("rollback", "run", "--yes")
        assert "rollback #1 completed" in result.stdout
        settle(sandbox, load)
    assert load.failed == [], load.failed[:5]
    assert sandbox.get("/health")[1]["generation"] == 1
    assert critical(sandbox) == []
