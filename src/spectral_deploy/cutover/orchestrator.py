"""Driving a deploy: start, run the steps in order, resume, abort, finish, watch.

One process drives deploys at a time (an advisory lock); one deploy is open at a time
(a unique index). Every step's start and outcome go to the ledger. Because every step
observes before it acts, ``resume`` is just "run the remaining steps again".
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from spectral_deploy import providers
from spectral_deploy.clock import SYSTEM_CLOCK, Clock
from spectral_deploy.config import Config
from spectral_deploy.cutover import crash, store
from spectral_deploy.cutover.error_rate import ErrorCheck, check_errors
from spectral_deploy.cutover.model import (
    Condition,
    ConditionReason,
    ConditionStatus,
    ConditionType,
    Deploy,
    Intent,
    Outcome,
    Step,
)
from spectral_deploy.cutover.observe import (
    FlipState,
    LiveObservation,
    flip_state,
    observe,
)
from spectral_deploy.cutover.phase import Phase, compute_phase, next_commands
from spectral_deploy.cutover.retire import retire_color
from spectral_deploy.cutover.steps import (
    STEPS,
    StepContext,
    StepFailed,
    release_config_changes,
)
from spectral_deploy.db import Database
from spectral_deploy.errors import PreconditionFailed, SpectralError
from spectral_deploy.ledger import generations
from spectral_deploy.ledger.generations import GenerationState
from spectral_deploy.ledger.store import EntryKind, append, current_actor
from spectral_deploy.ledger.store import Outcome as LedgerOutcome
from spectral_deploy.outbox import drain as drains
from spectral_deploy.outbox.status import read_status
from spectral_deploy.providers.base import (
    Color,
    DnsProvider,
    ErrorRateProvider,
    HostingProvider,
    PublicProbe,
    SourceTree,
    VcsProvider,
)
from spectral_deploy.providers.direct import SmokeFetch
from spectral_deploy.waiting import Reporter, ReportsProgress, no_report

__all__ = [
    "AbortReport",
    "Deployer",
    "FinishReport",
    "HoldCheck",
    "WatchReport",
    "unrecorded_flip_hint",
]


@dataclass(frozen=True)
class FinishReport:
    """What ``deploy finish`` left behind."""

    deploy: Deploy
    retired_generation: int | None
    rows_left: int


@dataclass(frozen=True)
class AbortReport:
    """What ``deploy abort`` did, and what it observed of blue afterwards."""

    deploy: Deploy
    rows_found: int
    rows_adopted: int
    adopted_into: int | None
    rows_left: int
    blue_serving: bool | None
    blue_detail: str


@dataclass(frozen=True)
class HoldCheck:
    """One observation of a deploy in its hold window."""

    conditions: list[Condition]
    errors: ErrorCheck | None
    breach: str | None


@dataclass(frozen=True)
class WatchReport:
    """How the hold-window watch ended."""

    deploy: Deploy
    breach: str | None
    checks: int


class Deployer:
    """Drives deploys with one set of providers."""

    def __init__(
        self,
        config: Config,
        database: Database,
        *,
        hosting: HostingProvider,
        dns: DnsProvider,
        vcs: VcsProvider,
        source: SourceTree,
        error_rate: ErrorRateProvider | None = None,
        probe: PublicProbe | None = None,
        clock: Clock = SYSTEM_CLOCK,
        fetch: Callable[[str], int] | None = None,
        say: Callable[[str], None] = lambda text: None,
        progress: Reporter = no_report,
    ) -> None:
        self.config = config
        self.progress = progress
        if isinstance(hosting, ReportsProgress):  # the platform's own waits (a Render build)
            hosting.progress = progress
        self.database = database
        self.hosting = hosting
        self.dns = dns
        self.vcs = vcs
        self.source = source
        self.error_rate = error_rate
        self.probe = probe
        self.clock = clock
        self.fetch = fetch if fetch is not None else SmokeFetch()
        self.say = say

    @classmethod
    def from_config(
        cls,
        config: Config,
        database: Database,
        say: Callable[[str], None] = lambda text: None,
        progress: Reporter = no_report,
    ) -> Deployer:
        """Providers chosen by configuration."""
        return cls(
            config,
            database,
            hosting=providers.hosting_provider(config, database.app_url),
            dns=providers.dns_provider(config),
            vcs=providers.vcs_provider(config),
            source=providers.source_tree(config),
            error_rate=providers.error_rate_provider(config),
            probe=providers.public_probe(config),
            clock=providers.clock(config),
            fetch=providers.fetch(config),
            say=say,
            progress=progress,
        )

    # -- reading ------------------------------------------------------------------------

    def current(self) -> Deploy | None:
        """The open deploy, else the latest."""
        with self.database.connect() as conn:
            return store.open_deploy(conn, self.database.schema) or store.latest(
                conn, self.database.schema
            )

    def live_color(self) -> Color | None:
        """The color the CNAME points at now (None when it points nowhere we know)."""
        return self.observe_live(health=False).record_color

    def observe_live(self, *, health: bool = True) -> LiveObservation:
        """The record read back, what each slot runs (and its health), the public probe."""
        return observe(self.config, self.dns, self.hosting, probe=self.probe, health=health)

    # -- starting and running -----------------------------------------------------------

    def start(self, tag: str) -> Deploy:
        """Open a deploy of ``tag`` (or resume the open one of the same tag) and run it."""
        schema = self.database.schema
        with self.database.connect() as conn:
            open_deploy = store.open_deploy(conn, schema)
        if open_deploy is not None:
            _refuse_if_ending(open_deploy)
            if open_deploy.tag == tag and not open_deploy.flipped:
                self.say(f"deploy #{open_deploy.id} of {tag} is open: resuming it")
                return self.run(open_deploy)
            if open_deploy.tag == tag and self.live_color() is open_deploy.green:
                self.say(
                    f"deploy #{open_deploy.id} of {tag} already cut over (the CNAME, read back, "
                    f"points at {open_deploy.green}): nothing to do"
                )
                return open_deploy
            phase = compute_phase(open_deploy, datetime.now(UTC))
            raise PreconditionFailed(
                f"deploy #{open_deploy.id} ({open_deploy.tag}) is open ({phase})",
                hint=(next_commands(open_deploy, phase) or ["spectral-deploy deploy status"])[0],
            )
        commit = self.vcs.resolve_tag(tag)
        observed = self.observe_live(health=False)
        with self.database.connect() as conn:
            active = generations.active(conn, schema)
        live, from_generation, from_commit = self._blue_of_new_deploy(observed, active)
        with self.database.connect() as conn:
            blue = live or Color.GREEN
            deploy_id = store.insert(
                conn,
                schema,
                tag=tag,
                commit=commit,
                from_generation=from_generation,
                from_commit=from_commit,
                blue=blue,
                green=blue.other,
                started_by=current_actor(),
            )
            append(
                conn,
                schema,
                EntryKind.DEPLOY,
                "start",
                outcome=LedgerOutcome.STARTED,
                deploy_id=deploy_id,
                from_generation=from_generation,
                details={
                    "tag": tag,
                    "commit": commit,
                    "green": str(blue.other),
                    "cname": observed.describe_record(),
                    "ledger_active_generation": active.generation if active else None,
                },
            )
            conn.commit()
            deploy = store.get(conn, schema, deploy_id)
        assert deploy is not None
        self.say(
            f"deploy #{deploy.id}: {tag} ({commit[:12]}) to slot {deploy.green}"
            + (
                f", replacing generation {deploy.from_generation} on slot {deploy.blue}"
                if live
                else " (first deploy: nothing serves traffic yet)"
            )
        )
        return self.run(deploy)

    def _blue_of_new_deploy(
        self, observed: LiveObservation, active: generations.Generation | None
    ) -> tuple[Color | None, int | None, str | None]:
        """The slot that serves now and what it runs, as observed; refuses when the record
        and the world leave no slot to call blue."""
        if not observed.record_known:
            raise PreconditionFailed(
                f"{observed.describe_record()}: a deploy starts from where traffic goes",
                hint="spectral-deploy dns show",
            )
        live = observed.record_color
        if live is None:
            if active is not None:
                raise PreconditionFailed(
                    f"{observed.describe_record()}, but the ledger says generation "
                    f"{active.generation} is live: a new deploy would treat itself as the first "
                    f"(blue is {self.config.dns.blue_target!r}, green "
                    f"{self.config.dns.green_target!r})",
                    hint="spectral-deploy dns show; then point it at the live color "
                    "(spectral-deploy dns point blue|green) or fix dns.blue_target/green_target",
                )
            return None, None, None
        slot = observed.slot(live)
        if slot is None or not slot.known:
            raise PreconditionFailed(
                f"cannot tell what slot {live} runs: {slot.error if slot else 'not observed'}",
                hint="spectral-deploy hosting status",
            )
        if slot.deployment is None:
            raise PreconditionFailed(
                f"{observed.describe_record()}, and slot {live} is stopped: public traffic fails",
                hint="spectral-deploy status",
            )
        running = slot.deployment.generation
        if active is not None and running != active.generation:
            self.say(
                f"warning: the ledger says generation {active.generation} is live; slot {live}, "
                f"where the CNAME points, runs generation {running}: deploying from what runs"
            )
        return live, running, slot.deployment.commit

    def resume(self) -> Deploy:
        """Run the open deploy's remaining steps."""
        deploy = self._open("resume")
        _refuse_if_ending(deploy)
        if deploy.flipped:
            observed = self.observe_live(health=False)
            where = observed.describe_record()
            if flip_state(deploy, observed) is FlipState.FLIPPED_BACK:
                self.say(f"deploy #{deploy.id} cut over, but now {where}")
            else:
                self.say(f"deploy #{deploy.id} already cut over ({where}); nothing to resume")
            return deploy
        return self.run(deploy)

    def run(self, deploy: Deploy) -> Deploy:
        """Run every step not done yet, in order, under the deploy lock."""
        with self._lock():
            ctx = self._context(deploy)
            deploy = ctx.reload()
            _refuse_if_ending(deploy)
            done = deploy.step
            if done >= Step.DEPLOY_GREEN and not (deploy.finished or deploy.flipped):
                changed = release_config_changes(ctx)
                if changed:
                    self.say(
                        f"{', '.join(changed)} changed since green was deployed: step "
                        f"{int(Step.DEPLOY_GREEN)} runs again with the current config"
                    )
                    ctx.redeploy = True
                    done = Step(int(Step.DEPLOY_GREEN) - 1)
            for step in Step:
                if step <= done or deploy.finished or deploy.flipped:
                    continue
                ctx.deploy = deploy
                self._run_step(ctx, step)
                deploy = ctx.reload()
            if deploy.flipped and not deploy.has_blue and not deploy.finished:
                deploy = self._complete_first(deploy)
        return deploy

    def _complete_first(self, deploy: Deploy) -> Deploy:
        """The first deploy has no blue to keep warm: it is complete once it cut over."""
        schema = self.database.schema
        with self.database.connect() as conn, conn.transaction():
            _close(
                conn,
                schema,
                deploy.id,
                Outcome.COMPLETED,
                "finish",
                to_generation=deploy.generation,
                details={"first_deploy": True},
            )
        return self._get(deploy.id)

    def _run_step(self, ctx: StepContext, step: Step) -> None:
        deploy = ctx.deploy
        schema = self.database.schema
        self.say(f"step {int(step)}/{len(Step)}: {step.title}")
        self._ledger(deploy, step.slug, LedgerOutcome.STARTED, {})
        crash.point(f"step-{int(step)}:start")
        started = time.monotonic()
        try:
            details = STEPS[step](ctx)
        except SpectralError as exc:
            with self.database.connect() as conn:
                store.step_failed(conn, schema, deploy.id, step, exc.message)
                append(
                    conn,
                    schema,
                    EntryKind.STEP,
                    step.slug,
                    outcome=LedgerOutcome.FAILED,
                    deploy_id=deploy.id,
                    generation=ctx.deploy.generation,
                    details={"error": exc.message},
                )
                conn.commit()
            phase = Phase.FAILED
            raise StepFailed(
                f"deploy #{deploy.id} ({deploy.tag}) stopped at step {int(step)} "
                f"({step.slug}): {exc.message}",
                hint=next_commands(ctx.reload(), phase)[0],
            ) from exc
        crash.point(f"step-{int(step)}:done")
        details["seconds"] = round(time.monotonic() - started, 3)
        with self.database.connect() as conn:
            store.step_done(conn, schema, deploy.id, step)
            append(
                conn,
                schema,
                EntryKind.STEP,
                step.slug,
                outcome=LedgerOutcome.OK,
                deploy_id=deploy.id,
                generation=ctx.deploy.generation,
                details=details,
            )
            conn.commit()

    # -- ending -------------------------------------------------------------------------

    def abort(self) -> AbortReport:
        """Class 1: stop green, leave blue, mark the new generation failed. Before cutover only,
        as observed: refused while the record (or the public probe) sends traffic to green.

        Rows the new generation wrote anyway (smoke tests, traffic to green's direct address)
        are counted after green stops and adopted by the live generation; the ledger records
        how many.
        """
        deploy = self._open("abort")
        if deploy.flipped:
            raise PreconditionFailed(
                f"deploy #{deploy.id} already flipped the CNAME to green: abort is for deploys "
                "that have not cut over (the runbook's Class 1)",
                hint="spectral-deploy rollback plan --symptom behavior",
            )
        schema = self.database.schema
        with self._lock():
            observed = self.observe_live()
            self._refuse_abort_if_green_is_live(deploy, observed)
            with self.database.connect() as conn:
                store.set_intent(conn, schema, deploy.id, Intent.ABORT)
                conn.commit()
            green = observed.slot(deploy.green)
            # generation None: the platform cannot vouch for what green runs (a build that
            # failed after the variables were set); green serves nothing, so it is stopped too
            if (
                green is not None
                and green.deployment is not None
                and green.generation in (deploy.generation, None)
            ):
                self.say(f"stopping slot {deploy.green} (generation {deploy.generation})")
                self.hosting.stop(deploy.green)
                crash.point("abort:slot-stopped")
            found, adopted, into, left = self._adopt_leftovers(deploy, observed)
            with self.database.connect() as conn, conn.transaction():
                if deploy.generation is not None:
                    generations.set_state(
                        conn,
                        schema,
                        deploy.generation,
                        GenerationState.FAILED,
                        reason=f"deploy {deploy.id} aborted",
                    )
                _close(
                    conn,
                    schema,
                    deploy.id,
                    Outcome.ABORTED,
                    "abort",
                    generation=deploy.generation,
                    details={
                        "step_reached": deploy.step,
                        "failed_step": deploy.failed_step,
                        "cname": observed.describe_record(),
                        "rows_at_generation": found,
                        "rows_adopted": adopted,
                        "adopted_into": into,
                        "rows_left": left,
                    },
                )
        finished = self._get(deploy.id)
        after = self.observe_live()
        blue = after.live_slot
        serving = after.serves if deploy.has_blue else None
        detail = (
            "nothing served traffic before this deploy"
            if not deploy.has_blue
            else f"{after.describe_record()}: "
            + (
                f"generation {blue.generation} answers ({blue.health.detail})"
                if blue is not None and blue.serving and blue.health is not None
                else "NOT serving: "
                + (blue.health.detail if blue and blue.health else "nothing runs there")
            )
        )
        return AbortReport(finished, found, adopted, into, left, serving, detail)

    def _refuse_abort_if_green_is_live(self, deploy: Deploy, observed: LiveObservation) -> None:
        state = flip_state(deploy, observed)
        if state is FlipState.UNKNOWN:
            raise PreconditionFailed(
                f"{observed.describe_record()}: abort stops green only once the record is seen "
                "pointing elsewhere",
                hint="spectral-deploy dns show",
            )
        if state is FlipState.UNRECORDED:
            by = (
                "the public probe is answered by green"
                if observed.record_color is not deploy.green
                else f"{observed.describe_record()}"
            )
            raise PreconditionFailed(
                f"deploy #{deploy.id}: {by}, which runs generation {deploy.generation}. "
                "The flip happened but was never recorded (the deploy stopped between the DNS "
                "change and its record): aborting would stop the slot that serves traffic",
                hint=unrecorded_flip_hint(),
            )

    def _adopt_leftovers(
        self, deploy: Deploy, observed: LiveObservation
    ) -> tuple[int, int, int | None, int]:
        """Rows of the aborted generation: found, adopted, into which generation, left."""
        if deploy.generation is None:
            return 0, 0, None, 0
        with self.database.connect(autocommit=True) as conn:
            found = drains.unfinished_rows(conn, self.database.schema, deploy.generation, None)
        if not found:
            return 0, 0, None, 0
        into = observed.live_generation
        if into is None or into == deploy.generation:
            self.say(
                f"warning: generation {deploy.generation} has {found} unfinished row(s) and no "
                "live generation can adopt them"
            )
            return found, 0, None, found
        self.say(
            f"generation {deploy.generation} wrote {found} row(s) (smoke tests or direct "
            f"traffic): generation {into} adopts them"
        )
        report = drains.adopt(self.database, self.config.outbox, deploy.generation, into)
        return found, report.adopted, into, report.rows_left

    def finish(self, *, force: bool = False, now: datetime | None = None) -> FinishReport:
        """End the hold window: blue's workers drain their generation, blue stops. Refused
        unless the record is seen pointing at green (stopping blue must not stop traffic),
        and before the hold window ends unless ``force`` (a finish already started is
        finished whatever the time)."""
        deploy = self._open("finish")
        if not deploy.flipped:
            raise PreconditionFailed(
                f"deploy #{deploy.id} has not cut over yet (step {deploy.step})",
                hint="spectral-deploy deploy resume",
            )
        _refuse_inside_hold_window(deploy, now or datetime.now(UTC), force=force)
        schema = self.database.schema
        rows_left = 0
        with self.database.connect() as conn:
            rollback = store.open_rollback_of(conn, schema, deploy.id)
        if rollback is not None:
            raise PreconditionFailed(
                f"rollback #{rollback} of deploy #{deploy.id} is in progress: finishing the "
                f"deploy would stop slot {deploy.blue}, which the rollback may flip back to",
                hint="spectral-deploy rollback run",
            )
        with self._lock():
            observed = self.observe_live(health=False)
            if observed.record_color is not deploy.green:
                raise PreconditionFailed(
                    f"deploy #{deploy.id} cut over to {deploy.green}, but now "
                    f"{observed.describe_record()}: finishing would stop slot {deploy.blue}",
                    hint="spectral-deploy rollback plan --symptom behavior",
                )
            with self.database.connect() as conn:
                store.set_intent(conn, schema, deploy.id, Intent.FINISH)
                conn.commit()
            old = deploy.from_generation
            if old is not None:
                rows_left = retire_color(
                    self.hosting,
                    self.database,
                    deploy.blue,
                    old,
                    ttl_seconds=self.config.dns.ttl,
                    moved_at=deploy.flipped_at,
                    say=self.say,
                    clock=self.clock,
                    report=self.progress,
                )
                crash.point("finish:blue-retired")
            with self.database.connect() as conn, conn.transaction():
                _close(
                    conn,
                    schema,
                    deploy.id,
                    Outcome.COMPLETED,
                    "finish",
                    from_generation=old,
                    to_generation=deploy.generation,
                    details={"rows_left_at_old_generation": rows_left},
                )
        return FinishReport(self._get(deploy.id), old, rows_left)

    # -- observing ----------------------------------------------------------------------

    def observe(self, deploy: Deploy) -> list[Condition]:
        """The conditions of a deploy, observed now."""
        conditions: list[Condition] = []
        if deploy.has_blue and not deploy.finished:
            conditions.append(
                _health_condition(ConditionType.BLUE_HEALTHY, self.hosting.health(deploy.blue))
            )
        if deploy.generation is not None and not (
            deploy.finished and deploy.outcome is Outcome.ABORTED
        ):
            conditions.append(
                _health_condition(ConditionType.GREEN_HEALTHY, self.hosting.health(deploy.green))
            )
        observed = self.observe_live(health=False)
        record = observed.record
        if record is None:
            conditions.append(
                Condition(
                    ConditionType.CNAME_TARGET,
                    ConditionStatus.UNKNOWN,
                    ConditionReason.CANNOT_READ,
                    observed.describe_record(),
                )
            )
        else:
            where = observed.record_color
            points_at = (
                ConditionReason.POINTS_AT_BLUE
                if where is deploy.blue
                else ConditionReason.POINTS_AT_GREEN
                if where is deploy.green
                else ConditionReason.POINTS_AT_ELSEWHERE
            )
            conditions.append(
                Condition(
                    ConditionType.CNAME_TARGET,
                    ConditionStatus.TRUE,
                    points_at,
                    f"{record.name} -> {record.target or '(nothing)'} (ttl {record.ttl}s)",
                )
            )
        if not deploy.finished and flip_state(deploy, observed) is FlipState.UNRECORDED:
            conditions.append(
                Condition(
                    ConditionType.FLIP_RECORDED,
                    ConditionStatus.FALSE,
                    ConditionReason.TRAFFIC_AT_GREEN_NOT_RECORDED,
                    "traffic goes to green but the deploy never recorded the flip: "
                    "deploy resume records it, rollback run --symptom behavior flips back",
                )
            )
        if observed.probe is not None:
            conditions.append(
                Condition(
                    ConditionType.PUBLIC_PROBE,
                    ConditionStatus.TRUE if observed.probe.color else ConditionStatus.FALSE,
                    ConditionReason.ANSWERED if observed.probe.color else ConditionReason.NO_ANSWER,
                    observed.probe.detail,
                )
            )
        if deploy.generation is not None:
            with self.database.connect() as conn:
                status = read_status(
                    conn,
                    self.database.schema,
                    stale_after_seconds=self.config.outbox.stale_after_seconds,
                )
            running = len(status.running(deploy.generation))
            expected = self.config.hosting.workers
            conditions.append(
                Condition(
                    ConditionType.GREEN_WORKERS_RUNNING,
                    ConditionStatus.TRUE if running >= expected else ConditionStatus.FALSE,
                    ConditionReason.ALL_RUNNING
                    if running >= expected
                    else ConditionReason.NOT_ALL_RUNNING,
                    f"{running} of {expected} worker(s) of generation {deploy.generation} running",
                )
            )
        return conditions

    def watch(
        self,
        *,
        seconds: float | None = None,
        on_check: Callable[[list[Condition], int], None] = lambda conditions, errors: None,
    ) -> WatchReport:
        """Watch green and blue during the hold window; stop at the first breach."""
        deploy = self._open("watch")
        if not deploy.flipped:
            raise PreconditionFailed(
                f"deploy #{deploy.id} has not cut over yet", hint="spectral-deploy deploy resume"
            )
        started = self.clock.monotonic()
        checks = 0
        while True:
            now = datetime.now(UTC)
            hold = self.hold_check(deploy, now)
            conditions = hold.conditions
            checks += 1
            on_check(conditions, hold.errors.errors if hold.errors else 0)
            with self.database.connect() as conn:
                store.set_conditions(conn, self.database.schema, deploy.id, conditions)
                conn.commit()
            breach = hold.breach
            if breach is not None:
                with self.database.connect() as conn:
                    append(
                        conn,
                        self.database.schema,
                        EntryKind.DEPLOY,
                        "hold-breach",
                        outcome=LedgerOutcome.FAILED,
                        deploy_id=deploy.id,
                        generation=deploy.generation,
                        details={"breach": breach},
                    )
                    conn.commit()
                return WatchReport(deploy, breach, checks)
            hold_over = deploy.hold_until is not None and now >= deploy.hold_until
            out_of_time = seconds is not None and self.clock.monotonic() - started >= seconds
            if hold_over or out_of_time:
                return WatchReport(deploy, None, checks)
            self.clock.sleep(self.config.deploy.watch_interval_seconds)

    def hold_check(self, deploy: Deploy, now: datetime) -> HoldCheck:
        """One observation of the hold window: conditions, the error check, any breach."""
        conditions = self.observe(deploy)
        errors = None
        if self.error_rate is not None and deploy.flipped_at is not None:
            errors = check_errors(
                self.error_rate,
                release=deploy.tag,
                previous=self._tag_of(deploy.from_generation),
                flipped_at=deploy.flipped_at,
                now=now,
                settings=self.config.errors,
            )
        breach = _breach(conditions) or (errors.breach if errors else None)
        return HoldCheck(conditions, errors, breach)

    # -- helpers ------------------------------------------------------------------------

    def _tag_of(self, generation: int | None) -> str | None:
        if generation is None:
            return None
        with self.database.connect() as conn:
            found = generations.get(conn, self.database.schema, generation)
        return found.tag if found else None

    def _context(self, deploy: Deploy) -> StepContext:
        return StepContext(
            config=self.config,
            database=self.database,
            hosting=self.hosting,
            dns=self.dns,
            vcs=self.vcs,
            source=self.source,
            deploy=deploy,
            say=self.say,
            clock=self.clock,
            fetch=self.fetch,
            progress=self.progress,
            probe=self.probe,
        )

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """The deploy lock, on a session named after this process (so a refusal can say
        which process to stop)."""
        schema = self.database.schema
        with (
            self.database.connect(
                autocommit=True, application_name=store.driver_application_name()
            ) as lock_conn,
            store.DeployLock(lock_conn, schema),
        ):
            yield

    def _open(self, verb: str) -> Deploy:
        with self.database.connect() as conn:
            deploy = store.open_deploy(conn, self.database.schema)
        if deploy is None:
            raise PreconditionFailed(
                f"no deploy in progress to {verb}", hint="spectral-deploy deploy status"
            )
        return deploy

    def _get(self, deploy_id: int) -> Deploy:
        with self.database.connect() as conn:
            deploy = store.get(conn, self.database.schema, deploy_id)
        assert deploy is not None
        return deploy

    def _ledger(
        self, deploy: Deploy, action: str, outcome: LedgerOutcome, details: dict[str, Any]
    ) -> None:
        with self.database.connect() as conn:
            append(
                conn,
                self.database.schema,
                EntryKind.STEP,
                action,
                outcome=outcome,
                deploy_id=deploy.id,
                generation=deploy.generation,
                details=details,
            )
            conn.commit()


