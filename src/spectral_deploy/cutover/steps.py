"""The steps of a deploy. Each observes the world first and acts only if needed, so running a
step again (``deploy resume`` after a crash) does what is left and nothing twice.

A step returns details for the ledger, or raises ``StepFailed`` with what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spectral_deploy.clock import SYSTEM_CLOCK, Clock
from spectral_deploy.config import Config
from spectral_deploy.cutover import store
from spectral_deploy.cutover.flip import point_cname
from spectral_deploy.cutover.model import Deploy, Step
from spectral_deploy.cutover.relint import lint_deploy, release_dir
from spectral_deploy.cutover.traffic import await_generation
from spectral_deploy.db import Database
from spectral_deploy.errors import CheckFailed, InputError, MigrationToolFailed
from spectral_deploy.ledger import generations
from spectral_deploy.ledger.generations import GenerationState
from spectral_deploy.ledger.store import EntryKind, Outcome, append, entries, record_intent
from spectral_deploy.lint.render import LintFormat, render
from spectral_deploy.migrate import forward
from spectral_deploy.migrate.forward import SchemaRelation
from spectral_deploy.migrate.runner import apply, discover, run_command
from spectral_deploy.migrate.tools import MigrationTool, ToolKind, tool_for
from spectral_deploy.outbox.status import read_status
from spectral_deploy.providers.base import (
    Deployment,
    DnsProvider,
    DnsRecord,
    HostingProvider,
    PublicProbe,
    ReleaseSpec,
    SourceTree,
    VcsProvider,
    color_of,
    same_commit,
)
from spectral_deploy.providers.direct import SmokeFetch
from spectral_deploy.waiting import Reporter, Wait, logs_command, no_report

__all__ = [
    "STEPS",
    "StepContext",
    "StepFailed",
    "flip_intent_key",
    "record_flip",
]

POLL_SECONDS = 0.25
# the ledger entry naming a deploy the hosting platform started for step 5 (its own id)
VENDOR_DEPLOY_ACTION = "vendor-deploy"


class StepFailed(CheckFailed):
    """A step found the world not as the deploy needs it."""


@dataclass
class StepContext:
    """Everything a step may look at or act on."""

    config: Config
    database: Database
    hosting: HostingProvider
    dns: DnsProvider
    vcs: VcsProvider
    source: SourceTree
    deploy: Deploy
    say: Callable[[str], None]
    clock: Clock = SYSTEM_CLOCK
    fetch: Callable[[str], int] = field(default_factory=SmokeFetch)
    # waits over 2 s report here (the CLI prints; waiting.py)
    progress: Reporter = no_report
    # deploy green again even when it runs the release: the app's config changed since
    redeploy: bool = False
    # a request to the public address that says which generation answered (None: none)
    probe: PublicProbe | None = None

    def reload(self) -> Deploy:
        """Read the deploy row again (after a step changed it)."""
        with self.database.connect() as conn:
            fresh = store.get(conn, self.database.schema, self.deploy.id)
        assert fresh is not None
        self.deploy = fresh
        return fresh

    @property
    def source_dir(self) -> Path:
        """Where this deploy's commit is exported for lint and migrations."""
        return release_dir(self.config, self.deploy.id)


def flip_intent_key(deploy: Deploy) -> str:
    """The ledger key of a deploy's flip: recorded once, before the flip."""
    return f"deploy:{deploy.id}:flip"


# -- the steps ---------------------------------------------------------------------------


