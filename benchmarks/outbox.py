"""Outbox benchmark: emit and end-to-end throughput against PgQueuer, procrastinate and raw loops.

Run with `make bench` (or `.venv/bin/python benchmarks/outbox.py`). Everything runs in one
go on one embedded PostgreSQL started for the benchmark (default durability settings), and
one JSON document is printed on stdout.

End-to-end throughput is the steady-state rate: N rows are queued first, K worker processes
are started, and the rate is taken between 10% and 90% of the rows finished (so process
start-up does not count for anyone). Handlers are no-ops.

Fairness: every end-to-end run, ours and the raw loops alike, starts on a fresh database,
so no run works behind the dead rows and index entries of the runs before it (the claim rate
behind 1,000,000 rows of history is measured on its own, in `history_and_memory`). Targets:
our best against the raw lease loop (the same design with nothing around it) >= 1.0, and
against the raw delete loop (one DELETE ... RETURNING per 100 rows, at-most-once: the
physical limit of a PostgreSQL queue here) >= 0.7.

`--only profile` profiles one worker in-process: where each row's time goes (the claim and
ack round trips, decoding, building the event, dispatch, the worker's own bookkeeping).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import json
import os
import platform
import pstats
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from spectral_deploy import emit, emit_many
from spectral_deploy.config import DatabaseConfig, OutboxConfig
from spectral_deploy.db import Database
from spectral_deploy.db.embedded import EmbeddedServer
from spectral_deploy.db.schema import install
from spectral_deploy.ledger import generations

HANDLERS = "benchmarks.outbox_app:handlers"
CONCURRENCY = (1, 2, 4)
BATCH = 100
EMIT_GENERATION = 1
E2E_GENERATION = 2


# -- helpers ---------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[outbox bench] {message}", file=sys.stderr, flush=True)


def create_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def ensure_generation(url: str, generation: int) -> None:
    """Allocate generations up to ``generation`` (emit and workers refuse unknown ones)."""
    with psycopg.connect(url) as conn:
        while generations.get(conn, "spectral", generation) is None:
            generations.allocate(conn, "spectral", tag="bench")


def count(url: str, query: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return int(row[0])


def drain_rate(
    url: str,
    remaining_sql: str,
    total: int,
    start_workers: Callable[[], list[subprocess.Popen[bytes]]],
) -> dict[str, Any]:
    """Start workers on a full queue; the rate between 10% and 90% done, and the total time."""
    started = time.perf_counter()
    workers = start_workers()
    marks: dict[str, float] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            row = conn.execute(remaining_sql).fetchone()  # type: ignore[arg-type]
            assert row is not None
            remaining = int(row[0])
            now = time.perf_counter()
            if remaining <= total * 0.9 and "p10" not in marks:
                marks["p10"] = now
            if remaining <= total * 0.1 and "p90" not in marks:
                marks["p90"] = now
            if remaining == 0:
                marks["done"] = now
                break
            if all(w.poll() is not None for w in workers):
                raise RuntimeError(f"all workers exited with {remaining} rows left")
            if now - started > 900:
                raise RuntimeError("benchmark drain took longer than 15 minutes")
            time.sleep(0.02)
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
    window = marks["p90"] - marks["p10"]
    return {
        "rows": total,
        "rows_per_s": round(total * 0.8 / window) if window > 0 else None,
        "wall_seconds": round(marks["done"] - started, 2),
    }


# -- Spectral Deploy -------------------------------------------------------------------


def spectral_workers(
    url: str, generation: int, processes: int, loops: int, *, synchronous_commit: bool
) -> Callable[[], list[subprocess.Popen[bytes]]]:
    def start() -> list[subprocess.Popen[bytes]]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRAL_")}
        env["DATABASE_URL"] = url
        argv = [
            sys.executable,
            "-m",
            "spectral_deploy",
            "--set",
            f"outbox.batch_rows={BATCH}",
            "--set",
            f"outbox.synchronous_commit={str(synchronous_commit).lower()}",
            "worker",
            "--app",
            HANDLERS,
            "--generation",
            str(generation),
            "--concurrency",
            str(loops),
        ]
        return [
            subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
            for _ in range(processes)
        ]

    return start


def spectral_fill(url: str, generation: int, rows: int) -> None:
    ensure_generation(url, generation)
    with psycopg.connect(url) as conn:
        for start in range(0, rows, 50_000):
            emit_many(
                conn,
                (("bench.noop", {"i": i}) for i in range(start, min(rows, start + 50_000))),
                generation=generation,
            )
            conn.commit()


def spectral_end_to_end(
    url: str,
    generation: int,
    rows: int,
    processes: int,
    loops: int,
    *,
    synchronous_commit: bool = False,
    vacuum: bool = True,
) -> dict[str, Any]:
    spectral_fill(url, generation, rows)
    if vacuum:  # as the raw loops get: a freshly filled table, vacuumed and analyzed
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE spectral.outbox")
    # the partial index of pending rows answers this without reading the heap's history
    remaining = (
        f"SELECT count(*) FROM spectral.outbox WHERE generation = {generation} "
        "AND state = 'pending'"
    )
    return drain_rate(
        url,
        remaining,
        rows,
        spectral_workers(url, generation, processes, loops, synchronous_commit=synchronous_commit),
    )


def bench_emit(url: str, single_rows: int, batched_rows: int) -> dict[str, Any]:
    ensure_generation(url, EMIT_GENERATION)
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        for i in range(single_rows):
            emit(conn, "bench.emit", {"i": i}, generation=EMIT_GENERATION)
            conn.commit()
        single = single_rows / (time.perf_counter() - started)
        started = time.perf_counter()
        for start in range(0, batched_rows, 1000):
            emit_many(
                conn,
                [("bench.emit", {"i": i}) for i in range(start, start + 1000)],
                generation=EMIT_GENERATION,
            )
            conn.commit()
        batched = batched_rows / (time.perf_counter() - started)
        conn.execute("DELETE FROM spectral.outbox WHERE generation = %s", (EMIT_GENERATION,))
        conn.commit()
    return {
        "single_per_commit_rows_per_s": round(single),
        "batched_1000_per_commit_rows_per_s": round(batched),
    }


def memory_and_history(url: str, rows: int, history: int) -> dict[str, Any]:
    """One generation: claim rate on an empty table; then `history` rows through one worker
    (its RSS sampled); then the claim rate again with all that history behind it.

    Autovacuum is off for the outbox here, so every finished row stays behind as a dead
    tuple and a dead index entry: the worst case for claims, and no vacuum competing for
    the two cores while the rates are taken. Each rate is the best of two runs.
    """
    generation = 11
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE spectral.outbox SET (autovacuum_enabled = off)")
    before = max(
        (spectral_end_to_end(url, generation, rows, 1, 1, vacuum=False) for _ in range(2)),
        key=lambda run: run["rows_per_s"] or 0,
    )
    log(f"empty table: {before['rows_per_s']} rows/s; now {history:,} rows through one worker")
    spectral_fill(url, generation, history)
    samples: list[tuple[int, int]] = []
    workers = spectral_workers(url, generation, 1, 1, synchronous_commit=False)()
    process = psutil.Process(workers[0].pid)
    done_sql = (
        f"SELECT count(*) FROM spectral.outbox WHERE generation = {generation} "
        "AND state = 'pending'"
    )
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            row = conn.execute(done_sql).fetchone()  # type: ignore[arg-type]
            assert row is not None
            remaining = int(row[0])
            samples.append((history - remaining, process.memory_info().rss))
            if remaining == 0:
                break
            time.sleep(0.25)
    seconds = time.perf_counter() - started
    workers[0].send_signal(signal.SIGTERM)
    workers[0].wait(timeout=30)
    with psycopg.connect(url, autocommit=True) as conn:
        stats = conn.execute(
            "SELECT n_dead_tup, last_autovacuum IS NOT NULL FROM pg_stat_user_tables "
            "WHERE schemaname = 'spectral' AND relname = 'outbox'"
        ).fetchone()
    after = max(
        (spectral_end_to_end(url, generation, rows, 1, 1, vacuum=False) for _ in range(2)),
        key=lambda run: run["rows_per_s"] or 0,
    )
    warm = [rss for handled, rss in samples if handled >= history * 0.1]
    first, last = warm[0], warm[-1]
    return {
        "history_rows": history,
        "history_drain_seconds": round(seconds, 1),
        "dead_tuples_after_history": stats[0] if stats else None,
        "autovacuum": "off for this section (dead rows stay: the worst case for claims)",
        "empty_table_rows_per_s": before["rows_per_s"],
        "after_history_rows_per_s": after["rows_per_s"],
        "after_history_ratio": round(after["rows_per_s"] / before["rows_per_s"], 3),
        "worker_rss_mb": {
            "at_10_percent": round(first / 2**20, 1),
            "at_end": round(last / 2**20, 1),
            "max_after_10_percent": round(max(warm) / 2**20, 1),
            "growth_ratio": round(last / first, 3),
        },
    }


# -- the raw loops ---------------------------------------------------------------------
#
# lease loop: this design with nothing around it (claim 100 under a lease with SKIP LOCKED,
#   then delete them), at-least-once like the outbox: the practical limit for the design.
# delete loop: DELETE ... RETURNING 100 rows per statement, asynchronous commit:
#   at-most-once (a crash after the commit loses the rows), a different guarantee; the
#   physical limit of a PostgreSQL queue on this machine.
# Each run gets a fresh database and table, so it never works behind the dead tuples of the
# runs before it (measured: the delete loop fell from 234k rows/s to 59k after four runs).

RAW_SCHEMA = """
CREATE TABLE raw_queue (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payload jsonb NOT NULL,
    lease_owner uuid,
    lease_expires_at timestamptz,
    attempt integer NOT NULL DEFAULT 0
)
"""
RAW_LEASE_CLAIM = """
UPDATE raw_queue q
SET lease_owner = %s, lease_expires_at = now() + interval '30 seconds', attempt = q.attempt + 1
FROM (SELECT id FROM raw_queue
      WHERE lease_expires_at IS NULL OR lease_expires_at < now()
      ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED) c
