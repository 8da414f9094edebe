"""Legacy drain: recover rows stranded at a generation whose workers are gone.

The runbook's Class 2 and Class 3 end with "drain via legacy-drain with
target_generation=N+1". Two ways to do it:

* **process**: this process claims G's rows under the same lease, retry and dead-letter
  rules as a worker, and runs the handlers it was given. Rows of topics it has no handler
  for are never claimed: they stay where they are and are reported. So are the rows that
  wait behind them in key order (or behind an earlier row of their key in another
  generation): when nothing else is left, the drain ends and names those keys.
* **adopt**: G's pending rows are re-stamped to generation M (the active one) in bounded
  batches, each its own short transaction, keeping the original generation in
  ``original_generation``; the live fleet of M handles them.

Both are resumable: interrupt and run again, and the job continues where it stopped.
Every drain writes its start, counts and outcome to the ledger.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import psycopg

from spectral_deploy.config import OutboxConfig
from spectral_deploy.db import Database
from spectral_deploy.db.access import statements, translated
from spectral_deploy.errors import GenerationRefused, PreconditionFailed, UsageError
from spectral_deploy.ledger import generations
from spectral_deploy.ledger.generations import Generation, GenerationState
from spectral_deploy.ledger.store import EntryKind, Outcome, append
from spectral_deploy.outbox.cursor import ClaimCursor
from spectral_deploy.outbox.handlers import Handlers
from spectral_deploy.outbox.pgstore import notify_channel
from spectral_deploy.outbox.ratelimit import RateLimiter
from spectral_deploy.outbox.status import WorkerRow, read_status
from spectral_deploy.outbox.wiring import postgres_worker
from spectral_deploy.outbox.worker import WorkerSettings
from spectral_deploy.processes import alive

__all__ = [
    "ADOPT_BATCH_ROWS",
    "AdoptTarget",
    "BlockedKey",
    "DrainMode",
    "DrainProgress",
    "DrainReport",
    "Opening",
    "Preflight",
    "TopicBacklog",
    "adopt",
    "adopt_target",
    "blocked_keys",
    "check_adopt_target",
    "gone_workers",
    "open_drain",
    "preflight",
    "process",
    "release_gone_workers",
    "unfinished_rows",
]

ADOPT_BATCH_ROWS = 1000
MONITOR_SECONDS = 0.25
# polls without progress before a process drain checks whether what is left is blocked
STALL_POLLS = 4
Connection = psycopg.Connection[Any]
OUTBOX = statements("spectral_deploy.outbox", "outbox.sql")


class DrainMode(StrEnum):
    """How a drain recovers rows."""

    PROCESS = "process"
    ADOPT = "adopt"


@dataclass(frozen=True)
class TopicBacklog:
    """One topic's rows in the target generation."""

    topic: str
    pending: int
    in_flight: int
    dead: int
    oldest_pending_age_seconds: float | None

    @property
    def unfinished(self) -> int:
        """Pending plus in flight."""
        return self.pending + self.in_flight

    def as_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "topic": self.topic,
            "pending": self.pending,
            "in_flight": self.in_flight,
            "dead": self.dead,
            "oldest_pending_age_seconds": self.oldest_pending_age_seconds,
        }


@dataclass(frozen=True)
class BlockedKey:
    """Rows of G that wait, in key order, behind a row the drain cannot claim."""

    key: str
    rows: int
    blocker_id: int
    blocker_generation: int
    blocker_topic: str

    def describe(self, generation: int) -> str:
        """One line for the operator."""
        why = (
            "no handler for it here"
            if self.blocker_generation == generation
            else f"generation {self.blocker_generation}: drain that generation first"
        )
        return (
            f"{self.rows} row(s) of key {self.key!r} wait behind row {self.blocker_id} "
            f"(topic {self.blocker_topic!r}, {why})"
        )

    def as_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "key": self.key,
            "rows": self.rows,
            "blocker_id": self.blocker_id,
            "blocker_generation": self.blocker_generation,
            "blocker_topic": self.blocker_topic,
        }


