"""What is stored beside each backup: its manifest and the results of verifying it.

A backup ``ID`` lives as three kinds of object under the storage prefix::

    ID.dump.age             the encrypted pg_dump (custom format)
    ID.manifest.json        written last: a backup without one does not exist
    ID.verify.STAMP.json    one per verification (never overwritten, so retention
                            locks on the bucket do not get in the way)

IDs start with the UTC time, so sorting names sorts backups by age. An id has exactly
the shape ``YYYYMMDDTHHMMSSZ-xxxxxx`` (``_ID``), everywhere: a stored name, a manifest's
``id`` (which must equal the id in its own name), ``--id``, and every object name built
from an id, so no id can reach outside the storage prefix or pass for another backup.
A manifest's ``created_at`` must be the time its id says.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from spectral_deploy.backup.signing import SigningKey, sign_document
from spectral_deploy.errors import InputError

__all__ = [
    "MANIFEST_FORMAT",
    "Check",
    "Manifest",
    "TableRows",
    "Verification",
    "id_time",
    "load_document",
    "manifest_name",
    "new_backup_id",
    "object_name",
    "parse_stored_name",
    "require_backup_id",
    "verification_name",
]

MANIFEST_FORMAT = 1
OBJECT_SUFFIX = ".dump.age"
MANIFEST_SUFFIX = ".manifest.json"
VERIFY_INFIX = ".verify."
_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")
_VERIFY_STAMP = re.compile(r"\d{8}T\d{12}Z\.json")
_STAMP = "%Y%m%dT%H%M%S%fZ"


def new_backup_id(now: datetime) -> str:
    """``20261126T091300Z-3fa2c1``: sortable by time, unique by its random tail."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def require_backup_id(text: str, *, source: str = "backup id") -> str:
    """``text`` if it is a well-formed backup id; an InputError otherwise (never a path)."""
    if not isinstance(text, str) or not _ID.fullmatch(text):
        raise InputError(
            f"{source}: {text!r} is not a backup id (YYYYMMDDTHHMMSSZ-xxxxxx)",
            hint="spectral-deploy backup list",
        )
    try:
        id_time(text)
    except ValueError as exc:
        raise InputError(f"{source}: {text!r} is not a valid time") from exc
    return text


