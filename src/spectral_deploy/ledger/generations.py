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
from typing import Any

import psycopg

from spectral_deploy.db.access import statements, translated
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

GENERATIONS = statements("spectral_deploy.ledger", "generations.sql")


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
    sql = GENERATIONS(schema)
    actor = actor or current_actor()
    with translated(), conn.transaction():
        number = int(sql.value(conn, "next_generation"))
        row = sql.one(
            conn,
            "insert_generation",
            {
                "generation": number,
                "tag": tag,
                "commit_sha": commit_sha,
                "state": str(GenerationState.ALLOCATED),
                "allocated_by": actor,
            },
            into=_generation,
        )
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
    return row


def get(conn: Connection, schema: str, generation: int) -> Generation | None:
    """One generation, or None."""
    return GENERATIONS(schema).one(
        conn, "get_generation", {"generation": generation}, into=_generation
    )


def active(conn: Connection, schema: str) -> Generation | None:
    """The generation serving traffic, if any."""
    return GENERATIONS(schema).one(conn, "active_generation", into=_generation)


def list_all(conn: Connection, schema: str) -> list[Generation]:
    """All generations, newest first."""
    return GENERATIONS(schema).all(conn, "list_generations", into=_generation)


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
    sql = GENERATIONS(schema)
    with translated(), conn.transaction():
        current = sql.one(conn, "lock_generation", {"generation": generation}, into=_generation)
        if current is None:
            raise InputError(f"generation {generation} does not exist")
        if current.state == state:
            return current
        if not can_transition(current.state, state):
            raise PreconditionFailed(
                f"generation {generation} is {current.state}; it cannot become {state}"
            )
        updated = sql.one(
            conn,
            "set_generation_state",
            {"generation": generation, "state": str(state)},
            into=_generation,
        )
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
    return updated


def _generation(state: str, **columns: Any) -> Generation:
    """A row of the generations table (its columns are the fields)."""
    return Generation(state=GenerationState(state), **columns)