def preflight(ctx: StepContext) -> dict[str, Any]:
    """Tag still resolves to the commit; blue healthy and the CNAME at blue (if blue exists)."""
    deploy = ctx.deploy
    commit = ctx.vcs.resolve_tag(deploy.tag)
    if commit != deploy.commit:
        raise StepFailed(
            f"tag {deploy.tag} now points at {commit[:12]}, not {deploy.commit[:12]}: "
            "someone moved the tag during the deploy"
        )
    details: dict[str, Any] = {"commit": commit}
    if not deploy.has_blue:
        details["blue"] = "none: this is the first deploy"
        return details
    health = ctx.hosting.health(deploy.blue)
    if not health.ok:
        raise StepFailed(f"blue ({deploy.blue}) is not healthy: {health.detail}")
    record = ctx.dns.read()
    blue_target = ctx.config.dns.target_of(deploy.blue)
    if color_of(ctx.config, record.target) is not deploy.blue:
        raise StepFailed(
            f"the CNAME {record.name} points at {record.target!r}, not at blue ({blue_target!r})"
        )
    details.update(blue_health=health.detail, cname=record.target, ttl=record.ttl)
    wanted = ctx.config.dns.ttl
    if not record.proxied and record.ttl > wanted:
        # resolvers cache the answer for the TTL it had when they read it: after the flip,
        # traffic keeps reaching blue that long, not dns.ttl
        warning = (
            f"warning: the CNAME {record.name} has TTL {record.ttl} s, above [dns] ttl = "
            f"{wanted} s: resolvers that cached it keep sending traffic to blue for up to "
            f"{record.ttl} s after the flip (lower the record's TTL at least {record.ttl} s "
            "before deploying)"
        )
        ctx.say(warning)
        details["ttl_warning"] = warning
    return details


def allocate_generation(ctx: StepContext) -> dict[str, Any]:
    """Allocate N+1 and remember it on the deploy, in one transaction (never twice)."""
    deploy = ctx.deploy
    if deploy.generation is not None:
        return {"generation": deploy.generation, "note": "already allocated"}
    schema = ctx.database.schema
    with ctx.database.connect() as conn, conn.transaction():
        allocated = generations.allocate(conn, schema, tag=deploy.tag, commit_sha=deploy.commit)
        store.set_generation(conn, schema, deploy.id, allocated.generation)
    ctx.reload()
    ctx.say(f"generation {allocated.generation} allocated for {deploy.tag}")
    return {"generation": allocated.generation}


def lint_migrations(ctx: StepContext) -> dict[str, Any]:
    """Lint the migrations added or changed since blue's commit, as one change set.

    The release's migrations are found the way its tool finds them (plain SQL, Alembic,
    Django: ``[migrations] tool``), and Alembic or Django revisions are linted as the SQL
    the tool renders, in the app's interpreter. A release where migrations are configured
    but none is found stops here: a lint that checked nothing must not pass.
    """
    deploy = ctx.deploy
    found = lint_deploy(ctx.config, ctx.source, deploy, database_url=lambda: ctx.database.url)
    tool, tree = found.tool, found.tree
    if tool.kind is ToolKind.NONE:
        return {"linted": [], "tool": str(tool.kind)}
    if not found.migrations:
        where = ", ".join(
            str(d.relative_to(tree)) for d in tool.directories() if d.is_relative_to(tree)
        )
        raise StepFailed(
            f"{deploy.tag} has no migrations to lint ({tool.describe()}"
            + (f" in {where}" if where else "")
            + "): the migration-compat lint would check nothing",
            hint="set [migrations] directory or tool to where the app's migrations are "
            '(tool = "none" for an app without a schema), then: spectral-deploy deploy resume',
        )
    details: dict[str, Any] = {"tool": str(tool.kind), "migrations": len(found.migrations)}
    report = found.report
    if report is None:
        return {"linted": [], **details}
    details.update(
        linted=list(found.linted),
        overrides=[{"path": o.path, "reason": o.reason} for o in report.overrides],
    )
    if report.violations or report.errors:
        text = render(report, LintFormat.TEXT, found.rules)
        raise StepFailed(
            f"the migration-compat lint stopped the deploy: {len(report.violations)} "
            f"violation(s), {len(report.errors)} error(s)\n{text}"
        )
    for override in report.overrides:
        ctx.say(f"override needing reviewer signoff: {override.path}: {override.reason}")
    return details


