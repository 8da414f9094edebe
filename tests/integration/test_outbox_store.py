"""emit and the PostgreSQL outbox store: routing, leases, fencing, ordering, notifications."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from uuid import uuid4

import pytest
from psycopg import sql

from spectral_deploy import emit, emit_many
from spectral_deploy.db import Database
from spectral_deploy.outbox.pgstore import PostgresStore, notify_channel
from spectral_deploy.outbox.status import read_status
from spectral_deploy.outbox.store import WorkerInfo, WorkerState
from tests.integration.workers import ensure_generations, pass_time


@pytest.fixture(autouse=True)
def allocated(database: Database) -> None:
    """Generations 1 to 12 exist: emit refuses a generation that was never allocated."""
    ensure_generations(database, 12)


@pytest.fixture
def stores(database: Database) -> Iterator[tuple[PostgresStore, PostgresStore]]:
    first = PostgresStore(database.connect(), database.schema)
    second = PostgresStore(database.connect(), database.schema)
    yield first, second
    first.close()
    second.close()


def count(database: Database, where: str = "true") -> int:
    with database.connect() as conn:
        query = sql.SQL("SELECT count(*) FROM spectral.outbox WHERE {}")
        row = conn.execute(query.format(sql.SQL(where))).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return int(row[0])


def test_emit_is_part_of_the_callers_transaction(database: Database) -> None:
    """Rolled back with the business write, committed with it."""
    with database.connect() as conn:
        emit(conn, "order.created", {"order": 1}, generation=3)
        conn.rollback()
        assert count(database) == 0
        row_id = emit(conn, "order.created", {"order": 2}, key="c-1", generation=3)
        conn.commit()
        row = conn.execute(
            "SELECT generation, topic, key, payload, state, attempt FROM spectral.outbox "
            "WHERE id = %s",
            (row_id,),
        ).fetchone()
    assert row == (3, "order.created", "c-1", {"order": 2}, "pending", 0)


def test_generation_comes_from_the_environment(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SPECTRAL_GENERATION stamps the row when no generation is passed."""
    monkeypatch.setenv("SPECTRAL_GENERATION", "11")
    with database.connect() as conn:
        emit(conn, "t", {})
        emit_many(conn, [("t", {}), ("t", {}, "k")])
        conn.commit()
    assert count(database, "generation = 11") == 3


def test_emit_many_uses_copy_and_keeps_keys(database: Database) -> None:
    """A bulk emit of 5,000 rows lands whole, with payloads and keys."""
    with database.connect() as conn:
        written = emit_many(
            conn, [("bulk", {"i": i}, f"k{i % 3}") for i in range(5000)], generation=2
        )
        conn.commit()
        keys = conn.execute(
            "SELECT key, count(*) FROM spectral.outbox GROUP BY key ORDER BY key"
        ).fetchall()
    assert written == 5000
    assert keys == [("k0", 1667), ("k1", 1667), ("k2", 1666)]


def test_one_notification_per_transaction_not_per_row(database: Database) -> None:
    """Fifty emits and a bulk emit in one transaction wake listeners once."""
    with database.connect(autocommit=True) as listener:
        listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(notify_channel("spectral"))))
        with database.connect() as conn:
            for index in range(50):
                emit(conn, "t", {"i": index}, generation=4)
            emit_many(conn, [("t", {})] * 100, generation=4)
            conn.commit()
        received = list(listener.notifies(timeout=0.5))
    assert [(n.channel, n.payload) for n in received] == [("spectral_outbox.spectral", "4")]


def test_claims_are_routed_by_generation(
    database: Database, stores: tuple[PostgresStore, PostgresStore]
) -> None:
    """A claim for generation 5 never returns generation 4 rows."""
    with database.connect() as conn:
        emit_many(conn, [("t", {"g": 4})] * 20, generation=4)
        emit_many(conn, [("t", {"g": 5})] * 20, generation=5)
        conn.commit()
    store, _ = stores
    result = store.ack_and_claim(uuid4(), 5, [], limit=100, lease_seconds=30, after_id=0)
    assert len(result.events) == 20
    assert {event.generation for event in result.events} == {5}
    assert {event.payload["g"] for event in result.events} == {5}
    assert all(event.attempt == 1 for event in result.events)


