"""The in-memory twin of ``PostgresStore``: the same claim, lease and fencing rules.

It lets unit tests drive the real ``Worker`` without a database. Time comes from an
injectable clock so lease expiry and backoff can be tested without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from spectral_deploy.outbox.handlers import Event
from spectral_deploy.outbox.store import ClaimResult, Lease, WorkerInfo, WorkerState

__all__ = ["MemoryRow", "MemoryStore", "MemoryWorker"]


@dataclass
class MemoryRow:
    """One outbox row."""

    id: int
    generation: int
    topic: str
    key: str | None
    payload: Any
    state: str = "pending"
    attempt: int = 0
    available_at: float = 0.0
    lease_owner: UUID | None = None
    lease_expires_at: float | None = None
    last_error: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class MemoryWorker:
    """One registered worker."""

    info: WorkerInfo
    state: WorkerState = WorkerState.STARTING
    heartbeat_at: float = 0.0
    reaped: bool = False
    last_error: str | None = None


class MemoryStore:
    """An ``OutboxStore`` over dicts, safe to share between threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.rows: dict[int, MemoryRow] = {}
        self.finished: list[int] = []
        self.workers: dict[UUID, MemoryWorker] = {}
        self._next_id = 1
        self._lock = threading.Lock()

    # -- what the app does ---------------------------------------------------

    def emit(
        self, generation: int, topic: str, payload: Any, *, key: str | None = None, delay: float = 0
    ) -> int:
        """Insert a row, as ``emit`` does in PostgreSQL."""
        with self._lock:
            row = MemoryRow(
                id=self._next_id,
                generation=generation,
                topic=topic,
                key=key,
                payload=payload,
                available_at=self.clock() + delay,
            )
            self.rows[row.id] = row
            self._next_id += 1
            return row.id

    # -- OutboxStore ---------------------------------------------------------

    def ack_and_claim(
        self,
        worker: UUID,
        generation: int,
        acks: Sequence[Lease],
        *,
        limit: int,
        lease_seconds: float,
        after_id: int,
        topics: frozenset[str] | None = None,
    ) -> ClaimResult:
        """See ``OutboxStore.ack_and_claim``."""
        with self._lock:
            now = self.clock()
            acked = 0
            for lease in acks:
                row = self._owned(worker, lease)
                if row is not None:
                    del self.rows[row.id]
                    self.finished.append(row.id)
                    acked += 1
            claimed: list[Event] = []
            for row in sorted(self.rows.values(), key=lambda r: r.id):
                if len(claimed) >= limit:
                    break
                if not self._claimable(row, generation, after_id, now):
                    continue
                if topics is not None and row.topic not in topics:
                    continue
                row.attempt += 1
                row.lease_owner = worker
                row.lease_expires_at = now + lease_seconds
                claimed.append(_event(row))
            return ClaimResult(acked=acked, events=tuple(claimed))

    def retry(self, worker: UUID, lease: Lease, error: str, delay_seconds: float) -> bool:
        """See ``OutboxStore.retry``."""
        with self._lock:
            row = self._owned(worker, lease)
            if row is None:
                return False
            row.available_at = self.clock() + delay_seconds
            row.lease_owner = None
            row.lease_expires_at = None
            row.last_error = error
            return True

    def dead_letter(self, worker: UUID, lease: Lease, error: str) -> bool:
        """See ``OutboxStore.dead_letter``."""
        with self._lock:
            row = self._owned(worker, lease)
            if row is None:
                return False
            row.state = "dead"
            row.lease_owner = None
            row.lease_expires_at = None
            row.last_error = error
            return True

    def register_worker(self, info: WorkerInfo) -> None:
        """See ``OutboxStore.register_worker``."""
        with self._lock:
            self.workers[info.id] = MemoryWorker(info=info, heartbeat_at=self.clock())

    def set_worker_state(self, worker: UUID, state: WorkerState, error: str | None = None) -> None:
        """See ``OutboxStore.set_worker_state``."""
        with self._lock:
            entry = self.workers[worker]
            entry.state = state
            entry.heartbeat_at = self.clock()
            entry.last_error = error or entry.last_error

    def heartbeat(self, worker: UUID, generation: int, lease_seconds: float) -> int:
        """See ``OutboxStore.heartbeat``."""
        with self._lock:
            now = self.clock()
            self.workers[worker].heartbeat_at = now
            renewed = 0
            for row in self.rows.values():
                if row.generation == generation and row.lease_owner == worker:
                    row.lease_expires_at = now + lease_seconds
                    renewed += 1
            return renewed

    def reap(self, stale_after_seconds: float) -> int:
        """See ``OutboxStore.reap``."""
        with self._lock:
            now = self.clock()
            released = 0
            for worker_id, entry in self.workers.items():
                stale = now - entry.heartbeat_at > stale_after_seconds
                if entry.reaped or entry.state is WorkerState.STOPPED or not stale:
                    continue
                entry.reaped = True
                for row in self.rows.values():
                    expires = row.lease_expires_at
                    if row.lease_owner == worker_id and expires is not None and expires > now:
                        row.lease_expires_at = now
                        released += 1
            return released

    def close(self) -> None:
        """Nothing to release."""

    # -- helpers -------------------------------------------------------------

    def snapshot(self) -> list[MemoryRow]:
        """Copies of the rows, for assertions."""
        with self._lock:
            return [replace(row) for row in sorted(self.rows.values(), key=lambda r: r.id)]

    def _owned(self, worker: UUID, lease: Lease) -> MemoryRow | None:
        row = self.rows.get(lease.id)
        if row is None or row.lease_owner != worker or row.attempt != lease.attempt:
            return None
        return row

    def _claimable(self, row: MemoryRow, generation: int, after_id: int, now: float) -> bool:
        if row.generation != generation or row.state != "pending" or row.id <= after_id:
            return False
        if row.available_at > now:
            return False
        if row.lease_expires_at is not None and row.lease_expires_at >= now:
            return False
        if row.key is None:
            return True
        return not any(
            other.generation == generation
            and other.key == row.key
            and other.state == "pending"
            and other.id < row.id
            for other in self.rows.values()
        )


def _event(row: MemoryRow) -> Event:
    return Event(
        id=row.id,
        topic=row.topic,
        key=row.key,
        payload=row.payload,
        generation=row.generation,
        attempt=row.attempt,
        created_at=row.created_at,
    )