def apply_migrations(ctx: StepContext) -> dict[str, Any]:
    """Apply the release's pending migrations, recorded with the new generation.

    Forward-only: the database is first compared with the release's migrations (the tool's
    own record and the ledger, ``migrate.forward``). Code older than the schema (a rollback
    deploy, any older tag) runs nothing: the schema is kept and the ledger says so. A
    database that diverged from the code, or is at a revision nobody recorded, stops here.
    """
    deploy = ctx.deploy
    tree = ctx.source.export(deploy.commit, ctx.source_dir)
    tool = tool_for(ctx.config, root=tree, database_url=lambda: ctx.database.url)
    command = ctx.config.migrations.command or tool.default_command()
    try:
        check = forward.check_schema(ctx.database, tool, command=command)
        if check is not None and check.relation is SchemaRelation.UNCONFIRMED:
            # deploys made before the ledger kept schema records: their commits say
            check = forward.check_schema(
                ctx.database,
                tool,
                command=command,
                more=forward.release_records(ctx.database, lambda d, c: _tool_of(ctx, d, c)),
            )
        leaving = forward.record_to_leave(tool, command=command)
    except (InputError, MigrationToolFailed) as exc:
        raise StepFailed(
            f"cannot list the release's migrations: {exc.message}", hint=exc.hint
        ) from exc
    details: dict[str, Any] = {"check": check.as_json()} if check is not None else {}
    if check is not None and check.relation is SchemaRelation.AHEAD:
        forward.record_kept(ctx.database, deploy.id, deploy.generation, check)
        ctx.say(check.describe())
        # nothing changed: the records of the deploys that took the schema here stand
        return {"schema_kept": forward.KEPT, **details}
    if check is not None and check.relation in (
        SchemaRelation.DIVERGED,
        SchemaRelation.UNCONFIRMED,
    ):
        raise StepFailed(
            check.describe(),
            hint="deploy a release whose migrations include what the database has "
            "(spectral-deploy migrate status shows it), or abort: spectral-deploy deploy abort",
        )
    if leaving is not None:
        forward.record_applying(ctx.database, deploy.id, deploy.generation, leaving)
    if command:
        run_command(
            command,
            cwd=tree,
            database_url=ctx.database.url,
            generation=deploy.generation,
            config=ctx.config,
        )
        details["command"] = command
    elif tool.kind is ToolKind.NONE:
        return {"applied": [], "tool": str(tool.kind)}
    else:
        directory = tree / ctx.config.migrations.directory
        if not directory.is_dir():
            return {"applied": [], "note": f"no {ctx.config.migrations.directory} in the release"}
        with ctx.database.connect() as conn:
            details["applied"] = apply(
                conn,
                ctx.database.schema,
                discover(directory),
                ctx.config.migrations,
                generation=deploy.generation,
                on_file=lambda file: ctx.say(f"applying migration {file.name}"),
            )
    after = (
        forward.record_of_command(tool)
        if command and tool.kind is ToolKind.SQL
        else forward.record_after(ctx.database, tool)
    )
    if after is not None:
        details["schema"] = after.as_json()
    return details


def _tool_of(ctx: StepContext, deploy_id: int, commit: str) -> MigrationTool:
    """The migration tool over an earlier deploy's commit (its tree exported where that
    deploy exported it)."""
    root = ctx.config.project_root / ".spectral" / "deploys" / str(deploy_id) / "source"
    tree = ctx.source.export(commit, root)
    return tool_for(ctx.config, root=tree, database_url=lambda: ctx.database.url)


def deploy_green(ctx: StepContext) -> dict[str, Any]:
    """Run the release on green with SPECTRAL_GENERATION, unless it already runs there.

    "Already there" is read from the platform: green runs this commit at this generation
    and, where the platform has deploy ids (Render), the live deploy is one this deploy
    triggered (recorded in the ledger as soon as the platform named it). A variable we set
    ourselves never decides it: a build that failed leaves the variables of the new release
    over the old code.
    """
    deploy = ctx.deploy
    assert deploy.generation is not None
    current = ctx.hosting.current(deploy.green)
    ours = _vendor_deploys(ctx)
    app_config = release_config(ctx.config)
    if current is not None and not ctx.redeploy and _runs_release(current, deploy, ours):
        return {
            "note": "already deployed",
            "status": current.status,
            "commit": current.commit,
            "vendor_deploy_id": current.deploy_id,
            "app_config": app_config,
        }
    release = ReleaseSpec(generation=deploy.generation, commit=deploy.commit, tag=deploy.tag)
    deployed = ctx.hosting.deploy(
        deploy.green, release, on_started=lambda vendor_id: _record_vendor_deploy(ctx, vendor_id)
    )
    return {
        "status": deployed.status,
        "address": deployed.address,
        "commit": deployed.commit,
        "vendor_deploy_id": deployed.deploy_id,
        "app_config": app_config,
    }


