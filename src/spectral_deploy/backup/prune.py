"""``backup prune``: apply the retention policy to the catalog, respecting storage locks."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from spectral_deploy.backup.catalog import CatalogEntry, read_catalog
from spectral_deploy.backup.manifest import manifest_name, object_name
from spectral_deploy.backup.retention import Candidate, Decision, KeepReason, Policy, select
from spectral_deploy.backup.signing import Trust
from spectral_deploy.backup.storage import Hold, Storage
from spectral_deploy.errors import RetentionLocked

__all__ = ["PruneItem", "PruneReport", "prune"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PruneItem:
    """What happened to one backup."""

    entry: CatalogEntry
    decision: Decision
    hold: Hold | None
    deleted: bool
    locked_message: str | None = None

    @property
    def kept_only_by_lock(self) -> bool:
        """Retention would delete it, but the storage holds it."""
        return self.decision.reasons == (KeepReason.LOCKED,) or self.locked_message is not None

    def action(self, dry_run: bool) -> str:
        """What the run did to it, as the report words it."""
        if self.deleted:
            return "would delete" if dry_run else "deleted"
        if self.kept_only_by_lock:
            return "kept (locked)"
        return "keep"

    def as_json(self, dry_run: bool) -> dict[str, Any]:
        """One backup of ``backup prune --format json``."""
        return {
            "id": self.entry.id,
            "created_at": self.entry.manifest.created_at.isoformat(),
            "verified": self.entry.verified,
            "action": self.action(dry_run),
            "reasons": [str(r) for r in self.decision.reasons],
            "lock": self.locked_message or (self.hold.describe() if self.hold else None),
        }


@dataclass(frozen=True)
class PruneReport:
    """The whole run, newest backup first."""

    storage_url: str
    policy: Policy
    dry_run: bool
    items: tuple[PruneItem, ...]
    # backups whose manifest signature is not accepted: neither counted nor deleted
    refused: tuple[CatalogEntry, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """As ``backup prune --format json`` prints it."""
        return {
            "storage": self.storage_url,
            "dry_run": self.dry_run,
            "policy": {
                "keep_daily": self.policy.keep_daily,
                "keep_weekly": self.policy.keep_weekly,
                "keep_monthly": self.policy.keep_monthly,
            },
            "backups": [item.as_json(self.dry_run) for item in self.items],
        }

    @property
    def deleted(self) -> list[PruneItem]:
        """Backups deleted (or, with dry_run, that would be)."""
        return [i for i in self.items if i.deleted]

    @property
    def locked(self) -> list[PruneItem]:
        """Backups retention would delete but a storage lock keeps."""
        return [i for i in self.items if i.kept_only_by_lock]


def prune(
    storage: Storage, policy: Policy, *, dry_run: bool = False, trust: Trust | None = None
) -> PruneReport:
    """Delete what the policy does not keep; never the newest verified backup, never locked.

    Only backups whose manifest passes ``trust`` take part: a forged or unsigned manifest
    can neither push a real backup out of the retention window nor be deleted by it.
    """
    catalog = read_catalog(storage, trust)
    refused = tuple(e for e in catalog if not e.trusted)
    for entry in refused:
        log.warning("action=backup.prune_refused id=%s signature=%s", entry.id, entry.signature)
    entries = [e for e in catalog if e.trusted]
    # a manifest whose object is gone (an interrupted prune) is no backup: it goes
    restorable = [e for e in entries if e.stored_size is not None]
    holds = {e.id: storage.hold(object_name(e.id)) for e in restorable}
    decisions = select(
        [
            Candidate(
                id=e.id,
                created_at=e.manifest.created_at,
                verified=e.verified,
                locked=holds[e.id] is not None,
            )
            for e in restorable
        ],
        policy,
    )
    decisions += [
        Decision(id=e.id, created_at=e.manifest.created_at, keep=False, reasons=())
        for e in entries
        if e.stored_size is None
    ]
    holds.update({e.id: None for e in entries if e.stored_size is None})
    by_id = {e.id: e for e in entries}
    items: list[PruneItem] = []
    for decision in decisions:
        entry = by_id[decision.id]
        hold = holds[decision.id]
        if decision.keep:
            items.append(PruneItem(entry, decision, hold, deleted=False))
            continue
        if dry_run:
            items.append(PruneItem(entry, decision, hold, deleted=True))
            continue
        try:
            _delete(storage, entry)
        except RetentionLocked as exc:
            log.warning("action=backup.prune_locked id=%s reason=%s", entry.id, exc.message)
            items.append(
                PruneItem(entry, decision, hold, deleted=False, locked_message=exc.message)
            )
            continue
        log.info("action=backup.pruned id=%s", entry.id)
        items.append(PruneItem(entry, decision, hold, deleted=True))
    return PruneReport(
        storage_url=storage.url,
        policy=policy,
        dry_run=dry_run,
        items=tuple(items),
        refused=refused,
    )


def _delete(storage: Storage, entry: CatalogEntry) -> None:
    """Object first, manifest last: an interrupted prune leaves a listed, visibly broken backup
    (which the next prune finishes), never an invisible orphan."""
    if entry.stored_size is not None:
        storage.delete(object_name(entry.id))
    for name in entry.verification_names:
        storage.delete(name)
    storage.delete(manifest_name(entry.id))
