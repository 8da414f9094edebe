"""Dead-lettered rows: list them, put them back in line, or discard them (audited)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from spectral_deploy.db.access import statements, translated
from spectral_deploy.errors import UsageError
from spectral_deploy.ledger.store import EntryKind, Outcome, append

__all__ = ["DeadRow", "Selection", "discard", "list_dead", "retry"]

OUTBOX = statements("spectral_deploy.outbox", "outbox.sql")


@dataclass(frozen=True)
class Selection:
    """Which dead rows: by ids, or by generation and/or topic, or all of them."""

    ids: tuple[int, ...] | None = None
    generation: int | None = None
    topic: str | None = None
    everything: bool = False

    def params(self) -> dict[str, Any]:
        """Query parameters (NULL means no filter)."""
        return {
            "ids": list(self.ids) if self.ids else None,
            "generation": self.generation,
            "topic": self.topic,
        }

    def require_scope(self) -> None:
        """A retry or discard must say which rows: refuse an empty selection by accident."""
        if not (self.ids or self.generation is not None or self.topic or self.everything):
            raise UsageError(
                "say which dead rows: --id, --generation, --topic, or --all",
                hint="spectral-deploy outbox dead list",
            )

    def describe(self) -> dict[str, Any]:
        """The selection for the ledger."""
        return {
            "ids": list(self.ids) if self.ids else None,
            "generation": self.generation,
            "topic": self.topic,
            "all": self.everything,
        }


@dataclass(frozen=True)
class DeadRow:
    """A dead-lettered row (its payload stays in the table)."""

    id: int
    generation: int
    topic: str
    key: str | None
    attempt: int
    last_error: str | None
    created_at: datetime
    dead_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "id": self.id,
            "generation": self.generation,
            "topic": self.topic,
            "key": self.key,
            "attempt": self.attempt,
            "last_error": self.last_error,
            "created_at": self.created_at.isoformat(),
            "dead_at": self.dead_at.isoformat() if self.dead_at else None,
        }


def list_dead(
    conn: psycopg.Connection[Any], schema: str, selection: Selection, *, limit: int
) -> list[DeadRow]:
    """Dead rows matching ``selection``, oldest first."""
    params = {**selection.params(), "limit": limit}
    return OUTBOX(schema).all(conn, "dead_rows", params, into=DeadRow)


def retry(conn: psycopg.Connection[Any], schema: str, selection: Selection) -> list[int]:
    """Make matching dead rows pending again with fresh attempts; recorded in the ledger."""
    selection.require_scope()
    return _change(conn, schema, "retry_dead", "dead-retry", selection)


def discard(conn: psycopg.Connection[Any], schema: str, selection: Selection) -> list[int]:
    """Delete matching dead rows; the ledger keeps what was discarded and who did it."""
    selection.require_scope()
    return _change(conn, schema, "discard_dead", "dead-discard", selection)


def _change(
    conn: psycopg.Connection[Any], schema: str, query: str, action: str, selection: Selection
) -> list[int]:
    with translated(), conn.transaction():
        rows = OUTBOX(schema).all(conn, query, selection.params(), into=_Changed)
        ids = sorted(row.id for row in rows)
        if ids:
            append(
                conn,
                schema,
                EntryKind.OUTBOX,
                action,
                outcome=Outcome.OK,
                details={
                    "selection": selection.describe(),
                    "count": len(ids),
                    "ids": _compact(ids),
                    "by_topic": dict(Counter(row.topic for row in rows)),
                    "generations": sorted({row.generation for row in rows}),
                },
            )
    return ids


@dataclass(frozen=True)
class _Changed:
    """A dead row a retry or discard touched (a discard also returns what it threw away)."""

    id: int
    generation: int
    topic: str
    attempt: int | None = None
    last_error: str | None = None


def _compact(ids: list[int]) -> list[str]:
    """[1, 2, 3, 7] -> ["1-3", "7"]: the audit stays small for big discards."""
    ranges: list[str] = []
    start = previous = ids[0]
    for current in ids[1:]:
        if current != previous + 1:
            ranges.append(f"{start}-{previous}" if previous != start else str(start))
            start = current
        previous = current
    ranges.append(f"{start}-{previous}" if previous != start else str(start))
    return ranges
