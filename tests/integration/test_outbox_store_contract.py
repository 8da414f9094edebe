"""One contract, two stores: ``MemoryStore`` (the unit tests' twin) and ``PostgresStore``.

The worker's unit tests run against the in-memory twin; these cases hold both stores to the
same claim, lease, fencing, order, retry, registry and stop rules, so the twin cannot drift
from the database. Time is moved, never slept: the memory store's clock is advanced, and the
database's rows are shifted into the past by the same amount (leases, availability and
heartbeats), which is what the passing of that time looks like to the SQL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID, uuid4

import pytest

from spectral_deploy import emit
from spectral_deploy.db import Database
from spectral_deploy.outbox.fleet import request_stop
from spectral_deploy.outbox.memstore import MemoryStore
from spectral_deploy.outbox.pgstore import PostgresStore
from spectral_deploy.outbox.store import OutboxStore, WorkerInfo
from tests.integration.workers import ensure_generations, pass_time

LEASE = 30.0


@dataclass(frozen=True)
class RowView:
    """What a contract case reads back of one row (None: finished)."""

    state: str
    attempt: int
    last_error: str | None


class Backend(Protocol):
    """A store under test and the app's and the clock's side of it."""

    def store(self) -> OutboxStore: ...
    def emit(self, generation: int, topic: str, payload: Any, key: str | None = None) -> int: ...
    def row(self, row_id: int) -> RowView | None: ...
    def advance(self, seconds: float) -> None: ...
    def request_stop(self, generation: int) -> int: ...


class MemoryBackend:
    """The twin, on a clock the case moves."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.memory = MemoryStore(clock=lambda: self.now)

    def store(self) -> OutboxStore:
        return self.memory

    def emit(self, generation: int, topic: str, payload: Any, key: str | None = None) -> int:
        return self.memory.emit(generation, topic, payload, key=key)

    def row(self, row_id: int) -> RowView | None:
        found = self.memory.rows.get(row_id)
        return None if found is None else RowView(found.state, found.attempt, found.last_error)

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def request_stop(self, generation: int) -> int:
        return self.memory.request_stop(generation)


class PostgresBackend:
    """The real store on the test's database; time passes by shifting the rows' timestamps."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.opened: list[PostgresStore] = []

    def store(self) -> OutboxStore:
        opened = PostgresStore(self.database.connect(), self.database.schema)
        self.opened.append(opened)
        return opened

    def emit(self, generation: int, topic: str, payload: Any, key: str | None = None) -> int:
        with self.database.connect() as conn:
            row_id = emit(conn, topic, payload, key=key, generation=generation)
            conn.commit()
        return row_id

    def row(self, row_id: int) -> RowView | None:
        with self.database.connect() as conn:
            found = conn.execute(
                "SELECT state, attempt, last_error FROM spectral.outbox WHERE id = %s", (row_id,)
            ).fetchone()
        return None if found is None else RowView(str(found[0]), int(found[1]), found[2])

    def advance(self, seconds: float) -> None:
        pass_time(self.database, seconds)

    def request_stop(self, generation: int) -> int:
        with self.database.connect() as conn:
            told = request_stop(conn, self.database.schema, generation)
            conn.commit()
        return told

    def close(self) -> None:
        for opened in self.opened:
            opened.close()


@pytest.fixture(params=["memory", "postgres"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """Each contract case runs once per store."""
    if request.param == "memory":
        yield MemoryBackend()
        return
    database: Database = request.getfixturevalue("database")
    ensure_generations(database, 12)
    postgres = PostgresBackend(database)
    try:
        yield postgres
    finally:
        postgres.close()


def info(generation: int = 5, **settings: Any) -> WorkerInfo:
    """A worker of ``generation`` as it registers."""
    return WorkerInfo(uuid4(), generation, "host", os.getpid(), "test", 1, LEASE, **settings)


def claim(
    store: OutboxStore, worker: UUID, *, generation: int = 5, limit: int = 10, **options: Any
) -> list[Any]:
    result = store.ack_and_claim(
        worker, generation, [], limit=limit, lease_seconds=options.pop("lease", LEASE),
        after_id=0, **options,
    )  # fmt: skip
    return list(result.events)


def test_claims_are_routed_by_generation_and_topic(backend: Backend) -> None:
    """A claim returns only its generation's rows, and only the topics asked for."""
    other = backend.emit(4, "a", {})
    wanted = backend.emit(5, "a", {"n": 1})
    unhandled = backend.emit(5, "b", {})
    store = backend.store()
    events = claim(store, uuid4(), topics=frozenset({"a"}))
    assert [(e.id, e.generation, e.payload, e.attempt) for e in events] == [
        (wanted, 5, {"n": 1}, 1)
    ]
    assert {other, unhandled}.isdisjoint(
        e.id for e in claim(store, uuid4(), topics=frozenset({"a"}))
    )


def test_a_leased_row_is_not_claimed_twice(backend: Backend) -> None:
    """A second claimer skips rows under a live lease."""
    ids = [backend.emit(5, "t", {}) for _ in range(6)]
    first = claim(backend.store(), uuid4(), limit=4)
    second = claim(backend.store(), uuid4(), limit=10)
    assert len(first) == 4 and len(second) == 2
    assert sorted(e.id for e in first + second) == ids