# the settings that shape what green runs: a change to one after green was deployed means
# green runs with the old value, so ``deploy resume`` deploys green again
RELEASE_CONFIG_KEYS = ("python", "web_command", "worker_app", "workers", "health_path")


def release_config(config: Config) -> dict[str, Any]:
    """``[hosting]``'s settings that shape what green runs, as recorded with step 5."""
    return {f"hosting.{key}": getattr(config.hosting, key) for key in RELEASE_CONFIG_KEYS}


def release_config_changes(ctx: StepContext) -> list[str]:
    """The settings changed since green was deployed (from step 5's ledger entry), named."""
    with ctx.database.connect() as conn:
        found = entries(conn, ctx.database.schema, kind=EntryKind.STEP, deploy_id=ctx.deploy.id)
    recorded = [
        entry.details["app_config"]
        for entry in found
        if entry.action == Step.DEPLOY_GREEN.slug
        and entry.outcome == Outcome.OK
        and isinstance(entry.details.get("app_config"), dict)
    ]
    if not recorded:
        return []
    now = release_config(ctx.config)
    return sorted(key for key, value in now.items() if recorded[-1].get(key) != value)


def _runs_release(current: Deployment, deploy: Deploy, ours: set[str]) -> bool:
    if current.generation != deploy.generation or not same_commit(current.commit, deploy.commit):
        return False
    # a platform without deploy ids (the local sandbox) reports what its processes run
    return current.deploy_id is None or current.deploy_id in ours


def _vendor_deploys(ctx: StepContext) -> set[str]:
    """The platform's ids of the deploys this deploy triggered on green (from the ledger)."""
    with ctx.database.connect() as conn:
        found = entries(conn, ctx.database.schema, kind=EntryKind.STEP, deploy_id=ctx.deploy.id)
    return {
        str(entry.details["vendor_deploy_id"])
        for entry in found
        if entry.action == VENDOR_DEPLOY_ACTION and entry.details.get("vendor_deploy_id")
    }


def _record_vendor_deploy(ctx: StepContext, vendor_id: str) -> None:
    deploy = ctx.deploy
    with ctx.database.connect() as conn:
        append(
            conn,
            ctx.database.schema,
            EntryKind.STEP,
            VENDOR_DEPLOY_ACTION,
            outcome=Outcome.STARTED,
            deploy_id=deploy.id,
            generation=deploy.generation,
            details={
                "vendor_deploy_id": vendor_id,
                "color": str(deploy.green),
                "commit": deploy.commit,
            },
        )
        conn.commit()
    ctx.say(f"the platform started deploy {vendor_id} of {deploy.commit[:12]} on {deploy.green}")


def green_healthy(ctx: StepContext) -> dict[str, Any]:
    """Poll green's health check until it passes or the timeout runs out."""
    deadline = ctx.clock.monotonic() + ctx.config.deploy.health_timeout_seconds
    wait = Wait(
        f"green ({ctx.deploy.green}) to pass its health check",
        ctx.config.deploy.health_timeout_seconds,
        clock=ctx.clock,
        report=ctx.progress,
        look=logs_command(ctx.deploy.green),
    )
    while True:
        health = ctx.hosting.health(ctx.deploy.green)
        if health.ok:
            return {"health": health.detail, "url": health.url}
        if ctx.clock.monotonic() > deadline:
            raise StepFailed(
                f"green ({ctx.deploy.green}) did not become healthy within "
                f"{ctx.config.deploy.health_timeout_seconds:g} s: {health.detail} "
                f"(see: {logs_command(ctx.deploy.green)}; after fixing the config, "
                "`deploy resume` deploys green again with it)"
            )
        wait.tick(health.detail)
        ctx.clock.sleep(POLL_SECONDS)


