"""The deploy ledger: an append-only record of every deploy, step, rollback and drain.

Rows are only ever inserted; a trigger refuses UPDATE, DELETE and TRUNCATE, so
history cannot be rewritten by this tool or anyone else short of dropping the
trigger. An action that must not repeat is written first as an *intent* with a
unique ``intent_key`` (``record_intent`` returns ``None`` when it already exists)
and confirmed by a later entry.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from spectral_deploy.db.access import statements

__all__ = [
    "EntryKind",
    "LedgerEntry",
    "Outcome",
    "append",
    "current_actor",
    "entries",
    "entry_by_intent",
    "record_intent",
    "tail",
]

Connection = psycopg.Connection[tuple[object, ...]]

LEDGER = statements("spectral_deploy.ledger", "ledger.sql")


class EntryKind(StrEnum):
    """What an entry is about; the value is the text stored in ``ledger.kind``."""

    GENERATION = "generation"
    DEPLOY = "deploy"
    STEP = "step"
    ROLLBACK = "rollback"
    DRAIN = "drain"
    NOTIFICATION = "notification"
    OUTBOX = "outbox"
    MIGRATION = "migration"
    BACKUP = "backup"
    DEMO = "demo"


class Outcome(StrEnum):
    """How an action ended; the value is the text stored in ``ledger.outcome``."""

    INTENT = "intent"
    STARTED = "started"
    OK = "ok"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class LedgerEntry:
    """One row of the ledger."""

    id: int
    recorded_at: datetime
    kind: str
    action: str
    outcome: str | None
    actor: str
    deploy_id: int | None = None
    generation: int | None = None
    from_generation: int | None = None
    to_generation: int | None = None
    intent_key: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (timestamps in ISO 8601)."""
        return {
            "id": self.id,
            "recorded_at": self.recorded_at.isoformat(),
            "kind": self.kind,
            "action": self.action,
            "outcome": self.outcome,
            "actor": self.actor,
            "deploy_id": self.deploy_id,
            "generation": self.generation,
            "from_generation": self.from_generation,
            "to_generation": self.to_generation,
            "intent_key": self.intent_key,
            "details": dict(self.details),
        }


def current_actor(environ: Mapping[str, str] | None = None) -> str:
    """Who is acting: ``SPECTRAL_ACTOR``, the GitHub Actions actor, or ``user@host``."""
    environ = os.environ if environ is None else environ
    if environ.get("SPECTRAL_ACTOR"):
        return environ["SPECTRAL_ACTOR"]
    if environ.get("GITHUB_ACTIONS") == "true" and environ.get("GITHUB_ACTOR"):
        return f"{environ['GITHUB_ACTOR']} (github-actions)"
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def append(
    conn: Connection,
    schema: str,
    kind: EntryKind,
    action: str,
    *,
    outcome: Outcome | None = None,
    actor: str | None = None,
    deploy_id: int | None = None,
    generation: int | None = None,
    from_generation: int | None = None,
    to_generation: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> LedgerEntry:
    """Append an entry in the caller's transaction (the caller commits)."""
    params = _params(
        kind=kind,
        action=action,
        outcome=outcome,
        actor=actor,
        deploy_id=deploy_id,
        generation=generation,
        from_generation=from_generation,
        to_generation=to_generation,
        intent_key=None,
        details=details,
    )
    entry = LEDGER(schema).one(conn, "append_entry", params, into=LedgerEntry)
    assert entry is not None
    return entry


def record_intent(
    conn: Connection,
    schema: str,
    kind: EntryKind,
    action: str,
    intent_key: str,
    *,
    actor: str | None = None,
    deploy_id: int | None = None,
    generation: int | None = None,
    from_generation: int | None = None,
    to_generation: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> LedgerEntry | None:
    """Record an intent once; ``None`` means the same intent was recorded before."""
    params = _params(
        kind=kind,
        action=action,
        outcome=Outcome.INTENT,
        actor=actor,
        deploy_id=deploy_id,
        generation=generation,
        from_generation=from_generation,
        to_generation=to_generation,
        intent_key=intent_key,
        details=details,
    )
    return LEDGER(schema).one(conn, "append_intent", params, into=LedgerEntry)


def entry_by_intent(conn: Connection, schema: str, intent_key: str) -> LedgerEntry | None:
    """The entry that recorded ``intent_key``, if any."""
    params = {"intent_key": intent_key}
    return LEDGER(schema).one(conn, "entry_by_intent", params, into=LedgerEntry)


def entries(
    conn: Connection,
    schema: str,
    *,
    kind: str | None = None,
    deploy_id: int | None = None,
    generation: int | None = None,
    after_id: int = 0,
) -> list[LedgerEntry]:
    """Entries oldest first, optionally filtered."""
    params = {"kind": kind, "deploy_id": deploy_id, "generation": generation, "after_id": after_id}
    return LEDGER(schema).all(conn, "list_entries", params, into=LedgerEntry)


def tail(
    conn: Connection,
    schema: str,
    limit: int,
    *,
    kind: str | None = None,
    deploy_id: int | None = None,
    generation: int | None = None,
) -> list[LedgerEntry]:
    """The newest ``limit`` entries, oldest first."""
    params = {"kind": kind, "deploy_id": deploy_id, "generation": generation, "limit": limit}
    newest_first = LEDGER(schema).all(conn, "tail_entries", params, into=LedgerEntry)
    return newest_first[::-1]


def _params(
    *,
    kind: EntryKind,
    action: str,
    outcome: Outcome | None,
    actor: str | None,
    deploy_id: int | None,
    generation: int | None,
    from_generation: int | None,
    to_generation: int | None,
    intent_key: str | None,
    details: Mapping[str, Any] | None,
) -> dict[str, Any]:
    return {
        "kind": str(kind),
        "action": action,
        "outcome": str(outcome) if outcome is not None else None,
        "actor": actor or current_actor(),
        "deploy_id": deploy_id,
        "generation": generation,
        "from_generation": from_generation,
        "to_generation": to_generation,
        "intent_key": intent_key,
        "details": Jsonb(dict(details or {})),
    }
