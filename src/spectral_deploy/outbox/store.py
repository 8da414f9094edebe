"""What a worker needs from storage, as a narrow Protocol with two implementations.

``PostgresStore`` (the real one, ``pgstore.py``) and ``MemoryStore`` (its in-memory twin,
``memstore.py``, for unit tests of the worker without a database) follow the same rules:

* a claim leases rows of one generation to one worker: ``attempt`` goes up by one and is
  the fencing token; rows are fresh or their lease expired; keyed rows only at the head of
  their key; ids above ``after_id``;
* an ack, a retry or a dead-letter only succeeds for the owner presenting the attempt
  it claimed, so a row claimed again after its lease lapsed is never finished twice;
* acked rows leave the table; dead rows stay, with their last error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from spectral_deploy.outbox.handlers import Event

__all__ = [
    "ClaimResult",
    "Lease",
    "OutboxStore",
    "WorkerInfo",
    "WorkerState",
]


class WorkerState(StrEnum):
    """A worker's lifecycle; the value is the text stored in ``workers.state``."""

    STARTING = "starting"
    RUNNING = "running"
    DRAINING = "draining"
    STOPPED = "stopped"


@dataclass(frozen=True)
class Lease:
    """A claimed row as the claimer holds it: the id and the attempt it was claimed at."""

    id: int
    attempt: int


@dataclass(frozen=True)
class ClaimResult:
    """The rows acked by the statement and the events newly leased."""

    acked: int
    events: tuple[Event, ...]


@dataclass(frozen=True)
class WorkerInfo:
    """A worker process as it registers itself."""

    id: UUID
    generation: int
    host: str
    pid: int
    app: str
    concurrency: int
    lease_seconds: float


class OutboxStore(Protocol):
    """One session with the outbox (a worker opens one per claim loop)."""

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
        """Finish ``acks``; lease up to ``limit`` rows of ``generation`` above ``after_id``.

        ``topics`` (None: all) restricts the claim to rows whose topic has a handler.
        """
        ...

    def retry(self, worker: UUID, lease: Lease, error: str, delay_seconds: float) -> bool:
        """Release a failed row for another attempt after ``delay_seconds``."""
        ...

    def dead_letter(self, worker: UUID, lease: Lease, error: str) -> bool:
        """Park a row that used up its attempts."""
        ...

    def register_worker(self, info: WorkerInfo) -> None:
        """Add the worker to the registry in state ``starting``."""
        ...

    def set_worker_state(self, worker: UUID, state: WorkerState, error: str | None = None) -> None:
        """Move the worker to ``state`` (and record an error, if any)."""
        ...

    def heartbeat(self, worker: UUID, generation: int, lease_seconds: float) -> int:
        """Refresh the heartbeat and extend this worker's leases; returns leases renewed."""
        ...

    def reap(self, stale_after_seconds: float) -> int:
        """End the leases of workers whose heartbeat is stale; returns rows released."""
        ...

    def close(self) -> None:
        """Release the session."""
        ...
