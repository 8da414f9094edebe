"""The ``deploys`` table: open, read, and record steps of a deploy."""

from __future__ import annotations

import contextlib
import os
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import psycopg
from psycopg.types.json import Jsonb

from spectral_deploy.cutover.model import (
    Condition,
    ConditionReason,
    ConditionStatus,
    ConditionType,
    Deploy,
    Intent,
    Outcome,
    Step,
)
from spectral_deploy.db.access import statements
from spectral_deploy.errors import DeployLockHeld, PreconditionFailed, SpectralError
from spectral_deploy.providers.base import Color

__all__ = [
    "DRIVER_APPLICATION",
    "DeployLock",
    "ProcessLock",
    "driver_application_name",
    "driver_pid",
    "finish",
    "get",
    "insert",
    "latest",
    "list_recent",
    "lock_holder_pid",
    "mark_flipped",
    "open_deploy",
    "open_rollback_of",
    "set_conditions",
    "set_generation",
    "set_intent",
    "step_done",
    "step_failed",
]

Connection = psycopg.Connection[Any]

# the application_name of the session that holds the deploy lock: names the OS process
DRIVER_APPLICATION = "spectral-deploy driver"
_DRIVER = re.compile(r"^spectral-deploy driver pid=(?P<pid>\d+) host=(?P<host>.*)$")
_MAX_APPLICATION_NAME = 63


def driver_application_name() -> str:
    """``spectral-deploy driver pid=<pid> host=<host>`` (PostgreSQL keeps 63 bytes)."""
    name = f"{DRIVER_APPLICATION} pid={os.getpid()} host={socket.gethostname()}"
    return name.encode()[:_MAX_APPLICATION_NAME].decode(errors="ignore")


def _stop_hint(application_name: str | None) -> str:
    found = _DRIVER.match(application_name or "")
    if found is None:
        return (
            "stop that process first (Ctrl-C in its terminal), then run this command again; "
            "spectral-deploy deploy status shows what it is doing"
        )
    pid, host = found["pid"], found["host"]
    here = host == socket.gethostname()[: len(host)] and bool(host)
    where = "on this machine" if here else f"on host {host}"
    return (
        f"stop it first: Ctrl-C in its terminal, or `kill {pid}` {where} (a killed deploy "
        "is resumed or aborted safely); then run this command again. "
        "spectral-deploy deploy status shows what it is doing"
    )


DEPLOYS = statements("spectral_deploy.cutover", "deploys.sql")


def _one(conn: Connection, schema: str, name: str, params: dict[str, Any]) -> Deploy | None:
    return DEPLOYS(schema).one(conn, name, params, into=_deploy)


def _run(conn: Connection, schema: str, name: str, params: dict[str, Any]) -> None:
    DEPLOYS(schema).run(conn, name, params)


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
    deploy_id = DEPLOYS(schema).value(
        conn,
        "insert_deploy",
        {
            "tag": tag,
            "commit": commit,
            "from_generation": from_generation,
            "from_commit": from_commit,
            "blue": str(blue),
            "green": str(green),
            "started_by": started_by,
        },
        meaning={"deploys_one_open_idx": _another_deploy},
    )
    return cast(int, deploy_id)


def _another_deploy() -> PreconditionFailed:
    return PreconditionFailed("another deploy is in progress", hint="spectral-deploy deploy status")


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
    return DEPLOYS(schema).all(conn, "list_deploys", {"limit": limit}, into=_deploy)


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


def open_rollback_of(conn: Connection, schema: str, deploy_id: int) -> int | None:
    """The id of the rollback in progress for ``deploy_id``, if any."""
    params = {"deploy_id": deploy_id}
    return cast("int | None", DEPLOYS(schema).value(conn, "open_rollback_of_deploy", params))


def driver_pid(conn: Connection, schema: str) -> int | None:
    """The backend pid of the process driving a deploy now (holding the deploy lock), if any."""
    return cast("int | None", DEPLOYS(schema).value(conn, "lock_holder", {"schema": schema}))


class ProcessLock:
    """A session-level advisory lock that one driving process holds: ``purpose`` is
    ``deploy`` (one process drives deploys) or ``rollback`` (one drives rollbacks)."""

    def __init__(self, conn: Connection, schema: str, purpose: str = "deploy") -> None:
        self._conn = conn
        self._schema = schema
        self._purpose = purpose
        self._params = {"key": _lock_key(schema, purpose)}

    def __enter__(self) -> ProcessLock:
        sql = DEPLOYS(self._schema)
        if sql.value(self._conn, "try_lock_named", self._params):
            return self
        holder = sql.one(self._conn, "lock_holder_named", self._params, into=_LockHolder)
        name = holder.application_name if holder else None
        found = _DRIVER.match(name or "")
        if found is not None:
            who = f" (process {found['pid']} on {found['host']})"
        elif holder:
            who = f" (database backend pid {holder.pid}, {name or 'unnamed'})"
        else:
            who = ""
        raise DeployLockHeld(
            f"another spectral-deploy process is driving a {self._purpose} right now{who}",
            hint=_stop_hint(name),
        )

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(SpectralError):  # the lock goes with the session anyway
            DEPLOYS(self._schema).run(self._conn, "unlock_named", self._params)


class DeployLock(ProcessLock):
    """The lock of the process driving a deploy."""

    def __init__(self, conn: Connection, schema: str) -> None:
        super().__init__(conn, schema, "deploy")


def lock_holder_pid(conn: Connection, schema: str, purpose: str) -> int | None:
    """The backend pid of the session holding ``purpose``'s lock, if any."""
    params = {"key": _lock_key(schema, purpose)}
    return cast("int | None", DEPLOYS(schema).value(conn, "lock_holder_named", params))


def _lock_key(schema: str, purpose: str) -> str:
    return f"spectral-deploy/{purpose}/{schema}"


@dataclass(frozen=True)
class _LockHolder:
    """The session holding an advisory lock (``lock_holder_named``)."""

    pid: int
    application_name: str | None
    client_addr: str | None
    backend_start: datetime | None


def _deploy(
    *,
    commit_sha: str,
    blue_color: str,
    green_color: str,
    intent: str,
    outcome: str | None,
    conditions: list[dict[str, Any]] | None,
    **columns: Any,
) -> Deploy:
    """A row of the deploys table (columns named as the fields, but for these)."""
    return Deploy(
        **columns,
        commit=commit_sha,
        blue=Color(blue_color),
        green=Color(green_color),
        intent=Intent(intent),
        outcome=Outcome(outcome) if outcome else None,
        conditions=tuple(
            Condition(
                type=ConditionType(c["type"]),
                status=ConditionStatus(c["status"]),
                reason=ConditionReason(c["reason"]),
                message=c["message"],
            )
            for c in (conditions or [])
        ),
    )
