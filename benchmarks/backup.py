"""Benchmark: `spectral-deploy backup run` against plain `pg_dump -Fc` to a local file.

Builds a database of at least ``--size-gb`` GB on a private embedded PostgreSQL,
then, in the same run, times plain ``pg_dump -Fc -f FILE`` and the full
``spectral-deploy backup run`` (pg_dump -> age -> file storage, sha256 and row
counts on the way), sampling the resident memory of each process tree (the
command and every child: for us, Python and pg_dump). A second, ~10x smaller
database shows that our peak memory does not grow with the database. Prints one
JSON document; removes everything it created.

    python benchmarks/backup.py            # ~1.1 GB, a few minutes on 2 cores
    python benchmarks/backup.py --size-gb 0.2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg
from pyrage import x25519

from spectral_deploy.db.embedded import EmbeddedServer, bin_dir

TARGET_RATIO = 1.3
TARGET_PEAK_MB = 150
SAMPLE_SECONDS = 0.05
ROWS_PER_BATCH = 1_000_000
SMALL_FRACTION = 0.1
SERVER_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "30min",
    "shared_buffers": "256MB",
}

TABLE_SQL = """
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    customer_id integer NOT NULL,
    amount numeric(12, 2) NOT NULL,
    created_at timestamptz NOT NULL,
    status text NOT NULL,
    reference text NOT NULL,
    note text
)
"""
# realistic-ish rows: numbers, timestamps, a few repeated words, and hex that compresses poorly
INSERT_SQL = """
INSERT INTO orders
SELECT g,
       (g * 7919) %% 100000,
       ((g * 31) %% 100000) / 100.0,
       timestamptz '2024-01-01' + make_interval(secs => g %% 63072000),
       (ARRAY['new', 'paid', 'shipped', 'refunded'])[1 + g %% 4],
       md5(g::text) || md5((g * 3)::text),
       CASE WHEN g %% 3 = 0 THEN 'gift wrap, leave at door ' || (g %% 97) END
FROM generate_series(%(start)s::bigint, %(stop)s::bigint) AS g
"""


@dataclass(frozen=True)
class Measured:
    """One command's wall time and peak memory."""

    seconds: float
    peak_tree_rss_bytes: int
    peak_python_rss_bytes: int | None


def sample_tree(process: subprocess.Popen[bytes], python: bool) -> Measured:
    """Wait for ``process``, sampling the summed RSS of it and its children."""
    root = psutil.Process(process.pid)
    peak_tree = 0
    peak_root = 0
    started = time.monotonic()
    while process.poll() is None:
        try:
            members = [root, *root.children(recursive=True)]
            rss = [m.memory_info().rss for m in members]
        except psutil.Error:
            rss = []
        if rss:
            peak_tree = max(peak_tree, sum(rss))
            peak_root = max(peak_root, rss[0])
        time.sleep(SAMPLE_SECONDS)
    seconds = time.monotonic() - started
    if process.returncode != 0:
        raise SystemExit(f"{process.args!r} failed with status {process.returncode}")
    return Measured(seconds, peak_tree, peak_root if python else None)


def build_database(url: str, target_bytes: int) -> int:
    """Insert rows until the database is at least ``target_bytes``; returns its size."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(TABLE_SQL)
        start = 1
        while True:
            size = int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])  # type: ignore[index]
            if size >= target_bytes:
                break
            missing = target_bytes - size
            # ~150 bytes a row on disk, index included
            batch = max(50_000, min(ROWS_PER_BATCH, missing // 150 + 1))
            conn.execute(INSERT_SQL, {"start": start, "stop": start + batch - 1})
            start += batch
        conn.execute("VACUUM ANALYZE orders")
        return int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])  # type: ignore[index]


def plain_pg_dump(url: str, out: Path) -> Measured:
    """`pg_dump -Fc -f out`: the baseline."""
    process = subprocess.Popen(
        [str(bin_dir() / "pg_dump"), "--format=custom", f"--file={out}", f"--dbname={url}"],
        stdout=subprocess.DEVNULL,
    )
    return sample_tree(process, python=False)


def spectral_backup(
    url: str, workdir: Path, recipients: list[str]
) -> tuple[Measured, dict[str, Any]]:
    """`spectral-deploy backup run --format json` as an operator runs it."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SPECTRAL_")},
        "DATABASE_URL": url,
        "SPECTRAL_BACKUP_RECIPIENTS": ",".join(recipients),
    }
    out_file = workdir / "run.json"
    with out_file.open("wb") as stdout:
        process = subprocess.Popen(
            [sys.executable, "-m", "spectral_deploy", "backup", "run", "--format", "json",
             "--to", f"file://{workdir / 'backups'}"],
            cwd=workdir,
            env=env,
            stdout=stdout,
        )  # fmt: skip
        measured = sample_tree(process, python=True)
    return measured, json.loads(out_file.read_text())


