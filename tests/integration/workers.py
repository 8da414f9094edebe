"""Running `spectral-deploy worker` processes against a test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spectral_deploy import emit
from spectral_deploy.db import Database
from spectral_deploy.ledger import generations

REPO = Path(__file__).resolve().parents[2]
APP = "tests.fixtures.outbox_app:handlers"
FAST_SETTINGS = {
    "outbox.poll_seconds": "0.2",
    "outbox.heartbeat_seconds": "0.2",
    "outbox.stale_after_seconds": "1.0",
    "outbox.backoff_base_seconds": "0.05",
    "outbox.backoff_max_seconds": "0.2",
}


@dataclass
class WorkerProcess:
    """A worker subprocess and its captured stderr."""

    process: subprocess.Popen[str]
    log: Path

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 30) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> int:
        """SIGTERM and wait; a worker that outlives the wait fails with the tail of its log."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"worker {self.process.pid} did not stop within 30 s of SIGTERM; its log ends:\n"
                + self.stderr()[-3000:]
            ) from None

    def stderr(self) -> str:
        return self.log.read_text()


def start_worker(
    database: Database,
    generation: int,
    tmp: Path,
    *args: str,
    settings: dict[str, str] | None = None,
) -> WorkerProcess:
    """Start a worker for ``generation`` (allocated first) with fast timings (override with
    ``settings``)."""
    ensure_generations(database, generation)
    overrides = {**FAST_SETTINGS, **(settings or {})}
    argv = [sys.executable, "-m", "spectral_deploy"]
    for key, value in overrides.items():
        argv += ["--set", f"{key}={value}"]
    argv += ["worker", "--app", APP, "--generation", str(generation), *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRAL_")}
    env["DATABASE_URL"] = database.url
    log = tmp / f"worker-{generation}-{time.monotonic_ns()}.log"
    handle = log.open("w")
    process = subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT, text=True
    )
    return WorkerProcess(process, log)


def query(db: Database, text: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with db.connect() as conn:
        return conn.execute(text, params).fetchall()  # type: ignore[arg-type]


def scalar(db: Database, text: str, params: tuple[Any, ...] = ()) -> Any:
    return query(db, text, params)[0][0]


def emit_work(db: Database, generation: int, count: int, **payload: Any) -> list[int]:
    """``count`` committed ``test.work`` rows stamped with ``generation`` (allocated first)."""
    ensure_generations(db, generation)
    with db.connect() as conn:
        ids = [emit(conn, "test.work", payload, generation=generation) for _ in range(count)]
        conn.commit()
    return ids


def pass_time(db: Database, seconds: float) -> None:
    """Make ``seconds`` pass for the outbox SQL without sleeping: leases, availability and
    heartbeats are shifted that far into the past, which is all the passing of time changes."""
    shift = {"s": seconds}
    with db.connect() as conn:
        conn.execute(
            "UPDATE spectral.outbox SET "
            "available_at = available_at - make_interval(secs => %(s)s), "
            "lease_expires_at = lease_expires_at - make_interval(secs => %(s)s)",
            shift,
        )
        conn.execute(
            "UPDATE spectral.workers SET "
            "heartbeat_at = heartbeat_at - make_interval(secs => %(s)s)",
            shift,
        )
        conn.commit()


def handled_ids(db: Database) -> list[int]:
    """Event ids the fixture handlers recorded, in order."""
    return [row[0] for row in query(db, "SELECT event_id FROM test_handled ORDER BY event_id")]


def ensure_generations(db: Database, up_to: int) -> None:
    """Allocate generations until ``up_to`` exists (emit and workers refuse unknown ones)."""
    with db.connect() as conn:
        while not generations.get(conn, db.schema, up_to):
            generations.allocate(conn, db.schema, tag="test")


def calls(db: Database) -> list[tuple[int, int]]:
    """(event id, attempt) of every handler call that started, in order."""
    return [
        (row[0], row[1])
        for row in query(db, "SELECT event_id, attempt FROM test_calls ORDER BY called_at")
    ]


def worker_id(db: Database, pid: int) -> Any:
    """The registry id of the worker process ``pid``."""
    return scalar(db, "SELECT id FROM spectral.workers WHERE pid = %s", (pid,))


def drain_argv(*args: str, settings: dict[str, str] | None = None) -> list[str]:
    argv = [sys.executable, "-m", "spectral_deploy"]
    for key, value in {**FAST_SETTINGS, **(settings or {})}.items():
        argv += ["--set", f"{key}={value}"]
    return [*argv, "drain", *args]


def drain_env(db: Database, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRAL_")}
    env["DATABASE_URL"] = db.url
    env.update(extra)
    return env


def run_drain(
    db: Database,
    *args: str,
    settings: dict[str, str] | None = None,
    timeout: float = 120,
    **env: str,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        drain_argv(*args, settings=settings),
        cwd=REPO,
        env=drain_env(db, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_drain(
    db: Database, *args: str, settings: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        drain_argv(*args, settings=settings),
        cwd=REPO,
        env=drain_env(db),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
