"""Read one snapshot of a project: the database in one transaction, then the outside world.

The database part (active generation, the open or latest deploy and whether a process
drives it, the rollback in progress, outbox backlog and workers, the ledger's newest
entries) is read in one REPEATABLE READ transaction, so its figures agree with each other.
What is live is observed (``cutover.observe``): the CNAME read back, what each slot runs and
whether it answers, the public probe where there is one; the ledger's active generation is
shown beside it, and a disagreement is a critical action. A source that cannot be read is
reported in ``Snapshot.unknown`` with the reason and never fails the snapshot. Only an
unreachable database does (``DatabaseUnreachable``, exit 3).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from spectral_deploy import providers
from spectral_deploy.backup.catalog import read_catalog
from spectral_deploy.backup.storage import Storage, open_storage
from spectral_deploy.config import Config
from spectral_deploy.cutover import store as deploys
from spectral_deploy.cutover.observe import LiveObservation, flip_state, observe
from spectral_deploy.cutover.phase import compute_phase
from spectral_deploy.cutover.steps import flip_intent_key
from spectral_deploy.db import Database
from spectral_deploy.db.access import execute, translated
from spectral_deploy.errors import SpectralError
from spectral_deploy.ledger import generations
from spectral_deploy.ledger.store import LedgerEntry, entry_by_intent, tail
from spectral_deploy.outbox.status import OutboxStatus, read_status
from spectral_deploy.providers.base import Color, DnsProvider, HostingProvider, PublicProbe
from spectral_deploy.rollback.store import open_rollback
from spectral_deploy.web.advice import next_actions
from spectral_deploy.web.model import (
    BackupState,
    BackupView,
    DeployView,
    Live,
    RollbackView,
    Slot,
    Snapshot,
    backup_view,
)

__all__ = ["Sources", "open_sources", "read_backup", "read_snapshot"]

log = logging.getLogger(__name__)

TIMELINE_ENTRIES = 40


@dataclass(frozen=True)
class Sources:
    """Where a snapshot is read from; a provider that could not be set up is None, with why."""

    config: Config
    database: Database
    dns: DnsProvider | None
    hosting: HostingProvider | None
    storage: Storage | None
    problems: dict[str, str] = field(default_factory=dict)
    probe: PublicProbe | None = None


def open_sources(config: Config, database: Database) -> Sources:
    """The configured providers and backup storage; one that fails to set up becomes unknown."""
    problems: dict[str, str] = {}
    dns: DnsProvider | None = None
    hosting: HostingProvider | None = None
    storage: Storage | None = None
    try:
        dns = providers.dns_provider(config)
    except SpectralError as exc:
        problems["dns"] = exc.message
    try:
        hosting = providers.hosting_provider(config, database.app_url)
    except SpectralError as exc:
        problems["hosting"] = exc.message
    try:
        storage = open_storage(config.backup.storage, project_root=config.project_root)
    except SpectralError as exc:
        problems["backup"] = exc.message
    probe: PublicProbe | None = None
    try:
        probe = providers.public_probe(config)
    except SpectralError as exc:
        problems["probe"] = exc.message
    return Sources(config, database, dns, hosting, storage, problems, probe)


def read_backup(sources: Sources) -> BackupView:
    """The latest backup in the configured storage; UNKNOWN (with why) when it cannot be read."""
    if sources.storage is None:
        return BackupView(
            BackupState.UNKNOWN, sources.config.backup.storage, error=sources.problems["backup"]
        )
    try:
        entries = read_catalog(sources.storage)
    except SpectralError as exc:
        log.warning("action=status.backup_unknown error=%s", exc.message)
        return BackupView(BackupState.UNKNOWN, sources.storage.url, error=exc.message)
    return backup_view(entries, sources.storage.url)


@dataclass(frozen=True)
class _Stored:
    """What the database says, read in one transaction."""

    active: generations.Generation | None
    deploy: DeployView | None
    outbox: OutboxStatus
    timeline: tuple[LedgerEntry, ...]
    rollback: RollbackView | None
    tags: dict[int, tuple[str | None, str | None]]


def read_snapshot(
    sources: Sources,
    *,
    backup: BackupView | None = None,
    timeline_entries: int = TIMELINE_ENTRIES,
    now: datetime | None = None,
) -> Snapshot:
    """Read a snapshot; ``backup`` reuses a recent catalog read instead of listing storage."""
    now = now or datetime.now(UTC)
    stored = _read_database(sources, timeline_entries, now)
    unknown = dict(sources.problems)
    if backup is None:
        backup = read_backup(sources)
    if backup.state is BackupState.UNKNOWN:
        unknown["backup"] = backup.error or "unknown"
    observed = observe(sources.config, sources.dns, sources.hosting, probe=sources.probe)
    if observed.record_error is not None and sources.dns is not None:
        unknown["dns"] = observed.record_error
    slot_errors = [s.error for s in observed.slots if s.error is not None]
    if slot_errors and sources.hosting is not None:
        unknown["hosting"] = slot_errors[0]
    if observed.probe_error is not None:
        unknown["probe"] = observed.probe_error
    live = _live(observed, stored)
    deploy = stored.deploy
    if deploy is not None and not deploy.deploy.finished and observed.record_known:
        deploy = replace(deploy, flip=flip_state(deploy.deploy, observed))
    slots = _slots(observed, live.color)
    actions = next_actions(
        live=live,
        slots=slots,
        deploy=deploy,
        rollback=stored.rollback,
        outbox=stored.outbox,
        backup=backup,
        workers_per_slot=sources.config.hosting.workers,
        now=now,
        dns_known="dns" not in unknown,
    )
    return Snapshot(
        taken_at=now,
        live=live,
        slots=slots,
        deploy=deploy,
        outbox=stored.outbox,
        backup=backup,
        timeline=stored.timeline,
        actions=actions,
        unknown=unknown,
        rollback=stored.rollback,
    )


def _live(observed: LiveObservation, stored: _Stored) -> Live:
    """The observed live slot and generation, with the ledger's active generation beside."""
    record = observed.record
    active = stored.active
    hosting_known = all(s.known for s in observed.slots)
    seen = hosting_known and observed.record_known
    generation = observed.live_generation if seen else (active.generation if active else None)
    tag, commit = stored.tags.get(generation, (None, None)) if generation else (None, None)
    if generation is not None and tag is None and observed.live_slot is not None:
        deployment = observed.live_slot.deployment
        tag, commit = (deployment.tag, deployment.commit) if deployment else (None, None)
    probe = observed.probe
    return Live(
        color=observed.record_color,
        generation=generation,
        tag=tag,
        commit=commit,
        record=record.name if record else None,
        target=record.target if record else None,
        ttl=record.ttl if record else None,
        recorded_generation=active.generation if active else None,
        serving=observed.serves if seen else None,
        observed=seen,
        probe_color=probe.color if probe else None,
        probe_generation=probe.generation if probe else None,
        probe_detail=probe.detail if probe else None,
    )