def measure(url: str, workdir: Path, recipients: list[str], rounds: int) -> dict[str, Any]:
    """Best of ``rounds`` alternating runs of plain pg_dump and ours."""
    plain: list[Measured] = []
    ours: list[Measured] = []
    manifest: dict[str, Any] = {}
    dump_file = workdir / "plain.dump"
    for _ in range(rounds):
        plain.append(plain_pg_dump(url, dump_file))
        dump_size = dump_file.stat().st_size
        dump_file.unlink()
        result, manifest = spectral_backup(url, workdir, recipients)
        ours.append(result)
        shutil.rmtree(workdir / "backups")
    best_plain = min(plain, key=lambda m: m.seconds)
    best_ours = min(ours, key=lambda m: m.seconds)
    return {
        "plain_pg_dump": {
            "seconds": round(best_plain.seconds, 2),
            "dump_bytes": dump_size,
            "peak_tree_rss_mb": round(best_plain.peak_tree_rss_bytes / 1e6, 1),
            "all_seconds": [round(m.seconds, 2) for m in plain],
        },
        "spectral_backup_run": {
            "seconds": round(best_ours.seconds, 2),
            "encrypted_bytes": manifest["size_bytes"],
            "tables": len(manifest["tables"]),
            "rows": sum(t["rows"] for t in manifest["tables"]),
            "peak_tree_rss_mb": round(max(m.peak_tree_rss_bytes for m in ours) / 1e6, 1),
            "peak_python_rss_mb": round(max(m.peak_python_rss_bytes or 0 for m in ours) / 1e6, 1),
            "all_seconds": [round(m.seconds, 2) for m in ours],
        },
        "ratio_vs_plain": round(best_ours.seconds / best_plain.seconds, 3),
    }


def pg_dump_version() -> str:
    """The pg_dump both sides use."""
    command = [str(bin_dir() / "pg_dump"), "--version"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=1.1, help="database size to build")
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs of each")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="spectral-bench-"))
    root.chmod(0o755)
    server = EmbeddedServer(root / "pg")
    try:
        status = server.ensure_started(SERVER_SETTINGS)
        admin = status.url("postgres")
        assert admin is not None
        recipients = [str(x25519.Identity.generate().to_public()) for _ in range(2)]
        results: dict[str, Any] = {
            "benchmark": "backup",
            "machine": {
                "cpus": os.cpu_count(),
                "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            },
            "pg_dump": pg_dump_version(),
            "recipients": len(recipients),
        }  # fmt: skip
        sizes = {"large": args.size_gb, "small": args.size_gb * SMALL_FRACTION}
        for label, size_gb in sizes.items():
            name = f"bench_{label}"
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name}")
                conn.execute(f"CREATE DATABASE {name}")
            url = status.url(name)
            assert url is not None
            started = time.monotonic()
            db_bytes = build_database(url, int(size_gb * 1e9))
            build_seconds = time.monotonic() - started
            workdir = root / label
            workdir.mkdir()
            figures = measure(url, workdir, recipients, args.rounds)
            ours = figures["spectral_backup_run"]
            figures = {
                "database_bytes": db_bytes,
                "database_gb": round(db_bytes / 1e9, 3),
                "build_seconds": round(build_seconds, 1),
                **figures,
                "throughput_mb_per_s": {
                    "plain_pg_dump": round(db_bytes / 1e6 / figures["plain_pg_dump"]["seconds"], 1),
                    "spectral_backup_run": round(db_bytes / 1e6 / ours["seconds"], 1),
                },
            }
            results[label] = figures
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE {name}")
        large, small = results["large"], results["small"]
        results["targets"] = {
            "ratio_within_1_3x": large["ratio_vs_plain"] <= TARGET_RATIO,
            "peak_tree_rss_under_150_mb": (
                large["spectral_backup_run"]["peak_tree_rss_mb"] < TARGET_PEAK_MB
            ),
            "peak_rss_growth_mb_small_to_large": round(
                large["spectral_backup_run"]["peak_tree_rss_mb"]
                - small["spectral_backup_run"]["peak_tree_rss_mb"],
                1,
            ),
        }  # fmt: skip
        print(json.dumps(results, indent=2))
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
