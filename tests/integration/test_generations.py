"""The generation allocator on a real PostgreSQL: atomic, gapless, only going up."""

from __future__ import annotations

import multiprocessing
import threading

import psycopg
import pytest

from spectral_deploy.db import Database
from spectral_deploy.errors import InputError, PreconditionFailed
from spectral_deploy.ledger import generations, store
from spectral_deploy.ledger.generations import GenerationState

PROCESSES = 8
ALLOCATIONS_PER_PROCESS = 25


def _allocate_many(
    url: str, schema: str, count: int, queue: multiprocessing.Queue[list[int]]
) -> None:
    taken = []
    with psycopg.connect(url) as conn:
        for index in range(count):
            taken.append(generations.allocate(conn, schema, tag=f"v{index}").generation)
    queue.put(taken)


def test_allocations_are_numbered_from_one(database: Database) -> None:
    """The first generation is 1 and carries its tag and commit."""
    with database.connect() as conn:
        first = generations.allocate(conn, database.schema, tag="v1.0.0", commit_sha="abc123")
        second = generations.allocate(conn, database.schema, tag="v1.1.0", commit_sha="def456")
        assert (first.generation, second.generation) == (1, 2)
        assert generations.get(conn, database.schema, 1) == first
        assert first.state is GenerationState.ALLOCATED
        assert [g.generation for g in generations.list_all(conn, database.schema)] == [2, 1]


def test_parallel_allocations_never_collide(database: Database) -> None:
    """Many processes allocating at once: no duplicates, no gaps, each caller's numbers rise."""
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[list[int]] = context.Queue()
    workers = [
        context.Process(
            target=_allocate_many,
            args=(database.url, database.schema, ALLOCATIONS_PER_PROCESS, queue),
        )
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    every = [n for taken in results for n in taken]
    total = PROCESSES * ALLOCATIONS_PER_PROCESS
    assert len(every) == total
    assert sorted(every) == list(range(1, total + 1))
    for taken in results:
        assert taken == sorted(taken) and len(set(taken)) == len(taken)
    with database.connect() as conn:
        ledger = store.entries(conn, database.schema, kind="generation")
    assert sorted(e.generation or 0 for e in ledger) == list(range(1, total + 1))


def test_a_rolled_back_allocation_leaves_no_gap(database: Database) -> None:
    """An allocation in a transaction that rolls back gives its number back."""
    with database.connect() as conn:
        conn.execute("BEGIN")
        generations.allocate(conn, database.schema, tag="lost")
        conn.rollback()
        assert generations.allocate(conn, database.schema, tag="kept").generation == 1


def test_allocation_waits_for_a_concurrent_one(database: Database) -> None:
    """A second allocator blocks on the first's open transaction, then gets the next number."""
    got: list[int] = []
    with database.connect() as holder:
        holder.execute("BEGIN")
        first = generations.allocate(holder, database.schema, tag="first").generation

        def second() -> None:
            with database.connect() as conn:
                got.append(generations.allocate(conn, database.schema, tag="second").generation)

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive(), "the second allocator should wait for the row lock"
        holder.commit()
        thread.join(timeout=10)
    assert (first, got) == (1, [2])


def test_state_changes_are_checked_and_recorded(database: Database) -> None:
    """allocated -> active -> retired is recorded in the ledger; nonsense is refused."""
    with database.connect() as conn:
        number = generations.allocate(conn, database.schema, tag="v1").generation
        active = generations.set_state(conn, database.schema, number, GenerationState.ACTIVE)
        assert active.activated_at is not None
        assert generations.active(conn, database.schema) == active
        generations.set_state(conn, database.schema, number, GenerationState.RETIRED)
        with pytest.raises(PreconditionFailed, match="cannot become allocated"):
            generations.set_state(conn, database.schema, number, GenerationState.ALLOCATED)
        with pytest.raises(InputError, match="generation 99 does not exist"):
            generations.set_state(conn, database.schema, 99, GenerationState.ACTIVE)
        actions = [e.action for e in store.entries(conn, database.schema, generation=number)]
    assert actions == ["allocate", "set-state:active", "set-state:retired"]