def start_workers(ctx: StepContext) -> dict[str, Any]:
    """Start green's workers at the new generation."""
    count = ctx.config.hosting.workers
    ctx.hosting.scale_workers(ctx.deploy.green, count)
    return {"workers": count}


def smoke_test(ctx: StepContext) -> dict[str, Any]:
    """GET each smoke path on green's direct address: every one must answer 2xx."""
    base = ctx.hosting.address(ctx.deploy.green)
    if base is None:
        raise StepFailed(f"green ({ctx.deploy.green}) has no direct address to smoke-test")
    results = {}
    for path in ctx.config.deploy.smoke_paths:
        url = f"{base}{path}"
        try:
            status = ctx.fetch(url)
        except OSError as exc:
            raise StepFailed(f"smoke test {url}: no answer ({exc})") from exc
        if not 200 <= status < 300:
            raise StepFailed(f"smoke test {url}: HTTP {status}")
        results[path] = status
    return {"smoke": results}


def workers_running(ctx: StepContext) -> dict[str, Any]:
    """All of green's workers are registered as 'running' with a fresh heartbeat."""
    expected = ctx.config.hosting.workers
    generation = ctx.deploy.generation
    deadline = ctx.clock.monotonic() + ctx.config.deploy.workers_ready_timeout_seconds
    stale_after = ctx.config.outbox.stale_after_seconds
    wait = Wait(
        f"green's {expected} worker(s) to reach 'running' at generation {generation}",
        ctx.config.deploy.workers_ready_timeout_seconds,
        clock=ctx.clock,
        report=ctx.progress,
        look=logs_command(ctx.deploy.green, worker=True),
    )
    while True:
        with ctx.database.connect() as conn:
            status = read_status(conn, ctx.database.schema, stale_after_seconds=stale_after)
        running = status.running(generation) if generation is not None else ()
        if len(running) >= expected:
            return {"running": len(running), "expected": expected}
        if ctx.clock.monotonic() > deadline:
            errors = {
                w.last_error.splitlines()[0]
                for w in status.workers
                if w.generation == generation and w.last_error
            }
            why = f"; last error: {sorted(errors)[0]}" if errors else ""
            raise StepFailed(
                f"{len(running)} of green's {expected} worker(s) reached 'running' within "
                f"{ctx.config.deploy.workers_ready_timeout_seconds:g} s{why} "
                f"(see: {logs_command(ctx.deploy.green, worker=True)}; after fixing the "
                "config, `deploy resume` deploys green again with it)"
            )
        wait.tick(f"{len(running)} of {expected} running")
        ctx.clock.sleep(POLL_SECONDS)


def final_gate(ctx: StepContext) -> dict[str, Any]:
    """Green still healthy, blue still healthy, CNAME still at blue; then record the flip
    intent, once."""
    deploy = ctx.deploy
    details: dict[str, Any] = {"green_health": _green_serves(ctx)}
    if deploy.has_blue:
        health = ctx.hosting.health(deploy.blue)
        if not health.ok:
            raise StepFailed(f"blue ({deploy.blue}) stopped being healthy: {health.detail}")
        record = ctx.dns.read()
        if color_of(ctx.config, record.target) is not deploy.blue:
            raise StepFailed(f"the CNAME moved during the deploy: it points at {record.target!r}")
        details["blue_health"] = health.detail
    with ctx.database.connect() as conn:
        intent = record_intent(
            conn,
            ctx.database.schema,
            EntryKind.DEPLOY,
            "flip",
            flip_intent_key(deploy),
            deploy_id=deploy.id,
            from_generation=deploy.from_generation,
            to_generation=deploy.generation,
            details={"to": ctx.config.dns.target_of(deploy.green), "color": str(deploy.green)},
        )
        conn.commit()
    details["flip_intent"] = "recorded" if intent is not None else "already recorded"
    return details


