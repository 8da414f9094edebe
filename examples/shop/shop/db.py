"""One database connection per thread (the web server is threaded)."""

from __future__ import annotations

import os
import threading

import psycopg

_local = threading.local()


def connection() -> psycopg.Connection[tuple[object, ...]]:
    """This thread's connection to DATABASE_URL, opened on first use."""
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed or conn.broken:
        conn = psycopg.connect(os.environ["DATABASE_URL"], application_name="shop")
        _local.conn = conn
    return conn
