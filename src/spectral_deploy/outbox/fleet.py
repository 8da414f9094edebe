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
from typing import Any

import psycopg

from spectral_deploy.db.access import statements, translated
from spectral_deploy.outbox.pgstore import notify_channel

__all__ = ["FleetTopics", "fleet_topics", "request_stop"]

OUTBOX = statements("spectral_deploy.outbox", "outbox.sql")


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
    rows = OUTBOX(schema).all(
        conn,
        "generation_topics",
        {"generation": generation, "stale_after_seconds": stale_after},
        into=_Recorded,
    )
    apps = tuple(sorted({row.app for row in rows if row.app}))
    if not rows or any(row.topics is None for row in rows):
        return FleetTopics(generation, None, len(rows), apps)
    topics = frozenset(topic for row in rows for topic in row.topics or ())
    return FleetTopics(generation, topics, len(rows), apps)


def request_stop(conn: psycopg.Connection[Any], schema: str, generation: int) -> int:
    """Tell the running workers of ``generation`` to stop claiming; returns how many."""
    sql = OUTBOX(schema)
    with translated(), conn.transaction():
        told = sql.run(conn, "request_stop", {"generation": generation})
        if told:
            sql.run(
                conn, "notify_stop", {"channel": notify_channel(schema), "generation": generation}
            )
    return told


@dataclass(frozen=True)
class _Recorded:
    """A row of ``generation_topics``: a live worker's recorded topics and its --app."""

    topics: list[str] | None
    app: str | None