@dataclass(frozen=True)
class Preflight:
    """What a drain of generation G faces, read before it does anything."""

    generation: int
    known: bool
    tag: str | None
    state: str | None
    topics: tuple[TopicBacklog, ...]
    live_workers: tuple[WorkerRow, ...]
    active_generation: int | None

    @property
    def unfinished(self) -> int:
        """Pending plus in-flight rows of G."""
        return sum(t.unfinished for t in self.topics)

    @property
    def dead(self) -> int:
        """Dead-lettered rows of G."""
        return sum(t.dead for t in self.topics)

    @property
    def oldest_pending_age_seconds(self) -> float | None:
        """Age of G's oldest unfinished row."""
        ages = [t.oldest_pending_age_seconds for t in self.topics]
        present = [age for age in ages if age is not None]
        return max(present) if present else None

    def unhandled(self, handled: frozenset[str]) -> tuple[TopicBacklog, ...]:
        """Topics with unfinished rows that ``handled`` has no handler for."""
        return tuple(t for t in self.topics if t.unfinished and t.topic not in handled)

    def as_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "generation": self.generation,
            "known": self.known,
            "tag": self.tag,
            "state": self.state,
            "unfinished": self.unfinished,
            "dead": self.dead,
            "oldest_pending_age_seconds": self.oldest_pending_age_seconds,
            "topics": [t.as_json() for t in self.topics],
            "live_workers": [w.as_json() for w in self.live_workers],
            "active_generation": self.active_generation,
        }


@dataclass(frozen=True)
class DrainProgress:
    """Where a running drain is."""

    done: int
    total: int
    note: str = ""


@dataclass(frozen=True)
class DrainReport:
    """What a drain did and what is left."""

    mode: DrainMode
    generation: int
    to_generation: int | None
    handled: int = 0
    failed: int = 0
    dead_lettered: int = 0
    adopted: int = 0
    interrupted: bool = False
    seconds: float = 0.0
    longest_batch_seconds: float | None = None
    remaining: tuple[TopicBacklog, ...] = field(default_factory=tuple)
    blocked: tuple[BlockedKey, ...] = field(default_factory=tuple)

    @property
    def rows_left(self) -> int:
        """Pending, in-flight and dead rows of G still in the outbox."""
        return sum(t.unfinished + t.dead for t in self.remaining)

    def as_json(self) -> dict[str, Any]:
        """JSON-ready (also what the ledger records)."""
        return {
            "mode": str(self.mode),
            "generation": self.generation,
            "to_generation": self.to_generation,
            "handled": self.handled,
            "failed": self.failed,
            "dead_lettered": self.dead_lettered,
            "adopted": self.adopted,
            "interrupted": self.interrupted,
            "seconds": round(self.seconds, 3),
            "longest_batch_seconds": self.longest_batch_seconds,
            "remaining": [t.as_json() for t in self.remaining if t.unfinished or t.dead],
            "blocked": [b.as_json() for b in self.blocked],
        }


def preflight(conn: Connection, schema: str, generation: int, *, stale_after: float) -> Preflight:
    """Read G's backlog per topic, its live workers and the active generation."""
    try:
        with translated():
            topics = OUTBOX(schema).all(
                conn, "backlog_by_topic", {"generation": generation}, into=TopicBacklog
            )
            record = generations.get(conn, schema, generation)
            status = read_status(conn, schema, stale_after_seconds=stale_after)
            active = generations.active(conn, schema)
    finally:
        conn.rollback()
    return Preflight(
        generation=generation,
        known=record is not None,
        tag=record.tag if record else None,
        state=str(record.state) if record else None,
        topics=tuple(topics),
        live_workers=tuple(w for w in status.workers if w.generation == generation and w.live),
        active_generation=active.generation if active else None,
    )


def gone_workers(workers: tuple[WorkerRow, ...]) -> list[WorkerRow]:
    """Workers registered from this host whose process no longer exists (read only)."""
    host = socket.gethostname()
    return [w for w in workers if w.host == host and not alive(w.pid)]


