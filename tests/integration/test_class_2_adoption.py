"""Class 2's adoption on the real server: only the topics the live fleet handles move, with a
fresh attempt budget, no inherited backoff and the fence kept; the rest is listed with the keys
waiting behind it; N+1's workers are told to stop."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from spectral_deploy import emit_many
from spectral_deploy.config import OutboxConfig
from spectral_deploy.db import Database
from spectral_deploy.ledger.store import entries
from spectral_deploy.outbox import drain as drains
from spectral_deploy.outbox.fleet import fleet_topics
from spectral_deploy.outbox.handover import hand_over
from spectral_deploy.rollback.classify import Symptom
from tests.integration.fakeworld import Operator
from tests.integration.workers import (
    WorkerProcess,
    emit_work,
    query,
    scalar,
    start_worker,
)
from tests.waiting import wait_for

AUDIT = "audit.recorded"  # a topic only the faulty release (generation 2) has a handler for


def faulty_retries(db: Database, generation: int) -> None:
    """What the faulty code leaves: rows at attempt 8 with a 40 s backoff and a lease token."""
    with db.connect() as conn:
        conn.execute(
            "UPDATE spectral.outbox SET attempt = 8, available_at = now() + interval '40 s', "
            "lease_token = nextval('spectral.outbox_lease_token_seq') WHERE generation = %s",
            (generation,),
        )
        conn.commit()


def emit_audits(db: Database, generation: int, count: int) -> None:
    """``count`` rows of the topic generation 3's handlers do not have."""
    with db.connect() as conn:
        emit_many(conn, [(AUDIT, {})] * count, generation=generation)
        conn.commit()


def test_adopt_moves_the_topics_given_with_a_fresh_budget_and_the_fence_kept(
    db: Database,
) -> None:
    """Rows of the handled topic move to attempt 0, available now, their lease token kept (never
    reset: the fence stays monotonic); rows of the other topic stay exactly as they were."""
    emit_work(db, 2, 5)
    emit_audits(db, 2, 3)
    faulty_retries(db, 2)
    before = dict(query(db, "SELECT id, lease_token FROM spectral.outbox"))
    report = drains.adopt(db, OutboxConfig(), 2, 3, topics=frozenset({"test.work"}))
    assert report.adopted == 5
    assert [(t.topic, t.unfinished) for t in report.remaining if t.unfinished] == [(AUDIT, 3)]
    rows = query(
        db,
        "SELECT id, topic, generation, original_generation, attempt, available_at <= now(), "
        "lease_token FROM spectral.outbox ORDER BY id",
    )
    moved = [r for r in rows if r[1] == "test.work"]
    kept = [r for r in rows if r[1] == AUDIT]
    assert {(r[2], r[3], r[4], r[5]) for r in moved} == {(3, 2, 0, True)}
    assert {(r[2], r[3], r[4], r[5]) for r in kept} == {(2, None, 8, False)}
    assert all(r[6] == before[r[0]] and r[6] is not None for r in rows)
    finish = query(db, "SELECT details FROM spectral.ledger WHERE action = 'drain-start'")[0][0]
    assert finish["topics"] == ["test.work"]