def test_concurrent_claims_never_share_a_row(
    database: Database, stores: tuple[PostgresStore, PostgresStore]
) -> None:
    """Two claimers at once get disjoint rows (SKIP LOCKED) and a second claim skips leased rows."""
    with database.connect() as conn:
        emit_many(conn, [("t", {})] * 300, generation=5)
        conn.commit()
    claimed: list[list[int]] = []

    def claim(store: PostgresStore) -> None:
        result = store.ack_and_claim(uuid4(), 5, [], limit=100, lease_seconds=30, after_id=0)
        claimed.append([event.id for event in result.events])

    threads = [threading.Thread(target=claim, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first, second = claimed
    assert len(first) == len(second) == 100
    assert not set(first) & set(second)
    third = stores[0].ack_and_claim(uuid4(), 5, [], limit=1000, lease_seconds=30, after_id=0)
    assert len(third.events) == 100
    assert not {event.id for event in third.events} & (set(first) | set(second))


def test_a_lapsed_lease_is_reclaimed_and_fenced(
    database: Database, stores: tuple[PostgresStore, PostgresStore]
) -> None:
    """After the lease runs out another worker claims the row; the first can no longer ack it."""
    with database.connect() as conn:
        row_id = emit(conn, "t", {}, generation=5)
        conn.commit()
    a, b = stores
    worker_a, worker_b = uuid4(), uuid4()
    [first] = a.ack_and_claim(worker_a, 5, [], limit=1, lease_seconds=30, after_id=0).events
    assert b.ack_and_claim(worker_b, 5, [], limit=1, lease_seconds=30, after_id=0).events == ()
    pass_time(database, 31)
    [second] = b.ack_and_claim(worker_b, 5, [], limit=1, lease_seconds=30, after_id=0).events
    assert second.id == row_id and second.token != first.token
    assert (second.suspect, second.attempt) == (True, 1), "charged once: its lease lapsed"
    late = first.lease
    assert a.ack_and_claim(worker_a, 5, [late], limit=0, lease_seconds=30, after_id=0).acked == 0
    assert not a.retry(worker_a, late, "late", 1.0, attempt=1)
    assert not a.dead_letter(worker_a, late, "late", attempt=1)
    assert count(database) == 1
    done = b.ack_and_claim(worker_b, 5, [second.lease], limit=0, lease_seconds=30, after_id=0)
    assert done.acked == 1
    assert count(database) == 0


def test_keyed_rows_are_claimed_one_per_key_in_order(
    database: Database, stores: tuple[PostgresStore, PostgresStore]
) -> None:
    """Only the head of each key is claimable; the next comes once the head is finished."""
    with database.connect() as conn:
        ids = {key: [emit(conn, "t", {}, key=key, generation=5) for _ in range(3)] for key in "ab"}
        emit(conn, "t", {}, generation=5)
        conn.commit()
    store, _ = stores
    worker = uuid4()
    first = store.ack_and_claim(worker, 5, [], limit=100, lease_seconds=30, after_id=0)
    heads = {event.key: event.id for event in first.events if event.key}
    assert heads == {"a": ids["a"][0], "b": ids["b"][0]}
    assert len(first.events) == 3
    acks = [event.lease for event in first.events]
    store.ack_and_claim(worker, 5, acks, limit=0, lease_seconds=30, after_id=0)
    second = store.ack_and_claim(worker, 5, [], limit=100, lease_seconds=30, after_id=0)
    assert sorted(event.id for event in second.events) == sorted([ids["a"][1], ids["b"][1]])


def test_retry_waits_and_dead_letter_keeps_the_row(
    database: Database, stores: tuple[PostgresStore, PostgresStore]
) -> None:
    """A retried row is invisible until its delay passes; a dead row stays with its error."""
    with database.connect() as conn:
        emit_many(conn, [("t", {}), ("t", {})], generation=5)
        conn.commit()
    store, _ = stores
    worker = uuid4()
    one, two = store.ack_and_claim(worker, 5, [], limit=2, lease_seconds=30, after_id=0).events
    assert store.retry(worker, one.lease, "RuntimeError: later", 30, attempt=one.attempt)
    assert store.dead_letter(worker, two.lease, "ValueError: never", attempt=two.attempt)
    assert store.ack_and_claim(worker, 5, [], limit=2, lease_seconds=30, after_id=0).events == ()
    pass_time(database, 29)
    assert store.ack_and_claim(worker, 5, [], limit=2, lease_seconds=30, after_id=0).events == ()
    pass_time(database, 2)
    [again] = store.ack_and_claim(worker, 5, [], limit=2, lease_seconds=30, after_id=0).events
    assert (again.id, again.attempt) == (one.id, 2)
    with database.connect() as conn:
        dead = conn.execute(
            "SELECT state, last_error FROM spectral.outbox WHERE id = %s", (two.id,)
        ).fetchone()
    assert dead == ("dead", "ValueError: never")


def test_heartbeat_extends_held_leases_and_reaper_ends_stale_ones(
    database: Database, stores: tuple[PostgresStore, PostgresStore]
) -> None:
    """Renewal keeps a held row leased past its original expiry; a stale worker's leases are
    ended once, by its own threshold; a worker that beats again is re-armed."""
    with database.connect() as conn:
        emit_many(conn, [("t", {})] * 2, generation=5)
        conn.commit()
    a, b = stores
    live, dead = uuid4(), uuid4()
    for worker in (live, dead):
        a.register_worker(WorkerInfo(worker, 5, "host", 1, "app", 1, 30, stale_after_seconds=20))
    [mine] = a.ack_and_claim(live, 5, [], limit=1, lease_seconds=20, after_id=0).events
    [theirs] = b.ack_and_claim(dead, 5, [], limit=1, lease_seconds=600, after_id=0).events
    assert a.heartbeat(live, [mine.lease], 60).renewed == {mine.id}
    pass_time(database, 25)
    assert b.ack_and_claim(uuid4(), 5, [], limit=5, lease_seconds=30, after_id=0).events == ()
    a.heartbeat(live, [mine.lease], 60)
    assert a.reap(stale_after_seconds=99) == 1, "judged by its own 20 s"
    assert a.reap(stale_after_seconds=20) == 0, "a worker is reaped once while it stays stale"
    pass_time(database, 1)
    [released] = b.ack_and_claim(uuid4(), 5, [], limit=5, lease_seconds=30, after_id=0).events
    assert (released.id, released.suspect, released.attempt) == (theirs.id, True, 1)
    beat = b.heartbeat(dead, [theirs.lease], 30)
    assert beat.was_reaped and beat.renewed == frozenset(), "re-armed; its row was taken"
    assert not a.heartbeat(live, [mine.lease], 30).was_reaped


def test_archive_mode_moves_finished_rows(database: Database) -> None:
    """With archive on, acked rows go to outbox_archive instead of disappearing."""
    with database.connect() as conn:
        emit_many(conn, [("t", {"i": i}) for i in range(3)], generation=5)
        conn.commit()
    store = PostgresStore(database.connect(), database.schema, archive=True)
    worker = uuid4()
    events = store.ack_and_claim(worker, 5, [], limit=3, lease_seconds=30, after_id=0).events
    acks = [event.lease for event in events]
    assert store.ack_and_claim(worker, 5, acks, limit=0, lease_seconds=30, after_id=0).acked == 3
    store.close()
    with database.connect() as conn:
        archived = conn.execute("SELECT count(*) FROM spectral.outbox_archive").fetchone()
    assert archived == (3,)
    assert count(database) == 0


def test_lease_columns_are_in_no_index(database: Database) -> None:
    """Claims, renewals and retries change no indexed column, so updates may stay HOT."""
    lease_columns = {
        "attempt",
        "lease_owner",
        "lease_token",
        "lease_expires_at",
        "available_at",
        "last_error",
    }
    with database.connect() as conn:
        definitions = [
            str(row[0])
            for row in conn.execute(
                "SELECT indexdef FROM pg_indexes "
                "WHERE schemaname = 'spectral' AND tablename = 'outbox'"
            ).fetchall()
        ]
    assert len(definitions) >= 3
    for definition in definitions:
        words = set(definition.replace("(", " ").replace(")", " ").replace(",", " ").split())
        assert not words & lease_columns, definition


def test_the_registry_reads_back_a_workers_state_as_the_enum(database: Database) -> None:
    """``read_status`` gives each worker's state as ``WorkerState`` (its stored text the value)."""
    worker = uuid4()
    registry = PostgresStore(database.connect(), database.schema)
    registry.register_worker(WorkerInfo(worker, 5, "host", 1, "app", 1, 30))
    registry.set_worker_state(worker, WorkerState.DRAINING)
    registry.close()
    with database.connect() as conn:
        status = read_status(conn, database.schema, stale_after_seconds=30)
    (row,) = [w for w in status.workers if w.id == worker]
    assert row.state is WorkerState.DRAINING
    assert row.as_json()["state"] == "draining"
