"""The legacy drain on the real server, as an operator runs it (a subprocess)."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

from spectral_deploy import emit_many
from spectral_deploy.db import Database
from spectral_deploy.ledger import generations
from spectral_deploy.ledger.generations import GenerationState
from tests.integration.workers import (
    APP,
    WorkerProcess,
    emit_work,
    handled_ids,
    query,
    run_drain,
    scalar,
    start_drain,
    start_worker,
)
from tests.waiting import wait_for


def test_process_mode_handles_stranded_rows_and_records_it(db: Database) -> None:
    """Rows of a dead generation are handled with --app's handlers; the ledger has the story."""
    ids = emit_work(db, 8, 150)
    result = run_drain(db, "--target-generation", "8", "--app", APP, "--yes")
    assert result.returncode == 0, result.stderr
    assert "preflight for generation 8" in result.stdout
    assert "test.work" in result.stdout
    assert "generation 8 is drained" in result.stdout
    assert handled_ids(db) == ids
    assert scalar(db, "SELECT count(*) FROM spectral.outbox") == 0
    entries = query(
        db, "SELECT action, outcome, details FROM spectral.ledger WHERE kind = 'drain' ORDER BY id"
    )
    assert [(a, o) for a, o, _ in entries] == [("drain-start", "started"), ("drain-finish", "ok")]
    assert entries[1][2]["handled"] == 150


def test_unhandled_topics_stay_and_are_reported(db: Database) -> None:
    """A topic the handlers do not know is left in place, named, and makes the exit 1."""
    emit_work(db, 8, 10)
    with db.connect() as conn:
        emit_many(conn, [("unknown.topic", {})] * 3, generation=8)
        conn.commit()
    result = run_drain(db, "--target-generation", "8", "--app", APP, "--yes")
    assert result.returncode == 1
    assert "no handler for topic 'unknown.topic'" in result.stderr
    assert "left: unknown.topic: 3 unfinished" in result.stdout
    rows = query(db, "SELECT topic, state, attempt, lease_token FROM spectral.outbox")
    assert rows == [("unknown.topic", "pending", 0, None)] * 3, "never claimed, never dropped"
    assert len(handled_ids(db)) == 10


