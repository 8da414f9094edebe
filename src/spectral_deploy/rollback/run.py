"""Executing a rollback plan: step by step, each recorded as intent then outcome, resumable.

The plan is stored with the rollback when it starts; a run that crashes is resumed by
``rollback run`` again: the steps already done are skipped, the interrupted one runs again
(every step observes before it acts: a flip-back reads the record first, a tag that exists
at the right commit is fine, a deploy of the rollback tag that is open is resumed).
Checklist steps (vendor support, restoring with an identity only a person holds) are shown
and recorded, not performed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from spectral_deploy.config import Config
from spectral_deploy.cutover import crash
from spectral_deploy.cutover import store as deploys
from spectral_deploy.cutover.flip import point_cname
from spectral_deploy.cutover.model import Deploy, Outcome
from spectral_deploy.cutover.observe import FlipState, flip_state
from spectral_deploy.cutover.orchestrator import Deployer
from spectral_deploy.cutover.retire import DRAIN_TIMEOUT_SECONDS, retire_color
from spectral_deploy.cutover.steps import record_flip
from spectral_deploy.cutover.traffic import await_generation
from spectral_deploy.db import Database
from spectral_deploy.errors import CheckFailed, PreconditionFailed, SpectralError
from spectral_deploy.ledger import generations
from spectral_deploy.ledger.generations import GenerationState
from spectral_deploy.ledger.store import EntryKind, append, current_actor, record_intent
from spectral_deploy.ledger.store import Outcome as LedgerOutcome
from spectral_deploy.migrate.fixforward import write_fix_forward
from spectral_deploy.notify.send import CHANNELS, Delivery, deliver
from spectral_deploy.outbox import drain as drains
from spectral_deploy.outbox.fleet import request_stop
from spectral_deploy.outbox.handover import hand_over
from spectral_deploy.providers.base import Color, color_of
from spectral_deploy.providers.github import GitHub
from spectral_deploy.rollback import store as rollbacks
from spectral_deploy.rollback.classify import Facts
from spectral_deploy.rollback.dispatch import deploy_through_workflow
from spectral_deploy.rollback.facts import migrations_compatible
from spectral_deploy.rollback.plan import Plan, PlanStep, StepId, escalates
from spectral_deploy.rollback.store import RollbackOutcome, RollbackRecord

__all__ = ["RollbackRunner"]


class RollbackRunner:
    """Runs rollback plans with one deployer (its providers) and one database."""

    def __init__(
        self,
        config: Config,
        database: Database,
        deployer: Deployer,
        *,
        say: Callable[[str], None] = lambda text: None,
        confirm: Callable[[PlanStep], bool] = lambda step: True,
        here: bool = False,
    ) -> None:
        self.config = config
        self.database = database
        self.deployer = deployer
        self.say = say
        self.confirm = confirm
        # Class 3's deploy in this process, even when the deploy workflow could run it
        self.here = here

    # -- records ------------------------------------------------------------------------

    @staticmethod
    def read_open(database: Database) -> RollbackRecord | None:
        """The rollback in progress, read without providers."""
        with database.connect() as conn:
            return rollbacks.open_rollback(conn, database.schema)

    def open_record(self) -> RollbackRecord | None:
        """The rollback in progress."""
        return self.read_open(self.database)

    def latest_record(self) -> RollbackRecord | None:
        """The newest rollback."""
        with self.database.connect() as conn:
            return rollbacks.latest(conn, self.database.schema)

    def begin(self, plan: Plan, facts: Facts, deploy: Deploy | None) -> RollbackRecord:
        """Store the plan as a new rollback (refused while another one is open)."""
        schema = self.database.schema
        with self.database.connect() as conn, conn.transaction():
            opened = rollbacks.insert(
                conn,
                schema,
                deploy_id=deploy.id if deploy else None,
                failure_class=plan.failure_class,
                facts=facts.as_json(),
                reasons=plan.reasons,
                steps=plan.steps,
                started_by=current_actor(),
            )
            append(
                conn,
                schema,
                EntryKind.ROLLBACK,
                "start",
                outcome=LedgerOutcome.STARTED,
                deploy_id=deploy.id if deploy else None,
                from_generation=facts.to_generation,
                to_generation=facts.from_generation,
                details={"class": plan.failure_class, "rollback": opened},
            )
        record = self.open_record()
        assert record is not None
        return record

    # -- running ------------------------------------------------------------------------

    def run(self, record: RollbackRecord) -> RollbackRecord:
        """Run the steps not done yet; stop (resumable) when the operator declines one. One
        process drives rollbacks at a time (an advisory lock, like deploys)."""
        with (
            self.database.connect(
                autocommit=True, application_name=deploys.driver_application_name()
            ) as lock_conn,
            deploys.ProcessLock(lock_conn, self.database.schema, "rollback"),
        ):
            record = self._reload(record)
            if record.finished_at is not None:
                return record
            return self._run_steps(record)

    def _run_steps(self, record: RollbackRecord) -> RollbackRecord:
        for index, step in enumerate(record.steps):
            if index < record.steps_done:
                continue
            number = f"{index + 1}/{len(record.steps)}"
            if not step.automatic:
                self.say(f"step {number} (yours): {step.title}\n      $ {step.command}")
                self._step(record, index, step, LedgerOutcome.SKIPPED, {"manual": True})
                continue
            if not self.confirm(step):
                self.say(f"stopped before step {number}; `spectral-deploy rollback run` resumes")
                return self._reload(record)
            self.say(f"step {number}: {step.title}")
            with self.database.connect() as conn:
                record_intent(
                    conn,
                    self.database.schema,
                    EntryKind.ROLLBACK,
                    str(step.id),
                    f"rollback:{record.id}:{step.id}",
                    deploy_id=record.deploy_id,
                    details={"command": step.command},
                )
                conn.commit()
            crash.point(f"rollback-{step.id}:start")
            try:
                details = self._execute(record, step)
            except SpectralError as exc:
                self._step(record, None, step, LedgerOutcome.FAILED, {"error": exc.message})
                raise CheckFailed(
                    f"rollback #{record.id} stopped at step {number} ({step.id}): {exc.message}",
                    hint=(
                        f"{exc.hint}\n  then: spectral-deploy rollback run"
                        if exc.hint
                        else "fix the cause, then: spectral-deploy rollback run"
                    ),
                ) from exc
            crash.point(f"rollback-{step.id}:done")
            self._step(record, index, step, LedgerOutcome.OK, details)
        outcome = (
            RollbackOutcome.ESCALATED if escalates(record.steps) else RollbackOutcome.COMPLETED
        )
        self._finish(record, outcome)
        resolved = self._reload(record)
        # the runbook: "after resolution, write a brief incident note"
        for delivery in self.notify(resolved, channels=("incident",)):
            self.say(f"{delivery.channel}: {delivery.status}: {delivery.detail.splitlines()[0]}")
        return resolved

    def notify(
        self,
        record: RollbackRecord,
        *,
        dry_run: bool = False,
        channels: tuple[str, ...] = CHANNELS,
    ) -> list[Delivery]:
        """Send (or show) the rollback's communications; failures are reported, not raised.
        The incident note waits for the rollback to be resolved."""
        serving = self.deployer.observe_live(health=False).live_generation
        with self.database.connect() as conn:
            if serving is None:
                active = generations.active(conn, self.database.schema)
                serving = active.generation if active else None
            rolled_back = (
                deploys.get(conn, self.database.schema, record.deploy_id)
                if record.deploy_id is not None
                else None
            )
        since = rolled_back.started_at if rolled_back is not None else record.started_at
        story = record.story(serving, incident_since=since)
        return deliver(self.config, self.database, story, dry_run=dry_run, channels=channels)

    # -- the step executors -------------------------------------------------------------

    def _execute(self, record: RollbackRecord, step: PlanStep) -> dict[str, Any]:
        executors: dict[StepId, Callable[[RollbackRecord, PlanStep], dict[str, Any]]] = {
            StepId.ABORT_DEPLOY: self._abort_deploy,
            StepId.FLIP_BACK: self._flip_back,
            StepId.STOP_WORKERS: self._stop_workers,
            StepId.RETIRE_GREEN: self._retire_green,
            StepId.DRAIN: self._drain,
            StepId.CLOSE_DEPLOY: self._close_deploy,
            StepId.TAG_PRIOR: self._tag_prior,
            StepId.DEPLOY_PRIOR: self._deploy_prior,
            StepId.RETIRE_BAD: self._retire_bad,
            StepId.RELINT: self._relint,
            StepId.FIX_FORWARD: self._fix_forward,
            StepId.NOTIFY: self._notify,
        }
        if step.id not in executors:
            raise CheckFailed(f"no executor for step {str(step.id)!r}")
        return executors[step.id](record, step)

    def _abort_deploy(self, record: RollbackRecord, step: PlanStep) -> dict[str, Any]:
        deploy = self._deploy(record)
        if deploy is None or deploy.finished:
            return {"note": "the deploy is already closed"}
        report = self.deployer.abort()
        self.say(
            f"deploy #{report.deploy.id} aborted; {report.rows_found} row(s) at generation "
            f"{report.deploy.generation}, {report.rows_adopted} adopted"
        )
        return {
            "deploy": report.deploy.id,
            "outcome": str(report.deploy.outcome),
            "rows_at_generation": report.rows_found,
            "rows_adopted": report.rows_adopted,
            "adopted_into": report.adopted_into,
            "blue": report.blue_detail,
        }

    def _flip_back(self, record: RollbackRecord, step: PlanStep) -> dict[str, Any]:
        deploy = self._require_deploy(record)
        target = str(step.params.get("target") or self._target(deploy.blue))
        back_to = color_of(self.config, target)
        observed = self.deployer.observe_live()
        if observed.record is None:
            raise CheckFailed(f"{observed.describe_record()}: the flip back reads it first")

        def blue_serves() -> None:
            blue = observed.slot(back_to) if back_to is not None else None
            if blue is None or not blue.serving:
                raise CheckFailed(
                    f"slot {back_to} does not serve any more "
                    f"({blue.health.detail if blue and blue.health else 'nothing runs there'}): "
                    "flipping back would send traffic to it",
                    hint="spectral-deploy status  (then deploy the prior code: "
                    "spectral-deploy rollback plan --symptom data)",
                )

        current, flipped_now = point_cname(
            self.config,
            self.deployer.dns,
            observed.record,
            target,
            serves=blue_serves,
            crash_point="rollback-flip-back:dns-changed",
        )
        if flipped_now and deploy.from_generation is not None:
            proof = await_generation(
                self.deployer.probe,
                deploy.from_generation,
                record=f"{current.name} -> {current.target}",
                ttl_seconds=current.ttl,
                clock=self.deployer.clock,
                report=self.deployer.progress,
            )
            self.say(proof.detail)
        schema = self.database.schema
        with self.database.connect() as conn, conn.transaction():
            if deploy.from_generation is not None:
                generations.set_state(
                    conn,
                    schema,
                    deploy.from_generation,
                    GenerationState.ACTIVE,
                    reason=f"rollback {record.id}: flipped back",
                )
            if deploy.generation is not None:
                generations.set_state(
                    conn,
                    schema,
                    deploy.generation,
                    GenerationState.FAILED,
                    reason=f"rollback {record.id} (class {record.failure_class})",
                )
            deploys.finish(conn, schema, deploy.id, Outcome.ROLLED_BACK)
        return {"target": current.target, "ttl": current.ttl, "flipped_now": flipped_now}

    def _retire_green(self, record: RollbackRecord, step: PlanStep) -> dict[str, Any]:
        deploy = self._require_deploy(record)
        slot = Color(str(step.params.get("slot") or deploy.green))
        running = self.deployer.hosting.current(slot)
        if running is None or running.generation != deploy.generation:
            return {"note": f"slot {slot} no longer runs generation {deploy.generation}"}
        assert deploy.generation is not None
        self._refuse_to_stop_live(slot)
        # told to stop claiming (Class 2): its workers run the faulty code on nothing more,
        # so its rows are adopted, not waited for
        told = any(s.id is StepId.STOP_WORKERS for s in record.steps)
        left = retire_color(
            self.deployer.hosting,
            self.database,
            slot,
            deploy.generation,
            ttl_seconds=self.config.dns.ttl,
            moved_at=datetime.now(UTC),  # the flip back just happened (or, on resume, earlier)
            say=self.say,
            clock=self.deployer.clock,
            report=self.deployer.progress,
            drain_timeout=0.0 if told else DRAIN_TIMEOUT_SECONDS,
        )
        details: dict[str, Any] = {"slot": str(slot), "rows_left_for_the_drain": left}
        if told and left:
            # what green's web app wrote while cached resolvers still sent clients to it
            details["late_rows"] = self._drain(record, step)
        return details

    def _stop_workers(self, record: RollbackRecord, step: PlanStep) -> dict[str, Any]:
        bad = record.facts.get("to_generation")
        if bad is None:
            return {"note": "no generation to stop"}
        with self.database.connect() as conn:
            told = request_stop(conn, self.database.schema, int(bad))
        self.say(
            f"told {told} worker(s) of generation {bad} to stop claiming: they finish the rows "
            "in hand and stop"
            if told
            else f"generation {bad} has no running worker left to tell"
        )
        return {"generation": bad, "told": told}

    def _drain(self, record: RollbackRecord, step: PlanStep) -> dict[str, Any]:
        bad = record.facts.get("to_generation")
        if bad is None:
            return {"note": "no generation to drain"}
        with self.database.connect(autocommit=True) as conn:
            left = drains.unfinished_rows(conn, self.database.schema, bad, None)
        if left == 0:
            return {"generation": bad, "note": "nothing to drain", "rows": 0}
        observed = self.deployer.observe_live(health=False)
        into = observed.live_generation
        if into is None or into == bad:
            raise PreconditionFailed(
                f"{left} row(s) wait at generation {bad}, and no other generation serves to "
                f"adopt them ({observed.describe_record()}, generation {into})",
                hint="spectral-deploy status",
            )
        handover = hand_over(self.database, self.config.outbox, int(bad), into)
        for line in handover.lines():
            self.say(line)
        return {"rows": left, **handover.as_json()}

    def _close_deploy(self, record: RollbackRecord, step: PlanStep) -> dict[str, Any]:
        deploy = self._deploy(record)
        if deploy is None or deploy.finished:
            return {"note": "the deploy is already closed"}
        observed = self.deployer.observe_live(health=False)
        details: dict[str, Any] = {"deploy": deploy.id, "cname": observed.describe_record()}
        if flip_state(deploy, observed) is FlipState.UNRECORDED and observed.record is not None:
            # the flip happened but was never recorded: record what is observed first, so the
            # redeploy of the prior code starts from the generation that really serves
            record_flip(
                self.database,
                deploy,
                observed.record,
                hold_seconds=self.config.deploy.hold_seconds,
                details={"flipped_now": False, "observed_by": f"rollback #{record.id}"},
            )
            details["flip_recorded"] = "observed, never recorded by the deploy"
        with self.database.connect() as conn, conn.transaction():
            deploys.finish(conn, self.database.schema, deploy.id, Outcome.ROLLED_BACK)
        return details

    def _tag_prior(self, record: RollbackRecord, step: PlanStep) -> dict[str, Any]:
        tag, commit = str(step.params["tag"]), str(step.params["commit"])
        self.deployer.vcs.create_tag(tag, commit, f"rollback of {record.facts.get('tag')}")
        return {"tag": tag, "commit": commit}

    def _deploy_prior(self, record: RollbackRecord, step: PlanStep) -> dict[str, Any]:
        tag = str(step.params["tag"])
        vcs = self.deployer.vcs
        if isinstance(vcs, GitHub) and not self.here:
            # the deploy workflow runs the cutover (with its secrets), not this machine
            deployed = deploy_through_workflow(
                self.config,
                self.database,
                vcs,
                rollback_id=record.id,
                deploy_id=record.deploy_id,
                tag=tag,
                say=self.say,
                report=self.deployer.progress,
            )
        else:
            deployed = self.deployer.start(tag)
        bad = record.facts.get("to_generation")
        if bad is not None:
            with self.database.connect() as conn, conn.transaction():
                generations.set_state(
                    conn,
                    self.database.schema,
                    int(bad),
                    GenerationState.FAILED,
                    reason=f"rollback {record.id} (class {record.failure_class})",
                )
        return {"deploy": deployed.id, "generation": deployed.generation}

    def _retire_bad(self, record: RollbackRecord, step: PlanStep) -> dict[str, Any]:
        slot = Color(str(step.params["slot"]))
        bad = record.facts.get("to_generation")
        running = self.deployer.hosting.current(slot)
        if bad is None or running is None or running.generation != bad:
            return {"note": f"slot {slot} does not run the bad generation"}
        self._refuse_to_stop_live(slot)
        with self.database.connect() as conn:
            replacing = deploys.open_deploy(conn, self.database.schema)
        left = retire_color(
            self.deployer.hosting,
            self.database,
            slot,
            int(bad),
            ttl_seconds=self.config.dns.ttl,
            moved_at=replacing.flipped_at if replacing else None,
            say=self.say,
            clock=self.deployer.clock,
            report=self.deployer.progress,
        )
        return {"slot": str(slot), "rows_left_for_the_drain": left}

    def _relint(self, record: RollbackRecord, step: PlanStep) -> dict[str, Any]:
        deploy = self._require_deploy(record)
        notes: list[str] = []
        compatible = migrations_compatible(
            self.config, deploy, notes, self.deployer.source, self.database
        )
        for note in notes:
            self.say(note)
        return {"compatible_with_prior": compatible, "notes": notes}

    def _fix_forward(self, record: RollbackRecord, step: PlanStep) -> dict[str, Any]:
        generation = step.params.get("generation") or record.facts.get("to_generation")
        if generation is None:
            raise PreconditionFailed("no generation to fix forward")
        # only what the re-lint finds incompatible is fixed forward: it reads the world now
        deploy = self._require_deploy(record)
        notes: list[str] = []
        compatible = migrations_compatible(
            self.config, deploy, notes, self.deployer.source, self.database
        )
        if compatible is not False:
            why = (
                "the re-lint finds the prior code compatible with the new schema"
                if compatible
                else "the deploy's migrations could not be re-linted: " + "; ".join(notes)
            )
            self.say(f"no fix-forward migration written: {why}")
            return {"file": None, "compatible_with_prior": compatible, "why": why}
        path = write_fix_forward(self.config, self.database, int(generation))
        self.say(f"wrote {path}: review it, then ship it with the corrected code")
        return {"file": str(path)}

    def _notify(self, record: RollbackRecord, step: PlanStep) -> dict[str, Any]:
        deliveries = self.notify(record, channels=("chat", "release"))
        for delivery in deliveries:
            self.say(f"{delivery.channel}: {delivery.status}: {delivery.detail.splitlines()[0]}")
        return {d.channel: d.status for d in deliveries}

    # -- helpers ------------------------------------------------------------------------

    def _target(self, color: Color) -> str:
        return self.config.dns.target_of(color)

    def _refuse_to_stop_live(self, slot: Color) -> None:
        """Never retire the slot public traffic goes to (observed, not assumed)."""
        observed = self.deployer.observe_live(health=False)
        if not observed.record_known:
            raise CheckFailed(f"{observed.describe_record()}: retiring slot {slot} waits for it")
        if slot in observed.traffic_colors:
            raise CheckFailed(
                f"slot {slot} still receives public traffic ({observed.describe_record()}): "
                "it is not retired",
                hint="spectral-deploy status",
            )

    def _deploy(self, record: RollbackRecord) -> Deploy | None:
        if record.deploy_id is None:
            return None
        with self.database.connect() as conn:
            return deploys.get(conn, self.database.schema, record.deploy_id)

    def _require_deploy(self, record: RollbackRecord) -> Deploy:
        deploy = self._deploy(record)
        if deploy is None:
            raise PreconditionFailed("this step needs the deploy being rolled back")
        return deploy

    def _step(
        self,
        record: RollbackRecord,
        index: int | None,
        step: PlanStep,
        outcome: LedgerOutcome,
        details: dict[str, Any],
    ) -> None:
        with self.database.connect() as conn, conn.transaction():
            append(
                conn,
                self.database.schema,
                EntryKind.ROLLBACK,
                str(step.id),
                outcome=outcome,
                deploy_id=record.deploy_id,
                details={**details, "rollback": record.id},
            )
            if index is not None:
                rollbacks.step_done(conn, self.database.schema, record.id, index + 1)

    def _finish(self, record: RollbackRecord, outcome: RollbackOutcome) -> None:
        with self.database.connect() as conn, conn.transaction():
            rollbacks.finish(conn, self.database.schema, record.id, outcome)
            append(
                conn,
                self.database.schema,
                EntryKind.ROLLBACK,
                "finish",
                outcome=LedgerOutcome.OK,
                deploy_id=record.deploy_id,
                details={"rollback": record.id, "outcome": str(outcome)},
            )

    def _reload(self, record: RollbackRecord) -> RollbackRecord:
        with self.database.connect() as conn:
            fresh = rollbacks.get(conn, self.database.schema, record.id)
        assert fresh is not None
        return fresh
