"""Worker processes on the real server: routing, exclusivity, crashes, drains, retries, order."""

from __future__ import annotations

import itertools
import signal
from pathlib import Path

from spectral_deploy import emit, emit_many
from spectral_deploy.db import Database
from spectral_deploy.outbox.status import OutboxStatus, read_status
from tests.integration.workers import (
    WorkerProcess,
    emit_work,
    handled_ids,
    query,
    scalar,
    start_worker,
)
from tests.waiting import wait_for


def test_a_worker_handles_only_its_generation(
    db: Database, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """A gen-5 worker handles gen-5 rows and never touches gen-4 rows."""
    gen4 = emit_work(db, 4, 20)
    gen5 = emit_work(db, 5, 20)
    workers.append(start_worker(db, 5, tmp_path))
    wait_for(lambda: len(handled_ids(db)) == 20)
    assert handled_ids(db) == gen5
    assert workers[0].stop() == 0
    rows = query(db, "SELECT id, attempt, lease_token FROM spectral.outbox ORDER BY id")
    assert rows == [(row_id, 0, None) for row_id in gen4], "gen-4 rows were never claimed"


def test_two_workers_never_run_the_same_row(
    db: Database, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """Two processes with two loops each: every row handled exactly once, no overlap."""
    with db.connect() as conn:
        emit_many(conn, [("test.work", {"sleep": 0.001})] * 2000, generation=5)
        conn.commit()
    workers += [start_worker(db, 5, tmp_path, "--concurrency", "2") for _ in range(2)]
    wait_for(lambda: scalar(db, "SELECT count(*) FROM test_handled") >= 2000, timeout=60)
    for worker in workers:
        assert worker.stop() == 0
    assert scalar(db, "SELECT count(*) FROM test_handled") == 2000
    assert scalar(db, "SELECT count(DISTINCT event_id) FROM test_handled") == 2000
    assert scalar(db, "SELECT count(DISTINCT pid) FROM test_handled") == 2
    assert scalar(db, "SELECT count(*) FROM spectral.outbox") == 0


def test_sigkill_mid_batch_loses_nothing(
    db: Database, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """A worker killed with rows in hand: after its lease lapses another worker handles them."""
    ids = emit_work(db, 5, 60, sleep=0.05)
    victim = start_worker(db, 5, tmp_path, "--lease-seconds", "3")
    workers.append(victim)
    wait_for(lambda: scalar(db, "SELECT count(*) FROM test_handled") >= 5)
    victim.signal(signal.SIGKILL)
    victim.wait()
    in_flight = scalar(db, "SELECT count(*) FROM spectral.outbox WHERE lease_expires_at > now()")
    assert in_flight > 0, "the killed worker should have held leases"
    workers.append(start_worker(db, 5, tmp_path))
    wait_for(lambda: set(handled_ids(db)) == set(ids), timeout=60)
    assert scalar(db, "SELECT count(*) FROM spectral.outbox") == 0


def test_sigterm_drains_cleanly(db: Database, workers: list[WorkerProcess], tmp_path: Path) -> None:
    """SIGTERM: the batch in hand finishes and is acked, no lease is left, exit 0, stopped."""
    emit_work(db, 5, 30, sleep=0.1)
    worker = start_worker(db, 5, tmp_path, settings={"outbox.batch_rows": "10"})
    workers.append(worker)
    wait_for(lambda: scalar(db, "SELECT count(*) FROM test_handled") >= 1)
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    handled = scalar(db, "SELECT count(*) FROM test_handled")
    assert handled % 10 == 0, "a whole batch finishes before stopping"
    assert scalar(db, "SELECT count(*) FROM spectral.outbox") == 30 - handled
    assert scalar(db, "SELECT count(*) FROM spectral.outbox WHERE lease_owner IS NOT NULL") == 0
    assert query(db, "SELECT state, stopped_at IS NOT NULL FROM spectral.workers") == [
        ("stopped", True)
    ]


def test_retries_then_dead_letter(
    db: Database, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """Fail twice then succeed is acked; always failing is dead after max_attempts, kept."""
    with db.connect() as conn:
        recovers = emit(conn, "test.work", {"fail_times": 2}, generation=5)
        hopeless = emit(conn, "test.work", {"always_fail": True}, generation=5)
        conn.commit()
    worker = start_worker(db, 5, tmp_path, settings={"outbox.max_attempts": "3"})
    workers.append(worker)
    wait_for(lambda: scalar(db, "SELECT count(*) FROM spectral.outbox WHERE state = 'dead'") == 1)
    wait_for(lambda: handled_ids(db) == [recovers])
    assert query(db, "SELECT attempt FROM test_handled") == [(3,)]
    state, attempt, error = query(
        db, "SELECT state, attempt, last_error FROM spectral.outbox WHERE id = %s", (hopeless,)
    )[0]
    assert (state, attempt) == ("dead", 3)
    assert "RuntimeError: told to fail on attempt 3" in error
    assert worker.stop() == 0
    log = worker.stderr()
    assert f"action=outbox.handler_failed id={hopeless} topic=test.work attempt=1" in log
    assert "always_fail" not in log, "payloads are not logged without -v"


def test_rows_of_one_key_are_handled_in_order_one_at_a_time(
    db: Database, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """Per-key ordering across two processes with two loops each."""
    with db.connect() as conn:
        for index in range(120):
            emit(conn, "test.work", {"sleep": 0.002}, key=f"k{index % 6}", generation=5)
        conn.commit()
    workers += [start_worker(db, 5, tmp_path, "--concurrency", "2") for _ in range(2)]
    wait_for(lambda: scalar(db, "SELECT count(*) FROM test_handled") == 120, timeout=60)
    for key in [f"k{i}" for i in range(6)]:
        runs = query(
            db,
            "SELECT event_id, started_at, finished_at FROM test_handled WHERE key = %s "
            "ORDER BY started_at",
            (key,),
        )
        assert [run[0] for run in runs] == sorted(run[0] for run in runs), key
        for earlier, later in itertools.pairwise(runs):
            assert earlier[2] <= later[1], f"two rows of {key} overlapped"


def test_a_long_handler_is_not_rerun_while_its_worker_lives(
    db: Database, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """Lease 2 s, handler 5 s, another worker waiting: renewals keep the row with its owner."""
    [row_id] = emit_work(db, 5, 1, sleep=5)
    workers.append(start_worker(db, 5, tmp_path, "--lease-seconds", "2"))
    claimed = "SELECT count(*) FROM spectral.outbox WHERE lease_owner IS NOT NULL"
    wait_for(lambda: scalar(db, claimed) == 1)
    workers.append(start_worker(db, 5, tmp_path, "--lease-seconds", "2"))
    wait_for(lambda: handled_ids(db) == [row_id], timeout=20)
    assert query(db, "SELECT attempt FROM test_handled") == [(1,)]


def test_notifications_wake_an_idle_worker(
    db: Database, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """With polling every hour, a new row is still handled (within a minute, however loaded the
    machine): only LISTEN/NOTIFY can have woken the idle worker."""
    workers.append(start_worker(db, 5, tmp_path, settings={"outbox.poll_seconds": "3600"}))
    wait_for(
        lambda: scalar(db, "SELECT count(*) FROM spectral.workers WHERE state = 'running'") == 1
    )
    [row_id] = emit_work(db, 5, 1)
    # the poll is an hour away, so any handling inside the wait proves the wake-up; the wait is
    # long only so that a loaded machine cannot fail it (it ends as soon as the row is handled)
    wait_for(lambda: handled_ids(db) == [row_id], timeout=60)


def test_status_tracks_workers_and_stranded_generations(
    db: Database, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """A SIGKILLed worker still says running but counts as dead; its generation is stranded."""
    emit_work(db, 6, 3, sleep=30)
    worker = start_worker(db, 6, tmp_path, "--lease-seconds", "60")
    workers.append(worker)
    claimed = "SELECT count(*) FROM spectral.outbox WHERE lease_owner IS NOT NULL"
    wait_for(lambda: scalar(db, claimed) >= 1)
    with db.connect() as conn:
        live = read_status(conn, db.schema, stale_after_seconds=1.0)
    [gen6] = [g for g in live.generations if g.generation == 6]
    assert (gen6.live_workers, gen6.stranded) == (1, False)
    assert gen6.in_flight >= 1
    worker.signal(signal.SIGKILL)
    worker.wait()

    def status() -> OutboxStatus:
        with db.connect() as conn:
            return read_status(conn, db.schema, stale_after_seconds=1.0)

    wait_for(lambda: bool(status().stranded), timeout=10)
    after = status()
    [gen6] = [g for g in after.generations if g.generation == 6]
    assert gen6.stranded and gen6.live_workers == 0
    [row] = after.workers
    assert (row.state, row.live) == ("running", False)
    assert after.as_json()["generations"][0]["stranded"] is True
