"""Telling a generation's workers what to do: stop claiming (a rollback away from them).

The request is written to each worker's registry row; a worker reads it with its next
heartbeat (at most ``heartbeat_seconds`` later) and a notification makes it look at once.
It then claims nothing more, finishes the rows in hand and stops; a worker started later
for the generation is not affected (``worker`` refuses a failed generation by itself).
"""

from __future__ import annotations

from typing import Any

import psycopg

from spectral_deploy.db.connect import translate
from spectral_deploy.db.queries import load_queries
from spectral_deploy.outbox.pgstore import notify_channel

__all__ = ["request_stop"]


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