def release_gone_workers(
    conn: Connection, schema: str, workers: tuple[WorkerRow, ...]
) -> list[WorkerRow]:
    """Workers registered from this host whose process no longer exists: mark them stopped.

    A drain killed with SIGKILL and run again at once would otherwise wait for its own
    previous process's heartbeat to go stale.
    """
    released = gone_workers(workers)
    for worker in released:
        with translated(), conn.transaction():
            OUTBOX(schema).run(
                conn,
                "release_worker",
                {"id": worker.id, "reason": f"process {worker.pid} is gone (found by drain)"},
            )
    return released


@dataclass(frozen=True)
class Opening:
    """The preflight a drain starts from, and the workers of this host found gone."""

    plan: Preflight
    # registered as live but their process is gone: left out of ``plan.live_workers``
    gone: tuple[WorkerRow, ...]
    # whether they were marked stopped and their leases ended (never on a dry run)
    released: bool


def open_drain(
    conn: Connection, schema: str, generation: int, *, stale_after: float, dry_run: bool
) -> Opening:
    """Read G's preflight; workers of this host whose process is gone are released first and
    the preflight read again (a dry run writes nothing: they are only left out of the plan)."""
    plan = preflight(conn, schema, generation, stale_after=stale_after)
    if dry_run:
        gone = tuple(gone_workers(plan.live_workers))
        ids = {worker.id for worker in gone}
        live = tuple(w for w in plan.live_workers if w.id not in ids)
        return Opening(replace(plan, live_workers=live), gone, released=False)
    released = tuple(release_gone_workers(conn, schema, plan.live_workers))
    if released:
        plan = preflight(conn, schema, generation, stale_after=stale_after)
    return Opening(plan, released, released=True)


@dataclass(frozen=True)
class AdoptTarget:
    """Where an adopt drain re-stamps G's rows, and what the operator must be told."""

    generation: int
    # the target does not exist / failed, adopted into anyway under --force (None: neither)
    forced_past: str | None
    live_workers: int


def adopt_target(
    conn: Connection,
    schema: str,
    plan: Preflight,
    to_generation: int | None,
    *,
    stale_after: float,
    force: bool,
) -> AdoptTarget:
    """The generation to adopt into: ``to_generation``, else the active one; it must exist and
    not have failed (unless ``force``)."""
    target = to_generation or plan.active_generation
    if target is None:
        raise PreconditionFailed(
            "adopt mode needs a generation to adopt into, and no generation is active",
            hint=f"spectral-deploy drain --target-generation {plan.generation} "
            "--mode adopt --to-generation M",
        )
    if target == plan.generation:
        raise UsageError(f"cannot adopt generation {plan.generation} into itself")
    try:
        record = generations.get(conn, schema, target)
        fleet = read_status(conn, schema, stale_after_seconds=stale_after)
    finally:
        conn.rollback()
    check_adopt_target(record, target, force=force)
    forced_past = None
    if record is None or record.state is GenerationState.FAILED:
        forced_past = "does not exist" if record is None else "failed"
    live = sum(1 for w in fleet.workers if w.live and w.generation == target)
    return AdoptTarget(target, forced_past, live)


def check_preconditions(plan: Preflight, *, force: bool) -> None:
    """Refuse while live workers of G run, unless forced."""
    if plan.live_workers and not force:
        described = ", ".join(f"{w.host}:{w.pid} ({w.state})" for w in plan.live_workers)
        raise PreconditionFailed(
            f"generation {plan.generation} still has {len(plan.live_workers)} live worker(s): "
            f"{described}. A drain would compete with them (safe, but not what a drain is for)",
            hint=f"stop them first, or rerun with --force: "
            f"spectral-deploy drain --target-generation {plan.generation} --force",
        )


def check_adopt_target(record: Generation | None, target: int, *, force: bool) -> None:
    """Refuse to adopt into a generation that was never allocated or that failed."""
    if force:
        return
    hint = f"check `spectral-deploy generations list`, or rerun with --force to adopt into {target}"
    if record is None:
        raise GenerationRefused(
            f"generation {target} does not exist: rows adopted into it would never be claimed",
            hint=hint,
        )
    if record.state is GenerationState.FAILED:
        raise GenerationRefused(
            f"generation {target} failed (it was rolled back): its code is not what should "
            "handle these rows",
            hint=hint,
        )


