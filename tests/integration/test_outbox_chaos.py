"""The outbox under a seeded storm of faults: nothing lost, only poison dead-lettered.

Live traffic emits a few thousand events into generations 2 and 3 (some keyed, some that
fail once, a few poison rows) while worker processes are SIGKILLed, paused past their lease
and resumed, and have their connections terminated, at random from a seed; rows whose
handler kills its process or hangs come round again and again; `outbox dead retry` puts
the hopeless rows back once; halfway, generation 2's worker is stopped and its rows are
adopted into generation 3 by a drain. Every handler call is recorded. At the end: every
healthy event was handled, no event was lost, exactly the poison rows are dead-lettered
(each with its reason, after its budget), keys ran in id order, and the duplicates are
counted and printed with the seed (`pytest -s`; SPECTRAL_CHAOS_SEED=N replays a schedule).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import psycopg

from spectral_deploy import emit
from spectral_deploy.db import Database
from tests.integration.workers import (
    REPO,
    WorkerProcess,
    drain_env,
    query,
    run_drain,
    scalar,
    start_worker,
)

HEALTHY_EVENTS = 3000
EMIT_SECONDS = 10.0
# random faults go on this long after the traffic ends, then the poison rows finish alone
FAULTS_AFTER_TRAFFIC_SECONDS = 5.0
MAX_ATTEMPTS = 5
SETTINGS = {
    "outbox.max_attempts": str(MAX_ATTEMPTS),
    "outbox.handler_timeout_seconds": "1",
    "outbox.batch_rows": "20",
}
LEASE = ("--lease-seconds", "2", "--concurrency", "2")


class Fleet:
    """Worker processes per generation, restarted when they die (as a supervisor would)."""

    def __init__(self, db: Database, tmp: Path, started: list[WorkerProcess]) -> None:
        self.db = db
        self.tmp = tmp
        self.started = started
        self.wanted: dict[int, int] = {}
        self.running: dict[int, list[WorkerProcess]] = defaultdict(list)
        self.deaths = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._supervise, daemon=True)

    def want(self, generation: int, count: int) -> None:
        with self.lock:
            self.wanted[generation] = count
        self._fill()

    def alive(self, generation: int | None = None) -> list[WorkerProcess]:
        with self.lock:
            pools = [self.running[generation]] if generation else list(self.running.values())
            return [w for pool in pools for w in pool if w.process.poll() is None]

    def retire(self, generation: int) -> None:
        """SIGTERM the generation's workers (resumed first, if paused) and wait for them."""
        with self.lock:
            self.wanted[generation] = 0
            pool = list(self.running[generation])
        for worker in pool:
            if worker.process.poll() is None:
                worker.signal(signal.SIGCONT)
                worker.signal(signal.SIGTERM)
        for worker in pool:
            worker.wait(timeout=60)

    def _fill(self) -> None:
        with self.lock:
            for generation, count in self.wanted.items():
                pool = self.running[generation]
                dead = [w for w in pool if w.process.poll() is not None]
                self.deaths += len(dead)
                pool[:] = [w for w in pool if w.process.poll() is None]
                while len(pool) < count:
                    worker = start_worker(self.db, generation, self.tmp, *LEASE, settings=SETTINGS)
                    pool.append(worker)
                    self.started.append(worker)

    def _supervise(self) -> None:
        while not self.stop.wait(0.1):
            self._fill()


