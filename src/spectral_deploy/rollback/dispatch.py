"""Class 3's deploy through the deploy workflow: dispatch it, then wait for the cutover.

With GitHub configured, ``rollback run`` does not run the cutover of the rollback tag on the
operator's machine (with every production secret there for the length of a deploy): it
dispatches the deploy workflow with the tag and waits until the deploy of that tag has cut
over (read from the ledger the workflow writes), or until the run ends without it. ``rollback
run --here`` runs the cutover in-process instead.

Dispatched once: the intent is recorded before the dispatch and the run's id after it, so a
resumed rollback waits for the same run (and finds it among the workflow's runs when it
crashed in between); it dispatches again only when no such run exists. A run that ends
without the cutover stops the rollback with the run's address; ``rollback run`` resumes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from spectral_deploy.config import Config
from spectral_deploy.cutover import store
from spectral_deploy.cutover.model import Deploy
from spectral_deploy.cutover.triggers import cut_over_deploy
from spectral_deploy.db import Database
from spectral_deploy.errors import CheckFailed, PreconditionFailed
from spectral_deploy.ledger.store import (
    EntryKind,
    Outcome,
    append,
    entries,
    entry_by_intent,
    record_intent,
)
from spectral_deploy.providers.github import GitHub, WorkflowRun
from spectral_deploy.waiting import FunctionClock, Reporter, Wait, no_report

__all__ = ["DISPATCH_ACTION", "deploy_through_workflow"]

DISPATCH_ACTION = "dispatch-deploy"
# a dispatched run appears in the runs list within seconds; look a while before dispatching again
FIND_RUN_ATTEMPTS = 6
FIND_RUN_SECONDS = 5.0


def deploy_through_workflow(
    config: Config,
    database: Database,
    github: GitHub,
    *,
    rollback_id: int,
    deploy_id: int | None,
    tag: str,
    say: Callable[[str], None] = lambda text: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    report: Reporter = no_report,
) -> Deploy:
    """Dispatch the deploy workflow for ``tag`` (once) and wait for its deploy to cut over."""
    dispatch = _Dispatch(
        database, github, config.vcs.deploy_workflow, rollback_id, deploy_id, tag, sleep, say
    )
    workflow = dispatch.workflow
    run = dispatch.run()
    say(f"waiting for {workflow} to deploy {tag}: {run.html_url or f'run {run.id}'}")
    deadline = clock() + config.vcs.workflow_timeout_seconds
    last_status = ""
    wait = Wait(
        f"{workflow} run {run.id} to cut over {tag}",
        config.vcs.workflow_timeout_seconds,
        clock=FunctionClock(clock, sleep),
        report=report,
        look=run.html_url or "the repository's Actions tab",
    )
    while True:
        deployed = _cut_over_deploy(database, tag)
        if deployed is not None:
            say(f"{tag} cut over as generation {deployed.generation} (deploy #{deployed.id})")
            return deployed
        if run.completed:
            raise CheckFailed(
                f"{workflow} run {run.id} ended {run.conclusion or 'without a conclusion'} and "
                f"no deploy of {tag} cut over ({run.html_url})",
                hint="read the run's log; after fixing the cause: spectral-deploy rollback run "
                "(it dispatches again), or spectral-deploy rollback run --here",
            )
        if clock() > deadline:
            raise CheckFailed(
                f"{workflow} run {run.id} is still {run.status} after "
                f"{config.vcs.workflow_timeout_seconds:g} s ({run.html_url})",
                hint="spectral-deploy rollback run  (waits for the same run again)",
            )
        if run.status != last_status:
            say(f"{workflow} run {run.id}: {run.status}")
            last_status = run.status
        wait.tick(run.status)
        sleep(config.vcs.workflow_poll_seconds)
        run = github.workflow_run(run.id)


@dataclass(frozen=True)
class _Dispatch:
    """One rollback's dispatch of the deploy workflow for one tag."""

    database: Database
    github: GitHub
    workflow: str
    rollback_id: int
    deploy_id: int | None
    tag: str
    sleep: Callable[[float], None]
    say: Callable[[str], None]

    @property
    def key(self) -> str:
        return f"rollback:{self.rollback_id}:dispatch:{self.tag}"

    def run(self) -> WorkflowRun:
        """The run dispatched for this tag: the recorded one, one found, or a new one."""
        schema = self.database.schema
        with self.database.connect() as conn:
            intent = record_intent(
                conn,
                schema,
                EntryKind.ROLLBACK,
                DISPATCH_ACTION,
                self.key,
                deploy_id=self.deploy_id,
                details={"workflow": self.workflow, "tag": self.tag, "rollback": self.rollback_id},
            )
            conn.commit()
            recorded = [
                entry
                for entry in entries(
                    conn, schema, kind=EntryKind.ROLLBACK, deploy_id=self.deploy_id
                )
                if entry.action == DISPATCH_ACTION
                and entry.outcome == Outcome.OK
                and entry.details.get("rollback") == self.rollback_id
                and entry.details.get("tag") == self.tag
            ]
        if recorded:
            return self.github.workflow_run(int(recorded[-1].details["run_id"]))
        if intent is None:  # dispatched before, its run not recorded (a crash in between)
            found = self._find(_intent_time(self.database, self.key))
            if found is not None:
                return self._record(found)
            self.say(f"no run of {self.workflow} since the last dispatch: dispatching again")
        started = datetime.now(UTC)
        run = self.github.dispatch_workflow(
            self.workflow, self.github.default_branch(), {"tag": self.tag}
        )
        run = run or self._find(started)
        if run is None:
            raise PreconditionFailed(
                f"dispatched {self.workflow} for {self.tag}, but no such run appeared",
                hint="look at the repository's Actions tab; then spectral-deploy rollback run",
            )
        self.say(f"dispatched {self.workflow} for {self.tag} (run {run.id})")
        return self._record(run)

    def _find(self, since: datetime) -> WorkflowRun | None:
        for attempt in range(FIND_RUN_ATTEMPTS):
            if attempt:
                self.sleep(FIND_RUN_SECONDS)
            found = self.github.dispatched_run(self.workflow, since)
            if found is not None:
                return found
        return None

    def _record(self, run: WorkflowRun) -> WorkflowRun:
        with self.database.connect() as conn:
            append(
                conn,
                self.database.schema,
                EntryKind.ROLLBACK,
                DISPATCH_ACTION,
                outcome=Outcome.OK,
                deploy_id=self.deploy_id,
                details={
                    "workflow": self.workflow,
                    "tag": self.tag,
                    "rollback": self.rollback_id,
                    "run_id": run.id,
                    "url": run.html_url,
                },
            )
            conn.commit()
        return run


def _intent_time(database: Database, key: str) -> datetime:
    with database.connect() as conn:
        entry = entry_by_intent(conn, database.schema, key)
    return entry.recorded_at if entry is not None else datetime.now(UTC)


def _cut_over_deploy(database: Database, tag: str) -> Deploy | None:
    with database.connect() as conn:
        found = cut_over_deploy(conn, database.schema, tag)
        return store.get(conn, database.schema, found.id) if found is not None else None
