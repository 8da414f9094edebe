"""The catalog is the storage: manifests and verification records, read back into entries."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from spectral_deploy.backup.manifest import Manifest, Verification, parse_stored_name
from spectral_deploy.backup.storage import Storage
from spectral_deploy.errors import InputError, PreconditionFailed, UsageError

__all__ = ["CatalogEntry", "read_catalog", "select_backup"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CatalogEntry:
    """One backup: its manifest, its latest verification, and what the storage holds."""

    manifest: Manifest
    verification: Verification | None
    stored_size: int | None
    verification_names: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """The backup id."""
        return self.manifest.id

    @property
    def verified(self) -> bool:
        """Whether the latest verification passed."""
        return self.verification is not None and self.verification.ok

    @property
    def intact(self) -> bool:
        """Whether the stored object has the manifest's size."""
        return self.stored_size == self.manifest.size_bytes

    def age_seconds(self, now: datetime) -> float:
        """How long ago the backup was taken."""
        return (now - self.manifest.created_at).total_seconds()


def read_catalog(storage: Storage) -> list[CatalogEntry]:
    """Every backup with a readable manifest, newest first."""
    names: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    sizes: dict[str, int] = {}
    for stored in storage.list():
        parsed = parse_stored_name(stored.name)
        if parsed is None:
            continue
        backup_id, kind = parsed
        names[backup_id][kind].append(stored.name)
        sizes[stored.name] = stored.size_bytes
    entries: list[CatalogEntry] = []
    for backup_id in sorted(names, reverse=True):
        kinds = names[backup_id]
        if not kinds.get("manifest"):
            continue  # an object without a manifest was never committed as a backup
        manifest_name = kinds["manifest"][0]
        source = f"{storage.url}/{manifest_name}"
        try:
            manifest = Manifest.from_bytes(storage.read_bytes(manifest_name), source=source)
        except InputError as exc:
            log.warning("action=backup.bad_manifest name=%s error=%s", source, exc.message)
            continue
        verification_names = tuple(sorted(kinds.get("verification", [])))
        verification = None
        if verification_names:
            latest = verification_names[-1]
            try:
                verification = Verification.from_bytes(
                    storage.read_bytes(latest), source=f"{storage.url}/{latest}"
                )
            except InputError as exc:
                log.warning("action=backup.bad_verification name=%s error=%s", latest, exc.message)
        objects = kinds.get("object", [])
        entries.append(
            CatalogEntry(
                manifest=manifest,
                verification=verification,
                stored_size=sizes[objects[0]] if objects else None,
                verification_names=verification_names,
            )
        )
    entries.sort(key=lambda e: (e.manifest.created_at, e.id), reverse=True)
    return entries


def select_backup(
    entries: list[CatalogEntry], *, storage_url: str, backup_id: str | None, latest: bool
) -> CatalogEntry:
    """The backup named by ``--id``, or the newest one (``--latest``, the default)."""
    if backup_id and latest:
        raise UsageError("give either --latest or --id, not both")
    if not entries:
        raise PreconditionFailed(
            f"there are no backups in {storage_url}",
            hint=f"spectral-deploy backup run --to {storage_url}",
        )
    if backup_id is None:
        return entries[0]
    for entry in entries:
        if entry.id == backup_id:
            return entry
    raise InputError(
        f"there is no backup {backup_id!r} in {storage_url}",
        hint=f"spectral-deploy backup list --from {storage_url}",
    )