def _refuse_inside_hold_window(deploy: Deploy, now: datetime, *, force: bool) -> None:
    if force or deploy.intent is Intent.FINISH or deploy.hold_until is None:
        return
    left = (deploy.hold_until - now).total_seconds()
    if left <= 0:
        return
    until = deploy.hold_until.astimezone(UTC).strftime("%H:%M:%S UTC")
    raise PreconditionFailed(
        f"deploy #{deploy.id} ({deploy.tag}) is in its hold window until {until} "
        f"({left:.0f} s left): slot {deploy.blue} stays warm for resolvers that still "
        "send it traffic, and for a flip back",
        hint="spectral-deploy deploy finish --when-due --yes  (finishes once the window is "
        "over), or deploy finish --force to end it now",
    )


def _refuse_if_ending(deploy: Deploy) -> None:
    """An abort (or finish) that started and did not end is finished, never undone by running
    the deploy's steps again."""
    if deploy.finished or deploy.intent not in (Intent.ABORT, Intent.FINISH):
        return
    verb = "abort" if deploy.intent is Intent.ABORT else "finish"
    raise PreconditionFailed(
        f"deploy #{deploy.id} ({deploy.tag}): a `deploy {verb}` started and did not end "
        "(its process died): running the deploy again would undo half of it",
        hint=f"spectral-deploy deploy {verb}",
    )


