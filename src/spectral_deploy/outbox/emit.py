"""Emitting events: rows written into the outbox inside the caller's own transaction.

    with conn.transaction():
        conn.execute("INSERT INTO orders ...")
        emit(conn, "order.created", {"order_id": 42}, key="customer-7")

Each row is stamped with the writer's generation (``SPECTRAL_GENERATION``, set by the
deploy) so that only workers of that generation claim it. Everything about the event is
checked before the database is touched (a topic, a key, a delay, a payload the worker will
decode exactly: see ``codec``), so a refused event leaves the caller's transaction usable.
The generation must have been allocated: checked once per process, database and generation
(allocated generations are never removed), with a read of ``generations``.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

import psycopg

from spectral_deploy.db.access import Statements, statements
from spectral_deploy.errors import GenerationUnknown, InvalidEvent
from spectral_deploy.outbox.codec import DEFAULT_MAX_PAYLOAD_BYTES, PayloadError, encode

__all__ = [
    "DEFAULT_SCHEMA",
    "GENERATION_ENV",
    "MAX_PAYLOAD_BYTES_ENV",
    "SCHEMA_ENV",
    "emit",
    "emit_many",
    "resolve_generation",
    "resolve_max_payload_bytes",
    "resolve_schema",
]

GENERATION_ENV = "SPECTRAL_GENERATION"
SCHEMA_ENV = "SPECTRAL_DATABASE_SCHEMA"
# the environment form of [outbox] max_payload_bytes: apps do not read spectral.toml
MAX_PAYLOAD_BYTES_ENV = "SPECTRAL_OUTBOX_MAX_PAYLOAD_BYTES"
DEFAULT_SCHEMA = "spectral"
MAX_TOPIC_CHARS = 200

Connection = psycopg.Connection[Any]
OUTBOX = statements("spectral_deploy.outbox", "outbox.sql")

# (database, schema, generation) known to be allocated in this process
_known_generations: set[tuple[str, str, int]] = set()
_known_lock = threading.Lock()


def resolve_generation(generation: int | None, environ: Mapping[str, str] | None = None) -> int:
    """The explicit generation, else ``SPECTRAL_GENERATION``; a positive integer either way."""
    if generation is not None:
        if isinstance(generation, bool) or not isinstance(generation, int) or generation < 1:
            raise GenerationUnknown(f"generation must be a positive integer, got {generation!r}")
        return generation
    environ = os.environ if environ is None else environ
    text = environ.get(GENERATION_ENV, "").strip()
    if not text:
        raise GenerationUnknown(
            f"no generation: pass generation=... or set {GENERATION_ENV} "
            "(the deploy sets it for the app and its workers)"
        )
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise GenerationUnknown(f"{GENERATION_ENV} must be a positive integer, got {text!r}")
    return value


def resolve_max_payload_bytes(environ: Mapping[str, str] | None = None) -> int:
    """``SPECTRAL_OUTBOX_MAX_PAYLOAD_BYTES``, else 1 MiB."""
    environ = os.environ if environ is None else environ
    text = environ.get(MAX_PAYLOAD_BYTES_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_PAYLOAD_BYTES
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise InvalidEvent(f"{MAX_PAYLOAD_BYTES_ENV} must be a positive integer, got {text!r}")
    return value


def resolve_schema(schema: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The explicit schema, else ``SPECTRAL_DATABASE_SCHEMA``, else ``spectral``."""
    if schema:
        return schema
    environ = os.environ if environ is None else environ
    return environ.get(SCHEMA_ENV) or DEFAULT_SCHEMA


