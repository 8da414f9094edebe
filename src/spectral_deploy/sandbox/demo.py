"""The demo of what exists so far, run in a scratch database on the embedded server.

Today it shows the foundation (the embedded server, Spectral's schema, the generation
allocator under concurrency, the append-only ledger) and the outbox: orders and their
events committed together, a worker of the right generation handling them, and a
generation left stranded when no worker of it runs, then recovered by the legacy drain. The full
sandbox story (deploy, cutover, faults, Class 2 and 3 rollbacks, legacy drain)
replaces it when the cutover and rollback capabilities land.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import cast

import psycopg
from psycopg import sql

from spectral_deploy.config import Config
from spectral_deploy.db import Database
from spectral_deploy.db.connect import connect, ensure_database, translate
from spectral_deploy.db.embedded import EmbeddedServer
from spectral_deploy.db.schema import install
from spectral_deploy.errors import LedgerIsAppendOnly
from spectral_deploy.ledger import generations, store
from spectral_deploy.ledger.generations import GenerationState
from spectral_deploy.outbox import drain as drains
from spectral_deploy.outbox.emit import emit
from spectral_deploy.outbox.handlers import Event, Handlers
from spectral_deploy.outbox.pgstore import PostgresStore
from spectral_deploy.outbox.status import read_status
from spectral_deploy.outbox.worker import Worker, WorkerSettings

__all__ = ["DEMO_DATABASE", "DemoSummary", "run_foundation_demo"]

DEMO_DATABASE = "spectral_demo"
CONCURRENT_ALLOCATIONS = 32
DEMO_ORDERS = 200
DEMO_STRANDED = 25

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
    events_emitted: int
    events_handled: int
    stranded_generations: tuple[int, ...]
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

        outbox = _outbox_story(url, config, schema, blue.generation, narrate)
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
    ok = (
        duplicates == 0
        and increasing
        and refused
        and outbox.ok
        and outbox.stranded == (blue.generation + CONCURRENT_ALLOCATIONS,)
    )
    return DemoSummary(
        ok=ok,
        server_version=status.version or "?",
        generations_allocated=len(allocated),
        duplicates=duplicates,
        strictly_increasing=increasing,
        ledger_entries=len(entries),
        ledger_rewrite_refused=refused,
        events_emitted=DEMO_ORDERS + DEMO_STRANDED,
        events_handled=outbox.handled,
        stranded_generations=outbox.stranded,
        seconds=round(time.monotonic() - started, 2),
    )


@dataclass(frozen=True)
class _OutboxStory:
    handled: int
    stranded: tuple[int, ...]
    ok: bool


def _outbox_story(
    url: str, config: Config, schema: str, blue: int, narrate: Narrate
) -> _OutboxStory:
    """Orders with events, a worker of their generation, a stranded generation, its drain."""
    narrate(
        f"Blue (generation {blue}) takes {DEMO_ORDERS} orders; each order and its "
        "'order.created' event commit in one transaction",
        None,
    )
    _take_orders(url, config, schema, blue, DEMO_ORDERS)
    narrate(
        f"A worker of generation {blue} handles them (idempotent by event id)",
        f"SPECTRAL_GENERATION={blue} spectral-deploy worker --app shop:handlers",
    )
    _run_worker_until_empty(url, config, schema, blue)
    green = blue + CONCURRENT_ALLOCATIONS
    narrate(
        f"Generation {green} emits {DEMO_STRANDED} events, but no worker of {green} is running",
        None,
    )
    _take_orders(url, config, schema, green, DEMO_STRANDED)
    stale_after = config.outbox.stale_after_seconds
    with connect(url, settings=config.database) as conn:
        stranded = tuple(
            g.generation
            for g in read_status(conn, schema, stale_after_seconds=stale_after).stranded
        )
    narrate(
        f"outbox status: generation(s) {', '.join(map(str, stranded))} stranded",
        "spectral-deploy outbox status",
    )
    narrate(
        f"Legacy drain of generation {green}: its rows handled here, recorded in the ledger",
        f"spectral-deploy drain --target-generation {green} --app shop:handlers --yes",
    )
    report = drains.process(
        Database(url=url, schema=schema, settings=config.database, embedded=True),
        config.outbox,
        green,
        _demo_handlers(url, config),
        app="spectral_deploy.sandbox.demo",
    )
    with connect(url, settings=config.database) as conn:
        still = read_status(conn, schema, stale_after_seconds=stale_after).stranded
        row = conn.execute("SELECT count(*) FROM demo_handled").fetchone()
    handled = cast(int, row[0]) if row else 0
    narrate(
        f"The drain handled {report.handled} rows; stranded now: "
        f"{', '.join(str(g.generation) for g in still) or 'none'}",
        "spectral-deploy outbox status",
    )
    ok = handled == DEMO_ORDERS + DEMO_STRANDED and not still and report.rows_left == 0
    return _OutboxStory(handled=handled, stranded=stranded, ok=ok)


def _take_orders(url: str, config: Config, schema: str, generation: int, count: int) -> None:
    with connect(url, settings=config.database) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS demo_orders (id bigint PRIMARY KEY, generation bigint)"
        )
        conn.execute("CREATE TABLE IF NOT EXISTS demo_handled (event_id bigint PRIMARY KEY)")
        conn.commit()
        first_row = conn.execute("SELECT coalesce(max(id), 0) FROM demo_orders").fetchone()
        first = cast(int, first_row[0]) if first_row else 0
        for order in range(first + 1, first + count + 1):
            with conn.transaction():
                conn.execute(
                    "INSERT INTO demo_orders (id, generation) VALUES (%s, %s)", (order, generation)
                )
                emit(
                    conn, "order.created", {"order_id": order}, generation=generation, schema=schema
                )


def _demo_handlers(url: str, config: Config) -> Handlers:
    handlers = Handlers()

    @handlers.on("order.created")
    def record(event: Event) -> None:
        with connect(url, settings=config.database, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO demo_handled (event_id) VALUES (%s) ON CONFLICT DO NOTHING",
                (event.id,),
            )

    return handlers


def _run_worker_until_empty(url: str, config: Config, schema: str, generation: int) -> None:
    settings = WorkerSettings.from_config(config.outbox, generation=generation)
    worker = Worker(
        _demo_handlers(url, config),
        settings,
        lambda: PostgresStore(connect(url, settings=config.database), schema),
        app="spectral_deploy.sandbox.demo",
    )
    runner = threading.Thread(target=worker.run)
    runner.start()
    try:
        with connect(url, settings=config.database, autocommit=True) as conn:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                row = conn.execute(
                    sql.SQL("SELECT count(*) FROM {}.outbox WHERE generation = %s").format(
                        sql.Identifier(schema)
                    ),
                    (generation,),
                ).fetchone()
                if row is not None and row[0] == 0:
                    break
                time.sleep(0.05)
    finally:
        worker.request_stop()
        runner.join()


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
