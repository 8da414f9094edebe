"""The ``rollbacks`` table: open a rollback with its plan, read it back, record its progress.

Every statement is a named block of ``rollbacks.sql`` run through the database seam
(``db/access.py``): errors are translated there, rows are mapped by column name to a
``RollbackRecord``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

import psycopg
from psycopg.types.json import Jsonb

from spectral_deploy.db.access import statements
from spectral_deploy.errors import PreconditionFailed
from spectral_deploy.notify.messages import RollbackStory
from spectral_deploy.rollback.plan import PlanStep, StepId

__all__ = [
    "RollbackOutcome",
    "RollbackRecord",
    "finish",
    "get",
    "insert",
    "latest",
    "open_rollback",
    "step_done",
]

Connection = psycopg.Connection[Any]

ROLLBACKS = statements("spectral_deploy.rollback", "rollbacks.sql")


class RollbackOutcome(StrEnum):
    """How a rollback ended (``rollbacks.outcome``, the ledger's ``finish`` entry, JSON)."""

    COMPLETED = "completed"
    # a person takes over (disaster recovery, a decision only they can make)
    ESCALATED = "escalated"


@dataclass(frozen=True)
class RollbackRecord:
    """One row of ``rollbacks``."""

    id: int
    deploy_id: int | None
    failure_class: int
    facts: dict[str, Any]
    reasons: tuple[str, ...]
    steps: tuple[PlanStep, ...]
    steps_done: int
    started_by: str
    started_at: datetime
    finished_at: datetime | None
    outcome: RollbackOutcome | None

    def story(
        self, serving_generation: int | None, incident_since: datetime | None = None
    ) -> RollbackStory:
        """What the communications tell."""
        return RollbackStory(
            rollback_id=self.id,
            failure_class=self.failure_class,
            tag=self.facts.get("tag"),
            from_generation=self.facts.get("from_generation"),
            to_generation=self.facts.get("to_generation"),
            serving_generation=serving_generation,
            reasons=self.reasons,
            steps=tuple(step.title for step in self.steps),
            operator=self.started_by,
            started_at=self.started_at,
            outcome=self.outcome,
            finished_at=self.finished_at,
            incident_since=incident_since,
        )


def insert(
    conn: Connection,
    schema: str,
    *,
    deploy_id: int | None,
    failure_class: int,
    facts: dict[str, Any],
    reasons: Sequence[str],
    steps: Sequence[PlanStep],
    started_by: str,
) -> int:
    """Open a rollback; one already open is a failed precondition."""
    params = {
        "deploy_id": deploy_id,
        "failure_class": failure_class,
        "facts": Jsonb(facts),
        "reasons": Jsonb(list(reasons)),
        "plan": Jsonb([step.as_json() for step in steps]),
        "started_by": started_by,
    }
    opened = ROLLBACKS(schema).value(
        conn,
        "insert_rollback",
        params,
        meaning={
            "rollbacks_one_open_idx": lambda: PreconditionFailed(
                "another rollback is in progress", hint="spectral-deploy rollback run"
            )
        },
    )
    return cast(int, opened)


def open_rollback(conn: Connection, schema: str) -> RollbackRecord | None:
    """The rollback in progress, if any."""
    return ROLLBACKS(schema).one(conn, "open_rollback", into=_record)


def get(conn: Connection, schema: str, rollback_id: int) -> RollbackRecord | None:
    """One rollback."""
    return ROLLBACKS(schema).one(conn, "get_rollback", {"id": rollback_id}, into=_record)


def latest(conn: Connection, schema: str) -> RollbackRecord | None:
    """The newest rollback."""
    return ROLLBACKS(schema).one(conn, "latest_rollback", into=_record)


def step_done(conn: Connection, schema: str, rollback_id: int, steps_done: int) -> None:
    """The first ``steps_done`` steps of the plan are done (never fewer than before)."""
    params = {"id": rollback_id, "steps_done": steps_done}
    ROLLBACKS(schema).run(conn, "rollback_step_done", params)


def finish(conn: Connection, schema: str, rollback_id: int, outcome: RollbackOutcome) -> None:
    """Close the rollback (once)."""
    params = {"id": rollback_id, "outcome": str(outcome)}
    ROLLBACKS(schema).run(conn, "finish_rollback", params)


def _record(
    *,
    reasons: list[str],
    plan: list[dict[str, Any]],
    outcome: str | None,
    **columns: Any,
) -> RollbackRecord:
    """A row of ``rollbacks`` (columns named as the fields, but for these)."""
    return RollbackRecord(
        **columns,
        reasons=tuple(reasons),
        steps=tuple(
            PlanStep(
                StepId(s["id"]),
                s["title"],
                s["command"],
                s.get("automatic", True),
                s.get("params", {}),
            )
            for s in plan
        ),
        outcome=RollbackOutcome(outcome) if outcome else None,
    )
