"""The worker runtime driven against the in-memory store (no database)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from spectral_deploy import Event, Handlers
from spectral_deploy.config import OutboxConfig
from spectral_deploy.outbox.memstore import MemoryStore
from spectral_deploy.outbox.store import WorkerInfo, WorkerState
from spectral_deploy.outbox.worker import Worker, WorkerSettings, WorkerSummary
from tests import waiting

FAST = {
    "heartbeat_seconds": 0.05,
    "stale_after_seconds": 0.5,
    "poll_seconds": 0.01,
    "backoff_base_seconds": 0.001,
    "backoff_max_seconds": 0.01,
}


def fast_settings(**overrides: Any) -> WorkerSettings:
    """The ``[outbox]`` defaults for generation 5, with short heartbeats, polls and backoffs."""
    defaults = WorkerSettings.from_config(OutboxConfig(), generation=5)
    return dataclasses.replace(defaults, **{**FAST, **overrides})


class Running:
    """A worker running in a thread until stopped."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.summary: WorkerSummary | None = None
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self) -> None:
        self.summary = self.worker.run()

    def stop(self) -> WorkerSummary:
        self.worker.request_stop()
        self._thread.join(timeout=10)
        assert self.summary is not None
        return self.summary


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """The shared wait at the pace of in-memory workers (5 ms polls)."""
    waiting.wait_for(condition, timeout, interval=0.005)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def seen() -> list[Event]:
    return []


@pytest.fixture
def start(store: MemoryStore) -> Iterator[Callable[..., Running]]:
    running: list[Running] = []

    def launch(handlers: Handlers, **overrides: object) -> Running:
        settings = fast_settings(**overrides)
        instance = Running(Worker(handlers, settings, lambda: store, app="test"))
        running.append(instance)
        return instance

    yield launch
    for instance in running:
        instance.stop()


def recording(seen: list[Event], topic: str = "t") -> Handlers:
    handlers = Handlers()
    handlers.register(topic, seen.append)
    return handlers


def test_only_rows_of_its_own_generation(
    store: MemoryStore, seen: list[Event], start: Callable[..., Running]
) -> None:
    """A gen-5 worker handles gen-5 rows and never touches gen-4 rows."""
    for index in range(10):
        store.emit(4, "t", {"i": index})
        store.emit(5, "t", {"i": index})
    start(recording(seen))
    wait_for(lambda: len(seen) == 10)
    time.sleep(0.05)
    assert {event.generation for event in seen} == {5}
    assert [row.generation for row in store.snapshot()] == [4] * 10
    assert all(row.attempt == 0 for row in store.snapshot())


def test_finished_rows_leave_the_table(
    store: MemoryStore, seen: list[Event], start: Callable[..., Running]
) -> None:
    """Acked rows are gone; nothing is handled twice."""
    ids = [store.emit(5, "t", {"i": index}) for index in range(250)]
    running = start(recording(seen), batch_rows=100)
    wait_for(lambda: not store.rows)
    summary = running.stop()
    assert sorted(event.id for event in seen) == ids
    assert summary.handled == 250
    assert sorted(store.finished) == ids


def test_failures_retry_then_dead_letter(store: MemoryStore, start: Callable[..., Running]) -> None:
    """A failing row is retried with backoff and dead-lettered after max_attempts, kept."""
    attempts: list[int] = []
    handlers = Handlers()

    @handlers.on("t")
    def fail(event: Event) -> None:
        attempts.append(event.attempt)
        raise ValueError("the mail server said no")

    row_id = store.emit(5, "t", {})
    running = start(handlers, max_attempts=3)
    wait_for(lambda: store.rows[row_id].state == "dead")
    summary = running.stop()
    assert attempts == [1, 2, 3]
    row = store.rows[row_id]
    assert row.last_error is not None and "ValueError: the mail server said no" in row.last_error
    assert summary.failed == 3
    assert summary.dead_lettered == 1


def test_a_row_that_recovers_is_acked(store: MemoryStore, start: Callable[..., Running]) -> None:
    """Fail once, succeed on the second attempt: acked, not dead."""
    calls: list[int] = []
    handlers = Handlers()

    @handlers.on("t")
    def flaky(event: Event) -> None:
        calls.append(event.attempt)
        if event.attempt == 1:
            raise RuntimeError("transient")

    store.emit(5, "t", {})
    start(handlers)
    wait_for(lambda: not store.rows)
    assert calls == [1, 2]


