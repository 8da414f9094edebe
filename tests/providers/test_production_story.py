"""The production story on the vendor fakes, driven through the generated workflows: tag ->
deploy workflow -> hold window -> scheduled finish -> Class 2 from the flip workflow -> Class 3
dispatched; and the ways it used to go wrong (a failed build resumed, overlapping deploys, an
empty DATABASE_URL)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from spectral_deploy.providers.base import Color
from tests.providers.actions import JobResult
from tests.providers.conftest import TOKENS
from tests.providers.production import RECORD, TARGETS, World, production_world


@pytest.fixture
def world(empty_database: str) -> Iterator[World]:
    """Production on the fakes, with a fresh database as its DATABASE_URL."""
    with production_world(empty_database) as built:
        yield built


def deployed(world: World, tag: str) -> JobResult:
    """Push ``tag`` as a person would and let the deploy workflow's push run go."""
    world.push_tag(tag)
    ran = world.run_queued()
    assert ran is not None, f"pushing {tag} queued no run"
    run, result = ran
    assert run["event"] == "push"
    return result


def generation_states(world: World) -> dict[int, str]:
    return dict(world.query("SELECT generation, state FROM spectral.generations"))


def no_secret_in(*texts: str) -> None:
    for text in texts:
        for token in TOKENS.values():
            assert token not in text


