"""The steps of a deploy. Each observes the world first and acts only if needed, so running a
step again (``deploy resume`` after a crash) does what is left and nothing twice.

A step returns details for the ledger, or raises ``StepFailed`` with what is wrong.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spectral_deploy.config import Config
from spectral_deploy.cutover import crash, store
from spectral_deploy.cutover.model import Deploy, Step
from spectral_deploy.cutover.source import export_tree
from spectral_deploy.db import Database
from spectral_deploy.errors import CheckFailed
from spectral_deploy.ledger import generations
from spectral_deploy.ledger.generations import GenerationState
from spectral_deploy.ledger.store import EntryKind, Outcome, append, record_intent
from spectral_deploy.lint import settings as lint_settings
from spectral_deploy.lint.engine import LintFile, lint_timelines
from spectral_deploy.lint.history import change_set
from spectral_deploy.lint.registry import select_rules
from spectral_deploy.lint.render import LintFormat, render
from spectral_deploy.migrate.runner import apply, discover, run_command
from spectral_deploy.outbox.status import read_status
from spectral_deploy.providers.base import (
    Color,
    DnsProvider,
    HostingProvider,
    ReleaseSpec,
    VcsProvider,
)
from spectral_deploy.providers.local.git import GitVcs

__all__ = ["STEPS", "StepContext", "StepFailed", "flip_intent_key", "target_of"]

POLL_SECONDS = 0.25
SMOKE_TIMEOUT_SECONDS = 10.0


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
    git: GitVcs
    deploy: Deploy
    say: Callable[[str], None]

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
        return self.config.project_root / ".spectral" / "deploys" / str(self.deploy.id) / "source"


def target_of(config: Config, color: Color) -> str:
    """The CNAME target that sends traffic to ``color``."""
    return config.dns.blue_target if color is Color.BLUE else config.dns.green_target


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
    blue_target = target_of(ctx.config, deploy.blue)
    if record.target != blue_target:
        raise StepFailed(
            f"the CNAME {record.name} points at {record.target!r}, not at blue ({blue_target!r})"
        )
    details.update(blue_health=health.detail, cname=record.target)
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
    """Lint the migrations added or changed since blue's commit, as one change set."""
    deploy = ctx.deploy
    directory = str(ctx.config.migrations.directory)
    changed = ctx.git.changed_files(deploy.from_commit, deploy.commit, directory)
    changed = [path for path in changed if path.endswith(".sql")]
    if not changed:
        return {"linted": []}
    tree = export_tree(ctx.config.project_root, deploy.commit, ctx.source_dir)
    files = [LintFile(tree / path, path) for path in changed]
    settings = lint_settings.from_config(ctx.config)
    rules = select_rules(ctx.config.lint, select=[], ignore=[], source=ctx.config.source)
    # as the pull request's lint: the release's earlier migrations are the history
    report = lint_timelines(
        change_set(files, tree),
        rules,
        override_scope=lint_settings.checked_scope(settings),
        max_file_bytes=settings.max_file_bytes,
    )
    details: dict[str, Any] = {
        "linted": changed,
        "overrides": [{"path": o.path, "reason": o.reason} for o in report.overrides],
    }
    if report.violations or report.errors:
        text = render(report, LintFormat.TEXT, rules)
        raise StepFailed(
            f"the migration-compat lint stopped the deploy: {len(report.violations)} "
            f"violation(s), {len(report.errors)} error(s)\n{text}"
        )
    for override in report.overrides:
        ctx.say(f"override needing reviewer signoff: {override.path}: {override.reason}")
    return details


def apply_migrations(ctx: StepContext) -> dict[str, Any]:
    """Apply the release's pending migrations, recorded with the new generation."""
    deploy = ctx.deploy
    tree = export_tree(ctx.config.project_root, deploy.commit, ctx.source_dir)
    if ctx.config.migrations.command:
        run_command(
            ctx.config.migrations.command,
            cwd=tree,
            database_url=ctx.database.url,
            generation=deploy.generation,
        )
        return {"command": ctx.config.migrations.command}
    directory = tree / ctx.config.migrations.directory
    if not directory.is_dir():
        return {"applied": [], "note": f"no {ctx.config.migrations.directory} in the release"}
    with ctx.database.connect() as conn:
        applied = apply(
            conn,
            ctx.database.schema,
            discover(directory),
            ctx.config.migrations,
            generation=deploy.generation,
            on_file=lambda file: ctx.say(f"applying migration {file.name}"),
        )
    return {"applied": applied}