WHERE q.id = c.id
RETURNING q.id, q.attempt, q.payload
"""
RAW_LEASE_ACK = "DELETE FROM raw_queue WHERE id = ANY(%s) AND lease_owner = %s"
RAW_DELETE_CLAIM = """
DELETE FROM raw_queue WHERE id IN (
    SELECT id FROM raw_queue ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED
) RETURNING id, payload
"""


def raw_worker(url: str, mode: str, synchronous_commit: str) -> None:
    owner = uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"SET synchronous_commit = {synchronous_commit}")  # type: ignore[arg-type]
        while True:
            if mode == "lease":
                rows = conn.execute(RAW_LEASE_CLAIM, (owner,)).fetchall()
                if rows:
                    conn.execute(RAW_LEASE_ACK, ([row[0] for row in rows], owner))
            else:
                rows = conn.execute(RAW_DELETE_CLAIM).fetchall()
            if not rows:
                return


def raw_end_to_end(
    url: str, rows: int, processes: int, mode: str, synchronous_commit: str
) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        conn.execute(RAW_SCHEMA)
        with conn.cursor() as cursor, cursor.copy("COPY raw_queue (payload) FROM STDIN") as copy:
            for i in range(rows):
                copy.write_row((json.dumps({"i": i}),))
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE raw_queue")

    def start() -> list[subprocess.Popen[bytes]]:
        return [
            subprocess.Popen([sys.executable, __file__, "_raw", url, mode, synchronous_commit])
            for _ in range(processes)
        ]

    return drain_rate(url, "SELECT count(*) FROM raw_queue", rows, start)


# -- PgQueuer --------------------------------------------------------------------------


async def pgqueuer_install_and_fill(url: str, rows: int) -> None:
    from pgqueuer.db import PsycopgDriver
    from pgqueuer.queries import Queries

    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    queries = Queries(PsycopgDriver(conn))
    if not await queries.schema_is_installed():
        await queries.install()
    for start in range(0, rows, 5000):
        size = min(5000, rows - start)
        await queries.enqueue(["bench"] * size, [None] * size, [0] * size)
    await conn.close()


async def pgqueuer_worker_async(url: str) -> None:
    from pgqueuer.db import PsycopgDriver
    from pgqueuer.models import Job
    from pgqueuer.qm import QueueManager
    from pgqueuer.queries import Queries
    from pgqueuer.types import QueueExecutionMode

    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    manager = QueueManager(Queries(PsycopgDriver(conn)))

    @manager.entrypoint("bench")
    async def noop(job: Job) -> None:
        return None

    await manager.run(batch_size=BATCH, mode=QueueExecutionMode.drain)


def pgqueuer_end_to_end(url: str, rows: int, processes: int) -> dict[str, Any]:
    asyncio.run(pgqueuer_install_and_fill(url, rows))

    def start() -> list[subprocess.Popen[bytes]]:
        return [
            subprocess.Popen([sys.executable, __file__, "_pgqueuer", url]) for _ in range(processes)
        ]

    return drain_rate(url, "SELECT count(*) FROM pgqueuer", rows, start)


# -- procrastinate ---------------------------------------------------------------------


def procrastinate_app(url: str) -> Any:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector(conninfo=url))

    @app.task(name="bench")
    def noop(i: int) -> None:
        return None

    return app, noop


def procrastinate_fill(url: str, rows: int) -> None:
    app, noop = procrastinate_app(url)
    with app.open():
        try:
            app.schema_manager.apply_schema()
        except Exception as exc:  # already installed
            log(f"procrastinate schema: {type(exc).__name__}")
        for start in range(0, rows, 1000):
            noop.batch_defer(*[{"i": i} for i in range(start, min(rows, start + 1000))])


def procrastinate_worker(url: str) -> None:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

    @app.task(name="bench")
    def noop(i: int) -> None:
        return None

    app.run_worker(wait=False, concurrency=1)


def procrastinate_end_to_end(url: str, rows: int, processes: int) -> dict[str, Any]:
    procrastinate_fill(url, rows)

    def start() -> list[subprocess.Popen[bytes]]:
        return [
            subprocess.Popen(
                [sys.executable, __file__, "_procrastinate", url], stderr=subprocess.DEVNULL
            )
            for _ in range(processes)
        ]

    remaining = "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
    return drain_rate(url, remaining, rows, start)


# -- where a row's time goes -------------------------------------------------------------


PROFILE_BUCKETS = (
    ("claim and ack round trips (waiting for PostgreSQL)", ("psycopg", "pgstore.py")),
    ("payload decode (codec)", ("codec.py", "orjson")),
    ("handler (a no-op)", ("outbox_app.py",)),
)


def profile_worker(url: str, rows: int) -> dict[str, Any]:
    """One worker, one claim loop, in this process under cProfile: time per row by bucket."""
    from spectral_deploy.outbox.loader import load_handlers
    from spectral_deploy.outbox.pgstore import PostgresStore
    from spectral_deploy.outbox.worker import Worker, WorkerSettings

    handlers = load_handlers(HANDLERS, search_path=REPO)

    generation = 31
    spectral_fill(url, generation, rows)
    database = Database(url=url, schema="spectral", settings=DatabaseConfig(), embedded=True)
    settings = WorkerSettings.from_config(OutboxConfig(), generation=generation)
    worker = Worker(handlers, settings, lambda: PostgresStore(database.connect(), "spectral"))
    profiler = cProfile.Profile()
    original = Worker._claim_loop

    def profiled(self: Worker, *args: Any) -> None:
        profiler.enable()
        try:
            original(self, *args)
        finally:
            profiler.disable()

    Worker._claim_loop = profiled  # type: ignore[method-assign]
    thread = threading.Thread(target=worker.run)
    started = time.perf_counter()
    thread.start()
    remaining = (
        f"SELECT count(*) FROM spectral.outbox WHERE generation = {generation} "
        "AND state = 'pending'"
    )
    while count(url, remaining):
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    worker.request_stop()
    thread.join()
    Worker._claim_loop = original  # type: ignore[method-assign]
    stats = pstats.Stats(profiler)
    entries = stats.stats  # type: ignore[attr-defined]
    total = sum(tottime for _, _, tottime, _, _ in entries.values())
    buckets = dict.fromkeys([name for name, _ in PROFILE_BUCKETS], 0.0)
    rest = 0.0
    for (filename, _, _), (_, _, tottime, _, _) in entries.items():
        for name, markers in PROFILE_BUCKETS:
            if any(marker in filename for marker in markers):
                buckets[name] += tottime
                break
        else:
            rest += tottime
    buckets["the worker's own bookkeeping (events, dispatch, leases, fence)"] = rest
    top = sorted(entries.items(), key=lambda item: item[1][2], reverse=True)[:12]
    return {
        "rows": rows,
        "rows_per_s_under_profiler": round(rows / seconds),
        "note": "cProfile inflates Python time; read the shares, not the absolute figures",
        "us_per_row": {name: round(value / rows * 1e6, 2) for name, value in buckets.items()},
        "share": {name: round(value / total, 3) for name, value in buckets.items()},
        "top_functions_us_per_row": {
            f"{Path(filename).name}:{line}({function})": round(tottime / rows * 1e6, 3)
            for (filename, line, function), (_, _, tottime, _, _) in top
        },
    }


# -- main ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000, help="rows per end-to-end run")
    parser.add_argument("--peer-rows", type=int, default=50_000, help="rows per PgQueuer run")
    parser.add_argument("--procrastinate-rows", type=int, default=4_000)
    parser.add_argument("--history", type=int, default=1_000_000)
    parser.add_argument("--profile-rows", type=int, default=100_000)
    parser.add_argument(
        "--only",
        choices=["history", "e2e", "profile"],
        help="run one section: history, e2e (ours and the raw loops, no peers), profile "
        "(targets need the whole run)",
    )
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="spectral-bench-"))
    root.chmod(0o755)
    server = EmbeddedServer(root / "pg")
    status = server.ensure_started({"max_connections": "200"})
    admin = status.url("postgres")
    assert admin is not None
    fresh = itertools.count(1)

    def database(name: str, *, spectral: bool = False) -> str:
        create_database(admin, name)
        url = status.url(name)
        assert url is not None
        if spectral:
            with psycopg.connect(url, autocommit=True) as conn:
                install(conn, "spectral")
        return url

    def ours(processes: int, loops: int, *, synchronous_commit: bool = False) -> dict[str, Any]:
        url = database(f"bench_spectral_{next(fresh)}", spectral=True)
        return spectral_end_to_end(
            url,
            E2E_GENERATION,
            args.rows,
            processes,
            loops,
            synchronous_commit=synchronous_commit,
        )

    def raw(processes: int, mode: str, synchronous_commit: str) -> dict[str, Any]:
        url = database(f"bench_raw_{next(fresh)}")
        return raw_end_to_end(url, args.rows, processes, mode, synchronous_commit)

    result: dict[str, Any] = {
        "benchmark": "outbox",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "server": f"PostgreSQL {status.version} (embedded, default durability)",
        "batch_rows": BATCH,
        "rows_per_end_to_end_run": args.rows,
    }
    try:
        if args.only == "history":
            hist = database("bench_history", spectral=True)
            result["history_and_memory"] = memory_and_history(hist, args.rows, args.history)
            print(json.dumps(result, indent=2))
            return
        if args.only == "profile":
            url = database("bench_profile", spectral=True)
            result["per_row_profile"] = profile_worker(url, args.profile_rows)
            print(json.dumps(result, indent=2))
            return
        if args.only is None:
            log("emit")
            result["emit"] = bench_emit(database("bench_emit", spectral=True), 3_000, 100_000)

        e2e: dict[str, Any] = {}
        for k in CONCURRENCY:
            log(f"spectral-deploy, {k} worker process(es)")
            e2e[f"spectral_processes_{k}"] = ours(k, 1)
            log(f"raw lease loop, {k} process(es), synchronous_commit off")
            e2e[f"raw_lease_loop_processes_{k}"] = raw(k, "lease", "off")
            log(f"raw delete loop (at-most-once), {k} process(es)")
            e2e[f"raw_delete_loop_processes_{k}"] = raw(k, "delete", "off")
        for k in (2, 4):
            log(f"spectral-deploy, one process with --concurrency {k}")
            e2e[f"spectral_one_process_concurrency_{k}"] = ours(1, k)
        log("spectral-deploy, 2 processes, synchronous_commit on")
        e2e["spectral_processes_2_synchronous_commit_on"] = ours(2, 1, synchronous_commit=True)
        log("raw lease loop, 2 processes, synchronous_commit on")
        e2e["raw_lease_loop_processes_2_synchronous_commit_on"] = raw(2, "lease", "on")

        if args.only is None:
            pgq = database("bench_pgqueuer")
            for k in CONCURRENCY:
                log(f"PgQueuer, {k} process(es), batch {BATCH}")
                e2e[f"pgqueuer_processes_{k}"] = pgqueuer_end_to_end(pgq, args.peer_rows, k)
            proc = database("bench_procrastinate")
            for k in CONCURRENCY:
                log(f"procrastinate, {k} process(es)")
                e2e[f"procrastinate_processes_{k}"] = procrastinate_end_to_end(
                    proc, args.procrastinate_rows, k
                )
        result["end_to_end"] = e2e

        def best(prefix: str) -> int:
            return max(
                v["rows_per_s"] or 0
                for k, v in e2e.items()
                if k.startswith(prefix) and "synchronous_commit_on" not in k
            )

        ours_best = best("spectral_")
        lease_best = best("raw_lease_loop_")
        delete_best = best("raw_delete_loop_")
        targets: dict[str, Any] = {
            "ours_best_rows_per_s": ours_best,
            "raw_lease_loop_best_rows_per_s": lease_best,
            "raw_delete_loop_best_rows_per_s": delete_best,
            "vs_raw_lease_loop": round(ours_best / lease_best, 3),
            "vs_raw_lease_loop_target": 1.0,
            "vs_raw_delete_loop": round(ours_best / delete_best, 3),
            "vs_raw_delete_loop_target": 0.7,
            "per_process_count": {
                str(k): {
                    "vs_raw_lease_loop": _ratio(e2e, f"spectral_processes_{k}", "raw_lease", k),
                    "vs_raw_delete_loop": _ratio(e2e, f"spectral_processes_{k}", "raw_delete", k),
                }
                for k in CONCURRENCY
            },
        }
        met = ours_best >= lease_best and ours_best >= 0.7 * delete_best
        if args.only is None:
            hist = database("bench_history", spectral=True)
            log("history and memory")
            result["history_and_memory"] = history = memory_and_history(
                hist, args.rows, args.history
            )
            pgq_best = best("pgqueuer_")
            targets.update(
                {
                    "pgqueuer_best_rows_per_s": pgq_best,
                    "vs_pgqueuer": round(ours_best / pgq_best, 2),
                    "vs_pgqueuer_target": 3.0,
                    "after_history_ratio": history["after_history_ratio"],
                    "after_history_target": 0.9,
                    "worker_rss_growth_ratio": history["worker_rss_mb"]["growth_ratio"],
                }
            )
            met = (
                met
                and ours_best >= 3 * pgq_best
                and history["after_history_ratio"] >= 0.9
                and history["worker_rss_mb"]["growth_ratio"] <= 1.1
            )
        targets["met"] = met
        result["targets"] = targets
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result, indent=2))


def _ratio(e2e: dict[str, Any], ours: str, raw: str, processes: int) -> float | None:
    theirs = e2e.get(f"{raw}_loop_processes_{processes}", {}).get("rows_per_s")
    mine = e2e.get(ours, {}).get("rows_per_s")
    return round(mine / theirs, 3) if mine and theirs else None


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_raw":
        raw_worker(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) > 1 and sys.argv[1] == "_pgqueuer":
        asyncio.run(pgqueuer_worker_async(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "_procrastinate":
        procrastinate_worker(sys.argv[2])
    else:
        main()
