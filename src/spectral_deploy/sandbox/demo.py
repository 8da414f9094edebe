"""The sandbox demo: the runbook's story on one machine, under live traffic.

A throwaway project holds the sample shop as a git repository of releases; everything runs
with the embedded PostgreSQL and the local providers (a supervisor per color, the router
playing the CNAME with a one-second TTL). While a load generator posts orders through the
router, the demo deploys blue (v1.0.0), deploys green with a migration (v1.1.0), finds a
behaviour fault and rolls back by Class 2 (flip back, drain N+1), ships the fix (v1.2.0),
deploys a release with a data fault (v1.3.0) and rolls back by Class 3 (the prior code
tagged and deployed at N+2, N+1 drained), then finishes. Every figure of the summary is
counted from the database or the load generator. The project is deleted at the end.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psycopg import sql

from spectral_deploy.config import Config, load_config
from spectral_deploy.cutover.orchestrator import Deployer
from spectral_deploy.db import Database, open_database
from spectral_deploy.db.access import fetch_one, fetch_value
from spectral_deploy.rollback.classify import Symptom
from spectral_deploy.rollback.planner import plan_rollback, sources_of
from spectral_deploy.rollback.run import RollbackRunner
from spectral_deploy.rollback.store import RollbackOutcome
from spectral_deploy.sandbox.control import down
from spectral_deploy.sandbox.load import APP_FAULT, LoadGenerator, LoadStats
from spectral_deploy.sandbox.shop import Ports, ShopRelease, build_repository, local_settings

__all__ = ["DEMO_RELEASES", "DemoSummary", "Scenario", "run_demo"]

DEMO_RELEASES = (
    ShopRelease("v1.0.0", "1.0.0", migrations=2, writes_email=False),
    ShopRelease("v1.1.0", "1.1.0", migrations=3, fault="behavior"),
    ShopRelease("v1.2.0", "1.2.0", migrations=3),
    ShopRelease("v1.3.0", "1.3.0", migrations=3, fault="data"),
)
FAULT_SECONDS = 2.0
SETTLE_SECONDS = 60.0

# the demo's project: one worker per color, a one-second TTL
TUNING = """
[deploy]
smoke_paths = ["/health", "/"]
hold_seconds = 600
watch_interval_seconds = 0.5