def id_time(backup_id: str) -> datetime:
    """The UTC time a backup id starts with."""
    return datetime.strptime(backup_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def object_name(backup_id: str) -> str:
    """The encrypted dump's name under the prefix."""
    return require_backup_id(backup_id) + OBJECT_SUFFIX


def manifest_name(backup_id: str) -> str:
    """The manifest's name under the prefix."""
    return require_backup_id(backup_id) + MANIFEST_SUFFIX


def verification_name(backup_id: str, at: datetime) -> str:
    """A verification record's name; one per verification, never overwritten."""
    return f"{require_backup_id(backup_id)}{VERIFY_INFIX}{at.astimezone(UTC):{_STAMP}}.json"


def parse_stored_name(name: str) -> tuple[str, str] | None:
    """``(backup_id, kind)`` with kind ``object``, ``manifest`` or ``verification``."""
    for suffix, kind in ((OBJECT_SUFFIX, "object"), (MANIFEST_SUFFIX, "manifest")):
        if name.endswith(suffix) and _ID.fullmatch(name[: -len(suffix)]):
            return name[: -len(suffix)], kind
    head, infix, stamp = name.partition(VERIFY_INFIX)
    if infix and _ID.fullmatch(head) and _VERIFY_STAMP.fullmatch(stamp):
        return head, "verification"
    return None


@dataclass(frozen=True)
class TableRows:
    """One table and its row count in the dump's snapshot."""

    schema: str
    name: str
    rows: int

    @property
    def qualified(self) -> str:
        """``schema.name`` for messages."""
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class Manifest:
    """Everything needed to find, check and restore one backup."""

    id: str
    sha256: str
    size_bytes: int
    created_at: datetime
    completed_at: datetime
    database: str
    server_version: str
    server_version_num: int
    pg_dump_version: str
    tool_version: str
    recipients: tuple[str, ...]
    tables: tuple[TableRows, ...]
    generation: int | None = None

    @property
    def object(self) -> str:
        """The encrypted dump's name under the prefix."""
        return object_name(self.id)

    @property
    def server_major(self) -> int:
        """The server's major version (``160004`` -> 16)."""
        return self.server_version_num // 10000

    def as_json(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "format": MANIFEST_FORMAT,
            "id": self.id,
            "object": self.object,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "created_at": self.created_at.isoformat(),
            "completed_at": self.completed_at.isoformat(),
            "database": self.database,
            "server_version": self.server_version,
            "server_version_num": self.server_version_num,
            "pg_dump_version": self.pg_dump_version,
            "generation": self.generation,
            "tool_version": self.tool_version,
            "dump_format": "custom",
            "encryption": "age (X25519 recipients)",
            "recipients": list(self.recipients),
            "tables": [{"schema": t.schema, "name": t.name, "rows": t.rows} for t in self.tables],
        }

    def to_bytes(self, signing_key: SigningKey | None = None) -> bytes:
        """UTF-8 JSON, indented for people who open it; signed when given the writer's key."""
        return _document_bytes("manifest", self.as_json(), signing_key)

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str, expected_id: str | None = None) -> Manifest:
        """Parse a stored manifest; a malformed one is an InputError naming ``source``."""
        return cls.from_json(load_document(data, source), source=source, expected_id=expected_id)

    @classmethod
    def from_json(
        cls, raw: Mapping[str, Any], *, source: str, expected_id: str | None = None
    ) -> Manifest:
        """A manifest from its parsed JSON; its id must be well formed, equal ``expected_id``
        (the id in the object's own name), name its own object and match ``created_at``."""
        reader = _Fields(raw, source)
        if reader.integer("format") != MANIFEST_FORMAT:
            raise InputError(
                f"{source}: manifest format {raw.get('format')!r} is not supported "
                f"(this spectral-deploy reads format {MANIFEST_FORMAT})"
            )
        tables = []
        for index, item in enumerate(reader.sequence("tables")):
            table = _Fields(item, f"{source}: tables[{index}]")
            tables.append(
                TableRows(
                    schema=table.text("schema"), name=table.text("name"), rows=table.integer("rows")
                )
            )
        backup_id = require_backup_id(reader.text("id"), source=f"{source}: id")
        if expected_id is not None and backup_id != expected_id:
            raise InputError(
                f"{source}: the manifest says it is backup {backup_id!r} but is stored as "
                f"{expected_id!r}: a copied or renamed manifest is not a backup"
            )
        if "object" in raw and raw["object"] != object_name(backup_id):
            raise InputError(f"{source}: object {raw['object']!r} is not {object_name(backup_id)}")
        created_at = reader.timestamp("created_at")
        if int(created_at.timestamp()) != int(id_time(backup_id).timestamp()):
            raise InputError(
                f"{source}: created_at {created_at.isoformat()} is not the time of its id "
                f"{backup_id}: the date was altered"
            )
        return cls(
            id=backup_id,
            sha256=reader.text("sha256"),
            size_bytes=reader.integer("size_bytes"),
            created_at=created_at,
            completed_at=reader.timestamp("completed_at"),
            database=reader.text("database"),
            server_version=reader.text("server_version"),
            server_version_num=reader.integer("server_version_num"),
            pg_dump_version=reader.text("pg_dump_version"),
            tool_version=reader.text("tool_version"),
            recipients=tuple(str(r) for r in reader.sequence("recipients")),
            tables=tuple(tables),
            generation=reader.optional_integer("generation"),
        )