def test_a_lapsed_lease_is_reclaimed_and_its_first_holder_fenced(backend: Backend) -> None:
    """Past its lease the row goes to another worker, charged once; the first holder's ack,
    retry and dead letter are refused."""
    row_id = backend.emit(5, "t", {})
    a, b = backend.store(), backend.store()
    worker_a, worker_b = uuid4(), uuid4()
    [first] = claim(a, worker_a, lease=2)
    assert claim(b, worker_b) == []
    backend.advance(3)
    [second] = claim(b, worker_b)
    assert second.id == row_id and second.token != first.token
    assert (second.suspect, second.attempt) == (True, 1)
    late = first.lease
    assert a.ack_and_claim(worker_a, 5, [late], limit=0, lease_seconds=LEASE, after_id=0).acked == 0
    assert not a.retry(worker_a, late, "late", 1.0, attempt=1)
    assert not a.dead_letter(worker_a, late, "late", attempt=1)
    assert backend.row(row_id) is not None
    done = b.ack_and_claim(worker_b, 5, [second.lease], limit=0, lease_seconds=LEASE, after_id=0)
    assert done.acked == 1
    assert backend.row(row_id) is None


def test_keyed_rows_run_one_at_a_time_in_order(backend: Backend) -> None:
    """Only the oldest row of a key is claimable until it is finished."""
    k1, k2 = backend.emit(5, "t", {}, key="k"), backend.emit(5, "t", {}, key="k")
    free = backend.emit(5, "t", {})
    store, worker = backend.store(), uuid4()
    events = claim(store, worker)
    assert sorted(e.id for e in events) == [k1, free]
    head = next(e for e in events if e.id == k1)
    store.ack_and_claim(worker, 5, [head.lease], limit=0, lease_seconds=LEASE, after_id=0)
    assert [e.id for e in claim(store, worker)] == [k2]


def test_retry_waits_its_delay_and_charges_the_attempt(backend: Backend) -> None:
    """A retried row is back after its delay, with the attempt it was charged."""
    row_id = backend.emit(5, "t", {})
    store, worker = backend.store(), uuid4()
    [event] = claim(store, worker)
    assert store.retry(worker, event.lease, "boom", 10.0, attempt=1)
    assert backend.row(row_id) == RowView("pending", 1, "boom")
    assert claim(store, worker) == []
    backend.advance(11)
    [again] = claim(store, worker)
    assert (again.id, again.attempt, again.suspect) == (row_id, 2, False)


def test_a_dead_letter_keeps_the_row_and_its_error(backend: Backend) -> None:
    """A dead row stays, with its error, and is never claimed."""
    row_id = backend.emit(5, "t", {})
    store, worker = backend.store(), uuid4()
    [event] = claim(store, worker)
    assert store.dead_letter(worker, event.lease, "cannot run", attempt=1)
    assert backend.row(row_id) == RowView("dead", 1, "cannot run")
    backend.advance(3600)
    assert claim(store, worker) == []


def test_a_released_row_is_claimable_at_once_and_uncharged(backend: Backend) -> None:
    """release gives rows back without charging an attempt."""
    row_id = backend.emit(5, "t", {})
    store, worker = backend.store(), uuid4()
    [event] = claim(store, worker)
    assert store.release(worker, [event.lease]) == 1
    [again] = claim(store, uuid4())
    assert (again.id, again.attempt) == (row_id, 1)


def test_heartbeats_renew_held_leases_and_the_reaper_ends_a_stale_workers(
    backend: Backend,
) -> None:
    """A beating worker keeps its rows past the first lease; one silent past its own threshold
    is reaped (its rows go back) and learns so at its next beat."""
    store = backend.store()
    alive, silent = info(stale_after_seconds=20.0), info(stale_after_seconds=20.0)
    for worker in (alive, silent):
        store.register_worker(worker)
    kept = backend.emit(5, "t", {})
    dropped = backend.emit(5, "t", {})
    [held] = claim(store, alive.id, limit=1, lease=10)
    [lost] = claim(store, silent.id, limit=1, lease=60)
    assert {held.id, lost.id} == {kept, dropped}
    backend.advance(8)
    beat = store.heartbeat(alive.id, [held.lease], 10)
    assert beat.renewed == {held.id} and not beat.was_reaped
    backend.advance(8)  # alive's first lease (10 s) is over: the renewal keeps its row
    assert claim(store, uuid4()) == []
    store.heartbeat(alive.id, [held.lease], 10)
    backend.advance(7)  # silent: 23 s since its last beat, its lease still live; alive: 7 s
    assert store.reap(20.0) == 1
    backend.advance(0.01)  # a reaped lease ends "now": free from the next instant on
    assert [e.id for e in claim(store, uuid4())] == [lost.id]
    late = store.heartbeat(silent.id, [lost.lease], 60)
    assert late.was_reaped and late.renewed == frozenset()


def test_the_reaper_judges_a_worker_by_its_own_threshold(backend: Backend) -> None:
    """A worker that registered a longer stale threshold is not reaped by a stricter reaper."""
    store = backend.store()
    patient = info(stale_after_seconds=120.0, heartbeat_seconds=20.0)
    store.register_worker(patient)
    backend.emit(5, "t", {})
    [held] = claim(store, patient.id, limit=1, lease=300)
    backend.advance(60)
    assert store.reap(20.0) == 0
    assert store.heartbeat(patient.id, [held.lease], 300).renewed == {held.id}


def test_a_stop_request_reaches_the_generations_workers(backend: Backend) -> None:
    """request_stop tells the generation's live workers (and no other) at their next beat."""
    store = backend.store()
    mine, other = info(5), info(6)
    for worker in (mine, other):
        store.register_worker(worker)
    assert backend.request_stop(5) == 1
    assert store.heartbeat(mine.id, [], LEASE).stop_requested
    assert not store.heartbeat(other.id, [], LEASE).stop_requested
