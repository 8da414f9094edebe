"""The worker under faults, driven against the in-memory store (issue 13)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from uuid import UUID, uuid4

import pytest

from spectral_deploy import Event, Handlers
from spectral_deploy.errors import DatabaseError
from spectral_deploy.outbox.memstore import MemoryStore
from spectral_deploy.outbox.store import Lease, WorkerInfo, WorkerState
from spectral_deploy.outbox.worker import Worker
from tests.unit.test_outbox_worker import Running, fast_settings, wait_for


class FailingFinishStore(MemoryStore):
    """A store whose retry and dead-letter writes fail (a dropped connection, say)."""

    def __init__(self) -> None:
        super().__init__()
        self.failing = True

    def retry(
        self, worker: UUID, lease: Lease, error: str, delay_seconds: float, *, attempt: int
    ) -> bool:
        if self.failing:
            raise DatabaseError("connection lost")
        return super().retry(worker, lease, error, delay_seconds, attempt=attempt)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def start() -> Iterator[Callable[..., Running]]:
    running: list[Running] = []

    def launch(store: MemoryStore, handlers: Handlers, **overrides: object) -> Running:
        instance = Running(Worker(handlers, fast_settings(**overrides), lambda: store, app="test"))
        running.append(instance)
        return instance

    yield launch
    for instance in running:
        instance.stop()


def test_an_undecodable_row_is_dead_lettered_alone(
    store: MemoryStore, start: Callable[..., Running]
) -> None:
    """A payload beyond what the codec reads exactly: that row is dead with the reason, never
    given to a handler, and its batch-mates are handled."""
    seen: list[int] = []
    handlers = Handlers()
    handlers.register("t", lambda event: seen.append(event.id))
    good = [store.emit(5, "t", {"n": n}) for n in range(3)]
    bad = store.emit_text(5, "t", '{"n": 123456789012345678901234567890}')
    good += [store.emit(5, "t", {"n": n}) for n in range(3)]
    start(store, handlers)
    wait_for(lambda: sorted(seen) == good and store.rows[bad].state == "dead")
    error = store.rows[bad].last_error or ""
    assert "cannot be decoded" in error and "beyond 64 bits" in error
    assert store.rows[bad].attempt == 0, "never run, never charged"


def test_a_handler_that_exits_fails_only_its_row(
    store: MemoryStore, start: Callable[..., Running]
) -> None:
    """sys.exit() or a BaseException in a handler is a failed attempt of that row; the worker
    keeps running and handles the others."""
    seen: list[int] = []
    handlers = Handlers()

    @handlers.on("t")
    def handle(event: Event) -> None:
        if event.payload.get("exit"):
            raise SystemExit(3)
        seen.append(event.id)

    bad = store.emit(5, "t", {"exit": True})
    good = [store.emit(5, "t", {}) for _ in range(5)]
    running = start(store, handlers, max_attempts=2)
    wait_for(lambda: sorted(seen) == good and store.rows[bad].state == "dead")
    assert "SystemExit: 3" in (store.rows[bad].last_error or "")
    assert running.worker.state is WorkerState.RUNNING


def test_rows_a_crash_left_behind_are_charged_only_when_they_run(
    store: MemoryStore, start: Callable[..., Running]
) -> None:
    """A worker died holding a batch whose handlers never ran: with max_attempts 1 the next
    worker still runs each of those rows (charged once, as it runs) and dead-letters none."""
    ids = [store.emit(5, "t", {}) for _ in range(5)]
    crashed = uuid4()
    store.ack_and_claim(crashed, 5, [], limit=5, lease_seconds=0.01, after_id=0)
    time.sleep(0.02)
    seen: list[Event] = []
    handlers = Handlers()
    handlers.register("t", seen.append)
    start(store, handlers, max_attempts=1)
    wait_for(lambda: not store.rows)
    assert sorted(event.id for event in seen) == ids
    assert [event.attempt for event in seen] == [1] * 5


def test_a_row_whose_retry_write_fails_is_released_not_held(
    start: Callable[..., Running],
) -> None:
    """The handler failed and its retry could not be written: the row is released (not renewed
    by the heartbeat any more) and runs again."""
    store = FailingFinishStore()
    calls: list[int] = []
    handlers = Handlers()

    @handlers.on("t")
    def fail(event: Event) -> None:
        calls.append(event.attempt)
        raise RuntimeError("downstream is down")

    row_id = store.emit(5, "t", {})
    start(store, handlers, lease_seconds=30)
    wait_for(lambda: len(calls) >= 2)
    store.failing = False
    wait_for(lambda: store.rows[row_id].last_error is not None)
    assert calls[:2] == [1, 1], "released uncharged: its failure was never written"


def test_rows_another_worker_took_are_dropped_not_run(
    store: MemoryStore, start: Callable[..., Running]
) -> None:
    """The heartbeat renews only rows the worker still holds; rows taken by another worker
    meanwhile (it was paused, its lease lapsed) are dropped instead of run."""
    gate = threading.Event()
    seen: list[int] = []
    handlers = Handlers()

    @handlers.on("t")
    def handle(event: Event) -> None:
        if event.payload.get("first"):
            gate.wait(5)
        seen.append(event.id)

    first = store.emit(5, "t", {"first": True})
    taken = [store.emit(5, "t", {}) for _ in range(4)]
    running = start(store, handlers, batch_rows=5)
    wait_for(lambda: all(row.lease_owner for row in store.snapshot()))
    thief = uuid4()
    for row_id in taken:  # as if re-claimed by another worker after the lease lapsed
        row = store.rows[row_id]
        row.lease_owner, row.lease_token = thief, 10_000 + row_id
    time.sleep(0.2)  # a few heartbeats
    gate.set()
    wait_for(lambda: first in seen)
    time.sleep(0.2)
    assert seen == [first], "rows it lost were run"
    assert running.stop().lost_leases >= 4


def test_a_paused_loop_checks_its_leases_before_the_next_row(
    store: MemoryStore, start: Callable[..., Running]
) -> None:
    """A loop whose leases may have lapsed (it ran past the lease without a renewal) renews
    them before starting another row, and runs only the rows it still holds."""
    gate = threading.Event()
    seen: list[int] = []
    handlers = Handlers()

    @handlers.on("t")
    def handle(event: Event) -> None:
        if event.payload.get("first"):
            gate.wait(5)
        seen.append(event.id)

    first = store.emit(5, "t", {"first": True})
    kept = store.emit(5, "t", {})
    taken = store.emit(5, "t", {})
    # heartbeats far apart: only the loop's own check can notice in time
    start(store, handlers, batch_rows=3, lease_seconds=0.3, heartbeat_seconds=60)
    wait_for(lambda: store.rows[taken].lease_owner is not None)
    row = store.rows[taken]  # re-claimed by another worker, which holds it for a minute
    row.lease_owner, row.lease_token, row.lease_expires_at = uuid4(), 10_000, store.clock() + 60
    time.sleep(0.4)  # past the lease
    gate.set()
    wait_for(lambda: kept in seen)
    assert taken not in seen
    assert seen == [first, kept]


def test_a_hung_handler_times_out_and_the_worker_goes_on(
    store: MemoryStore, start: Callable[..., Running]
) -> None:
    """Handlers.on(topic, timeout=...): a handler still running after it gives its row back as
    a failed attempt, the rows after it are released at once, and the worker keeps its
    concurrency (a new loop replaces the stuck one)."""
    release = threading.Event()
    seen: list[int] = []
    handlers = Handlers()

    @handlers.on("slow", timeout=0.3)
    def hang(event: Event) -> None:
        release.wait(10)

    handlers.register("t", lambda event: seen.append(event.id))
    hung = store.emit(5, "slow", {})
    after = [store.emit(5, "t", {}) for _ in range(3)]
    running = start(store, handlers, batch_rows=4, concurrency=1, max_attempts=5)
    wait_for(lambda: sorted(seen) == after, timeout=5)
    wait_for(lambda: store.rows[hung].attempt >= 1)
    assert "timed out after 0.3 s" in (store.rows[hung].last_error or "")
    release.set()
    summary = running.stop()
    assert summary.timed_out >= 1


def test_an_async_handler_is_cancelled_at_its_timeout(
    store: MemoryStore, start: Callable[..., Running]
) -> None:
    """An async handler past its timeout is cancelled: a failed attempt, then dead at max."""
    cancelled: list[int] = []
    handlers = Handlers()

    @handlers.on("t", timeout=0.1)
    async def slow(event: Event) -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(event.attempt)
            raise

    row_id = store.emit(5, "t", {})
    start(store, handlers, max_attempts=2)
    # two 0.1 s attempts; the long deadline only keeps a loaded machine from failing the wait
    wait_for(lambda: store.rows[row_id].state == "dead", timeout=60)
    assert cancelled == [1, 2]
    assert "timed out after 0.1 s" in (store.rows[row_id].last_error or "")


def test_a_stop_request_drains_the_worker(
    store: MemoryStore, start: Callable[..., Running]
) -> None:
    """Told to stop claiming (a rollback away from its generation), the worker finishes and
    stops; its registry row says which topics it handled."""
    handlers = Handlers()
    handlers.register("t", lambda event: None)
    running = start(store, handlers)
    wait_for(lambda: running.worker.state is WorkerState.RUNNING)
    entry = store.workers[running.worker.id]
    assert entry.topics == frozenset({"t"})
    assert entry.info.stale_after_seconds == fast_settings().stale_after_seconds
    assert store.request_stop(5) == 1
    wait_for(lambda: store.workers[running.worker.id].state is WorkerState.STOPPED)


def test_key_order_spans_generations_in_the_twin() -> None:
    """The twin follows the database: a key's row in flight in one generation holds back the
    key's rows in every generation; a lower pending id does too."""
    store = MemoryStore()
    older = store.emit(4, "t", {}, key="k")
    newer = store.emit(5, "t", {}, key="k")
    w4, w5 = uuid4(), uuid4()
    assert store.ack_and_claim(w5, 5, [], limit=5, lease_seconds=30, after_id=0).events == ()
    [held] = store.ack_and_claim(w4, 4, [], limit=5, lease_seconds=30, after_id=0).events
    assert held.id == older
    assert store.ack_and_claim(w5, 5, [], limit=5, lease_seconds=30, after_id=0).events == ()
    store.ack_and_claim(w4, 4, [held.lease], limit=0, lease_seconds=30, after_id=0)
    [then] = store.ack_and_claim(w5, 5, [], limit=5, lease_seconds=30, after_id=0).events
    assert then.id == newer