def test_poison_rows_that_kill_workers_are_dead_lettered(
    store: MemoryStore, seen: list[Event], start: Callable[..., Running]
) -> None:
    """A row whose lease ended without an outcome, its budget spent on runs that never came
    back, is parked without running it again."""
    row_id = store.emit(5, "t", {})
    row = store.rows[row_id]
    row.attempt, row.lease_token, row.lease_expires_at = 3, 99, 0.0  # three runs that died
    start(recording(seen), max_attempts=3)
    wait_for(lambda: store.rows[row_id].state == "dead")
    assert seen == []
    assert "gave up after 3 attempts" in (store.rows[row_id].last_error or "")
    assert store.rows[row_id].attempt == 3, "the claim that found it spent is not charged"


def test_unknown_topics_are_dead_lettered_with_a_reason(
    store: MemoryStore, seen: list[Event], start: Callable[..., Running]
) -> None:
    """A row nobody handles is kept as dead with 'no handler for topic'."""
    row_id = store.emit(5, "nobody.handles.this", {})
    start(recording(seen))
    wait_for(lambda: store.rows[row_id].state == "dead")
    assert "no handler for topic 'nobody.handles.this'" in (store.rows[row_id].last_error or "")


def test_rows_of_one_key_run_one_at_a_time_in_order(
    store: MemoryStore, start: Callable[..., Running]
) -> None:
    """Per-key ordering: same key, id order, never two at once, across claim loops."""
    log: list[tuple[str, int, str]] = []
    active: dict[str, int] = {}
    lock = threading.Lock()
    handlers = Handlers()

    @handlers.on("t")
    def ordered(event: Event) -> None:
        assert event.key is not None
        with lock:
            assert active.get(event.key, 0) == 0, "two rows of one key at once"
            active[event.key] = 1
            log.append((event.key, event.id, "start"))
        time.sleep(0.001)
        with lock:
            active[event.key] = 0

    expected: dict[str, list[int]] = {}
    for index in range(60):
        key = f"k{index % 4}"
        expected.setdefault(key, []).append(store.emit(5, "t", {}, key=key))
    start(handlers, concurrency=3, batch_rows=10)
    wait_for(lambda: not store.rows)
    for key, ids in expected.items():
        assert [row_id for k, row_id, _ in log if k == key] == ids


def test_async_handlers_run(store: MemoryStore, start: Callable[..., Running]) -> None:
    """async def handlers are awaited."""
    done: list[int] = []
    handlers = Handlers()

    @handlers.on("t")
    async def handle(event: Event) -> None:
        done.append(event.id)

    row_id = store.emit(5, "t", {})
    start(handlers)
    wait_for(lambda: done == [row_id])


def test_stop_drains_and_records_states(
    store: MemoryStore, seen: list[Event], start: Callable[..., Running]
) -> None:
    """request_stop: the batch in hand finishes and is acked; the worker ends stopped."""
    gate = threading.Event()
    handlers = Handlers()

    @handlers.on("t")
    def slow(event: Event) -> None:
        gate.wait(5)
        seen.append(event)

    for _ in range(5):
        store.emit(5, "t", {})
    running = start(handlers, batch_rows=5)
    wait_for(lambda: any(r.lease_owner for r in store.snapshot()))
    assert running.worker.state is WorkerState.RUNNING
    stopper = threading.Thread(target=running.stop)
    stopper.start()
    time.sleep(0.05)
    gate.set()
    stopper.join(5)
    assert len(seen) == 5
    assert not store.rows, "the batch in hand is acked before stopping"
    assert store.workers[running.worker.id].state is WorkerState.STOPPED