def _slots(observed: LiveObservation, live: Color | None) -> tuple[Slot, ...]:
    slots: list[Slot] = []
    for state in observed.slots:
        color = state.color
        if not state.known:
            slots.append(Slot(color, color is live, "unknown", health=state.error or ""))
            continue
        current = state.deployment
        if current is None:
            slots.append(Slot(color, color is live, "stopped", healthy=False))
            continue
        health = state.health
        slots.append(
            Slot(
                color,
                color is live,
                current.status,
                generation=current.generation,
                tag=current.tag,
                workers=current.workers,
                healthy=health.ok if health else None,
                health=health.detail if health else "",
            )
        )
    return tuple(slots)


def _read_database(sources: Sources, timeline_entries: int, now: datetime) -> _Stored:
    database = sources.database
    schema = database.schema
    with database.connect() as conn, translated(), conn.transaction():
        execute(conn, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        active = generations.active(conn, schema)
        tags = {g.generation: (g.tag, g.commit_sha) for g in generations.list_all(conn, schema)}
        deploy = deploys.open_deploy(conn, schema) or deploys.latest(conn, schema)
        driver = deploys.driver_pid(conn, schema) if deploy else None
        intent = (
            entry_by_intent(conn, schema, flip_intent_key(deploy)) is not None
            if deploy is not None and not deploy.finished
            else False
        )
        outbox = read_status(
            conn, schema, stale_after_seconds=sources.config.outbox.stale_after_seconds
        )
        timeline = tail(conn, schema, timeline_entries) if timeline_entries else []
        rollback = open_rollback(conn, schema)
        rollback_driver = deploys.lock_holder_pid(conn, schema, "rollback") if rollback else None
    view = (
        DeployView(deploy, compute_phase(deploy, now), driver, flip_intent=intent)
        if deploy
        else None
    )
    rollback_view = (
        RollbackView(
            rollback.id,
            rollback.failure_class,
            rollback.steps_done,
            len(rollback.steps),
            rollback.steps[rollback.steps_done].title
            if rollback.steps_done < len(rollback.steps)
            else None,
            rollback_driver,
        )
        if rollback is not None
        else None
    )
    return _Stored(active, view, outbox, tuple(timeline), rollback_view, tags)
