"""The outbox under faults (issue 13): each test reproduces one finding on the real server."""

from __future__ import annotations

import itertools
import signal
import socket
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from spectral_deploy import GenerationUnknown, InvalidEvent, emit
from spectral_deploy.db import Database
from spectral_deploy.ledger import generations
from spectral_deploy.ledger.generations import GenerationState
from spectral_deploy.outbox.deadletter import Selection, retry
from spectral_deploy.outbox.fleet import request_stop
from spectral_deploy.outbox.pgstore import PostgresStore
from spectral_deploy.outbox.status import read_status
from tests.integration.workers import (
    APP,
    WorkerProcess,
    calls,
    emit_work,
    ensure_generations,
    handled_ids,
    query,
    run_drain,
    scalar,
    start_worker,
    worker_id,
)
from tests.waiting import wait_for


def dead_rows(db: Database) -> dict[int, str]:
    """Dead-lettered rows: id -> last error."""
    rows = query(db, "SELECT id, last_error FROM spectral.outbox WHERE state = 'dead'")
    return {row[0]: row[1] for row in rows}


def insert_raw(db: Database, generation: int, payload: str, topic: str = "test.work") -> int:
    """A row written by SQL (or by older code), not by emit: its payload is whatever jsonb took."""
    with db.connect() as conn:
        row = conn.execute(
            "INSERT INTO spectral.outbox (generation, topic, payload) "
            "VALUES (%s, %s, %s::jsonb) RETURNING id",
            (generation, topic, payload),
        ).fetchone()
        conn.commit()
    assert row is not None
    return int(row[0])


# -- 1. payloads: one codec, and nothing a row holds stops a worker ---------------------------