def test_the_outbox_under_a_storm_of_faults(
    db: Database, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """Seeded chaos: 0 lost, every healthy event handled, only poison dead, order per key."""
    seed = int(os.environ.get("SPECTRAL_CHAOS_SEED") or random.SystemRandom().randrange(10**6))
    rng = random.Random(seed)
    print(f"\nchaos seed {seed} (SPECTRAL_CHAOS_SEED={seed} replays this schedule)")
    started = time.monotonic()

    poison = _emit_poison(db)
    fleet = Fleet(db, tmp_path, workers)
    fleet.want(2, 1)
    fleet.want(3, 2)
    fleet.thread.start()
    healthy: list[int] = []
    flipped = threading.Event()
    producer = threading.Thread(
        target=_produce, args=(db, rng.random(), healthy, flipped), daemon=True
    )
    producer.start()

    faults: dict[str, int] = defaultdict(int)
    retried = drained = False
    deadline = time.monotonic() + 150
    quiet_after: float | None = None
    while producer.is_alive() or _unfinished(db) > 0:
        assert time.monotonic() < deadline, _stuck(db, seed, workers)
        time.sleep(rng.uniform(0.4, 1.0))
        elapsed = time.monotonic() - started
        if not drained and elapsed > EMIT_SECONDS / 2:
            flipped.set()  # the flip: traffic goes to generation 3 only; 2's rows are adopted
            fleet.retire(2)
            adopt = ("--target-generation", "2", "--mode", "adopt", "--to-generation", "3")
            result = run_drain(db, *adopt, "--yes", "--force", timeout=120)
            assert result.returncode in (0, 1), result.stdout + result.stderr
            faults["drain (adopt 2 -> 3)"] += 1
            drained = True
            continue
        hopeless = poison["always_fail"]
        if not retried and all(_state(db, row) == "dead" for row in hopeless):
            _dead_retry(db, hopeless)
            faults["outbox dead retry"] += 1
            retried = True
            continue
        if quiet_after is None and not producer.is_alive():
            quiet_after = time.monotonic() + FAULTS_AFTER_TRAFFIC_SECONDS
        if quiet_after is None or time.monotonic() < quiet_after:
            _inject(rng, fleet, db, faults)

    fleet.stop.set()
    fleet.thread.join()
    for worker in fleet.alive():
        worker.signal(signal.SIGCONT)
        code = worker.stop()
        # a worker the supervisor started a moment ago may still be importing: SIGTERM's default
        # action ends it before it installs its handler, which is only before it claimed anything
        # (its banner, printed after the handler is in place, is then missing)
        started = "worker for generation" in worker.stderr()
        assert code == 0 or (code == -signal.SIGTERM and not started), worker.stderr()[-2000:]
    producer.join()

    handled = [row[0] for row in query(db, "SELECT event_id FROM test_handled")]
    handled_set = set(handled)
    dead_sql = "SELECT id, attempt, last_error FROM spectral.outbox WHERE state = 'dead'"
    dead = {row[0]: row for row in query(db, dead_sql)}
    left = scalar(db, "SELECT count(*) FROM spectral.outbox WHERE state = 'pending'")
    poisoned = {row for rows in poison.values() for row in rows}
    lost = [row for row in healthy if row not in handled_set and row not in dead]
    duplicates = len(handled) - len(handled_set)
    seconds = time.monotonic() - started
    print(
        f"chaos seed {seed}: {len(healthy)} healthy events + {len(poisoned)} poison rows in "
        f"{seconds:.0f} s; faults {dict(faults)}; worker deaths {fleet.deaths}; handled "
        f"{len(handled_set)}; duplicates {duplicates}; dead {len(dead)}; lost {len(lost)}; "
        f"pending {left}"
    )

    assert left == 0
    assert lost == [], f"seed {seed}: lost {lost[:20]}"
    assert set(healthy) <= handled_set, f"seed {seed}: not handled {set(healthy) - handled_set}"
    assert set(dead) == poisoned, f"seed {seed}: dead {sorted(dead)} poison {sorted(poisoned)}"
    for row in poison["undecodable"]:
        assert "cannot be decoded" in dead[row][2]
    for kind in ("always_fail", "exit", "hang"):
        for row in poison[kind]:
            assert dead[row][1] == MAX_ATTEMPTS, (kind, dead[row])
    for row in poison["hang"]:
        # a hung run ends by its timeout, or by the storm killing its worker mid-hang (each
        # run holds the row a second: a likely victim); either way it is charged, never lost
        assert "timed out" in dead[row][2] or "worker died" in dead[row][2], dead[row]
    for row in poison["exit"]:
        assert "gave up after" in dead[row][2]
    _assert_key_order(db, seed)


def _emit_poison(db: Database) -> dict[str, list[int]]:
    """Rows that must end dead: undecodable, always failing, killing their worker, hanging."""
    poison: dict[str, list[int]] = defaultdict(list)
    with db.connect() as conn:
        for payload in ('{"n": 1e400}', '{"id": 18446744073709551617}'):
            row = conn.execute(
                "INSERT INTO spectral.outbox (generation, topic, payload) "
                "VALUES (3, 'test.work', %s::jsonb) RETURNING id",
                (payload,),
            ).fetchone()
            assert row is not None
            poison["undecodable"].append(int(row[0]))
        for kind, payload in (
            ("always_fail", {"always_fail": True}),
            ("exit", {"exit": True}),
            ("hang", {"hang": 600}),
        ):
            for _ in range(2):
                poison[kind].append(emit(conn, "test.work", payload, generation=3))
        conn.commit()
    return poison


def _produce(db: Database, fraction: float, healthy: list[int], flipped: threading.Event) -> None:
    """Live traffic: one event per transaction for EMIT_SECONDS, into generations 2 and 3
    until the flip, then into 3; a third keyed (20 keys, spanning both generations), some
    failing once."""
    rng = random.Random(fraction)
    pause = EMIT_SECONDS / HEALTHY_EVENTS
    with psycopg.connect(db.url) as conn:
        for n in range(HEALTHY_EVENTS):
            generation = 2 if not flipped.is_set() and rng.random() < 0.5 else 3
            payload = {"n": n, "fail_times": 1} if rng.random() < 0.05 else {"n": n}
            key = f"k{rng.randrange(20)}" if rng.random() < 0.33 else None
            healthy.append(emit(conn, "test.work", payload, key=key, generation=generation))
            conn.commit()
            time.sleep(pause)


def _inject(rng: random.Random, fleet: Fleet, db: Database, faults: dict[str, int]) -> None:
    """One fault at random: SIGKILL, SIGSTOP past the lease, or a terminated connection."""
    targets = fleet.alive()
    if not targets:
        return
    victim = rng.choice(targets)
    fault = rng.choice(["sigkill", "sigstop", "terminate", "nothing"])
    if fault == "sigkill":
        victim.signal(signal.SIGKILL)
    elif fault == "sigstop":
        victim.signal(signal.SIGSTOP)
        threading.Timer(3.0, lambda: victim.signal(signal.SIGCONT)).start()
    elif fault == "terminate":
        with db.connect() as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name LIKE 'spectral-worker g%' AND pid <> pg_backend_pid() "
                "ORDER BY random() LIMIT 1"
            )
            conn.commit()
    faults[fault] += 1


