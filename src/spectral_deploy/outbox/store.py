"""What a worker needs from storage, as a narrow Protocol with two implementations.

``PostgresStore`` (the real one, ``pgstore.py``) and ``MemoryStore`` (its in-memory twin,
``memstore.py``, for unit tests of the worker without a database) follow the same rules:

* a claim leases rows of one generation to one worker under a new *token* (the fence: tokens
  never repeat); rows are fresh or their lease ended; ids above ``after_id``;
* a keyed row is claimed only when no other pending row of its key, in any generation, has a
  lower id or a live lease: rows of one key run one at a time, in id order;
* ``attempt`` is the retry budget: a failed run is charged when its retry or dead-letter is
  written. A row whose last lease ended without an outcome (its worker died or lost it) is a
  *suspect*: at most one per claim, charged at the claim, since it runs first. A crash thus
  charges only rows whose handler started;
* an ack, a retry, a dead-letter, a release or a renewal only succeeds for the owner presenting
  the token it claimed with, so a row claimed again after its lease lapsed is never finished
  twice;
* acked rows leave the table; dead rows stay, with their last error.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple, Protocol, overload
from uuid import UUID

from spectral_deploy.outbox.codec import decode

__all__ = [
    "Beat",
    "ClaimResult",
    "Claimed",
    "Lease",
    "LeaseBatch",
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


class Lease(NamedTuple):
    """A claimed row as its claimer holds it: the id and the token it was claimed under."""

    id: int
    token: int


class LeaseBatch(Sequence[Lease]):
    """Leases of rows claimed together: their ids, one token (a claim's rows share it).

    What a worker acks and renews: kept as a list of ids so the hot path builds no tuple per
    row; a store may read ``ids`` and ``token`` directly.
    """

    __slots__ = ("ids", "token")

    def __init__(self, ids: list[int], token: int) -> None:
        self.ids = ids
        self.token = token

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, index: int) -> Lease: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Lease]: ...

    def __getitem__(self, index: int | slice) -> Lease | Sequence[Lease]:
        if isinstance(index, slice):
            return [Lease(row_id, self.token) for row_id in self.ids[index]]
        return Lease(self.ids[index], self.token)

    def __iter__(self) -> Iterator[Lease]:
        token = self.token
        return (Lease(row_id, token) for row_id in self.ids)


class Claimed(NamedTuple):
    """A row as a claim returns it; the payload is still the text the database holds."""

    id: int
    topic: str
    key: str | None
    payload_text: str
    generation: int
    # the run this claim is for, 1-based within the row's budget
    attempt: int
    token: int
    created_at: datetime
    original_generation: int | None
    # its last lease ended without an outcome: it runs first and was charged at the claim
    suspect: bool
    # rows the claim's statement acked (the same on every row of one claim)
    acked: int = 0

    @property
    def lease(self) -> Lease:
        """What an ack, retry, dead-letter or renewal presents."""
        return Lease(self.id, self.token)

    @property
    def payload(self) -> Any:
        """The decoded payload (raises ``PayloadError`` for a row the codec cannot read)."""
        return decode(self.payload_text)


@dataclass(frozen=True)
class ClaimResult:
    """The rows acked by the statement and the rows newly leased (a suspect first)."""

    acked: int
    events: tuple[Claimed, ...]


@dataclass(frozen=True)
class Beat:
    """What a heartbeat learned."""

    renewed: frozenset[int]
    # another worker found this one's heartbeat stale and ended its leases: it is re-armed now
    was_reaped: bool
    # the generation's workers were told to stop claiming (a rollback)
    stop_requested: bool


@dataclass(frozen=True)
class WorkerInfo:
    """A worker process as it registers itself, with the settings others judge it by."""

    id: UUID
    generation: int
    host: str
    pid: int
    app: str
    concurrency: int
    lease_seconds: float
    stale_after_seconds: float | None = None
    heartbeat_seconds: float | None = None
    # what it claims (None: every topic)
    claim_topics: frozenset[str] | None = None


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

    def retry(
        self, worker: UUID, lease: Lease, error: str, delay_seconds: float, *, attempt: int
    ) -> bool:
        """Release a failed row for another run after ``delay_seconds``, ``attempt`` charged."""
        ...

    def dead_letter(self, worker: UUID, lease: Lease, error: str, *, attempt: int) -> bool:
        """Park a row that used up its attempts or cannot be run, ``attempt`` charged."""
        ...

    def release(self, worker: UUID, leases: Sequence[Lease]) -> int:
        """Give back rows this worker will not run, uncharged; returns how many."""
        ...

    def register_worker(self, info: WorkerInfo) -> None:
        """Add the worker to the registry in state ``starting``."""
        ...

    def set_worker_state(
        self,
        worker: UUID,
        state: WorkerState,
        error: str | None = None,
        topics: frozenset[str] | None = None,
    ) -> None:
        """Move the worker to ``state`` (and record an error, and its handlers' topics)."""
        ...

    def heartbeat(self, worker: UUID, leases: Sequence[Lease], lease_seconds: float) -> Beat:
        """Refresh the heartbeat (re-arming a reaped worker); renew the leases still held."""
        ...

    def reap(self, stale_after_seconds: float) -> int:
        """End the leases of workers stale by their own threshold (``stale_after_seconds`` for
        workers that registered none); returns rows released."""
        ...

    def close(self) -> None:
        """Release the session."""
        ...
