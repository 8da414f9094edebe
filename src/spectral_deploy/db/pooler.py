"""Connection poolers in front of PostgreSQL (Supabase's Supavisor, PgBouncer, Neon): which
kind a URL reaches, and whether the server behind it hands each transaction another session.

Spectral's workers LISTEN for new rows, and its migrations, deploys and drains hold session
advisory locks; all of that needs one server session for the life of the connection. A
*transaction* pooler (Supabase's on port 6543) gives the connection a server session per
transaction only: LISTEN hears nothing, a lock is taken by one session and released by
another (or never), a prepared statement is gone in the next transaction. A *session* pooler
(Supabase's ``*.pooler.supabase.com`` on 5432) keeps one session per connection: it works.

How a URL is judged, first match wins:

- port 6543, or a Neon ``-pooler`` host: a transaction pooler;
- a ``*.pooler.supabase.com`` host on another port: Supabase's session pooler;
- otherwise the server is asked (``probe``): a connection whose backend pid changes between
  statements, or a session advisory lock that a second connection can take as its own, is
  behind a transaction pooler (the first catches round-robin pools, the second pools that
  hand back the session just released).

Supabase's direct host (``db.<ref>.supabase.co``) resolves to IPv6 only unless the project
has the IPv4 add-on; GitHub Actions and Render reach IPv4 only, so from there use the
session pooler (see docs/production.md).
"""

from __future__ import annotations

import contextlib
import secrets
from enum import StrEnum
from typing import LiteralString

import psycopg
from psycopg.conninfo import conninfo_to_dict

from spectral_deploy.errors import ConfigError

__all__ = [
    "PROBE_STATEMENTS",
    "TRANSACTION_POOLER_PORT",
    "Pooling",
    "classify",
    "is_pooled",
    "probe",
    "refuse_transaction_pooler",
    "supabase_direct",
]

TRANSACTION_POOLER_PORT = 6543
SUPABASE_POOLER_SUFFIX = ".pooler.supabase.com"
SUPABASE_DIRECT_SUFFIX = ".supabase.co"
NEON_POOLER_MARK = "-pooler."
PROBE_STATEMENTS = 4
PROBE_TIMEOUT_SECONDS = 10


class Pooling(StrEnum):
    """What a connection reaches."""

    DIRECT = "direct"
    SESSION = "session pooler"
    TRANSACTION = "transaction pooler"


def _host_port(url: str) -> tuple[str, int | None]:
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "", None
    host = str(params.get("host") or "").split(",")[0].strip().lower()
    port_text = str(params.get("port") or "").split(",")[0].strip()
    return host, int(port_text) if port_text.isdigit() else None


def classify(url: str) -> Pooling:
    """What the URL itself says (its host and port); ``probe`` asks the server."""
    host, port = _host_port(url)
    if port == TRANSACTION_POOLER_PORT or NEON_POOLER_MARK in f"{host}.":
        return Pooling.TRANSACTION
    if host.endswith(SUPABASE_POOLER_SUFFIX):
        return Pooling.SESSION
    return Pooling.DIRECT


def is_pooled(url: str) -> bool:
    """Whether the URL names a pooler of either kind (prepared statements are then off)."""
    return classify(url) is not Pooling.DIRECT


def supabase_direct(url: str) -> bool:
    """Whether the URL is Supabase's direct host (``db.<ref>.supabase.co``: IPv6 only unless
    the project has the IPv4 add-on)."""
    host, _ = _host_port(url)
    return host.startswith("db.") and host.endswith(SUPABASE_DIRECT_SUFFIX)


def probe(url: str) -> bool:
    """Whether the server behind ``url`` hands transactions to different sessions.

    Unix-socket URLs are never pooled and are not probed. The probe's connections use no
    prepared statements and set nothing; its advisory lock key is random and released.
    """
    host, _ = _host_port(url)
    if not host or host.startswith("/"):
        return False
    with _probe_connection(url) as first:
        pids = {_scalar(first, "SELECT pg_backend_pid()", ()) for _ in range(PROBE_STATEMENTS)}
        if len(pids) > 1:
            return True
        key = secrets.randbits(62)
        if not _scalar(first, "SELECT pg_try_advisory_lock(%s)", (key,)):
            return False  # another client holds a random key: nothing to learn
        shared = False
        try:
            with _probe_connection(url) as second:
                shared = bool(_scalar(second, "SELECT pg_try_advisory_lock(%s)", (key,)))
                if shared:
                    _scalar(second, "SELECT pg_advisory_unlock(%s)", (key,))
        finally:
            with contextlib.suppress(psycopg.Error):
                _scalar(first, "SELECT pg_advisory_unlock(%s)", (key,))
    return shared


def _probe_connection(url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        url, autocommit=True, prepare_threshold=None, connect_timeout=PROBE_TIMEOUT_SECONDS
    )


def _scalar(
    conn: psycopg.Connection[tuple[object, ...]], query: LiteralString, params: tuple[object, ...]
) -> object:
    row = conn.execute(query, params, prepare=False).fetchone()
    return row[0] if row else None


def _probe_quietly(url: str) -> bool:
    """``probe``, with a server that cannot be reached left to the connection that follows
    (which reports it with the host and port)."""
    try:
        return probe(url)
    except psycopg.Error:
        return False


def refuse_transaction_pooler(url: str, *, probe_server: bool = True) -> None:
    """ConfigError (exit 2) naming the session pooler when ``url`` reaches a transaction
    pooler: Spectral's commands need one session per connection."""
    kind = classify(url)
    how = ""
    if kind is Pooling.TRANSACTION:
        _, port = _host_port(url)
        how = f"port {port}" if port == TRANSACTION_POOLER_PORT else "a pooler host"
    elif kind is Pooling.DIRECT and probe_server and _probe_quietly(url):
        how = "the server: each transaction may run in another session"
    if not how:
        return
    raise ConfigError(
        f"reaches a transaction pooler ({how}). Spectral's workers, migrations and deploys "
        "need one session per connection (LISTEN/NOTIFY, session advisory locks); apps may "
        "emit through any pooler, but not this tool",
        key="DATABASE_URL",
        source="environment",
        hint="on Supabase use the session pooler: the same host "
        "(aws-0-<region>.pooler.supabase.com) on port 5432, or the direct connection "
        "(db.<ref>.supabase.co:5432) where IPv6 or the IPv4 add-on is available",
    )