def cutover(ctx: StepContext) -> dict[str, Any]:
    """Flip the CNAME to green unless it already points there, read it back, mark N+1 active."""
    deploy = ctx.deploy
    assert deploy.generation is not None
    green_target = ctx.config.dns.target_of(deploy.green)
    record, flipped_now = point_cname(
        ctx.config,
        ctx.dns,
        ctx.dns.read(),
        green_target,
        serves=lambda: _green_serves(ctx),
        crash_point="flip:dns-changed",
        misread=lambda back: StepFailed(
            f"flipped the CNAME but it reads back {back!r}, not {green_target!r}"
        ),
    )
    # the record moved; that the traffic did is observed where the app says who served it
    proof = await_generation(
        ctx.probe,
        deploy.generation,
        record=f"{record.name} -> {record.target}",
        ttl_seconds=record.ttl,
        clock=ctx.clock,
        report=ctx.progress,
    )
    ctx.say(proof.detail)
    record_flip(
        ctx.database,
        deploy,
        record,
        hold_seconds=ctx.config.deploy.hold_seconds,
        details={"flipped_now": flipped_now},
    )
    ctx.reload()
    return {
        "target": record.target,
        "ttl": record.ttl,
        "flipped_now": flipped_now,
        "traffic_proved": proof.proved,
        "traffic": proof.detail,
    }


def _green_serves(ctx: StepContext) -> str:
    """Green runs this deploy's generation and passes its health check, or the step fails."""
    deploy = ctx.deploy
    running = ctx.hosting.current(deploy.green)
    if running is None or running.generation != deploy.generation:
        what = f"generation {running.generation}" if running is not None else "nothing"
        raise StepFailed(
            f"green ({deploy.green}) runs {what}, not generation {deploy.generation}: "
            "it cannot take the traffic"
        )
    health = ctx.hosting.health(deploy.green)
    if not health.ok:
        raise StepFailed(f"green ({deploy.green}) is not healthy: {health.detail}")
    return health.detail


def record_flip(
    database: Database,
    deploy: Deploy,
    record: DnsRecord,
    *,
    hold_seconds: float,
    details: dict[str, Any],
) -> None:
    """Record a flip the record was read back for: the deploy's generation is the only active
    one (every other active generation retires), the hold window starts, the ledger says so.
    Recording it twice changes nothing."""
    assert deploy.generation is not None
    schema = database.schema
    with database.connect() as conn, conn.transaction():
        generations.set_state(
            conn, schema, deploy.generation, GenerationState.ACTIVE, reason=f"deploy {deploy.id}"
        )
        for other in generations.list_all(conn, schema):
            if other.state is GenerationState.ACTIVE and other.generation != deploy.generation:
                generations.set_state(
                    conn,
                    schema,
                    other.generation,
                    GenerationState.RETIRED,
                    reason=f"replaced by {deploy.generation} (deploy {deploy.id})",
                )
        store.mark_flipped(conn, schema, deploy.id, hold_seconds)
        append(
            conn,
            schema,
            EntryKind.DEPLOY,
            "flip",
            outcome=Outcome.OK,
            deploy_id=deploy.id,
            from_generation=deploy.from_generation,
            to_generation=deploy.generation,
            details={
                "record": record.name,
                "target": record.target,
                "ttl": record.ttl,
                **details,
            },
        )


STEPS: dict[Step, Callable[[StepContext], dict[str, Any]]] = {
    Step.PREFLIGHT: preflight,
    Step.ALLOCATE_GENERATION: allocate_generation,
    Step.LINT_MIGRATIONS: lint_migrations,
    Step.APPLY_MIGRATIONS: apply_migrations,
    Step.DEPLOY_GREEN: deploy_green,
    Step.GREEN_HEALTHY: green_healthy,
    Step.START_WORKERS: start_workers,
    Step.SMOKE_TEST: smoke_test,
    Step.WORKERS_RUNNING: workers_running,
    Step.FINAL_GATE: final_gate,
    Step.CUTOVER: cutover,
}