@dataclass(frozen=True)
class Check:
    """One sanity check of a verification."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Verification:
    """The result of one ``backup verify``, stored beside the backup."""

    backup_id: str
    verified_at: datetime
    ok: bool
    checks: tuple[Check, ...] = ()
    error: str | None = None
    scratch_server: str | None = None
    duration_seconds: float = 0.0
    tool_version: str = ""

    def as_json(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "format": MANIFEST_FORMAT,
            "backup_id": self.backup_id,
            "verified_at": self.verified_at.isoformat(),
            "ok": self.ok,
            "error": self.error,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
            "scratch_server": self.scratch_server,
            "duration_seconds": round(self.duration_seconds, 3),
            "tool_version": self.tool_version,
        }

    def to_bytes(self, signing_key: SigningKey | None = None) -> bytes:
        """UTF-8 JSON; signed when given the writer's key."""
        return _document_bytes("verification", self.as_json(), signing_key)

    @classmethod
    def from_bytes(
        cls, data: bytes, *, source: str, expected_id: str | None = None
    ) -> Verification:
        """Parse a stored verification record."""
        return cls.from_json(load_document(data, source), source=source, expected_id=expected_id)

    @classmethod
    def from_json(
        cls, raw: Mapping[str, Any], *, source: str, expected_id: str | None = None
    ) -> Verification:
        """A verification record from its parsed JSON; it must name the backup it is stored as."""
        reader = _Fields(raw, source)
        backup_id = require_backup_id(reader.text("backup_id"), source=f"{source}: backup_id")
        if expected_id is not None and backup_id != expected_id:
            raise InputError(
                f"{source}: a record of backup {backup_id!r} stored as {expected_id!r}"
            )
        checks = []
        for index, item in enumerate(reader.sequence("checks")):
            check = _Fields(item, f"{source}: checks[{index}]")
            checks.append(
                Check(
                    name=check.text("name"), ok=check.raw("ok") is True, detail=check.text("detail")
                )
            )
        error = raw.get("error")
        return cls(
            backup_id=backup_id,
            verified_at=reader.timestamp("verified_at"),
            ok=reader.raw("ok") is True,
            checks=tuple(checks),
            error=str(error) if error is not None else None,
            scratch_server=raw.get("scratch_server"),
            duration_seconds=float(raw.get("duration_seconds") or 0.0),
            tool_version=str(raw.get("tool_version") or ""),
        )


def _document_bytes(kind: str, document: dict[str, Any], signing_key: SigningKey | None) -> bytes:
    if signing_key is not None:
        document = sign_document(kind, document, signing_key)
    return (json.dumps(document, indent=2) + "\n").encode()


def load_document(data: bytes, source: str) -> Mapping[str, Any]:
    """A stored JSON object (manifest or verification record)."""
    return _load_json(data, source)


def _load_json(data: bytes, source: str) -> Mapping[str, Any]:
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{source}: not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise InputError(f"{source}: expected a JSON object")
    return raw


class _Fields:
    """Typed access to a JSON object; a missing or mistyped key names the source and key."""

    def __init__(self, raw: Any, source: str) -> None:
        if not isinstance(raw, dict):
            raise InputError(f"{source}: expected a JSON object")
        self._raw = raw
        self._source = source

    def raw(self, key: str) -> Any:
        if key not in self._raw:
            raise InputError(f"{self._source}: missing key {key!r}")
        return self._raw[key]

    def text(self, key: str) -> str:
        value = self.raw(key)
        if not isinstance(value, str):
            raise InputError(f"{self._source}: {key}: expected a string, got {value!r}")
        return value

    def integer(self, key: str) -> int:
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{self._source}: {key}: expected an integer, got {value!r}")
        return value

    def optional_integer(self, key: str) -> int | None:
        return None if self._raw.get(key) is None else self.integer(key)

    def sequence(self, key: str) -> Sequence[Any]:
        value = self.raw(key)
        if not isinstance(value, list):
            raise InputError(f"{self._source}: {key}: expected a list, got {value!r}")
        return value

    def timestamp(self, key: str) -> datetime:
        text = self.text(key)
        try:
            value = datetime.fromisoformat(text)
        except ValueError as exc:
            raise InputError(f"{self._source}: {key}: not an ISO 8601 time: {text!r}") from exc
        return value if value.tzinfo else value.replace(tzinfo=UTC)