def test_a_row_the_worker_cannot_decode_is_dead_lettered_alone(
    db: Database, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """Rows whose payload does not decode exactly (an integer beyond 64 bits written by SQL or
    older code) are dead-lettered alone with the reason; their batch-mates are handled and the
    worker keeps running."""
    ensure_generations(db, 5)
    before = emit_work(db, 5, 10)
    huge = insert_raw(db, 5, '{"n": 1e400}')
    wide = insert_raw(db, 5, '{"id": 18446744073709551617}')
    after = emit_work(db, 5, 10)
    worker = start_worker(db, 5, tmp_path)
    workers.append(worker)
    wait_for(lambda: set(handled_ids(db)) == set(before + after), timeout=20)
    wait_for(lambda: set(dead_rows(db)) == {huge, wide}, timeout=20)
    assert worker.process.poll() is None, worker.stderr()
    errors = dead_rows(db)
    for row_id in (huge, wide):
        assert "cannot be decoded" in errors[row_id]
        assert "64 bits" in errors[row_id]
    assert huge not in {event for event, _ in calls(db)}, "never given to a handler"
    assert worker.stop() == 0


@pytest.mark.parametrize(
    "payload",
    [
        {"n": 10**400},
        {"id": 2**64 + 1},
        {"text": "nul \x00 byte"},
        {"text": "lone \ud800 surrogate"},
        {"bad \x00 key": 1},
    ],
    ids=["int-400-digits", "int-65-bits", "nul", "lone-surrogate", "nul-in-key"],
)
def test_a_refused_payload_leaves_the_callers_transaction_usable(
    db: Database, payload: Any
) -> None:
    """emit refuses what the worker could not decode, before any SQL: InvalidEvent names the
    event and the reason, and the caller's transaction goes on and commits."""
    ensure_generations(db, 5)
    with db.connect() as conn:
        conn.execute("CREATE TABLE orders (id integer)")
        conn.execute("INSERT INTO orders VALUES (1)")
        with pytest.raises(InvalidEvent, match=r"'order\.created'"):
            emit(conn, "order.created", payload, generation=5)
        emit(conn, "order.created", {"ok": True}, generation=5)
        conn.commit()
    assert scalar(db, "SELECT count(*) FROM orders") == 1
    assert query(db, "SELECT payload FROM spectral.outbox") == [({"ok": True},)]


def test_what_emit_accepts_reaches_the_handler_unchanged(database: Database) -> None:
    """One codec both ways: ints at both ends of 64 bits, floats that look like integers,
    unicode and nesting come back equal and of the same type."""
    ensure_generations(database, 5)
    payload = {
        "max_unsigned": 2**64 - 1,
        "min_signed": -(2**63),
        "float_like_int": 1e16,
        "big_float": 1e20,
        "huge_float": 1.5e300,
        "tiny": 1e-7,
        "plain": 2.5,
        "text": "Grüße, 世界 🎉",
        "nested": [[[{"a": [1, 2.0, None, True]}]]],
    }
    with database.connect() as conn:
        emit(conn, "t", payload, generation=5)
        conn.commit()
    store = PostgresStore(database.connect(), database.schema)
    try:
        [event] = store.ack_and_claim(uuid4(), 5, [], limit=1, lease_seconds=30, after_id=0).events
    finally:
        store.close()
    assert event.payload == payload
    for key, value in payload.items():
        assert type(event.payload[key]) is type(value), key


# -- 2. a crash charges only the rows whose handler started -----------------------------------


def test_a_handler_that_kills_its_worker_charges_no_healthy_row(
    db: Database, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """One row whose handler kills the process among 20 healthy ones, max_attempts 3, a new
    worker started after each death: every healthy row is handled and none is dead-lettered;
    the killer is dead-lettered after its budget of real runs."""
    ensure_generations(db, 5)
    healthy = emit_work(db, 5, 10)
    with db.connect() as conn:
        killer = emit(conn, "test.work", {"exit": True}, generation=5)
        conn.commit()
    healthy += emit_work(db, 5, 10)
    settings = {"outbox.max_attempts": "3"}
    deadline = time.monotonic() + 90
    while killer not in dead_rows(db) or set(handled_ids(db)) != set(healthy):
        assert time.monotonic() < deadline, (dead_rows(db), handled_ids(db))
        worker = start_worker(db, 5, tmp_path, "--lease-seconds", "3", settings=settings)
        workers.append(worker)
        wait_for(
            lambda worker=worker: (
                worker.process.poll() is not None
                or (killer in dead_rows(db) and set(handled_ids(db)) == set(healthy))
            ),
            timeout=60,
        )
    assert set(dead_rows(db)) == {killer}, dead_rows(db)
    runs = [attempt for event, attempt in calls(db) if event == killer]
    assert len(runs) <= 4, f"the killer ran {runs}: its budget is 3 charged runs"
    assert "3" in dead_rows(db)[killer]


# -- 3. leases follow possession ---------------------------------------------------------------


def test_a_row_whose_retry_write_fails_is_not_held_forever(
    db: Database, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """A handler error whose text the database refuses (a NUL byte) must not leave the row
    leased and renewed while the worker lives: it is released and tried again."""
    ensure_generations(db, 5)
    with db.connect() as conn:
        row_id = emit(conn, "test.nul_error", {}, generation=5)
        conn.commit()
    worker = start_worker(
        db, 5, tmp_path, "--lease-seconds", "2", settings={"outbox.max_attempts": "3"}
    )
    workers.append(worker)
    wait_for(lambda: row_id in dead_rows(db), timeout=20)
    assert "\\x00" in dead_rows(db)[row_id], "the error is kept, its NUL byte escaped"
    assert worker.process.poll() is None


# -- 4. liveness per worker ----------------------------------------------------------------------


def test_a_reaper_uses_each_workers_own_staleness(
    db: Database, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """A worker that beats every 2 s (stale after 6 s) is not reaped by one of its generation
    that counts 1 s: none of its rows is taken from it and run twice."""
    ensure_generations(db, 5)
    ids = emit_work(db, 5, 12, sleep=0.3)
    patient = {
        "outbox.heartbeat_seconds": "2",
        "outbox.stale_after_seconds": "6",
        "outbox.batch_rows": "12",
    }
    workers.append(start_worker(db, 5, tmp_path, "--lease-seconds", "6", settings=patient))
    wait_for(lambda: len(calls(db)) >= 1)
    workers.append(start_worker(db, 5, tmp_path))  # stale after 1 s by its own settings
    wait_for(lambda: set(handled_ids(db)) == set(ids), timeout=30)
    assert len(calls(db)) == len(ids), "a healthy worker was reaped and its rows ran twice"


def test_a_reaped_worker_that_comes_back_is_rearmed(
    db: Database, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """Paused past its staleness, reaped, resumed: it is live again, and when it then dies its
    leases are ended by the reaper within seconds, not when its 30 s leases run out."""
    ensure_generations(db, 6)
    emit_work(db, 5, 40, sleep=0.5)
    victim = start_worker(
        db, 5, tmp_path, "--lease-seconds", "30", settings={"outbox.batch_rows": "5"}
    )
    workers.append(victim)
    workers.append(start_worker(db, 6, tmp_path))  # the reaper
    wait_for(lambda: len(calls(db)) >= 1)
    victim_id = worker_id(db, victim.process.pid)
    victim.signal(signal.SIGSTOP)
    reaped = "SELECT reaped_at IS NOT NULL FROM spectral.workers WHERE id = %s"
    wait_for(lambda: scalar(db, reaped, (victim_id,)), timeout=10)
    victim.signal(signal.SIGCONT)
    wait_for(lambda: not scalar(db, reaped, (victim_id,)), timeout=10)
    held = (
        "SELECT count(*) FROM spectral.outbox WHERE lease_owner = %s AND lease_expires_at > now()"
    )
    wait_for(lambda: scalar(db, held, (victim_id,)) > 0, timeout=10)
    victim.signal(signal.SIGKILL)
    victim.wait()
    killed = time.monotonic()
    wait_for(lambda: scalar(db, held, (victim_id,)) == 0, timeout=15)
    assert time.monotonic() - killed < 15


def test_a_resumed_worker_does_not_run_rows_it_lost(
    db: Database, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """SIGSTOP past the lease while holding a batch, another worker takes the rows, SIGCONT:
    the resumed worker runs none of the rows it lost (only the one in its hands may repeat)."""
    ensure_generations(db, 5)
    ids = emit_work(db, 5, 10, sleep=0.4)
    victim = start_worker(
        db, 5, tmp_path, "--lease-seconds", "2", settings={"outbox.batch_rows": "10"}
    )
    workers.append(victim)
    wait_for(lambda: len(calls(db)) >= 1)
    victim.signal(signal.SIGSTOP)
    workers.append(start_worker(db, 5, tmp_path))
    wait_for(lambda: set(handled_ids(db)) == set(ids), timeout=30)
    victim.signal(signal.SIGCONT)
    time.sleep(3)
    runs = [event for event, _ in calls(db)]
    repeats = len(runs) - len(set(runs))
    assert repeats <= 1, f"{repeats} rows ran again after the worker that lost them resumed"


# -- 5. a fence that never repeats --------------------------------------------------------------


def test_dead_retry_does_not_revive_a_stale_ack(database: Database) -> None:
    """Claimed, dead-lettered, put back by `dead retry`, claimed again by the same worker: the
    first lease cannot ack the row any more."""
    ensure_generations(database, 5)
    with database.connect() as conn:
        row_id = emit(conn, "t", {}, generation=5)
        conn.commit()
    store = PostgresStore(database.connect(), database.schema)
    worker = uuid4()
    try:
        [first] = store.ack_and_claim(worker, 5, [], limit=1, lease_seconds=30, after_id=0).events
        stale = first.lease
        assert store.dead_letter(worker, stale, "ValueError: no", attempt=first.attempt)
        with database.connect() as conn:
            assert retry(conn, database.schema, Selection(ids=(row_id,))) == [row_id]
        [again] = store.ack_and_claim(worker, 5, [], limit=1, lease_seconds=30, after_id=0).events
        assert again.attempt == 1, "dead retry gives a fresh budget"
        late = store.ack_and_claim(worker, 5, [stale], limit=0, lease_seconds=30, after_id=0)
        assert late.acked == 0, "a stale ack matched again"
        done = store.ack_and_claim(worker, 5, [again.lease], limit=0, lease_seconds=30, after_id=0)
        assert done.acked == 1
    finally:
        store.close()


# -- 6. per-key order ----------------------------------------------------------------------------


def test_a_late_commit_never_puts_two_rows_of_a_key_in_flight(database: Database) -> None:
    """Two transactions emit one key; the later id commits first and is claimed: the earlier
    id, committed next, waits until the claimed row is finished."""
    ensure_generations(database, 5)
    first_tx = database.connect()
    early = emit(first_tx, "t", {}, key="k", generation=5)
    with database.connect() as conn:
        late = emit(conn, "t", {}, key="k", generation=5)
        conn.commit()
    a = PostgresStore(database.connect(), database.schema)
    b = PostgresStore(database.connect(), database.schema)
    try:
        worker_a, worker_b = uuid4(), uuid4()
        [held] = a.ack_and_claim(worker_a, 5, [], limit=10, lease_seconds=30, after_id=0).events
        assert held.id == late
        first_tx.commit()
        first_tx.close()
        claimed = b.ack_and_claim(worker_b, 5, [], limit=10, lease_seconds=30, after_id=0).events
        assert claimed == (), "two rows of one key in flight"
        a.ack_and_claim(worker_a, 5, [held.lease], limit=0, lease_seconds=30, after_id=0)
        [then] = b.ack_and_claim(worker_b, 5, [], limit=10, lease_seconds=30, after_id=0).events
        assert then.id == early
    finally:
        a.close()
        b.close()


def test_key_order_holds_across_generations(database: Database) -> None:
    """A key's row in generation 4 (lower id) is in flight: generation 5's row of the key waits;
    and a pending lower id in another generation blocks it too."""
    ensure_generations(database, 5)
    with database.connect() as conn:
        older = emit(conn, "t", {}, key="k", generation=4)
        newer = emit(conn, "t", {}, key="k", generation=5)
        conn.commit()
    a = PostgresStore(database.connect(), database.schema)
    b = PostgresStore(database.connect(), database.schema)
    try:
        w4, w5 = uuid4(), uuid4()
        assert b.ack_and_claim(w5, 5, [], limit=10, lease_seconds=30, after_id=0).events == ()
        [held] = a.ack_and_claim(w4, 4, [], limit=10, lease_seconds=30, after_id=0).events
        assert held.id == older
        assert b.ack_and_claim(w5, 5, [], limit=10, lease_seconds=30, after_id=0).events == ()
        a.ack_and_claim(w4, 4, [held.lease], limit=0, lease_seconds=30, after_id=0)
        [then] = b.ack_and_claim(w5, 5, [], limit=10, lease_seconds=30, after_id=0).events
        assert then.id == newer
    finally:
        a.close()
        b.close()


def test_key_order_holds_through_an_adopt(
    db: Database, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """Rows of one key in a stranded generation 2 and in the live generation 3: generation 3's
    workers wait for the older rows, and after the adopt handle the key in id order, one at a
    time."""
    ensure_generations(db, 3)
    ids: list[int] = []
    with db.connect() as conn:
        for generation in (2, 3, 2, 3):
            ids.append(emit(conn, "test.work", {"sleep": 0.05}, key="k", generation=generation))
        conn.commit()
    workers.append(start_worker(db, 3, tmp_path, "--concurrency", "2"))
    time.sleep(2)
    assert handled_ids(db) == [], "generation 3 ran a row of k while older rows of k waited"
    result = run_drain(
        db,
        "--target-generation",
        "2",
        "--mode",
        "adopt",
        "--to-generation",
        "3",
        "--yes",
        "--force",
    )
    assert result.returncode == 0, result.stderr
    wait_for(lambda: len(handled_ids(db)) == 4, timeout=20)
    runs = query(
        db, "SELECT event_id, started_at, finished_at FROM test_handled ORDER BY started_at"
    )
    assert [run[0] for run in runs] == ids
    for earlier, later in itertools.pairwise(runs):
        assert earlier[2] <= later[1], "two rows of k overlapped"


# -- 9. delay counts from the emit ---------------------------------------------------------------


def test_delay_counts_from_the_emit_not_the_transaction_start(database: Database) -> None:
    """A transaction that ran 1 s before emitting with delay=0.5: the row is due 0.5 s after the
    emit, not 0.5 s after the transaction began."""
    ensure_generations(database, 5)
    with database.connect() as conn:
        conn.execute("SELECT pg_sleep(1)")
        row_id = emit(conn, "t", {}, generation=5, delay=0.5)
        conn.commit()
    seconds = scalar(
        database,
        "SELECT extract(epoch FROM available_at - created_at) FROM spectral.outbox WHERE id = %s",
        (row_id,),
    )
    assert seconds >= 1.5


# -- emit refuses generations that were never allocated ----------------------------------------


def test_emit_refuses_a_generation_never_allocated_and_caches_known_ones(
    database: Database,
) -> None:
    """generation=42 was never allocated: GenerationUnknown, nothing written, the transaction
    usable. A known generation is checked once per process, not on every emit."""
    ensure_generations(database, 2)
    with database.connect() as conn:
        with pytest.raises(GenerationUnknown, match="42"):
            emit(conn, "t", {}, generation=42)
        emit(conn, "t", {}, generation=2)
        conn.commit()
    with database.connect() as conn:
        conn.execute("ALTER TABLE spectral.generations RENAME TO generations_moved")
        try:
            emit(conn, "t", {}, generation=2)  # cached: the table is not read again
        finally:
            conn.rollback()
    assert scalar(database, "SELECT count(*) FROM spectral.outbox") == 1


def test_hung_handlers_time_out_as_failed_attempts(
    db: Database, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """[outbox] handler_timeout_seconds: a handler that hangs gives its row back as a failed
    attempt (the worker goes on with other rows) and after its budget the row is dead."""
    ensure_generations(db, 5)
    with db.connect() as conn:
        hung = emit(conn, "test.work", {"hang": 600}, generation=5)
        conn.commit()
    others = emit_work(db, 5, 5)
    settings = {"outbox.handler_timeout_seconds": "1", "outbox.max_attempts": "2"}
    worker = start_worker(db, 5, tmp_path, settings=settings)
    workers.append(worker)
    wait_for(lambda: set(handled_ids(db)) == set(others), timeout=20)
    wait_for(lambda: hung in dead_rows(db), timeout=30)
    assert "timed out" in dead_rows(db)[hung]
    assert [attempt for event, attempt in calls(db) if event == hung] == [1, 2]
    assert worker.process.poll() is None


def test_workers_told_to_stop_drain_and_stop(
    db: Database, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """Workers of a generation told to stop claiming (a Class 2 rollback) drain and stop."""
    ensure_generations(db, 5)
    workers.append(start_worker(db, 5, tmp_path))
    running = "SELECT count(*) FROM spectral.workers WHERE state = 'running'"
    wait_for(lambda: scalar(db, running) == 1)
    with db.connect() as conn:
        assert request_stop(conn, db.schema, 5) == 1
        conn.commit()
    assert workers[0].wait(timeout=10) == 0
    assert query(db, "SELECT state FROM spectral.workers") == [("stopped",)]


# -- 7. and 8. the drain ------------------------------------------------------------------------


def test_a_drain_reports_a_key_blocked_by_a_topic_it_cannot_handle(db: Database) -> None:
    """The head of a key is a topic without a handler: the rows behind it are reported as
    blocked and the drain ends with exit 1 instead of waiting forever."""
    ensure_generations(db, 8)
    with db.connect() as conn:
        blocker = emit(conn, "unknown.topic", {}, key="k", generation=8)
        behind = [emit(conn, "test.work", {}, key="k", generation=8) for _ in range(2)]
        free = emit(conn, "test.work", {}, generation=8)
        conn.commit()
    result = run_drain(db, "--target-generation", "8", "--app", APP, "--yes", timeout=60)
    assert result.returncode == 1, result.stderr
    assert handled_ids(db) == [free]
    assert f"2 row(s) of key 'k' wait behind row {blocker} (topic 'unknown.topic'" in result.stdout
    assert scalar(db, "SELECT count(*) FROM spectral.outbox WHERE id = ANY(%s)", (behind,)) == 2


def test_dry_run_writes_nothing_even_for_gone_workers(db: Database) -> None:
    """A worker of this host whose process is gone: --dry-run says it would release it, and
    neither the registry nor its leases change."""
    ensure_generations(db, 8)
    emit_work(db, 8, 3)
    with db.connect() as conn:
        conn.execute(
            "INSERT INTO spectral.workers (id, generation, host, pid, app, state, concurrency,"
            " lease_seconds, stale_after_seconds) VALUES (gen_random_uuid(), 8, %s, 2147483646,"
            " 'gone', 'running', 1, 30, 600)",
            (socket.gethostname(),),
        )
        conn.execute(
            "UPDATE spectral.outbox SET lease_owner = (SELECT id FROM spectral.workers), "
            "attempt = 1, lease_expires_at = now() + interval '1 hour'"
        )
        conn.commit()
    before = query(db, "SELECT * FROM spectral.workers") + query(
        db, "SELECT id, lease_owner, lease_expires_at FROM spectral.outbox ORDER BY id"
    )
    result = run_drain(db, "--target-generation", "8", "--app", APP, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would mark it stopped" in result.stdout
    after = query(db, "SELECT * FROM spectral.workers") + query(
        db, "SELECT id, lease_owner, lease_expires_at FROM spectral.outbox ORDER BY id"
    )
    assert after == before


@pytest.mark.parametrize("state", ["missing", "failed"])
def test_adopt_into_an_unusable_generation_is_refused(db: Database, state: str) -> None:
    """Adopting into a generation that does not exist, or that failed, is exit 3 and moves
    nothing; --force does it anyway."""
    ensure_generations(db, 3)
    if state == "failed":
        with db.connect() as conn:
            generations.set_state(conn, db.schema, 3, GenerationState.FAILED)
    target = "3" if state == "failed" else "99"
    emit_work(db, 2, 4)
    args = ("--target-generation", "2", "--mode", "adopt", "--to-generation", target, "--yes")
    refused = run_drain(db, *args)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert f"generation {target}" in refused.stderr
    assert "--force" in refused.stderr
    assert scalar(db, "SELECT count(*) FROM spectral.outbox WHERE generation = 2") == 4
    forced = run_drain(db, *args, "--force")
    assert forced.returncode == 0, forced.stderr
    assert (
        scalar(db, "SELECT count(*) FROM spectral.outbox WHERE generation = %s", (int(target),))
        == 4
    )


def test_stranded_is_judged_by_each_workers_own_staleness(
    db: Database, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """A paused worker whose own threshold is 20 s is still live after 3 s, so its generation
    is not stranded, whatever staleness the reader was configured with."""
    ensure_generations(db, 5)
    emit_work(db, 5, 3, sleep=30)
    patient = {"outbox.heartbeat_seconds": "2", "outbox.stale_after_seconds": "20"}
    worker = start_worker(db, 5, tmp_path, "--lease-seconds", "60", settings=patient)
    workers.append(worker)
    wait_for(lambda: len(calls(db)) >= 1)
    worker.signal(signal.SIGSTOP)
    try:
        time.sleep(3)
        with db.connect() as conn:
            status = read_status(conn, db.schema, stale_after_seconds=1.0)
        [gen5] = [g for g in status.generations if g.generation == 5]
        assert (gen5.live_workers, gen5.stranded) == (1, False)
    finally:
        worker.signal(signal.SIGCONT)


def test_rows_no_live_worker_will_claim_are_stranded(
    db: Database, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """A generation whose only live worker is draining (SIGTERM, finishing a slow batch) has
    rows nobody will claim: it is stranded, with those rows counted."""
    ensure_generations(db, 5)
    emit_work(db, 5, 2, sleep=4)
    emit_work(db, 5, 6)
    worker = start_worker(db, 5, tmp_path, settings={"outbox.batch_rows": "2"})
    workers.append(worker)
    wait_for(lambda: len(calls(db)) >= 1)
    worker.signal(signal.SIGTERM)
    draining = "SELECT count(*) FROM spectral.workers WHERE state = 'draining'"
    wait_for(lambda: scalar(db, draining) == 1)
    with db.connect() as conn:
        status = read_status(conn, db.schema, stale_after_seconds=15.0)
    [gen5] = [g for g in status.generations if g.generation == 5]
    assert gen5.stranded
    assert gen5.as_json()["stranded_rows"] == 6
    assert worker.wait() == 0