def test_handler_loading_failure_is_recorded(store: MemoryStore) -> None:
    """If the handlers cannot be loaded the worker is stopped with the error recorded."""

    def broken() -> Handlers:
        raise ImportError("no module named shop")

    worker = Worker(broken, fast_settings(), lambda: store)
    with pytest.raises(ImportError):
        worker.run()
    entry = store.workers[worker.id]
    assert entry.state is WorkerState.STOPPED
    assert entry.last_error == "ImportError: no module named shop"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_fencing_a_lapsed_lease_cannot_be_acked() -> None:
    """A row re-claimed after its lease lapsed: the first owner's ack and retry fail."""
    clock = Clock()
    store = MemoryStore(clock)
    row_id = store.emit(5, "t", {})
    first, second = uuid4(), uuid4()
    [event] = store.ack_and_claim(first, 5, [], limit=10, lease_seconds=30, after_id=0).events
    clock.now += 31
    [again] = store.ack_and_claim(second, 5, [], limit=10, lease_seconds=30, after_id=0).events
    assert again.id == row_id and again.token != event.token
    assert again.suspect and again.attempt == 1, "a lapsed lease: charged once, at this claim"
    stale = event.lease
    assert store.ack_and_claim(first, 5, [stale], limit=0, lease_seconds=30, after_id=0).acked == 0
    assert not store.retry(first, stale, "late", 1, attempt=1)
    assert not store.dead_letter(first, stale, "late", attempt=1)
    fresh = again.lease
    assert store.ack_and_claim(second, 5, [fresh], limit=0, lease_seconds=30, after_id=0).acked == 1
    assert store.ack_and_claim(second, 5, [fresh], limit=0, lease_seconds=30, after_id=0).acked == 0


def test_heartbeat_renews_held_leases_and_reaper_releases_dead_workers() -> None:
    """A live worker's held leases are extended; a stale worker's leases are ended at once,
    by its own threshold; a reaped worker that beats again is re-armed."""
    clock = Clock()
    store = MemoryStore(clock)
    store.emit(5, "t", {})
    store.emit(5, "t", {})
    live, dead = uuid4(), uuid4()
    store.register_worker(WorkerInfo(live, 5, "h", 1, "a", 1, 30, stale_after_seconds=15))
    store.register_worker(WorkerInfo(dead, 5, "h", 1, "a", 1, 30, stale_after_seconds=15))
    [mine] = store.ack_and_claim(live, 5, [], limit=1, lease_seconds=30, after_id=0).events
    [theirs] = store.ack_and_claim(dead, 5, [], limit=1, lease_seconds=30, after_id=0).events
    clock.now += 20
    beat = store.heartbeat(live, [mine.lease], 30)
    assert beat.renewed == {mine.id} and not beat.was_reaped
    assert store.reap(stale_after_seconds=99) == 1, "its own 15 s threshold, not the caller's"
    assert store.reap(stale_after_seconds=15) == 0, "reaped once while it stays stale"
    clock.now += 0.001
    [released] = store.ack_and_claim(live, 5, [], limit=1, lease_seconds=30, after_id=0).events
    assert (released.id, released.suspect, released.attempt) == (theirs.id, True, 1)
    comeback = store.heartbeat(dead, [theirs.lease], 30)
    assert comeback.was_reaped and comeback.renewed == frozenset(), "re-armed; the row is lost"
    assert not store.workers[dead].reaped
    clock.now += 20
    store.reap(stale_after_seconds=15)
    assert store.workers[dead].reaped, "stale again after re-arming: reaped again"


STOPPED_BY_A_SIGNAL_ON_ANOTHER_THREAD = """
import signal, threading
from spectral_deploy import Handlers
from spectral_deploy.outbox.memstore import MemoryStore
from tests.unit.test_outbox_worker import fast_settings
from spectral_deploy.outbox.worker import Worker

store = MemoryStore()
worker = Worker(Handlers(), fast_settings(), lambda: store, app="test")
signal.signal(signal.SIGTERM, lambda *_: worker.request_stop())

def deliver():
    # the kernel hands a process-directed SIGTERM to any thread: here, not the main one
    worker_started.wait()
    signal.pthread_kill(threading.get_ident(), signal.SIGTERM)

worker_started = threading.Event()
threading.Timer(0.3, worker_started.set).start()
threading.Thread(target=deliver).start()
worker.run()
print("stopped")
"""


def test_a_signal_delivered_to_another_thread_still_stops_the_worker() -> None:
    """SIGTERM received by a handler thread stops a worker whose main thread waits (no hang)."""
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", STOPPED_BY_A_SIGNAL_ON_ANOTHER_THREAD],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "stopped"
