"""``spectral-deploy status``: the whole picture in one screen, with the next command to run."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from spectral_deploy.cli import console
from spectral_deploy.cli.common import OutputFormat, state

if TYPE_CHECKING:
    from spectral_deploy.web.model import BackupView, Snapshot

__all__ = ["status"]


def status(
    ctx: typer.Context,
    format_: Annotated[OutputFormat, typer.Option("--format", help="text or json")] = (
        OutputFormat.TEXT
    ),
) -> None:
    """Which color and generation is live, the deploy and its step, the hold window, workers
    and outbox backlog per generation, stranded generations, the last backup, and the next
    command when something needs action.

    Exits 0 whenever the status could be read, whatever it shows (a source that cannot be
    read, such as the backup storage, is reported as unknown); 3 when the database cannot.

    Example: spectral-deploy status --format json
    """
    from spectral_deploy.web.snapshot import open_sources, read_snapshot

    sources = open_sources(state(ctx).config(), state(ctx).database())
    snapshot = read_snapshot(sources, timeline_entries=0)
    if format_ is OutputFormat.JSON:
        console.print_json(snapshot.as_json())
        return
    _print(snapshot)


def _print(snapshot: Snapshot) -> None:
    now = snapshot.taken_at
    _print_live(snapshot)
    view = snapshot.deploy
    if view is None:
        console.info("deploy: none yet")
    else:
        deploy = view.deploy
        step = view.current_step
        doing = ""
        if step is not None:
            doing = f"   step {int(step)}/{len(type(step))} {step.slug}" + (
                " FAILED"
                if deploy.failed_step
                else " (running)"
                if view.driver_pid
                else " (no process driving it)"
            )
        console.info(
            f"deploy #{deploy.id}: {deploy.tag}, generation {deploy.from_generation or '-'} -> "
            f"{deploy.generation or '-'} on slot {deploy.green}   phase {view.phase}{doing}"
        )
        left = view.hold_seconds_left(now)
        if left is not None and deploy.hold_until is not None:
            console.info(
                f"  hold window: slot {deploy.blue} stays warm until "
                f"{deploy.hold_until:%H:%M:%S} UTC ({left:.0f} s left)"
            )
    if snapshot.rollback is not None:
        rollback = snapshot.rollback
        console.info(
            f"rollback #{rollback.id} (class {rollback.failure_class}): "
            f"{rollback.steps_done} of {rollback.steps_total} step(s) done"
            + (" (running)" if rollback.driver_pid else " (no process driving it)")
        )
    if snapshot.outbox.generations:
        console.print_table(
            ["generation", "backlog", "in flight", "dead", "oldest", "live workers", ""],
            [
                (
                    f"{g.generation}{' (live)' if g.active else ''}",
                    g.pending + g.in_flight,
                    g.in_flight,
                    g.dead,
                    _age(g.oldest_pending_age_seconds),
                    g.live_workers,
                    "STRANDED" if g.stranded else "",
                )
                for g in snapshot.outbox.generations
            ],
            title="outbox",
        )
    else:
        console.info("outbox: empty, no worker registered")
    if snapshot.workers:
        console.info(
            "workers: "
            + ", ".join(f"gen {w.generation} {w.state} x{w.count}" for w in snapshot.workers)
        )
    console.info(f"backup: {_backup(snapshot.backup, now)}")
    for source, why in snapshot.unknown.items():
        if source != "backup":
            console.warn(f"{source} unknown: {why}")
    for action in snapshot.actions:
        mark = {"critical": "!", "warning": "~", "info": "-"}[str(action.level)]
        console.info(f"{mark} {action.reason}")
        for command in action.commands:
            console.info(f"    next: {command}")


def _print_live(snapshot: Snapshot) -> None:
    live = snapshot.live
    where: str = live.color or (
        "unknown" if "dns" in snapshot.unknown else "nothing" if not live.target else "neither slot"
    )
    release = f" ({live.tag}, {live.commit[:12]})" if live.tag and live.commit else ""
    console.info(
        f"live: {where}, generation {live.generation or '-'}{release}"
        + (f"   CNAME {live.record} -> {live.target or '(nothing)'}" if live.record else "")
        + ("" if live.observed else "   (generation from the ledger: not observed)")
    )
    if live.observed and live.recorded_generation != live.generation:
        console.info(f"  the ledger's active generation: {live.recorded_generation or '-'}")
    if live.probe_detail is not None:
        console.info(f"  public probe: {live.probe_detail}")
    console.print_table(
        ["slot", "live", "generation", "release", "status", "health", "workers"],
        [
            (
                slot.color,
                "LIVE" if slot.live else "",
                slot.generation or "-",
                slot.tag or "-",
                slot.status,
                "-"
                if slot.healthy is None or slot.status == "stopped"
                else ("ok" if slot.healthy else "FAILING"),
                "-" if slot.workers is None else slot.workers,
            )
            for slot in snapshot.slots
        ],
    )


def _backup(backup: BackupView, now: datetime) -> str:
    where = f"in {backup.storage}" if backup.storage else ""
    if backup.backup_id is None:
        return f"{backup.state} {where}" + (f" ({backup.error})" if backup.error else "")
    return f"{backup.backup_id}, {_age(backup.age_seconds(now))} old, {backup.state} {where}"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"