[outbox]
poll_seconds = 0.5
heartbeat_seconds = 0.5
stale_after_seconds = 3
"""

# say(text, command): a line of the story and the command an operator would have typed
Say = Callable[[str, str | None], None]


@dataclass(frozen=True)
class Scenario:
    """One rollback of the story."""

    name: str
    failure_class: int
    ok: bool
    seconds: float

    def as_json(self) -> dict[str, Any]:
        """``{"name", "class", "ok", "seconds"}``."""
        return {
            "name": self.name,
            "class": self.failure_class,
            "ok": self.ok,
            "seconds": self.seconds,
        }


@dataclass(frozen=True)
class DemoSummary:
    """What happened, counted."""

    ok: bool
    scenarios: tuple[Scenario, ...]
    load: LoadStats
    events_emitted: int
    events_handled: int
    seconds: float
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def events_lost(self) -> int:
        """Events written by the app and never handled."""
        return self.events_emitted - self.events_handled

    def as_json(self) -> dict[str, Any]:
        """The summary in the shape the issue names, plus detail."""
        return {
            "ok": self.ok,
            "scenarios": [s.as_json() for s in self.scenarios],
            "requests": {
                "served": self.load.served,
                "failed": self.load.failed,
                "failed_by_cause": self.load.failed_by_cause,
            },
            "events": {
                "emitted": self.events_emitted,
                "handled": self.events_handled,
                "lost": self.events_lost,
            },
            "seconds": self.seconds,
            "problems": list(self.problems),
        }


def run_demo(say: Say, *, keep: bool = False) -> DemoSummary:
    """Run the whole story in a throwaway project; ``keep`` leaves it running."""
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="spectral-demo-"))
    root.chmod(0o755)
    ports = Ports.free()
    build_repository(root, DEMO_RELEASES, settings=local_settings(ports, tuning=TUNING))
    config = load_config(cwd=root, environ={})
    say(f"A project with the sample shop, tagged v1.0.0 to v1.3.0, in {root}", None)
    load: LoadGenerator | None = None
    try:
        database = open_database(config, create=True)
        story = _Story(config, database, say)
        story.deploy("v1.0.0", "Deploy v1.0.0 as the first generation: blue")
        load = LoadGenerator(ports.router).start()
        say(f"Live traffic: orders posted through the router on 127.0.0.1:{ports.router}", None)
        story.deploy("v1.1.0", "Deploy v1.1.0 to green, with the expand migration 0003")
        story.fault(load, "v1.1.0 misbehaves: some checkouts answer 500 (a behaviour fault)")
        class_2 = story.rollback(Symptom.BEHAVIOR, "Class 2: behaviour fault, flip back to blue")
        story.deploy("v1.2.0", "Ship the fix: v1.2.0, at a new generation")
        story.finish("End v1.2.0's hold window: blue drains and stops")
        story.deploy("v1.3.0", "Deploy v1.3.0")
        story.fault(load, "v1.3.0 writes totals 100 times too large (a data fault)")
        class_3 = story.rollback(
            Symptom.DATA, "Class 3: data fault, the prior code redeployed at a new generation"
        )
        story.finish("End the hold window of the rollback deploy: v1.3.0's slot stops")
        stats = load.stop()
        load = None
        emitted, handled = story.settle()
        problems = list(story.problems)
        infrastructure = {k: n for k, n in stats.failed_by_cause.items() if k != APP_FAULT}
        if infrastructure:
            problems.append(f"requests failed because of a deploy: {infrastructure}")
        summary = DemoSummary(
            ok=not problems and emitted == handled and class_2.ok and class_3.ok,
            scenarios=(class_2, class_3),
            load=stats,
            events_emitted=emitted,
            events_handled=handled,
            seconds=round(time.monotonic() - started, 1),
            problems=tuple(problems),
        )
    finally:
        if load is not None:
            load.stop()
        if keep:
            say(f"Left running in {root}: `spectral-deploy sandbox down` there stops it", None)
        else:
            say(
                "Clean up: stop every process and delete the project",
                "spectral-deploy sandbox down",
            )
            down(config)
            shutil.rmtree(root, ignore_errors=True)
    return summary


class _Story:
    """The steps of the demo, each narrated with the operator's command."""

    def __init__(self, config: Config, database: Database, say: Say) -> None:
        self.config = config
        self.database = database
        self.say = say
        self.problems: list[str] = []
        self.deployer = Deployer.from_config(config, database, say=lambda text: None)

    def deploy(self, tag: str, text: str) -> None:
        began = time.monotonic()
        self.say(text, f"spectral-deploy deploy {tag}")
        deploy = self.deployer.start(tag)
        self.say(
            f"  {tag} is live as generation {deploy.generation} on slot {deploy.green} "
            f"({time.monotonic() - began:.1f} s, 11 steps)",
            None,
        )

    def finish(self, text: str) -> None:
        self.say(text, "spectral-deploy deploy finish --force --yes")
        report = self.deployer.finish(force=True)  # the demo does not wait out the window
        if report.rows_left:
            self.problems.append(
                f"generation {report.retired_generation} kept {report.rows_left} rows after finish"
            )

    def fault(self, load: LoadGenerator, text: str) -> None:
        self.say(text, None)
        before = load.stats()
        time.sleep(FAULT_SECONDS)
        after = load.stats()
        self.say(
            f"  traffic meanwhile: {after.served - before.served} served, "
            f"{after.failed - before.failed} failed",
            None,
        )

    def rollback(self, symptom: Symptom, name: str) -> Scenario:
        self.say(f"Plan: {name}", f"spectral-deploy rollback plan --symptom {symptom}")
        began = time.monotonic()
        gathered, plan = plan_rollback(
            self.config, symptom=symptom, sources=sources_of(self.deployer)
        )
        found = gathered.deploy
        assert found is not None
        for number, step in enumerate(plan.steps, 1):
            self.say(f"  {number}. {step.title}", step.command)
        runner = RollbackRunner(self.config, self.database, self.deployer)
        record = runner.begin(plan, gathered.facts, found)
        self.say("Run it", f"spectral-deploy rollback run --symptom {symptom} --yes")
        done = runner.run(record)
        seconds = round(time.monotonic() - began, 2)
        bad = gathered.facts.to_generation
        ok = done.outcome is RollbackOutcome.COMPLETED and self._drained(bad)
        self.say(
            f"  rollback #{done.id}: class {plan.failure_class}, {done.outcome} in {seconds} s; "
            f"generation {bad} {'drained' if self._drained(bad) else 'NOT drained'}",
            None,
        )
        if not ok:
            self.problems.append(f"{name}: outcome {done.outcome}")
        return Scenario(name, plan.failure_class, ok, seconds)

    def settle(self) -> tuple[int, int]:
        """Wait for every event to be handled; return (emitted, handled), counted."""
        self.say("Wait until every event is handled, then count", None)
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            with self.database.connect() as conn:
                counts = fetch_one(
                    conn,
                    "SELECT (SELECT count(*) FROM orders) AS emitted, "
                    "(SELECT count(*) FROM handled_events) AS handled",
                    into=lambda emitted, handled: (int(emitted), int(handled)),
                )
            assert counts is not None
            emitted, handled = counts
            if emitted == handled or time.monotonic() > deadline:
                return emitted, handled
            time.sleep(0.25)

    def _drained(self, generation: int | None) -> bool:
        if generation is None:
            return True
        query = sql.SQL("SELECT count(*) FROM {}.outbox WHERE generation = %s").format(
            sql.Identifier(self.database.schema)
        )
        with self.database.connect() as conn:
            return bool(fetch_value(conn, query, (generation,)) == 0)