def deploy_green(ctx: StepContext) -> dict[str, Any]:
    """Run the release on green with SPECTRAL_GENERATION, unless it already runs there."""
    deploy = ctx.deploy
    assert deploy.generation is not None
    current = ctx.hosting.current(deploy.green)
    if current is not None and current.generation == deploy.generation:
        return {"note": "already deployed", "status": current.status}
    release = ReleaseSpec(generation=deploy.generation, commit=deploy.commit, tag=deploy.tag)
    deployed = ctx.hosting.deploy(deploy.green, release)
    return {"status": deployed.status, "address": deployed.address}


def green_healthy(ctx: StepContext) -> dict[str, Any]:
    """Poll green's health check until it passes or the timeout runs out."""
    deadline = time.monotonic() + ctx.config.deploy.health_timeout_seconds
    while True:
        health = ctx.hosting.health(ctx.deploy.green)
        if health.ok:
            return {"health": health.detail, "url": health.url}
        if time.monotonic() > deadline:
            raise StepFailed(
                f"green ({ctx.deploy.green}) did not become healthy within "
                f"{ctx.config.deploy.health_timeout_seconds:g} s: {health.detail}"
            )
        time.sleep(POLL_SECONDS)


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
            with urllib.request.urlopen(url, timeout=SMOKE_TIMEOUT_SECONDS) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (urllib.error.URLError, OSError) as exc:
            raise StepFailed(f"smoke test {url}: no answer ({exc})") from exc
        if not 200 <= status < 300:
            raise StepFailed(f"smoke test {url}: HTTP {status}")
        results[path] = status
    return {"smoke": results}


def workers_running(ctx: StepContext) -> dict[str, Any]:
    """All of green's workers are registered as 'running' with a fresh heartbeat."""
    expected = ctx.config.hosting.workers
    generation = ctx.deploy.generation
    deadline = time.monotonic() + ctx.config.deploy.workers_ready_timeout_seconds
    stale_after = ctx.config.outbox.stale_after_seconds
    while True:
        with ctx.database.connect() as conn:
            status = read_status(conn, ctx.database.schema, stale_after_seconds=stale_after)
        running = [
            w
            for w in status.workers
            if w.generation == generation and w.live and w.state == "running"
        ]
        if len(running) >= expected:
            return {"running": len(running), "expected": expected}
        if time.monotonic() > deadline:
            errors = {
                w.last_error.splitlines()[0]
                for w in status.workers
                if w.generation == generation and w.last_error
            }
            why = f"; last error: {sorted(errors)[0]}" if errors else ""
            raise StepFailed(
                f"{len(running)} of green's {expected} worker(s) reached 'running' within "
                f"{ctx.config.deploy.workers_ready_timeout_seconds:g} s{why}"
            )
        time.sleep(POLL_SECONDS)


def final_gate(ctx: StepContext) -> dict[str, Any]:
    """Blue still healthy, CNAME still at blue; then record the flip intent, once."""
    deploy = ctx.deploy
    details: dict[str, Any] = {}
    if deploy.has_blue:
        health = ctx.hosting.health(deploy.blue)
        if not health.ok:
            raise StepFailed(f"blue ({deploy.blue}) stopped being healthy: {health.detail}")
        record = ctx.dns.read()
        if record.target not in (target_of(ctx.config, deploy.blue),):
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
            details={"to": target_of(ctx.config, deploy.green), "color": str(deploy.green)},
        )
        conn.commit()
    details["flip_intent"] = "recorded" if intent is not None else "already recorded"
    return details


def cutover(ctx: StepContext) -> dict[str, Any]:
    """Flip the CNAME to green unless it already points there, read it back, mark N+1 active."""
    deploy = ctx.deploy
    assert deploy.generation is not None
    green_target = target_of(ctx.config, deploy.green)
    record = ctx.dns.read()
    flipped_now = False
    if record.target != green_target:
        record = ctx.dns.point(green_target, ctx.config.dns.ttl)
        flipped_now = True
        crash.point("flip:dns-changed")
    if record.target != green_target:
        raise StepFailed(
            f"flipped the CNAME but it reads back {record.target!r}, not {green_target!r}"
        )
    schema = ctx.database.schema
    with ctx.database.connect() as conn, conn.transaction():
        generations.set_state(
            conn, schema, deploy.generation, GenerationState.ACTIVE, reason=f"deploy {deploy.id}"
        )
        if deploy.from_generation is not None:
            generations.set_state(
                conn,
                schema,
                deploy.from_generation,
                GenerationState.RETIRED,
                reason=f"replaced by {deploy.generation} (deploy {deploy.id})",
            )
        store.mark_flipped(conn, schema, deploy.id, ctx.config.deploy.hold_seconds)
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
                "flipped_now": flipped_now,
            },
        )
    ctx.reload()
    return {"target": record.target, "ttl": record.ttl, "flipped_now": flipped_now}


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