def blocked_keys(
    conn: Connection, schema: str, generation: int, topics: frozenset[str]
) -> list[BlockedKey]:
    """Keys whose rows of ``generation`` (of ``topics``) wait behind a row the drain cannot
    claim: an earlier row of the key with another topic, or in another generation."""
    return OUTBOX(schema).all(
        conn,
        "blocked_keys",
        {"generation": generation, "topics": sorted(topics)},
        into=BlockedKey,
    )


def process(
    database: Database,
    outbox: OutboxConfig,
    generation: int,
    handlers: Handlers,
    *,
    app: str,
    max_rows_per_second: float | None = None,
    on_progress: Callable[[DrainProgress], None] = lambda progress: None,
    stop: threading.Event | None = None,
) -> DrainReport:
    """Claim and handle G's rows of the topics ``handlers`` knows, until none are left."""
    stop = stop or threading.Event()
    topics = handlers.topics
    started = time.monotonic()
    _record(database, "drain-start", generation, None, {"mode": "process", "app": app})
    settings = WorkerSettings.from_config(
        outbox,
        generation=generation,
        topics=topics,
        max_rows_per_second=max_rows_per_second,
    )
    worker = postgres_worker(
        database,
        outbox,
        handlers,
        settings,
        app=f"legacy-drain {app}",
        name=f"spectral-drain g{generation}",
        stop_on_request=False,
    )
    outcome: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: outcome.update(summary=worker.run()), daemon=True)
    with database.connect(autocommit=True) as conn:
        _reap(conn, database.schema, outbox.stale_after_seconds)
        total = unfinished_rows(conn, database.schema, generation, topics)
        thread.start()
        interrupted = False
        blocked: list[BlockedKey] = []
        last, stalled = -1, 0
        while thread.is_alive():
            left = unfinished_rows(conn, database.schema, generation, topics)
            on_progress(DrainProgress(done=max(0, total - left), total=total))
            if left == 0:
                break
            stalled = stalled + 1 if left == last else 0
            last = left
            if stalled >= STALL_POLLS:
                stalled = 0
                blocked = blocked_keys(conn, database.schema, generation, topics)
                if sum(b.rows for b in blocked) >= left:
                    break  # all that is left waits behind rows this drain cannot claim
                blocked = []
            if stop.wait(MONITOR_SECONDS):
                interrupted = True
                break
        worker.request_stop()
        thread.join()
        remaining = preflight(
            conn, database.schema, generation, stale_after=outbox.stale_after_seconds
        ).topics
        on_progress(
            DrainProgress(
                done=max(0, total - unfinished_rows(conn, database.schema, generation, topics)),
                total=total,
            )
        )
    summary = outcome.get("summary")
    report = DrainReport(
        mode=DrainMode.PROCESS,
        generation=generation,
        to_generation=None,
        handled=summary.handled if summary else 0,
        failed=summary.failed if summary else 0,
        dead_lettered=summary.dead_lettered if summary else 0,
        interrupted=interrupted,
        seconds=time.monotonic() - started,
        remaining=remaining,
        blocked=tuple(blocked),
    )
    _finish(database, report, error=summary.error if summary else "the drain worker died")
    return report


