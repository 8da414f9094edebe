"""The outbox at a glance: backlog per generation, workers, and stranded generations.

A worker is *live* when it is not stopped and its heartbeat is fresh by its own threshold
(the ``stale_after_seconds`` it registered; the reader's for workers of older versions); a
SIGKILLed worker keeps its last state in the table but its heartbeat goes stale, so it
counts as dead, while a paused one stays live until its own threshold passes.

A generation is *stranded* when it has pending rows that no live worker will ever claim: no
live worker of it that still claims (not draining, not told to stop) and takes their topic
(a legacy drain claims only the topics it has handlers for), unless a live worker holds the
row under a lease. Nobody will handle those rows unless a legacy drain does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg

from spectral_deploy.db.access import statements, translated
from spectral_deploy.ledger import generations
from spectral_deploy.outbox.store import WorkerState

__all__ = ["GenerationBacklog", "OutboxStatus", "WorkerRow", "drain_command", "read_status"]

KEEP_STOPPED_SECONDS = 3600

OUTBOX = statements("spectral_deploy.outbox", "outbox.sql")


@dataclass(frozen=True)
class WorkerRow:
    """One worker as the registry shows it."""

    id: UUID
    generation: int
    host: str
    pid: int
    app: str
    state: WorkerState
    live: bool
    concurrency: int
    started_at: datetime
    heartbeat_at: datetime
    heartbeat_age_seconds: float
    stopped_at: datetime | None
    last_error: str | None
    # the handlers' topics, and what it claims (None: every topic)
    topics: tuple[str, ...] | None = None
    claim_topics: tuple[str, ...] | None = None
    stop_requested: bool = False
    stale_after_seconds: float | None = None

    def as_json(self) -> dict[str, Any]:
        """The JSON shape of `outbox status`'s workers."""
        return {
            "id": str(self.id),
            "generation": self.generation,
            "host": self.host,
            "pid": self.pid,
            "app": self.app,
            "state": str(self.state),
            "live": self.live,
            "concurrency": self.concurrency,
            "started_at": self.started_at.isoformat(),
            "heartbeat_age_seconds": round(self.heartbeat_age_seconds, 3),
            "stopped_at": self.stopped_at.isoformat() if self.stopped_at else None,
            "last_error": self.last_error,
            "topics": list(self.topics) if self.topics is not None else None,
            "claim_topics": list(self.claim_topics) if self.claim_topics is not None else None,
            "stop_requested": self.stop_requested,
            "stale_after_seconds": self.stale_after_seconds,
        }


@dataclass(frozen=True)
class GenerationBacklog:
    """One generation's rows and workers."""

    generation: int
    pending: int
    in_flight: int
    dead: int
    live_workers: int
    oldest_pending_age_seconds: float | None
    active: bool
    # pending rows no live worker will claim (None: not read; judged by live workers then)
    stranded_rows: int | None = None

    @property
    def stranded(self) -> bool:
        """Rows that nobody alive will ever claim."""
        if self.stranded_rows is not None:
            return self.stranded_rows > 0
        return self.pending + self.in_flight > 0 and self.live_workers == 0

    def as_json(self) -> dict[str, Any]:
        """The JSON shape of `outbox status`'s generations."""
        return {
            "generation": self.generation,
            "pending": self.pending,
            "in_flight": self.in_flight,
            "dead": self.dead,
            "live_workers": self.live_workers,
            "stranded": self.stranded,
            "stranded_rows": (
                self.stranded_rows
                if self.stranded_rows is not None
                else (self.pending + self.in_flight if self.stranded else 0)
            ),
            "oldest_pending_age_seconds": (
                round(self.oldest_pending_age_seconds, 3)
                if self.oldest_pending_age_seconds is not None
                else None
            ),
            "active": self.active,
        }


@dataclass(frozen=True)
class OutboxStatus:
    """Every generation with rows or workers, and the workers."""

    generations: tuple[GenerationBacklog, ...]
    workers: tuple[WorkerRow, ...]

    @property
    def stranded(self) -> tuple[GenerationBacklog, ...]:
        """The generations that need a legacy drain."""
        return tuple(g for g in self.generations if g.stranded)

    def running(self, generation: int) -> tuple[WorkerRow, ...]:
        """The live workers of ``generation`` in state ``running`` (what a deploy waits for)."""
        return tuple(
            w
            for w in self.workers
            if w.generation == generation and w.live and w.state is WorkerState.RUNNING
        )

    def as_json(self) -> dict[str, Any]:
        """``{"generations": [...], "workers": [...]}``."""
        return {
            "generations": [g.as_json() for g in self.generations],
            "workers": [w.as_json() for w in self.workers],
        }


def drain_command(generation: int) -> str:
    """The command that recovers a stranded generation."""
    return f"spectral-deploy drain --target-generation {generation}"


def read_status(
    conn: psycopg.Connection[Any], schema: str, *, stale_after_seconds: float
) -> OutboxStatus:
    """Read backlog and workers in one snapshot."""
    sql = OUTBOX(schema)
    snapshot = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with translated(), conn.transaction():
        if snapshot:  # one snapshot for both reads, when we start the transaction
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        backlog = sql.all(
            conn,
            "backlog_by_generation",
            {"stale_after_seconds": stale_after_seconds},
            into=_Backlog,
        )
        workers = tuple(
            sql.all(
                conn,
                "list_workers",
                {
                    "stale_after_seconds": stale_after_seconds,
                    "keep_stopped_seconds": KEEP_STOPPED_SECONDS,
                },
                into=_worker,
            )
        )
        active = generations.active(conn, schema)
    live: dict[int, int] = {}
    for worker in workers:
        if worker.live:
            live[worker.generation] = live.get(worker.generation, 0) + 1
    by_generation = {
        row.generation: GenerationBacklog(
            generation=row.generation,
            pending=row.pending,
            in_flight=row.in_flight,
            dead=row.dead,
            live_workers=live.get(row.generation, 0),
            oldest_pending_age_seconds=row.oldest_pending_age_seconds,
            active=active is not None and active.generation == row.generation,
            stranded_rows=row.stranded_rows,
        )
        for row in backlog
    }
    extra = set(live) | ({active.generation} if active else set())
    for number in extra - set(by_generation):
        by_generation[number] = GenerationBacklog(
            generation=number,
            pending=0,
            in_flight=0,
            dead=0,
            live_workers=live.get(number, 0),
            oldest_pending_age_seconds=None,
            active=active is not None and active.generation == number,
            stranded_rows=0,
        )
    return OutboxStatus(
        generations=tuple(by_generation[n] for n in sorted(by_generation)), workers=workers
    )


@dataclass(frozen=True)
class _Backlog:
    """A row of ``backlog_by_generation``."""

    generation: int
    pending: int
    in_flight: int
    dead: int
    oldest_pending_age_seconds: float | None
    stranded_rows: int


def _worker(
    *,
    state: str,
    lease_seconds: float,
    topics: list[str] | None,
    claim_topics: list[str] | None,
    stale_after_seconds: float,
    **columns: Any,
) -> WorkerRow:
    """A row of ``list_workers`` (the registry's lease length is not shown)."""
    del lease_seconds
    return WorkerRow(
        **columns,
        state=WorkerState(state),
        topics=tuple(topics) if topics is not None else None,
        claim_topics=tuple(claim_topics) if claim_topics is not None else None,
        stale_after_seconds=float(stale_after_seconds),
    )
