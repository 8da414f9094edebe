"""Generations: one positive integer per cutover attempt, allocated atomically.

A rollback deploy allocates a *new* generation; numbers are never reused and
only go up. The allocator takes a row lock on a one-row counter and inserts the
generation in the same transaction, so concurrent allocators queue, never
collide, and a rolled-back allocation leaves no gap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

import psycopg
from psycopg.rows import TupleRow

from spectral_deploy.db.connect import translate
from spectral_deploy.db.queries import load_queries
from spectral_deploy.errors import InputError, PreconditionFailed
from spectral_deploy.ledger.store import EntryKind, Outcome, append, current_actor

__all__ = [
    "Generation",
    "GenerationState",
    "active",
    "allocate",
    "can_transition",
    "get",
    "list_all",
    "set_state",
]

Connection = psycopg.Connection[tuple[object, ...]]


class GenerationState(StrEnum):
    """Lifecycle of a generation; the value is the text stored in ``generations.state``."""

    ALLOCATED = "allocated"
    ACTIVE = "active"
    RETIRED = "retired"
    FAILED = "failed"


_ALLOWED: dict[GenerationState, frozenset[GenerationState]] = {
    GenerationState.ALLOCATED: frozenset({GenerationState.ACTIVE, GenerationState.FAILED}),
    # a rolled-back generation is marked failed; a superseded one retired
    GenerationState.ACTIVE: frozenset({GenerationState.RETIRED, GenerationState.FAILED}),
    # a retired generation may be found bad later (a rollback marks it failed)
    GenerationState.RETIRED: frozenset({GenerationState.ACTIVE, GenerationState.FAILED}),
    GenerationState.FAILED: frozenset(),
}


@dataclass(frozen=True)
class Generation:
    """One allocated generation."""

    generation: int
    tag: str | None
    commit_sha: str | None
    state: GenerationState
    allocated_by: str
    allocated_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "generation": self.generation,
            "tag": self.tag,
            "commit": self.commit_sha,
            "state": str(self.state),
            "allocated_by": self.allocated_by,
            "allocated_at": self.allocated_at.isoformat(),
            "activated_at": self.activated_at.isoformat() if self.activated_at else None,
            "retired_at": self.retired_at.isoformat() if self.retired_at else None,
        }


def can_transition(current: GenerationState, target: GenerationState) -> bool:
    """Whether a generation in ``current`` may move to ``target`` (same state is a no-op)."""
    return current == target or target in _ALLOWED[current]


def allocate(
    conn: Connection,
    schema: str,
    *,
    tag: str | None = None,
    commit_sha: str | None = None,
    actor: str | None = None,
) -> Generation:
    """Allocate the next generation and record it in the ledger, in one transaction."""
    queries = load_queries("spectral_deploy.ledger", "generations.sql", schema)
    actor = actor or current_actor()
    try:
        with conn.transaction():
            counter = conn.execute(queries["next_generation"]).fetchone()
            assert counter is not None
            number = cast(int, counter[0])
            row = conn.execute(
                queries["insert_generation"],
                {
                    "generation": number,
                    "tag": tag,
                    "commit_sha": commit_sha,
                    "state": str(GenerationState.ALLOCATED),
                    "allocated_by": actor,
                },
            ).fetchone()
            assert row is not None
            append(
                conn,
                schema,
                EntryKind.GENERATION,
                "allocate",
                outcome=Outcome.OK,
                actor=actor,
                generation=number,
                details={"tag": tag, "commit": commit_sha},
            )
    except psycopg.Error as exc:
        raise translate(exc) from exc
    return _generation(row)


def get(conn: Connection, schema: str, generation: int) -> Generation | None:
    """One generation, or None."""
    queries = load_queries("spectral_deploy.ledger", "generations.sql", schema)
    try:
        row = conn.execute(queries["get_generation"], {"generation": generation}).fetchone()
    except psycopg.Error as exc:
        raise translate(exc) from exc
    return _generation(row) if row is not None else None


def active(conn: Connection, schema: str) -> Generation | None:
    """The generation serving traffic, if any."""
    queries = load_queries("spectral_deploy.ledger", "generations.sql", schema)
    try:
        row = conn.execute(queries["active_generation"]).fetchone()
    except psycopg.Error as exc:
        raise translate(exc) from exc
    return _generation(row) if row is not None else None


def list_all(conn: Connection, schema: str) -> list[Generation]:
    """All generations, newest first."""
    queries = load_queries("spectral_deploy.ledger", "generations.sql", schema)
    try:
        rows = conn.execute(queries["list_generations"]).fetchall()
    except psycopg.Error as exc:
        raise translate(exc) from exc
    return [_generation(row) for row in rows]


def set_state(
    conn: Connection,
    schema: str,
    generation: int,
    state: GenerationState,
    *,
    actor: str | None = None,
    reason: str | None = None,
) -> Generation:
    """Move a generation to ``state`` and record it; refuses transitions that make no sense."""
    queries = load_queries("spectral_deploy.ledger", "generations.sql", schema)
    try:
        with conn.transaction():
            row = conn.execute(queries["lock_generation"], {"generation": generation}).fetchone()
            if row is None:
                raise InputError(f"generation {generation} does not exist")
            current = _generation(row)
            if current.state == state:
                return current
            if not can_transition(current.state, state):
                raise PreconditionFailed(
                    f"generation {generation} is {current.state}; it cannot become {state}"
                )
            updated = conn.execute(
                queries["set_generation_state"], {"generation": generation, "state": str(state)}
            ).fetchone()
            assert updated is not None
            append(
                conn,
                schema,
                EntryKind.GENERATION,
                f"set-state:{state}",
                outcome=Outcome.OK,
                actor=actor,
                generation=generation,
                details={"from": str(current.state), "to": str(state), "reason": reason},
            )
    except psycopg.Error as exc:
        raise translate(exc) from exc
    return _generation(updated)


def _generation(row: TupleRow) -> Generation:
    return Generation(
        generation=cast(int, row[0]),
        tag=cast("str | None", row[1]),
        commit_sha=cast("str | None", row[2]),
        state=GenerationState(cast(str, row[3])),
        allocated_by=cast(str, row[4]),
        allocated_at=cast(datetime, row[5]),
        activated_at=cast("datetime | None", row[6]),
        retired_at=cast("datetime | None", row[7]),
    )