def _stuck(db: Database, seed: int, workers: list[WorkerProcess]) -> str:
    """What is left when the storm does not end: rows by generation and lease, the registry,
    and the end of the last workers' logs."""
    rows = query(
        db,
        "SELECT generation, key IS NOT NULL, lease_expires_at > now(), "
        "lease_expires_at IS NOT NULL, available_at > now(), count(*), min(id) "
        "FROM spectral.outbox WHERE state = 'pending' GROUP BY 1, 2, 3, 4, 5",
    )
    registry = query(
        db,
        "SELECT generation, pid, state, round(extract(epoch FROM now() - heartbeat_at)), "
        "reaped_at IS NOT NULL FROM spectral.workers WHERE state <> 'stopped'",
    )
    logs = "\n".join(w.stderr()[-1500:] for w in workers[-3:])
    return f"seed {seed}: not done: {rows}\nworkers: {registry}\n{logs}"


def _unfinished(db: Database) -> int:
    return int(scalar(db, "SELECT count(*) FROM spectral.outbox WHERE state = 'pending'"))


def _state(db: Database, row_id: int) -> str | None:
    rows = query(db, "SELECT state FROM spectral.outbox WHERE id = %s", (row_id,))
    return rows[0][0] if rows else None


def _dead_retry(db: Database, ids: list[int]) -> None:
    argv = [sys.executable, "-m", "spectral_deploy", "outbox", "dead", "retry"]
    for row_id in ids:
        argv += ["--id", str(row_id)]
    result = subprocess.run(
        argv, cwd=REPO, env=drain_env(db), capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def _assert_key_order(db: Database, seed: int) -> None:
    """Per key, the first run of each event started in id order (across generations too)."""
    rows = query(
        db,
        "SELECT o.key, c.event_id FROM test_calls c JOIN ("
        "  SELECT event_id, key FROM test_handled WHERE key IS NOT NULL GROUP BY 1, 2"
        ") o ON o.event_id = c.event_id ORDER BY c.called_at",
    )
    firsts: dict[str, list[int]] = defaultdict(list)
    for key, event in rows:
        if event not in firsts[key]:
            firsts[key].append(event)
    for key, events in firsts.items():
        assert events == sorted(events), f"seed {seed}: key {key} ran out of order: {events}"
