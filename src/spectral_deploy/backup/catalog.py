"""The catalog is the storage: manifests and verification records, read back into entries.

Nothing in the storage is trusted for being there. A manifest counts only if its id is
well formed and equal to the id in its own name (a copied or renamed manifest is not a
backup), its ``created_at`` is the time of that id, and its signature is valid under
``backup.signing_public_keys`` (``Trust``). Entries that fail the signature check are
still listed, flagged, so an operator sees the forgery; nothing selects, restores or
prunes by them unless ``--allow-unsigned``. A backup dated in the future is never the
``--latest``. Verification records count only when their signature is accepted too.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from spectral_deploy.backup.manifest import (
    Manifest,
    Verification,
    load_document,
    parse_stored_name,
    require_backup_id,
)
from spectral_deploy.backup.signing import SignatureStatus, Trust, check_document
from spectral_deploy.backup.storage import Storage
from spectral_deploy.errors import BackupCorrupt, InputError, PreconditionFailed, UsageError

__all__ = ["FUTURE_SKEW", "CatalogEntry", "listing_as_json", "read_catalog", "select_backup"]

log = logging.getLogger(__name__)

# clocks disagree a little; a backup dated further ahead than this is not believed
FUTURE_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class CatalogEntry:
    """One backup: its manifest, its latest accepted verification, what the storage holds."""

    manifest: Manifest
    verification: Verification | None
    stored_size: int | None
    verification_names: tuple[str, ...] = ()
    signature: SignatureStatus = SignatureStatus.UNSIGNED
    trusted: bool = True

    @property
    def id(self) -> str:
        """The backup id."""
        return self.manifest.id

    @property
    def verified(self) -> bool:
        """Whether the latest accepted verification passed."""
        return self.trusted and self.verification is not None and self.verification.ok

    @property
    def intact(self) -> bool:
        """Whether the stored object has the manifest's size."""
        return self.stored_size == self.manifest.size_bytes

    def age_seconds(self, now: datetime) -> float:
        """How long ago the backup was taken."""
        return (now - self.manifest.created_at).total_seconds()

    def from_the_future(self, now: datetime) -> bool:
        """Dated later than now (plus clock skew): a forged or broken date."""
        return self.manifest.created_at > now + FUTURE_SKEW

    def as_json(self, now: datetime) -> dict[str, Any]:
        """One backup of ``backup list --format json``, its age counted from ``now``."""
        manifest = self.manifest
        return {
            "id": self.id,
            "created_at": manifest.created_at.isoformat(),
            "age_seconds": round(self.age_seconds(now), 1),
            "size_bytes": manifest.size_bytes,
            "stored_size_bytes": self.stored_size,
            "intact": self.intact,
            "sha256": manifest.sha256,
            "database": manifest.database,
            "server_version": manifest.server_version,
            "generation": manifest.generation,
            "recipients": list(manifest.recipients),
            "tables": len(manifest.tables),
            "verified": self.verified,
            "signature": str(self.signature),
            "trusted": self.trusted,
            "future_dated": self.from_the_future(now),
            "verification": self.verification.as_json() if self.verification else None,
        }


def listing_as_json(
    storage_url: str, entries: Sequence[CatalogEntry], now: datetime
) -> dict[str, Any]:
    """``backup list --format json``: the storage, then each backup (ages counted from ``now``)."""
    return {"storage": storage_url, "backups": [entry.as_json(now) for entry in entries]}


def read_catalog(storage: Storage, trust: Trust | None = None) -> list[CatalogEntry]:
    """Every backup with a well-formed manifest, newest first (``trusted`` says which count).

    ``trust`` defaults to accepting unsigned backups, for library callers that sign nothing;
    the CLI passes the configured public keys and ``--allow-unsigned``.
    """
    trust = trust or Trust.anything()
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
            raw = load_document(storage.read_bytes(manifest_name), source)
            manifest = Manifest.from_json(raw, source=source, expected_id=backup_id)
        except InputError as exc:
            log.warning("action=backup.bad_manifest name=%s error=%s", source, exc.message)
            continue
        signature = check_document("manifest", raw, trust.public_keys)
        if signature is not SignatureStatus.VALID:
            log.warning("action=backup.manifest_signature name=%s status=%s", source, signature)
        verification_names = tuple(sorted(kinds.get("verification", [])))
        objects = kinds.get("object", [])
        entries.append(
            CatalogEntry(
                manifest=manifest,
                verification=_latest_verification(storage, backup_id, verification_names, trust),
                stored_size=sizes[objects[0]] if objects else None,
                verification_names=verification_names,
                signature=signature,
                trusted=trust.accepts(signature),
            )
        )
    entries.sort(key=lambda e: (e.manifest.created_at, e.id), reverse=True)
    return entries


def _latest_verification(
    storage: Storage, backup_id: str, names: tuple[str, ...], trust: Trust
) -> Verification | None:
    """The newest verification record whose signature is accepted."""
    for name in reversed(names):
        source = f"{storage.url}/{name}"
        try:
            raw = load_document(storage.read_bytes(name), source)
            verification = Verification.from_json(raw, source=source, expected_id=backup_id)
        except InputError as exc:
            log.warning("action=backup.bad_verification name=%s error=%s", name, exc.message)
            continue
        status = check_document("verification", raw, trust.public_keys)
        if trust.accepts(status):
            return verification
        log.warning("action=backup.verification_signature name=%s status=%s", name, status)
    return None


def select_backup(
    entries: list[CatalogEntry],
    *,
    storage_url: str,
    backup_id: str | None,
    latest: bool,
    now: datetime | None = None,
) -> CatalogEntry:
    """The backup named by ``--id``, or the newest trusted one (``--latest``, the default)."""
    if backup_id and latest:
        raise UsageError("give either --latest or --id, not both")
    if backup_id is not None:
        require_backup_id(backup_id, source="--id")
    if not entries:
        raise PreconditionFailed(
            f"there are no backups in {storage_url}",
            hint=f"spectral-deploy backup run --to {storage_url}",
        )
    if backup_id is None:
        now = now or datetime.now(UTC)
        for entry in entries:
            if not entry.trusted:
                continue
            if entry.from_the_future(now):
                log.warning("action=backup.future_dated id=%s", entry.id)
                continue
            return entry
        untrusted = ", ".join(f"{e.id} ({e.signature})" for e in entries if not e.trusted)
        raise BackupCorrupt(
            f"no backup in {storage_url} carries a valid signature by a key in "
            f"backup.signing_public_keys; refused: {untrusted or 'all are dated in the future'}",
            hint="configure backup.signing_public_keys with the writer's public key, "
            "or pass --allow-unsigned if you trust the storage itself",
        )
    for entry in entries:
        if entry.id == backup_id:
            if not entry.trusted:
                raise BackupCorrupt(
                    f"backup {backup_id} in {storage_url} is refused: its manifest signature "
                    f"is {entry.signature}",
                    hint="check the writer's key in backup.signing_public_keys, "
                    "or pass --allow-unsigned if you trust the storage itself",
                )
            return entry
    raise InputError(
        f"there is no backup {backup_id!r} in {storage_url}",
        hint=f"spectral-deploy backup list --from {storage_url}",
    )
