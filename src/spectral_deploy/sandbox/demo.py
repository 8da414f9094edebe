"""The demo of what exists so far, run in a scratch database on the embedded server.

Today it shows the foundation: the embedded server, Spectral's schema, the
generation allocator under concurrency, and the append-only ledger. The full
sandbox story (deploy, cutover, faults, Class 2 and 3 rollbacks, legacy drain)
replaces it when the cutover and rollback capabilities land.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psycopg
from psycopg import sql

from spectral_deploy.config import Config
from spectral_deploy.db.connect import connect, ensure_database, translate
from spectral_deploy.db.embedded import EmbeddedServer
from spectral_deploy.db.schema import install
from spectral_deploy.errors import LedgerIsAppendOnly
from spectral_deploy.ledger import generations, store
from spectral_deploy.ledger.generations import GenerationState

__all__ = ["DEMO_DATABASE", "DemoSummary", "run_foundation_demo"]

DEMO_DATABASE = "spectral_demo"
CONCURRENT_ALLOCATIONS = 32

Narrate = Callable[[str, str | None], None]


@dataclass(frozen=True)
class DemoSummary:
    """What the demo measured, counted from the database."""

    ok: bool
    server_version: str
    generations_allocated: int
    duplicates: int
    strictly_increasing: bool
    ledger_entries: int
    ledger_rewrite_refused: bool
    seconds: float


def run_foundation_demo(config: Config, narrate: Narrate) -> DemoSummary:
    """Run the foundation demo; ``narrate(text, command)`` receives each step."""
    started = time.monotonic()
    server = EmbeddedServer(config.embedded_data_dir)
    narrate("Start the embedded PostgreSQL server (no install needed)", "spectral-deploy db start")
    status = server.ensure_started()
    maintenance = status.url("postgres")
    assert maintenance is not None
    _drop_database(maintenance, DEMO_DATABASE)
    ensure_database(maintenance, DEMO_DATABASE)
    url = status.url(DEMO_DATABASE)
    assert url is not None
    schema = config.database.schema
    try:
        with connect(url, settings=config.database) as conn:
            narrate(
                f"Install Spectral's schema {schema!r} in a scratch database",
                "spectral-deploy db init",
            )
            install(conn, schema)

            narrate(
                "Allocate generation 1 for blue (v1.0.0)",
                "spectral-deploy generations allocate --tag v1.0.0",
            )
            blue = generations.allocate(conn, schema, tag="v1.0.0", commit_sha="a1b2c3d")
            generations.set_state(conn, schema, blue.generation, GenerationState.ACTIVE)

        narrate(
            f"Allocate {CONCURRENT_ALLOCATIONS} generations from {CONCURRENT_ALLOCATIONS} "
            "connections at once: no duplicates, no gaps",
            None,
        )
        numbers = _allocate_concurrently(url, config, schema, CONCURRENT_ALLOCATIONS)

        with connect(url, settings=config.database) as conn:
            narrate(
                "Try to rewrite history: UPDATE the ledger", "psql -c 'UPDATE spectral.ledger ...'"
            )
            refused = _ledger_refuses_update(conn, schema)
            entries = store.entries(conn, schema)
            narrate(f"The ledger holds {len(entries)} entries", "spectral-deploy ledger show")
            all_generations = generations.list_all(conn, schema)
    finally:
        narrate("Drop the scratch database", None)
        _drop_database(maintenance, DEMO_DATABASE)

    allocated = [g.generation for g in all_generations]
    duplicates = len(numbers) - len(set(numbers))
    increasing = sorted(allocated) == list(range(1, len(allocated) + 1))
    ok = duplicates == 0 and increasing and refused
    return DemoSummary(
        ok=ok,
        server_version=status.version or "?",
        generations_allocated=len(allocated),
        duplicates=duplicates,
        strictly_increasing=increasing,
        ledger_entries=len(entries),
        ledger_rewrite_refused=refused,
        seconds=round(time.monotonic() - started, 2),
    )


def _allocate_concurrently(url: str, config: Config, schema: str, count: int) -> list[int]:
    def one(index: int) -> int:
        with connect(url, settings=config.database) as conn:
            return generations.allocate(conn, schema, tag=f"v1.1.{index}").generation

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def _ledger_refuses_update(conn: psycopg.Connection[tuple[object, ...]], schema: str) -> bool:
    try:
        with conn.transaction():
            conn.execute(
                sql.SQL("UPDATE {}.ledger SET outcome = 'rewritten'").format(sql.Identifier(schema))
            )
    except psycopg.Error as exc:
        return isinstance(translate(exc), LedgerIsAppendOnly)
    return False


def _drop_database(maintenance_url: str, name: str) -> None:
    with connect(maintenance_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