def adopt(
    database: Database,
    outbox: OutboxConfig,
    generation: int,
    to_generation: int,
    *,
    batch_rows: int = ADOPT_BATCH_ROWS,
    max_rows_per_second: float | None = None,
    on_progress: Callable[[DrainProgress], None] = lambda progress: None,
    stop: threading.Event | None = None,
    topics: frozenset[str] | None = None,
) -> DrainReport:
    """Re-stamp G's pending rows to ``to_generation`` in short transactions, until none are left.

    ``topics``: only rows of these topics (the ones ``to_generation``'s workers handle); the
    others stay at G and are in the report's ``remaining``. None: every topic."""
    if to_generation == generation:
        raise UsageError(f"cannot adopt generation {generation} into itself")
    stop = stop or threading.Event()
    sql = OUTBOX(database.schema)
    limiter = RateLimiter(max_rows_per_second) if max_rows_per_second else None
    cursor = ClaimCursor(outbox.poll_seconds)
    started = time.monotonic()
    _record(
        database,
        "drain-start",
        generation,
        to_generation,
        {"mode": "adopt", **({"topics": sorted(topics)} if topics is not None else {})},
    )
    adopted = 0
    longest = 0.0
    interrupted = False
    by_topic: dict[str, int] = {}
    with database.connect(autocommit=True) as conn:
        _reap(conn, database.schema, outbox.stale_after_seconds)
        total = unfinished_rows(conn, database.schema, generation, topics)
        while True:
            if stop.is_set():
                interrupted = True
                break
            limit = limiter.take(batch_rows) if limiter else batch_rows
            after_id = cursor.start()
            began = time.perf_counter()
            with translated(), conn.transaction():
                moved = sql.all(
                    conn,
                    "adopt_batch",
                    {
                        "from_generation": generation,
                        "to_generation": to_generation,
                        "after_id": after_id,
                        "limit": limit,
                        "topics": sorted(topics) if topics is not None else None,
                    },
                    into=_Adopted,
                )
                if moved:
                    sql.run(
                        conn,
                        "notify_generation",
                        {"channel": notify_channel(database.schema), "generation": to_generation},
                    )
            longest = max(longest, time.perf_counter() - began)
            if limiter:
                limiter.refund(limit - len(moved))
            adopted += len(moved)
            for row in moved:
                by_topic[row.topic] = by_topic.get(row.topic, 0) + 1
            cursor.claimed(max((row.id for row in moved), default=None))
            on_progress(DrainProgress(done=adopted, total=max(total, adopted)))
            if moved or not cursor.idle_now():
                continue
            # nothing adoptable now: done, or rows are held under leases that must end first
            if unfinished_rows(conn, database.schema, generation, topics) == 0:
                break
            _reap(conn, database.schema, outbox.stale_after_seconds)
            on_progress(
                DrainProgress(adopted, max(total, adopted), "waiting for rows under a lease")
            )
            if stop.wait(outbox.poll_seconds):
                interrupted = True
                break
        remaining = preflight(
            conn, database.schema, generation, stale_after=outbox.stale_after_seconds
        ).topics
    report = DrainReport(
        mode=DrainMode.ADOPT,
        generation=generation,
        to_generation=to_generation,
        adopted=adopted,
        interrupted=interrupted,
        seconds=time.monotonic() - started,
        longest_batch_seconds=round(longest, 4),
        remaining=remaining,
    )
    _finish(database, report, error=None, extra={"adopted_by_topic": by_topic})
    return report


def unfinished_rows(
    conn: Connection, schema: str, generation: int, topics: frozenset[str] | None
) -> int:
    """Pending and in-flight rows of ``generation`` (of ``topics``; None: all)."""
    count = OUTBOX(schema).value(
        conn,
        "unfinished_rows",
        {"generation": generation, "topics": sorted(topics) if topics is not None else None},
    )
    return int(count or 0)


def _reap(conn: Connection, schema: str, stale_after: float) -> None:
    OUTBOX(schema).run(conn, "reap_dead_workers", {"stale_after_seconds": stale_after})


@dataclass(frozen=True)
class _Adopted:
    """A row ``adopt_batch`` re-stamped."""

    id: int
    topic: str


def _record(
    database: Database,
    action: str,
    generation: int,
    to_generation: int | None,
    details: dict[str, Any],
) -> None:
    with database.connect() as conn:
        append(
            conn,
            database.schema,
            EntryKind.DRAIN,
            action,
            outcome=Outcome.STARTED,
            from_generation=generation,
            to_generation=to_generation,
            generation=generation,
            details={**details, "pid": os.getpid()},
        )
        conn.commit()


def _finish(
    database: Database,
    report: DrainReport,
    *,
    error: str | None,
    extra: dict[str, Any] | None = None,
) -> None:
    if report.interrupted:
        outcome = Outcome.INTERRUPTED
    elif error or report.rows_left:
        outcome = Outcome.FAILED
    else:
        outcome = Outcome.OK
    with database.connect() as conn:
        append(
            conn,
            database.schema,
            EntryKind.DRAIN,
            "drain-finish",
            outcome=outcome,
            generation=report.generation,
            from_generation=report.generation,
            to_generation=report.to_generation,
            details={**report.as_json(), **(extra or {}), "error": error},
        )
        conn.commit()