def emit(
    conn: Connection,
    topic: str,
    payload: Any,
    *,
    key: str | None = None,
    generation: int | None = None,
    delay: float | timedelta | None = None,
    schema: str | None = None,
) -> int:
    """Insert one event in the caller's transaction (the caller commits); returns its id."""
    number = resolve_generation(generation)
    _check_topic(topic)
    _check_key(topic, key)
    seconds = _delay_seconds(topic, delay)
    document = _dump(topic, payload, resolve_max_payload_bytes())
    name = resolve_schema(schema)
    sql = OUTBOX(name)
    _require_allocated(conn, name, number, sql)
    # never prepared: a transaction pooler (Supabase's port 6543) runs the next transaction
    # in another session, where a prepared statement does not exist
    row_id = sql.value(
        conn,
        "insert_event",
        {"generation": number, "topic": topic, "key": key, "payload": document, "delay": seconds},
        prepare=False,
    )
    return int(row_id)


def emit_many(
    conn: Connection,
    events: Iterable[tuple[str, Any] | tuple[str, Any, str | None]],
    *,
    generation: int | None = None,
    schema: str | None = None,
) -> int:
    """Insert many events with one COPY in the caller's transaction; returns how many.

    ``events`` holds ``(topic, payload)`` or ``(topic, payload, key)`` tuples. All are
    checked first, so a bad one rejects the whole call before the database is touched.
    """
    number = resolve_generation(generation)
    limit = resolve_max_payload_bytes()
    rows: list[tuple[int, str, str | None, str]] = []
    for index, event in enumerate(events):
        if not isinstance(event, tuple) or len(event) not in (2, 3):
            raise InvalidEvent(
                f"event #{index} must be (topic, payload) or (topic, payload, key), "
                f"got {type(event).__name__}"
            )
        topic, payload = event[0], event[1]
        key = event[2] if len(event) == 3 else None
        _check_topic(topic)
        _check_key(topic, key)
        rows.append((number, topic, key, _dump(topic, payload, limit, index=index)))
    if not rows:
        return 0
    name = resolve_schema(schema)
    sql = OUTBOX(name)
    _require_allocated(conn, name, number, sql)
    return sql.copy_rows(conn, "copy_events", rows)


def _require_allocated(conn: Connection, schema: str, generation: int, sql: Statements) -> None:
    """Refuse a generation that was never allocated; known ones are not read again."""
    info = conn.info
    where = (f"{info.host}:{info.port}/{info.dbname}", schema, generation)
    if where in _known_generations:
        return
    state = sql.value(conn, "generation_state", {"generation": generation}, prepare=False)
    if state is None:
        raise GenerationUnknown(
            f"generation {generation} was never allocated (in {schema}.generations): events "
            "stamped with it would never be claimed",
            hint="deploys set SPECTRAL_GENERATION; by hand: "
            "spectral-deploy generations allocate --tag TAG",
        )
    with _known_lock:
        _known_generations.add(where)


def _check_topic(topic: object) -> None:
    if not isinstance(topic, str) or not topic.strip():
        raise InvalidEvent(f"topic must be a non-empty string, got {topic!r}")
    if len(topic) > MAX_TOPIC_CHARS:
        raise InvalidEvent(f"topic is longer than {MAX_TOPIC_CHARS} characters: {topic[:40]!r}...")


def _check_key(topic: str, key: object) -> None:
    if key is not None and not isinstance(key, str):
        raise InvalidEvent(f"key of a {topic!r} event must be a string or None, got {key!r}")


def _dump(topic: object, payload: Any, max_bytes: int, *, index: int | None = None) -> str:
    where = f"event #{index} ({topic!r})" if index is not None else f"{topic!r} event"
    try:
        return encode(payload, max_bytes=max_bytes)
    except PayloadError as exc:
        raise InvalidEvent(f"{where} refused: {exc}") from exc


def _delay_seconds(topic: str, delay: float | timedelta | None) -> float:
    if delay is None:
        return 0.0
    seconds = delay.total_seconds() if isinstance(delay, timedelta) else delay
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise InvalidEvent(f"delay of a {topic!r} event must be seconds or a timedelta")
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidEvent(f"delay of a {topic!r} event must be >= 0 seconds, got {seconds!r}")
    return float(seconds)