def test_dead_retry_gives_a_fresh_budget_and_a_new_fence() -> None:
    """After `dead retry` the row runs as attempt 1 again under a token never used before."""
    store = MemoryStore()
    row_id = store.emit(5, "t", {})
    worker = uuid4()
    [first] = store.ack_and_claim(worker, 5, [], limit=1, lease_seconds=30, after_id=0).events
    assert store.dead_letter(worker, first.lease, "no", attempt=first.attempt)
    store.retry_dead(row_id)
    [again] = store.ack_and_claim(worker, 5, [], limit=1, lease_seconds=30, after_id=0).events
    assert (again.attempt, again.token != first.token) == (1, True)
    late = store.ack_and_claim(worker, 5, [first.lease], limit=0, lease_seconds=30, after_id=0)
    assert late.acked == 0


def test_only_one_suspect_per_claim_and_it_runs_first() -> None:
    """Rows whose leases ended without an outcome are taken one per claim, first, charged;
    fresh rows come with it uncharged."""
    store = MemoryStore()
    suspects = [store.emit(5, "t", {}) for _ in range(3)]
    crashed = uuid4()
    store.ack_and_claim(crashed, 5, [], limit=3, lease_seconds=0.0, after_id=0)
    fresh = [store.emit(5, "t", {}) for _ in range(2)]
    time.sleep(0.001)
    claim = store.ack_and_claim(uuid4(), 5, [], limit=10, lease_seconds=30, after_id=0).events
    assert [(c.id, c.suspect, c.attempt) for c in claim] == [
        (suspects[0], True, 1),
        (fresh[0], False, 1),
        (fresh[1], False, 1),
    ]
    assert [store.rows[i].attempt for i in suspects] == [1, 0, 0]


def test_the_registry_row_carries_the_workers_own_settings(
    store: MemoryStore, start: Callable[..., Running]
) -> None:
    """stale_after and heartbeat are registered, so others judge this worker by them."""
    handlers = Handlers()
    handlers.register("t", lambda event: None)
    running = start(store, handlers, stale_after_seconds=42.0, topics=frozenset({"t"}))
    wait_for(lambda: running.worker.state is WorkerState.RUNNING)
    info: WorkerInfo = store.workers[running.worker.id].info
    assert (info.stale_after_seconds, info.claim_topics) == (42.0, frozenset({"t"}))