def unrecorded_flip_hint() -> str:
    """The two ways out of a flip that happened but was never recorded."""
    return (
        "spectral-deploy deploy resume   (keep green: records the flip)\n"
        "  or:  spectral-deploy rollback run --symptom behavior   (flip back to blue)"
    )


def _close(
    conn: store.Connection,
    schema: str,
    deploy_id: int,
    outcome: Outcome,
    action: str,
    *,
    generation: int | None = None,
    from_generation: int | None = None,
    to_generation: int | None = None,
    details: dict[str, Any],
) -> None:
    """Close a deploy and record it in the ledger, in the caller's transaction."""
    store.finish(conn, schema, deploy_id, outcome)
    append(
        conn,
        schema,
        EntryKind.DEPLOY,
        action,
        outcome=LedgerOutcome.OK,
        deploy_id=deploy_id,
        generation=generation,
        from_generation=from_generation,
        to_generation=to_generation,
        details=details,
    )


def _health_condition(kind: ConditionType, health: Any) -> Condition:
    return Condition(
        kind,
        ConditionStatus.TRUE if health.ok else ConditionStatus.FALSE,
        ConditionReason.HEALTH_CHECK_PASSED if health.ok else ConditionReason.HEALTH_CHECK_FAILED,
        f"{health.url or ''}: {health.detail}",
    )


def _breach(conditions: list[Condition]) -> str | None:
    for condition in conditions:
        green = condition.type is ConditionType.GREEN_HEALTHY
        if green and condition.status is ConditionStatus.FALSE:
            return f"green is unhealthy ({condition.message})"
        if condition.type is not ConditionType.CNAME_TARGET:
            continue
        if condition.status is ConditionStatus.UNKNOWN:
            return f"the CNAME cannot be read ({condition.message})"
        if condition.reason is not ConditionReason.POINTS_AT_GREEN:
            return f"the CNAME no longer points at green ({condition.message})"
    return None