@pytest.mark.timeout(900)  # five deploys, two rollbacks, and two one-TTL (60 s) waits
def test_the_production_story_through_the_generated_workflows(world: World) -> None:
    """v1.0.0 first; v1.1.0 held then finished on schedule; v1.2.0 breaches on Sentry and is
    flipped back by the cname-flip workflow (Class 2); v1.3.0 writes bad data and `rollback run`
    deploys the rollback tag through the deploy workflow it dispatches (Class 3), while the
    push run the tag started skips it: one deploy of it, never two."""
    outputs: list[str] = []

    # -- a release tag goes through the deploy workflow ----------------------------------------
    first = deployed(world, "v1.0.0")
    outputs.append(first.output)
    assert first.ok, first.output
    install = first.step("Install spectral-deploy")
    assert "spectral-deploy @ git+https://github.com/acme/spectral-deploy@" in install.script
    assert "first deploy" in first.step("Deploy").output
    old = world.color_of(world.live_target())
    record = world.cloudflare.record(RECORD)
    assert (record["ttl"], record["proxied"]) == (60, False)

    # -- v1.1.0: cut over, watched, then held: blue stays warm ------------------------------
    second = deployed(world, "v1.1.0")
    outputs.append(second.output)
    assert second.ok, second.output
    assert "no breach" in second.step("Deploy").output
    assert "in its hold window" in second.step("Finish the deploy once").output
    new = world.color_of(world.live_target())
    assert new is not old and not world.suspended(old)
    assert world.render.calls("PUT", r"/services/[^/]+/env-vars$") == []  # never replace-all
    assert world.render.calls("PUT", r"/services/[^/]+/env-vars/SPECTRAL_GENERATION$")

    # -- the scheduled finish: nothing before the window ends, blue retired after ----------
    early = world.runner.run("deploy-finish.yml", event="schedule")
    assert early.ok and "in its hold window" in early.step("Finish the open deploy").output
    (deploy_id,) = world.query("SELECT id FROM spectral.deploys WHERE tag = 'v1.1.0'")[0]
    world.backdate(deploy_id, 3600 + 120)  # the hold window, then two minutes, go by
    finished = world.runner.run("deploy-finish.yml", event="schedule")
    outputs.append(finished.output)
    assert finished.ok, finished.output
    assert "completed" in finished.step("Finish the open deploy").output
    assert world.suspended(old)
    assert world.query("SELECT outcome FROM spectral.deploys WHERE id = %s", (deploy_id,)) == [
        ("completed",)
    ]

    # -- v1.2.0 misbehaves: Sentry's error rate breaches during the workflow's watch --------
    now = datetime.now(UTC)
    for tenth in range(0, 6000, 3):  # its errors, for the next ten minutes
        world.sentry.add_event(now + timedelta(seconds=tenth / 10), "v1.2.0")
    world.github.add_release("v1.2.0", "Release notes")
    third = deployed(world, "v1.2.0")
    outputs.append(third.output)
    assert not third.ok
    watch = third.step("Deploy").output
    assert "hold-window breach" in watch and "error(s) of v1.2.0" in watch, watch
    assert "cname-flip" in third.summary
    bad = world.color_of(world.live_target())
    assert bad is old  # green alternates: v1.2.0 went to the slot v1.0.0 had
    # that slot was suspended: resuming it started a deploy of v1.0.0, which ended before
    # v1.2.0's was triggered (no overlap, nothing canceled)
    web = world.services["blue" if bad is Color.BLUE else "green"]
    history = [(d["trigger"], d["status"]) for d in reversed(world.render.deploys[web])]
    resumed = history.index(("service_resumed", "deactivated"))
    assert history[resumed + 1][0] == "api" and "canceled" not in dict(history).values()

    # -- Class 2 from the flip workflow: back to v1.1.0's slot, then the rest ---------------
    flip = world.runner.run(
        "cname-flip.yml",
        event="workflow_dispatch",
        inputs={"target": str(new), "ttl": 60, "complete-rollback": True},
    )
    outputs.append(flip.output)
    assert flip.ok, flip.output
    assert world.live_target() == TARGETS[new]
    assert generation_states(world) == {1: "retired", 2: "active", 3: "failed"}
    assert world.suspended(bad)
    assert any("Class 2" in str(m) for m in world.slack.messages)
    release = next(r for r in world.github.releases.values() if r["tag_name"] == "v1.2.0")
    assert release["prerelease"] is True

    # -- v1.3.0 writes wrong data: Class 3 dispatched, and waited for -----------------------
    fourth = deployed(world, "v1.3.0")
    outputs.append(fourth.output)
    assert fourth.ok, fourth.output
    runs, rollback = class_3_through_the_workflow(world)
    outputs.append(rollback)
    assert "waiting for deploy-prod.yml to deploy v1.3.0-rollback" in rollback, rollback
    assert "completed" in rollback, rollback
    events = [run["event"] for run, _ in runs]
    assert sorted(events) == ["push", "workflow_dispatch"], events
    for run, result in runs:
        assert result.ok, result.output
        deploy_output = result.step("Deploy").output
        if run["event"] == "push":  # the tag's own push run leaves it to the rollback's run
            assert "skipped: v1.3.0-rollback is deployed by rollback #" in deploy_output
        else:
            assert "is live on slot" in deploy_output
    assert world.query("SELECT count(*) FROM spectral.deploys WHERE tag = 'v1.3.0-rollback'") == [
        (1,)
    ]
    states = generation_states(world)
    assert (states[4], states[5]) == ("failed", "active")
    rolled = world.query("SELECT commit_sha FROM spectral.generations WHERE generation = 5")[0][0]
    assert rolled == world.commits["v1.1.0"]  # the prior code, at a new generation
    no_secret_in(*outputs)


