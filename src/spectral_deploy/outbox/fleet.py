"""Telling a generation's workers what to do: stop claiming (a rollback away from them); and
what a generation's live workers handle (the topics they recorded), so rows are adopted only
where a handler waits for them.

The request is written to each worker's registry row; a worker reads it with its next
heartbeat (at most ``heartbeat_seconds`` later) and a notification makes it look at once.
It then claims nothing more, finishes the rows in hand and stops; a worker started later
for the generation is not affected (``worker`` refuses a failed generation by itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import psycopg

from spectral_deploy.db.connect import translate
from spectral_deploy.db.queries import load_queries
from spectral_deploy.outbox.pgstore import notify_channel

__all__ = ["FleetTopics", "fleet_topics", "request_stop"]


@dataclass(frozen=True)
class FleetTopics:
    """What a generation's live workers handle. ``topics`` is None when it cannot be known:
    no live worker, or one of an older version that did not record its topics."""

    generation: int
    topics: frozenset[str] | None
    live_workers: int
    apps: tuple[str, ...] = ()


def fleet_topics(
    conn: psycopg.Connection[Any], schema: str, generation: int, *, stale_after: float
) -> FleetTopics:
    """The topics the live, claiming workers of ``generation`` have handlers for."""
    queries = load_queries("spectral_deploy.outbox", "outbox.sql", schema)
    try:
        rows = conn.execute(
            queries["generation_topics"],
            {"generation": generation, "stale_after_seconds": stale_after},
        ).fetchall()
    except psycopg.Error as exc:
        raise translate(exc) from exc
    apps = tuple(sorted({cast(str, row[1]) for row in rows if row[1]}))
    if not rows or any(row[0] is None for row in rows):
        return FleetTopics(generation, None, len(rows), apps)
    topics = frozenset(str(topic) for row in rows for topic in cast(list[str], row[0]))
    return FleetTopics(generation, topics, len(rows), apps)


def request_stop(conn: psycopg.Connection[Any], schema: str, generation: int) -> int:
    """Tell the running workers of ``generation`` to stop claiming; returns how many."""
    queries = load_queries("spectral_deploy.outbox", "outbox.sql", schema)
    try:
        with conn.transaction():
            told = conn.execute(queries["request_stop"], {"generation": generation}).fetchall()
            if told:
                conn.execute(
                    queries["notify_stop"],
                    {"channel": notify_channel(schema), "generation": generation},
                )
    except psycopg.Error as exc:
        raise translate(exc) from exc
    return len(told)