def test_the_fleets_recorded_topics_decide_what_is_adopted(
    db: Database, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """A live worker of generation 3 records its handlers' topics; its rows adopted from 2 run
    at once (not after the faulty code's 40 s backoff) as attempt 1; the topic it lacks stays
    pending at 2, never tried, never dead."""
    ids = emit_work(db, 2, 20)
    emit_audits(db, 2, 4)
    faulty_retries(db, 2)
    workers.append(start_worker(db, 3, tmp_path))
    wait_for(
        lambda: (
            scalar(
                db,
                "SELECT count(*) FROM spectral.workers WHERE generation = 3 AND topics IS NOT NULL",
            )
            == 1
        )
    )
    with db.connect() as conn:
        fleet = fleet_topics(conn, db.schema, 3, stale_after=30)
    assert fleet.topics is not None and "test.work" in fleet.topics and AUDIT not in fleet.topics
    began = time.monotonic()
    report = drains.adopt(db, OutboxConfig(), 2, 3, topics=fleet.topics)
    assert report.adopted == 20
    wait_for(lambda: scalar(db, "SELECT count(*) FROM test_handled") == 20, timeout=30)
    # 30 s of slack on a shared machine, still under the 40 s backoff the rows carried
    assert time.monotonic() - began < 35
    handled = query(db, "SELECT event_id, generation, attempt FROM test_handled ORDER BY 1")
    assert handled == [(i, 3, 1) for i in ids]
    assert (
        query(db, "SELECT topic, generation, state, attempt FROM spectral.outbox")
        == [(AUDIT, 2, "pending", 8)] * 4
    )


def test_no_recorded_topics_means_no_topic_is_known(db: Database) -> None:
    """No live worker of the generation: its topics are unknown (None), not an empty set that
    would adopt nothing."""
    with db.connect() as conn:
        fleet = fleet_topics(conn, db.schema, 5, stale_after=30)
    assert (fleet.topics, fleet.live_workers) == (None, 0)


@pytest.fixture
def operator(database: Database, tmp_path: Path) -> Iterator[Operator]:
    """v1.0.0 on blue, v2.0.0 on green (cut over)."""
    with Operator.deployed(tmp_path, database, "v1.0.0", "v2.0.0") as operator:
        yield operator


def test_class_2_tells_n_plus_1s_workers_to_stop_right_after_the_flip_back(
    operator: Operator,
) -> None:
    """The run's second step asks generation 2's workers to stop claiming (recorded in their
    registry rows), before anything is adopted; the rollback completes."""
    record = operator.rollback_run(Symptom.BEHAVIOR)
    assert record.outcome == "completed"
    with operator.database.connect() as conn:
        steps = [
            (e.action, e.outcome)
            for e in entries(conn, "spectral", kind="rollback")
            if e.outcome != "intent"
        ]
        told = conn.execute(
            "SELECT count(*) FROM spectral.workers WHERE generation = 2 "
            "AND stop_requested_at IS NOT NULL"
        ).fetchone()
    assert [a for a, _ in steps] == [
        "start",
        "flip-back",
        "stop-workers",
        "drain",
        "retire-green",
        "notify",
        "finish",
    ]
    assert told is not None and told[0] >= 1
    assert any("to stop claiming" in line for line in operator.said)


def test_hand_over_lists_the_topic_the_fleet_lacks_and_the_keys_behind_it(
    db: Database, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """A topic generation 3 has no handler for stays at 2, listed with the commands that handle
    it; an adopted row whose key waits behind such a row is named and stays pending; the rest
    is handled by generation 3."""
    with db.connect() as conn:
        emit_many(conn, [(AUDIT, {}, "k")], generation=2)
        emit_many(conn, [("test.work", {}, "k")], generation=2)
        conn.commit()
    free = emit_work(db, 2, 5)
    workers.append(start_worker(db, 3, tmp_path))
    wait_for(
        lambda: (
            scalar(
                db,
                "SELECT count(*) FROM spectral.workers WHERE generation = 3 AND topics IS NOT NULL",
            )
            == 1
        )
    )
    handover = hand_over(db, OutboxConfig(), 2, 3)
    assert handover.report.adopted == 6
    assert [(u.topic, u.rows) for u in handover.unhandled] == [(AUDIT, 1)]
    assert (
        handover.unhandled[0]
        .commands[0]
        .startswith("spectral-deploy drain --target-generation 2 --mode process --app")
    )
    assert [(b.key, b.rows, b.blocker_generation, b.blocker_topic) for b in handover.blocked] == [
        ("k", 1, 2, AUDIT)
    ]
    lines = handover.lines()
    assert lines[0] == "adopted 6 row(s) of generation 2 into generation 3"
    assert lines[1].startswith(
        f"1 row(s) of topic '{AUDIT}' stay at generation 2: generation 3 has no handler for it"
    )
    assert lines[2].startswith("1 row(s) of key 'k' wait behind row")
    wait_for(lambda: [row[0] for row in query(db, "SELECT event_id FROM test_handled")] == free)
    time.sleep(1)  # the keyed row stays: its key's earlier row is at generation 2
    assert query(db, "SELECT topic, generation, state FROM spectral.outbox ORDER BY id") == [
        (AUDIT, 2, "pending"),
        ("test.work", 3, "pending"),
    ]
