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
from typing import Any, cast
from uuid import UUID

import psycopg

from spectral_deploy.db.connect import translate
from spectral_deploy.db.queries import load_queries
from spectral_deploy.ledger import generations

__all__ = ["GenerationBacklog", "OutboxStatus", "WorkerRow", "drain_command", "read_status"]

KEEP_STOPPED_SECONDS = 3600


@dataclass(frozen=True)
class WorkerRow:
    """One worker as the registry shows it."""

    id: UUID
    generation: int
    host: str
    pid: int
    app: str
    state: str
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
            "state": self.state,
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
    queries = load_queries("spectral_deploy.outbox", "outbox.sql", schema)
    snapshot = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    try:
        with conn.transaction():
            if snapshot:  # one snapshot for both reads, when we start the transaction
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            backlog = conn.execute(
                queries["backlog_by_generation"], {"stale_after_seconds": stale_after_seconds}
            ).fetchall()
            worker_rows = conn.execute(
                queries["list_workers"],
                {
                    "stale_after_seconds": stale_after_seconds,
                    "keep_stopped_seconds": KEEP_STOPPED_SECONDS,
                },
            ).fetchall()
            active = generations.active(conn, schema)
    except psycopg.Error as exc:
        raise translate(exc) from exc
    workers = tuple(_worker(row) for row in worker_rows)
    live: dict[int, int] = {}
    for worker in workers:
        if worker.live:
            live[worker.generation] = live.get(worker.generation, 0) + 1
    by_generation = {
        cast(int, row[0]): GenerationBacklog(
            generation=cast(int, row[0]),
            pending=cast(int, row[1]),
            in_flight=cast(int, row[2]),
            dead=cast(int, row[3]),
            live_workers=live.get(cast(int, row[0]), 0),
            oldest_pending_age_seconds=cast("float | None", row[4]),
            active=active is not None and active.generation == row[0],
            stranded_rows=cast(int, row[5]),
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


def _worker(row: tuple[Any, ...]) -> WorkerRow:
    return WorkerRow(
        id=row[0],
        generation=row[1],
        host=row[2],
        pid=row[3],
        app=row[4],
        state=row[5],
        concurrency=row[6],
        started_at=row[8],
        heartbeat_at=row[9],
        stopped_at=row[10],
        last_error=row[11],
        live=bool(row[12]),
        heartbeat_age_seconds=float(row[13]),
        topics=tuple(row[14]) if row[14] is not None else None,
        claim_topics=tuple(row[15]) if row[15] is not None else None,
        stop_requested=bool(row[16]),
        stale_after_seconds=float(row[17]),
    )
