"""The ``deploys`` table: open, read, and record steps of a deploy."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any, cast

import psycopg
from psycopg.types.json import Jsonb

from spectral_deploy.cutover.model import (
    Condition,
    ConditionStatus,
    Deploy,
    Intent,
    Outcome,
    Step,
)
from spectral_deploy.db.connect import translate
from spectral_deploy.db.queries import load_queries
from spectral_deploy.errors import DeployLockHeld, PreconditionFailed
from spectral_deploy.providers.base import Color

__all__ = [
    "DeployLock",
    "driver_pid",
    "finish",
    "get",
    "insert",
    "latest",
    "list_recent",
    "mark_flipped",
    "open_deploy",
    "set_conditions",
    "set_generation",
    "set_intent",
    "step_done",
    "step_failed",
]

Connection = psycopg.Connection[Any]


def _queries(schema: str) -> Any:
    return load_queries("spectral_deploy.cutover", "deploys.sql", schema)


def _one(conn: Connection, schema: str, name: str, params: dict[str, Any]) -> Deploy | None:
    try:
        row = conn.execute(_queries(schema)[name], params).fetchone()
    except psycopg.Error as exc:
        raise translate(exc) from exc
    return _deploy(row) if row is not None else None


def _run(conn: Connection, schema: str, name: str, params: dict[str, Any]) -> None:
    try:
        conn.execute(_queries(schema)[name], params)
    except psycopg.Error as exc:
        raise translate(exc) from exc


def insert(
    conn: Connection,
    schema: str,
    *,
    tag: str,
    commit: str,
    from_generation: int | None,
    from_commit: str | None,
    blue: Color,
    green: Color,
    started_by: str,
) -> int:
    """Open a deploy; a deploy already open is a failed precondition."""
    try:
        row = conn.execute(
            _queries(schema)["insert_deploy"],
            {
                "tag": tag,
                "commit": commit,
                "from_generation": from_generation,
                "from_commit": from_commit,
                "blue": str(blue),
                "green": str(green),
                "started_by": started_by,
            },
        ).fetchone()
    except psycopg.errors.UniqueViolation as exc:
        raise PreconditionFailed(
            "another deploy is in progress", hint="spectral-deploy deploy status"
        ) from exc
    except psycopg.Error as exc:
        raise translate(exc) from exc
    assert row is not None
    return cast(int, row[0])


def get(conn: Connection, schema: str, deploy_id: int) -> Deploy | None:
    """One deploy."""
    return _one(conn, schema, "get_deploy", {"id": deploy_id})


def open_deploy(conn: Connection, schema: str) -> Deploy | None:
    """The deploy in progress, if any."""
    return _one(conn, schema, "open_deploy", {})


def latest(conn: Connection, schema: str) -> Deploy | None:
    """The newest deploy, open or not."""
    return _one(conn, schema, "latest_deploy", {})


def list_recent(conn: Connection, schema: str, limit: int = 20) -> list[Deploy]:
    """Deploys, newest first."""
    try:
        rows = conn.execute(_queries(schema)["list_deploys"], {"limit": limit}).fetchall()
    except psycopg.Error as exc:
        raise translate(exc) from exc
    return [_deploy(row) for row in rows]


def set_generation(conn: Connection, schema: str, deploy_id: int, generation: int) -> None:
    """Record the allocated generation (call inside the allocating transaction)."""
    _run(conn, schema, "set_generation", {"id": deploy_id, "generation": generation})


def step_done(conn: Connection, schema: str, deploy_id: int, step: Step) -> None:
    """A step completed."""
    _run(conn, schema, "step_done", {"id": deploy_id, "step": int(step)})


def step_failed(conn: Connection, schema: str, deploy_id: int, step: Step, error: str) -> None:
    """A step failed; the deploy waits for resume or abort."""
    _run(conn, schema, "step_failed", {"id": deploy_id, "step": int(step), "error": error})


def set_intent(conn: Connection, schema: str, deploy_id: int, intent: Intent) -> None:
    """Record what the operator asked for."""
    _run(conn, schema, "set_intent", {"id": deploy_id, "intent": str(intent)})


def set_conditions(
    conn: Connection, schema: str, deploy_id: int, conditions: Sequence[Condition]
) -> None:
    """Record the latest observed conditions."""
    _run(
        conn,
        schema,
        "set_conditions",
        {"id": deploy_id, "conditions": Jsonb([c.as_json() for c in conditions])},
    )


def mark_flipped(conn: Connection, schema: str, deploy_id: int, hold_seconds: float) -> None:
    """The CNAME points at green; the hold window starts (once)."""
    _run(
        conn,
        schema,
        "mark_flipped",
        {"id": deploy_id, "hold_seconds": hold_seconds, "step": int(Step.CUTOVER)},
    )


def finish(conn: Connection, schema: str, deploy_id: int, outcome: Outcome) -> None:
    """Close the deploy."""
    _run(conn, schema, "finish_deploy", {"id": deploy_id, "outcome": str(outcome)})


def driver_pid(conn: Connection, schema: str) -> int | None:
    """The backend pid of the process driving a deploy now (holding the deploy lock), if any."""
    try:
        row = conn.execute(_queries(schema)["lock_holder"], {"schema": schema}).fetchone()
    except psycopg.Error as exc:
        raise translate(exc) from exc
    return cast(int, row[0]) if row else None


class DeployLock:
    """The session-level advisory lock that one deploy-driving process holds."""

    def __init__(self, conn: Connection, schema: str) -> None:
        self._conn = conn
        self._schema = schema

    def __enter__(self) -> DeployLock:
        queries = _queries(self._schema)
        try:
            row = self._conn.execute(queries["try_lock_deploys"], {"schema": self._schema})
            got = row.fetchone()
            if not got or not got[0]:
                holder = self._conn.execute(
                    queries["lock_holder"], {"schema": self._schema}
                ).fetchone()
                who = f" (backend pid {holder[0]}, {holder[1] or 'unnamed'})" if holder else ""
                raise DeployLockHeld(
                    f"another spectral-deploy process is driving a deploy right now{who}",
                    hint="wait for it, or check it: spectral-deploy deploy status",
                )
        except psycopg.Error as exc:
            raise translate(exc) from exc
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(psycopg.Error):  # the lock goes with the session anyway
            self._conn.execute(_queries(self._schema)["unlock_deploys"], {"schema": self._schema})


def _deploy(row: tuple[Any, ...]) -> Deploy:
    conditions = tuple(
        Condition(
            type=c["type"],
            status=ConditionStatus(c["status"]),
            reason=c["reason"],
            message=c["message"],
        )
        for c in (row[19] or [])
    )
    return Deploy(
        id=row[0],
        tag=row[1],
        commit=row[2],
        generation=row[3],
        from_generation=row[4],
        from_commit=row[5],
        blue=Color(row[6]),
        green=Color(row[7]),
        intent=Intent(row[8]),
        step=row[9],
        failed_step=row[10],
        error=row[11],
        flipped_at=row[12],
        hold_until=row[13],
        started_by=row[14],
        started_at=row[15],
        updated_at=row[16],
        finished_at=row[17],
        outcome=Outcome(row[18]) if row[18] else None,
        conditions=conditions,
    )
