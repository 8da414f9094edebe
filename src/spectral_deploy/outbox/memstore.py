"""The in-memory twin of ``PostgresStore``: the same claim, lease, fencing and order rules.

It lets unit tests drive the real ``Worker`` without a database. Time comes from an
injectable clock so lease expiry and backoff can be tested without sleeping. Payloads are
kept as the codec's text, as the database keeps them.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from spectral_deploy.outbox.codec import encode
from spectral_deploy.outbox.store import Beat, Claimed, ClaimResult, Lease, WorkerInfo, WorkerState

__all__ = ["MemoryRow", "MemoryStore", "MemoryWorker"]


@dataclass
class MemoryRow:
    """One outbox row."""

    id: int
    generation: int
    topic: str
    key: str | None
    payload_text: str
    state: str = "pending"
    attempt: int = 0
    available_at: float = 0.0
    lease_owner: UUID | None = None
    lease_token: int | None = None
    lease_expires_at: float | None = None
    last_error: str | None = None
    original_generation: int | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def leased(self, now: float) -> bool:
        """Under a live lease."""
        return self.lease_expires_at is not None and self.lease_expires_at >= now


@dataclass
class MemoryWorker:
    """One registered worker."""

    info: WorkerInfo
    state: WorkerState = WorkerState.STARTING
    heartbeat_at: float = 0.0
    reaped: bool = False
    stop_requested: bool = False
    topics: frozenset[str] | None = None
    last_error: str | None = None


class MemoryStore:
    """An ``OutboxStore`` over dicts, safe to share between threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.rows: dict[int, MemoryRow] = {}
        self.finished: list[int] = []
        self.workers: dict[UUID, MemoryWorker] = {}
        self._next_id = 1
        self._tokens = itertools.count(1)
        self._lock = threading.Lock()

    # -- what the app does ---------------------------------------------------

    def emit(
        self, generation: int, topic: str, payload: Any, *, key: str | None = None, delay: float = 0
    ) -> int:
        """Insert a row, as ``emit`` does in PostgreSQL (the payload through the codec)."""
        return self.emit_text(generation, topic, encode(payload), key=key, delay=delay)

    def emit_text(
        self, generation: int, topic: str, text: str, *, key: str | None = None, delay: float = 0
    ) -> int:
        """Insert a row whose payload text did not come through the codec (SQL, older code)."""
        with self._lock:
            row = MemoryRow(
                id=self._next_id,
                generation=generation,
                topic=topic,
                key=key,
                payload_text=text,
                available_at=self.clock() + delay,
            )
            self.rows[row.id] = row
            self._next_id += 1
            return row.id

    # -- what an operator does -----------------------------------------------

    def retry_dead(self, row_id: int) -> None:
        """``outbox dead retry``: pending again, a fresh budget; the fence is not reset."""
        with self._lock:
            row = self.rows[row_id]
            row.state = "pending"
            row.attempt = 0
            row.available_at = self.clock()
            row.lease_owner = None
            row.lease_expires_at = None

    def request_stop(self, generation: int) -> int:
        """Tell the generation's workers to stop claiming."""
        with self._lock:
            told = 0
            for entry in self.workers.values():
                live = entry.state is not WorkerState.STOPPED
                if entry.info.generation == generation and live and not entry.stop_requested:
                    entry.stop_requested = True
                    told += 1
            return told

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
            picked: list[MemoryRow] = []
            for row in sorted(self.rows.values(), key=lambda r: r.id):
                if len(picked) >= limit:
                    break
                if topics is not None and row.topic not in topics:
                    continue
                if self._claimable(row, generation, after_id, now):
                    picked.append(row)
            if not picked:
                return ClaimResult(acked=acked, events=())
            token = next(self._tokens)
            suspects = [row for row in picked if row.lease_expires_at is not None]
            suspect = suspects[0] if suspects else None
            claimed: list[Claimed] = []
            for row in picked:
                if row.lease_expires_at is not None and row is not suspect:
                    continue
                if row is suspect:
                    row.attempt += 1
                row.lease_owner = worker
                row.lease_token = token
                row.lease_expires_at = now + lease_seconds
                claimed.append(_claimed(row, suspect=row is suspect, acked=acked))
            claimed.sort(key=lambda c: (not c.suspect, c.id))
            return ClaimResult(acked=acked, events=tuple(claimed))

    def retry(
        self, worker: UUID, lease: Lease, error: str, delay_seconds: float, *, attempt: int
    ) -> bool:
        """See ``OutboxStore.retry``."""
        with self._lock:
            row = self._owned(worker, lease)
            if row is None:
                return False
            row.available_at = self.clock() + delay_seconds
            row.attempt = attempt
            row.lease_owner = None
            row.lease_expires_at = None
            row.last_error = error
            return True

    def dead_letter(self, worker: UUID, lease: Lease, error: str, *, attempt: int) -> bool:
        """See ``OutboxStore.dead_letter``."""
        with self._lock:
            row = self._owned(worker, lease)
            if row is None:
                return False
            row.state = "dead"
            row.attempt = attempt
            row.lease_owner = None
            row.lease_expires_at = None
            row.last_error = error
            return True

    def release(self, worker: UUID, leases: Sequence[Lease]) -> int:
        """See ``OutboxStore.release``."""
        with self._lock:
            released = 0
            for lease in leases:
                row = self._owned(worker, lease)
                if row is not None:
                    row.lease_owner = None
                    row.lease_expires_at = None
                    released += 1
            return released

    def register_worker(self, info: WorkerInfo) -> None:
        """See ``OutboxStore.register_worker``."""
        with self._lock:
            self.workers[info.id] = MemoryWorker(info=info, heartbeat_at=self.clock())

    def set_worker_state(
        self,
        worker: UUID,
        state: WorkerState,
        error: str | None = None,
        topics: frozenset[str] | None = None,
    ) -> None:
        """See ``OutboxStore.set_worker_state``."""
        with self._lock:
            entry = self.workers[worker]
            entry.state = state
            entry.heartbeat_at = self.clock()
            entry.last_error = error or entry.last_error
            entry.topics = topics if topics is not None else entry.topics

    def heartbeat(self, worker: UUID, leases: Sequence[Lease], lease_seconds: float) -> Beat:
        """See ``OutboxStore.heartbeat``."""
        with self._lock:
            now = self.clock()
            entry = self.workers[worker]
            was_reaped, entry.reaped = entry.reaped, False
            entry.heartbeat_at = now
            renewed: set[int] = set()
            for lease in leases:
                row = self._owned(worker, lease)
                if row is not None:
                    row.lease_expires_at = now + lease_seconds
                    renewed.add(row.id)
            return Beat(
                renewed=frozenset(renewed),
                was_reaped=was_reaped,
                stop_requested=entry.stop_requested,
            )

    def reap(self, stale_after_seconds: float) -> int:
        """See ``OutboxStore.reap``."""
        with self._lock:
            now = self.clock()
            released = 0
            for worker_id, entry in self.workers.items():
                threshold = entry.info.stale_after_seconds or stale_after_seconds
                stale = now - entry.heartbeat_at > threshold
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
        if row is None or row.state != "pending":
            return None
        if row.lease_owner != worker or row.lease_token != lease.token:
            return None
        return row

    def _claimable(self, row: MemoryRow, generation: int, after_id: int, now: float) -> bool:
        if row.generation != generation or row.state != "pending" or row.id <= after_id:
            return False
        if row.available_at > now or row.leased(now):
            return False
        if row.key is None:
            return True
        return not any(
            other.key == row.key
            and other.state == "pending"
            and other.id != row.id
            and (other.id < row.id or other.leased(now))
            for other in self.rows.values()
        )


def _claimed(row: MemoryRow, *, suspect: bool, acked: int) -> Claimed:
    assert row.lease_token is not None
    return Claimed(
        id=row.id,
        topic=row.topic,
        key=row.key,
        payload_text=row.payload_text,
        generation=row.generation,
        attempt=row.attempt if suspect else row.attempt + 1,
        token=row.lease_token,
        created_at=row.created_at,
        original_generation=row.original_generation,
        suspect=suspect,
        acked=acked,
    )