def class_3_through_the_workflow(
    world: World,
) -> tuple[list[tuple[dict[str, Any], JobResult]], str]:
    """`rollback run --symptom data --yes` on an operator's machine, while a runner picks up
    the deploy workflow's runs as they are queued."""
    process = subprocess.Popen(
        [sys.executable, "-m", "spectral_deploy", "rollback", "run", "--symptom", "data", "--yes"],
        cwd=world.root,
        env={**world.runner.environ, **world.operator_env()},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    runs = []
    deadline = time.monotonic() + 900
    try:
        while process.poll() is None and time.monotonic() < deadline:
            ran = world.run_queued()
            if ran is not None:
                runs.append(ran)
            else:
                time.sleep(0.2)
        while (ran := world.run_queued()) is not None:  # a run queued after it ended
            runs.append(ran)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    return runs, output


@pytest.mark.timeout(600)
def test_a_failed_build_is_deployed_again_when_the_run_is_retried(world: World) -> None:
    """The build of v1.1.0 fails after its variables were set; re-running the workflow once
    the build is fixed resumes the deploy, which deploys v1.1.0 again: green and its workers
    run v1.1.0's commit as generation 2, never the old code labelled generation 2."""
    assert deployed(world, "v1.0.0").ok
    world.render.failing_commits[world.commits["v1.1.0"]] = "build_failed"
    failed = deployed(world, "v1.1.0")
    assert not failed.ok
    assert "ended build_failed" in failed.step("Deploy").output
    del world.render.failing_commits[world.commits["v1.1.0"]]

    world.github.queue_run("deploy-prod.yml", "push", "v1.1.0", {})  # "Re-run all jobs"
    ran = world.run_queued()
    assert ran is not None
    retried = ran[1]
    assert retried.ok, retried.output
    output = retried.step("Deploy").output
    assert "is open: resuming it" in output and "the platform started deploy" in output
    green = world.color_of(world.live_target())
    side = "blue" if green is Color.BLUE else "green"
    for service in (world.services[side], world.services[f"{side}_worker"]):
        live = next(d for d in world.render.deploys[service] if d["status"] == "live")
        assert live["commit"]["id"] == world.commits["v1.1.0"]
        assert world.render.running_env(service)["SPECTRAL_GENERATION"] == "2"  # type: ignore[index]
    workers = world.query(
        "SELECT DISTINCT generation FROM spectral.workers WHERE state = 'running'"
    )
    assert (2,) in workers


@pytest.mark.timeout(600)
def test_overlapping_deploys_under_the_wait_policy(world: World) -> None:
    """Render's "Wait" policy and a deploy started from the dashboard as ours arrives: Render
    answers 202 with no body; the deploy finds its own deploy, waits for it and goes live."""
    assert deployed(world, "v1.0.0").ok
    world.render.overlap_policy = "wait"
    competing: list[str] = []

    def dashboard_deploy(service: str) -> None:
        """Someone deploys v1.0.0 from the dashboard as our trigger arrives."""
        if not competing and world.machines.colors[service][1] == "web":
            started = world.render._new_deploy(service, world.commits["v1.0.0"], trigger="manual")
            competing.append(started["id"])

    world.render.on_trigger = dashboard_deploy
    result = deployed(world, "v1.1.0")
    assert result.ok, result.output
    assert competing
    assert any(c.method == "POST" for c in world.render.calls("POST", r"/deploys$"))
    green = world.color_of(world.live_target())
    web = world.services["blue" if green is Color.BLUE else "green"]
    ours = next(d for d in world.render.deploys[web] if d["status"] == "live")
    assert ours["trigger"] == "api" and ours["commit"]["id"] == world.commits["v1.1.0"]
    manual = next(d for d in world.render.deploys[web] if d["id"] == competing[0])
    assert manual["status"] == "deactivated"  # it ran first: ours was queued (the 202)
    assert "id is missing" not in result.output


def test_an_empty_database_url_secret_stops_the_workflow_first(world: World) -> None:
    """An unset DATABASE_URL secret is an empty string: the workflow's first step stops the run
    before anything is installed; run by hand with it empty, the deploy exits 2 and starts
    nothing (no embedded server on the runner, no call to Render or Cloudflare)."""
    world.runner.secrets["DATABASE_URL"] = ""
    result = deployed(world, "v1.0.0")
    assert not result.ok
    check = result.step("Check the secrets")
    assert check.outcome == "failure" and "secrets not set: DATABASE_URL" in check.output
    ran = [step.name for step in result.steps if step.outcome not in ("skipped", "failure")]
    assert ran == ["What to do now"]  # the failure summary, nothing else
    by_hand = world.cli("deploy", "v1.0.0", timeout=120)
    assert by_hand.returncode == 2, by_hand.stdout + by_hand.stderr
    assert "DATABASE_URL" in by_hand.stderr and "production providers" in by_hand.stderr
    assert not (world.root / ".spectral" / "pg").exists()
    assert world.render.calls() == [] and world.cloudflare.calls() == []
