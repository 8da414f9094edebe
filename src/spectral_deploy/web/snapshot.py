"""Read one snapshot of a project: the database in one transaction, then the outside world.

The database part (active generation, the open or latest deploy and whether a process
drives it, outbox backlog and workers, the ledger's newest entries) is read in one
REPEATABLE READ transaction, so its figures agree with each other. The CNAME, what each
color runs and the backup catalog come from providers and storage: a source that cannot be
read is reported in ``Snapshot.unknown`` with the reason and never fails the snapshot. Only
an unreachable database does (``DatabaseUnreachable``, exit 3).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

from spectral_deploy import providers
from spectral_deploy.backup.catalog import read_catalog
from spectral_deploy.backup.storage import Storage, open_storage
from spectral_deploy.config import Config
from spectral_deploy.cutover import store as deploys
from spectral_deploy.cutover.phase import compute_phase
from spectral_deploy.cutover.steps import target_of
from spectral_deploy.db import Database
from spectral_deploy.db.connect import translate
from spectral_deploy.errors import SpectralError
from spectral_deploy.ledger import generations
from spectral_deploy.ledger.store import LedgerEntry, tail
from spectral_deploy.outbox.status import OutboxStatus, read_status
from spectral_deploy.providers.base import Color, DnsProvider, HostingProvider
from spectral_deploy.web.advice import next_actions
from spectral_deploy.web.model import (
    BackupState,
    BackupView,
    DeployView,
    Live,
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
    return Sources(config, database, dns, hosting, storage, problems)


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
    live_color: Color | None = None
    record = None
    if sources.dns is not None:
        try:
            record = sources.dns.read()
        except SpectralError as exc:
            unknown["dns"] = exc.message
        else:
            targets = {target_of(sources.config, c): c for c in Color}
            live_color = targets.get(record.target)
    active = stored.active
    live = Live(
        color=live_color,
        generation=active.generation if active else None,
        tag=active.tag if active else None,
        commit=active.commit_sha if active else None,
        record=record.name if record else None,
        target=record.target if record else None,
        ttl=record.ttl if record else None,
    )
    slots = _read_slots(sources, live_color, unknown)
    actions = next_actions(
        live=live,
        deploy=stored.deploy,
        outbox=stored.outbox,
        backup=backup,
        workers_per_slot=sources.config.hosting.workers,
        now=now,
    )
    return Snapshot(
        taken_at=now,
        live=live,
        slots=slots,
        deploy=stored.deploy,
        outbox=stored.outbox,
        backup=backup,
        timeline=stored.timeline,
        actions=actions,
        unknown=unknown,
    )


def _read_database(sources: Sources, timeline_entries: int, now: datetime) -> _Stored:
    database = sources.database
    schema = database.schema
    with database.connect() as conn:
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                active = generations.active(conn, schema)
                deploy = deploys.open_deploy(conn, schema) or deploys.latest(conn, schema)
                driver = deploys.driver_pid(conn, schema) if deploy else None
                outbox = read_status(
                    conn, schema, stale_after_seconds=sources.config.outbox.stale_after_seconds
                )
                timeline = tail(conn, schema, timeline_entries) if timeline_entries else []
        except psycopg.Error as exc:
            raise translate(exc) from exc
    view = DeployView(deploy, compute_phase(deploy, now), driver) if deploy else None
    return _Stored(active, view, outbox, tuple(timeline))


def _read_slots(sources: Sources, live: Color | None, unknown: dict[str, str]) -> tuple[Slot, ...]:
    hosting = sources.hosting
    if hosting is None:
        return tuple(Slot(c, c is live, "unknown") for c in Color)
    slots: list[Slot] = []
    for color in Color:
        try:
            current = hosting.current(color)
            health = hosting.health(color) if current is not None else None
        except SpectralError as exc:
            unknown["hosting"] = exc.message
            slots.append(Slot(color, color is live, "unknown", health=exc.message))
            continue
        if current is None:
            slots.append(Slot(color, color is live, "stopped"))
            continue
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
