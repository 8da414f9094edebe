"""The outbox store on PostgreSQL: one autocommit connection, every operation one statement."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from spectral_deploy.db.access import statements
from spectral_deploy.outbox.store import (
    Beat,
    Claimed,
    ClaimResult,
    Lease,
    LeaseBatch,
    WorkerInfo,
    WorkerState,
)

__all__ = ["NOTIFY_CHANNEL_PREFIX", "Listener", "PostgresStore", "notify_channel", "storable"]

log = logging.getLogger(__name__)

NOTIFY_CHANNEL_PREFIX = "spectral_outbox."
STOP_PREFIX = "stop:"
Connection = psycopg.Connection[Any]
OUTBOX = statements("spectral_deploy.outbox", "outbox.sql")
_no_rows: tuple[Claimed, ...] = ()


def notify_channel(schema: str) -> str:
    """The channel the outbox trigger notifies for ``schema``."""
    return f"{NOTIFY_CHANNEL_PREFIX}{schema}"


def storable(text: str) -> str:
    """``text`` as a text column takes it: NUL bytes and lone surrogates escaped.

    An error message is whatever the handler raised; a write that fails on it would leave
    the row with no outcome.
    """
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    if not text.isascii():
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


class PostgresStore:
    """An ``OutboxStore`` over one connection (autocommit: each call is one transaction)."""

    def __init__(
        self,
        conn: Connection,
        schema: str,
        *,
        archive: bool = False,
        synchronous_commit: bool = False,
    ) -> None:
        self._conn = conn
        self._conn.autocommit = True
        self._schema = schema
        self._archive = archive
        self._sql = OUTBOX(schema)
        if not synchronous_commit:
            # a lost ack or claim on a server crash means a redelivery, which
            # at-least-once delivery allows; the commit no longer waits for the disk
            self._sql.run(self._conn, "synchronous_commit_off")

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
        ids, tokens = _arrays(acks)
        rows = self._sql.all(
            self._conn,
            "ack_and_claim",
            {
                "worker": worker,
                "generation": generation,
                "ack_ids": ids,
                "ack_tokens": tokens,
                "archive": self._archive,
                "after_id": after_id,
                "topics": sorted(topics) if topics is not None else None,
                "limit": limit,
                "lease_seconds": lease_seconds,
            },
            into=Claimed,
            binary=True,  # measured: +20% rows/s for one loop (ints and timestamps load faster)
        )
        if not rows:
            return ClaimResult(acked=0, events=_no_rows)
        first = rows[0]
        if first.id is None:  # nothing claimed: one row with the ack count and NULLs
            return ClaimResult(acked=first.acked, events=_no_rows)
        return ClaimResult(acked=first.acked, events=tuple(rows))

    def retry(
        self, worker: UUID, lease: Lease, error: str, delay_seconds: float, *, attempt: int
    ) -> bool:
        """See ``OutboxStore.retry``."""
        touched = self._sql.run(
            self._conn,
            "schedule_retry",
            {
                "worker": worker,
                "id": lease.id,
                "token": lease.token,
                "attempt": attempt,
                "error": storable(error),
                "delay_seconds": delay_seconds,
            },
        )
        return touched > 0

    def dead_letter(self, worker: UUID, lease: Lease, error: str, *, attempt: int) -> bool:
        """See ``OutboxStore.dead_letter``."""
        touched = self._sql.run(
            self._conn,
            "dead_letter",
            {
                "worker": worker,
                "id": lease.id,
                "token": lease.token,
                "attempt": attempt,
                "error": storable(error),
            },
        )
        return touched > 0

    def release(self, worker: UUID, leases: Sequence[Lease]) -> int:
        """See ``OutboxStore.release``."""
        if not leases:
            return 0
        ids, tokens = _arrays(leases)
        return self._sql.run(
            self._conn, "release_leases", {"worker": worker, "ids": ids, "tokens": tokens}
        )

    def register_worker(self, info: WorkerInfo) -> None:
        """See ``OutboxStore.register_worker``."""
        self._sql.run(
            self._conn,
            "register_worker",
            {
                "id": info.id,
                "generation": info.generation,
                "host": info.host,
                "pid": info.pid,
                "app": info.app,
                "concurrency": info.concurrency,
                "lease_seconds": info.lease_seconds,
                "stale_after_seconds": info.stale_after_seconds,
                "heartbeat_seconds": info.heartbeat_seconds,
                "claim_topics": sorted(info.claim_topics)
                if info.claim_topics is not None
                else None,
            },
        )

    def set_worker_state(
        self,
        worker: UUID,
        state: WorkerState,
        error: str | None = None,
        topics: frozenset[str] | None = None,
    ) -> None:
        """See ``OutboxStore.set_worker_state``."""
        self._sql.run(
            self._conn,
            "set_worker_state",
            {
                "id": worker,
                "state": str(state),
                "error": storable(error) if error is not None else None,
                "topics": sorted(topics) if topics is not None else None,
            },
        )

    def heartbeat(self, worker: UUID, leases: Sequence[Lease], lease_seconds: float) -> Beat:
        """See ``OutboxStore.heartbeat``."""
        ids, tokens = _arrays(leases)
        beat = self._sql.one(
            self._conn,
            "heartbeat",
            {"worker": worker, "ids": ids, "tokens": tokens, "lease_seconds": lease_seconds},
            into=_Beat,
        )
        assert beat is not None  # the statement always returns its one row
        return Beat(
            renewed=frozenset(beat.renewed),
            was_reaped=bool(beat.was_reaped),
            stop_requested=bool(beat.stop_requested),
        )

    def reap(self, stale_after_seconds: float) -> int:
        """See ``OutboxStore.reap``."""
        return self._sql.run(
            self._conn, "reap_dead_workers", {"stale_after_seconds": stale_after_seconds}
        )

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


@dataclass(frozen=True)
class _Beat:
    """The row of ``heartbeat`` (NULL flags: the worker's row is gone)."""

    was_reaped: bool | None
    stop_requested: bool | None
    renewed: list[int]


def _arrays(leases: Sequence[Lease]) -> tuple[str, str]:
    """Array literals of ids and tokens: one text parameter each instead of dumped ints."""
    if isinstance(leases, LeaseBatch):
        count = len(leases.ids)
        return _array(leases.ids), "{" + ",".join([str(leases.token)] * count) + "}"
    return _array(lease[0] for lease in leases), _array(lease[1] for lease in leases)


def _array(values: Iterable[int]) -> str:
    return "{" + ",".join(map(str, values)) + "}"


class Listener:
    """LISTEN on the outbox channel in a thread; calls ``on_wake`` for our generation, and
    ``on_stop`` when its workers are told to stop.

    Notifications are a fast path only: if one is lost (connection drop, listener
    restart) the workers' polling still finds the rows.
    """

    def __init__(
        self,
        connect: Callable[[], Connection],
        schema: str,
        generation: int,
        on_wake: Callable[[], None],
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self._connect = connect
        self._channel = notify_channel(schema)
        self._generation = str(generation)
        self._stop_payload = f"{STOP_PREFIX}{generation}"
        self._on_wake = on_wake
        self._on_stop = on_stop
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-listener", daemon=True)

    def start(self) -> None:
        """Start listening in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop at the next timeout tick, and wait for it."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self._connect() as conn:
                    conn.autocommit = True
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
                    # a notification may have been missed while (re)connecting
                    self._on_wake()
                    while not self._stop.is_set():
                        for notify in conn.notifies(timeout=0.5):
                            if notify.payload == self._generation:
                                self._on_wake()
                            elif notify.payload == self._stop_payload and self._on_stop:
                                self._on_stop()
            except Exception as exc:  # the listener must outlive a lost connection
                if self._stop.is_set():
                    return
                log.warning("action=outbox.listener_error error=%s", type(exc).__name__)
                self._stop.wait(1.0)
