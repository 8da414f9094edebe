"""Forward-only migrations on the real server: order, checksums, transactions, timeouts."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from spectral_deploy.config import MigrationsConfig
from spectral_deploy.db import Database
from spectral_deploy.errors import CheckFailed
from spectral_deploy.migrate.runner import FileState, apply, discover, plan


def write(directory: Path, name: str, text: str) -> None:
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(text)


def test_pending_files_apply_in_name_order_once(database: Database, tmp_path: Path) -> None:
    """Two runs: the first applies both files in order with the generation, the second nothing."""
    write(tmp_path, "0002_b.sql", "ALTER TABLE a ADD COLUMN b text;")
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (id int);")
    with database.connect() as conn:
        first = apply(conn, "spectral", discover(tmp_path), MigrationsConfig(), generation=4)
        second = apply(conn, "spectral", discover(tmp_path), MigrationsConfig(), generation=5)
        states = plan(conn, "spectral", discover(tmp_path))
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'a' ORDER BY 1"
        ).fetchall()
    assert first == ["0001_a.sql", "0002_b.sql"]
    assert second == []
    assert [(s.name, s.state, s.generation) for s in states] == [
        ("0001_a.sql", FileState.APPLIED, 4),
        ("0002_b.sql", FileState.APPLIED, 4),
    ]
    assert columns == [("b",), ("id",)]


def test_an_edited_applied_file_is_an_error(database: Database, tmp_path: Path) -> None:
    """Changing a file after it ran is refused: forward-only means a new file instead."""
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (id int);")
    with database.connect() as conn:
        apply(conn, "spectral", discover(tmp_path), MigrationsConfig(), generation=1)
        write(tmp_path, "0001_a.sql", "CREATE TABLE a (id bigint);")
        assert plan(conn, "spectral", discover(tmp_path))[0].state is FileState.CHANGED
        with pytest.raises(CheckFailed, match="edited since"):
            apply(conn, "spectral", discover(tmp_path), MigrationsConfig(), generation=2)


def test_a_failing_file_rolls_back_and_stops(database: Database, tmp_path: Path) -> None:
    """A file that fails leaves nothing half-done and stops the run; later files wait."""
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (id int); INSERT INTO missing VALUES (1);")
    write(tmp_path, "0002_b.sql", "CREATE TABLE b (id int);")
    with database.connect() as conn:
        with pytest.raises(CheckFailed, match=r"0001_a\.sql failed"):
            apply(conn, "spectral", discover(tmp_path), MigrationsConfig(), generation=1)
        tables = conn.execute("SELECT to_regclass('a'), to_regclass('b')").fetchone()
        states = [s.state for s in plan(conn, "spectral", discover(tmp_path))]
    assert tables == (None, None)
    assert states == [FileState.PENDING, FileState.PENDING]


def test_concurrent_index_runs_outside_a_transaction(database: Database, tmp_path: Path) -> None:
    """CREATE INDEX CONCURRENTLY cannot run in a transaction: the runner knows and records it."""
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (id int, b text);")
    write(tmp_path, "0002_idx.sql", "CREATE INDEX CONCURRENTLY IF NOT EXISTS a_b ON a (b);")
    with database.connect() as conn:
        apply(conn, "spectral", discover(tmp_path), MigrationsConfig(), generation=1)
        rows = conn.execute(
            "SELECT filename, transactional FROM spectral.app_migrations ORDER BY 1"
        ).fetchall()
        index = conn.execute("SELECT to_regclass('a_b')").fetchone()
    assert rows == [("0001_a.sql", True), ("0002_idx.sql", False)]
    assert index is not None and index[0] is not None


def test_lock_timeout_stops_a_migration_behind_a_long_lock(
    database: Database, tmp_path: Path
) -> None:
    """A migration that would queue behind another session's lock gives up after lock_timeout."""
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (id int);")
    write(tmp_path, "0002_b.sql", "ALTER TABLE a ADD COLUMN b text;")
    with database.connect() as conn:
        apply(conn, "spectral", discover(tmp_path)[:1], MigrationsConfig(), generation=1)
    with database.connect() as holder:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE a IN ACCESS SHARE MODE")
        with database.connect() as conn, pytest.raises(CheckFailed, match="lock timeout"):
            apply(
                conn,
                "spectral",
                discover(tmp_path),
                MigrationsConfig(lock_timeout_seconds=1),
                generation=2,
            )
        holder.rollback()


def test_concurrent_runs_apply_each_file_once(database: Database, tmp_path: Path) -> None:
    """Two runners at once are serialised by the advisory lock."""
    for index in range(5):
        write(tmp_path, f"{index:04d}_t.sql", f"CREATE TABLE t{index} (id int);")
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with psycopg.connect(database.url) as conn:
                results.append(
                    apply(conn, "spectral", discover(tmp_path), MigrationsConfig(), generation=1)
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(name for applied in results for name in applied) == [
        f"{i:04d}_t.sql" for i in range(5)
    ]
