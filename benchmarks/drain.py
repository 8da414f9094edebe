"""Legacy drain benchmark: process-mode rate against a worker's, and adopt under live traffic.

Run with `make bench` (or `.venv/bin/python benchmarks/drain.py`); prints one JSON document.

1. process mode: 100,000 rows of a worker's generation through one worker process, then
   100,000 stranded rows of another generation through `spectral-deploy drain` (process
   mode): both rates taken between 10% and 90% done. Target: drain >= 90% of the worker.
2. adopt: 1,000,000 stranded rows re-stamped into the active generation while an app emits
   one event per transaction into it and a worker of it runs. Printed: the longest adopt
   transaction (an upper bound of how long it held row locks; target < 1 s) and the app's
   emit latency before and during the adopt.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

import outbox as outbox_bench  # the outbox benchmark's helpers

from spectral_deploy import emit
from spectral_deploy.db.embedded import EmbeddedServer
from spectral_deploy.db.schema import install
from spectral_deploy.ledger import generations
from spectral_deploy.ledger.generations import GenerationState

REPO = HERE.parent
APP = outbox_bench.HANDLERS


def log(message: str) -> None:
    print(f"[drain bench] {message}", file=sys.stderr, flush=True)


def drain_process_rate(url: str, generation: int, rows: int) -> dict[str, Any]:
    outbox_bench.spectral_fill(url, generation, rows)

    def start() -> list[subprocess.Popen[bytes]]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRAL_")}
        env["DATABASE_URL"] = url
        argv = [
            sys.executable,
            "-m",
            "spectral_deploy",
            "drain",
            "--target-generation",
            str(generation),
            "--app",
            APP,
            "--yes",
        ]
        return [
            subprocess.Popen(
                argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        ]

    remaining = (
        f"SELECT count(*) FROM spectral.outbox WHERE generation = {generation} "
        "AND state = 'pending'"
    )
    return outbox_bench.drain_rate(url, remaining, rows, start)


class Emitter:
    """An app emitting one event per transaction into a generation, timing each commit."""

    def __init__(self, url: str, generation: int) -> None:
        self.url = url
        self.generation = generation
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Emitter:
        self._thread.start()
        return self

    def take(self) -> list[float]:
        taken, self.latencies = self.latencies, []
        return taken

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with psycopg.connect(self.url) as conn:
            while not self._stop.is_set():
                began = time.perf_counter()
                emit(conn, "bench.noop", {"from": "app"}, generation=self.generation)
                conn.commit()
                self.latencies.append(time.perf_counter() - began)
                time.sleep(0.005)


def latency_summary(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    return {
        "emits": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def adopt_under_traffic(url: str, stranded: int, rows: int) -> dict[str, Any]:
    outbox_bench.ensure_generation(url, 3)
    with psycopg.connect(url) as conn:
        generations.set_state(conn, "spectral", 3, GenerationState.ACTIVE)
    log(f"filling {rows:,} stranded rows of generation {stranded}")
    outbox_bench.spectral_fill(url, stranded, rows)
    worker = outbox_bench.spectral_workers(url, 3, 1, 1, synchronous_commit=False)()[0]
    emitter = Emitter(url, 3).start()
    time.sleep(5)
    baseline = latency_summary(emitter.take())
    log("adopting")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRAL_")}
    env["DATABASE_URL"] = url
    began = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "spectral_deploy",
            "drain",
            "--target-generation",
            str(stranded),
            "--mode",
            "adopt",
            "--yes",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - began
    during = latency_summary(emitter.take())
    emitter.stop()
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"adopt failed ({result.returncode}): {result.stderr}")
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT details FROM spectral.ledger WHERE action = 'drain-finish' "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert row is not None
    details: dict[str, Any] = row[0]  # type: ignore[assignment]
    return {
        "rows": rows,
        "adopted": details["adopted"],
        "seconds": round(seconds, 1),
        "rows_per_s": round(details["adopted"] / seconds),
        "longest_transaction_seconds": details["longest_batch_seconds"],
        "longest_transaction_target_seconds": 1.0,
        "app_emit_latency_before": baseline,
        "app_emit_latency_during": during,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--adopt-rows", type=int, default=1_000_000)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="spectral-drain-bench-"))
    root.chmod(0o755)
    server = EmbeddedServer(root / "pg")
    status = server.ensure_started({"max_connections": "200"})
    admin = status.url("postgres")
    assert admin is not None
    result: dict[str, Any] = {
        "benchmark": "drain",
        "machine": {"cpus": os.cpu_count()},
        "server": f"PostgreSQL {status.version} (embedded, default durability)",
    }
    try:
        outbox_bench.create_database(admin, "bench_drain")
        url = status.url("bench_drain")
        assert url is not None
        with psycopg.connect(url, autocommit=True) as conn:
            install(conn, "spectral")
        log(f"worker: {args.rows:,} rows")
        worker = outbox_bench.spectral_end_to_end(url, 21, args.rows, 1, 1)
        log(f"drain (process mode): {args.rows:,} rows")
        drained = drain_process_rate(url, 22, args.rows)
        result["process_mode"] = {
            "worker_rows_per_s": worker["rows_per_s"],
            "drain_rows_per_s": drained["rows_per_s"],
            "ratio": round(drained["rows_per_s"] / worker["rows_per_s"], 3),
            "target_ratio": 0.9,
        }
        outbox_bench.create_database(admin, "bench_adopt")
        adopt_url = status.url("bench_adopt")
        assert adopt_url is not None
        with psycopg.connect(adopt_url, autocommit=True) as conn:
            install(conn, "spectral")
        result["adopt"] = adopt_under_traffic(adopt_url, 30, args.adopt_rows)
        result["targets_met"] = (
            result["process_mode"]["ratio"] >= 0.9
            and result["adopt"]["longest_transaction_seconds"] < 1.0
        )
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