def test_adopt_mode_restamps_to_the_active_generation(
    db: Database, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """Adopted rows keep their original generation and the live fleet handles them."""
    with db.connect() as conn:
        for _ in range(3):
            generations.allocate(conn, db.schema, tag="v")
        generations.set_state(conn, db.schema, 3, GenerationState.ACTIVE)
    ids = emit_work(db, 2, 40)
    workers.append(start_worker(db, 3, tmp_path))
    result = run_drain(db, "--target-generation", "2", "--mode", "adopt", "--yes")
    assert result.returncode == 0, result.stderr
    assert "adopted 40 row(s) into generation 3" in result.stdout
    wait_for(lambda: handled_ids(db) == ids)
    assert {row[0] for row in query(db, "SELECT DISTINCT generation FROM test_handled")} == {3}
    finish = query(db, "SELECT details FROM spectral.ledger WHERE action = 'drain-finish'")[0][0]
    assert finish["adopted"] == 40
    assert finish["adopted_by_topic"] == {"test.work": 40}


def test_adopt_keeps_the_original_generation_and_skips_live_leases(db: Database) -> None:
    """A row under a live lease is not re-stamped; the others remember where they came from."""
    emit_work(db, 2, 5)
    with db.connect() as conn:
        conn.execute(
            "UPDATE spectral.outbox SET lease_owner = gen_random_uuid(), attempt = 1, "
            "lease_expires_at = now() + interval '1 hour' WHERE id = (SELECT min(id) FROM "
            "spectral.outbox)"
        )
        conn.commit()
    proc = start_drain(
        db, "--target-generation", "2", "--mode", "adopt", "--to-generation", "9", "--yes"
    )
    wait_for(lambda: scalar(db, "SELECT count(*) FROM spectral.outbox WHERE generation = 9") == 4)
    rows = query(db, "SELECT generation, original_generation FROM spectral.outbox ORDER BY id")
    assert rows == [(2, None)] + [(9, 2)] * 4
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "resumes where it stopped" in err


def test_refuses_while_a_live_worker_of_g_runs(
    db: Database, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """Exit 3 with the reason; --force drains next to it."""
    # the worker's first row waits at a gate the test opens only once the drain has handled a
    # row: the worker holds its batch meanwhile, so both take part however fast the machine is
    gate = tmp_path / "gate"
    ids = emit_work(db, 8, 1, gate=str(gate)) + emit_work(db, 8, 149, sleep=0.02)
    worker = start_worker(db, 8, tmp_path, settings={"outbox.batch_rows": "5"})
    workers.append(worker)
    running = "SELECT count(*) FROM spectral.workers WHERE state = 'running'"
    wait_for(lambda: scalar(db, running) == 1)
    refused = run_drain(db, "--target-generation", "8", "--app", APP, "--yes")
    assert refused.returncode == 3
    assert "still has 1 live worker(s)" in refused.stderr
    assert "--force" in refused.stderr
    at_gate = "SELECT count(*) FROM test_calls WHERE event_id = %s AND pid = %s"
    wait_for(lambda: scalar(db, at_gate, (ids[0], worker.process.pid)) == 1)
    forced = start_drain(db, "--target-generation", "8", "--app", APP, "--yes", "--force")
    try:
        by_drain = "SELECT count(*) FROM test_handled WHERE pid <> %s"
        wait_for(lambda: scalar(db, by_drain, (worker.process.pid,)) >= 1)
    finally:
        gate.touch()
    _, err = forced.communicate(timeout=120)
    assert forced.returncode == 0, err
    assert "--force: draining next to 1 live worker(s)" in err
    assert handled_ids(db) == ids, "each row handled once, by the worker or the drain"
    assert scalar(db, "SELECT count(DISTINCT pid) FROM test_handled") == 2


def test_a_killed_drain_rerun_loses_nothing(db: Database) -> None:
    """SIGKILL halfway, run again at once: every row handled; only the killed batch may repeat."""
    ids = emit_work(db, 8, 120, sleep=0.02)
    # a long staleness window (each worker is judged by its own): only the pid check can
    # tell the killed drain is gone
    patient = {"outbox.stale_after_seconds": "120"}
    proc = start_drain(db, "--target-generation", "8", "--app", APP, "--yes", settings=patient)
    wait_for(lambda: len(handled_ids(db)) >= 30, timeout=30)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = len(handled_ids(db))
    assert before < 120
    result = run_drain(db, "--target-generation", "8", "--app", APP, "--yes", settings=patient)
    assert result.returncode == 0, result.stderr
    assert "process" in result.stdout and "is gone" in result.stdout
    assert set(handled_ids(db)) == set(ids)
    repeats = len(handled_ids(db)) - len(ids)
    assert repeats <= 100, "at most the batch the killed drain held runs again"


def test_concurrent_drains_never_double_handle(db: Database) -> None:
    """Two forced drains of the same generation at once: each row handled exactly once."""
    ids = emit_work(db, 8, 400, sleep=0.001)
    results: list[subprocess.CompletedProcess[str]] = []

    def one() -> None:
        results.append(run_drain(db, "--target-generation", "8", "--app", APP, "--yes", "--force"))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
        time.sleep(0.2)
    for thread in threads:
        thread.join()
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    assert handled_ids(db) == ids


def test_dry_run_changes_nothing(db: Database) -> None:
    """--dry-run prints the preflight and the plan, and touches no row."""
    emit_work(db, 8, 7)
    result = run_drain(db, "--target-generation", "8", "--app", APP, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "dry run: would handle 7 row(s) of generation 8" in result.stdout
    untouched = "attempt = 0 AND lease_token IS NULL AND lease_owner IS NULL"
    assert scalar(db, f"SELECT count(*) FROM spectral.outbox WHERE {untouched}") == 7
    assert scalar(db, "SELECT count(*) FROM spectral.ledger WHERE kind = 'drain'") == 0


def test_generation_mismatch_is_said(db: Database) -> None:
    """Handlers of another generation: a warning that payload formats may differ."""
    emit_work(db, 8, 2)
    result = run_drain(
        db, "--target-generation", "8", "--app", APP, "--yes", SPECTRAL_GENERATION="9"
    )
    assert result.returncode == 0, result.stderr
    assert "payload formats may differ" in result.stderr


def test_dead_rows_make_the_exit_1(db: Database) -> None:
    """A row that dead-letters during the drain is listed and the exit is 1."""
    emit_work(db, 8, 1, always_fail=True)
    result = run_drain(
        db, "--target-generation", "8", "--app", APP, "--yes", SPECTRAL_OUTBOX_MAX_ATTEMPTS="2"
    )
    assert result.returncode == 1
    assert "1 dead-lettered" in result.stdout
    report = query(db, "SELECT details FROM spectral.ledger WHERE action = 'drain-finish'")[0][0]
    assert report["dead_lettered"] == 1
