"""Emitting from SQLAlchemy: the event joins the Session's (or Connection's) transaction.

    from spectral_deploy.outbox.sqlalchemy import emit

    with Session(engine) as session, session.begin():
        session.add(Order(...))
        emit(session, "order.created", {"order_id": 42})

The engine must use psycopg 3 (``postgresql+psycopg://...``): the row is written on the
same database connection, inside the transaction SQLAlchemy has open.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import psycopg
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from spectral_deploy.errors import UsageError
from spectral_deploy.outbox.emit import emit as emit_plain
from spectral_deploy.outbox.emit import emit_many as emit_many_plain

__all__ = ["emit", "emit_many"]


def emit(
    session: Session | Connection,
    topic: str,
    payload: Any,
    *,
    key: str | None = None,
    generation: int | None = None,
    delay: float | timedelta | None = None,
    schema: str | None = None,
) -> int:
    """``spectral_deploy.emit`` within a SQLAlchemy Session or Connection."""
    return emit_plain(
        _psycopg(session),
        topic,
        payload,
        key=key,
        generation=generation,
        delay=delay,
        schema=schema,
    )


def emit_many(
    session: Session | Connection,
    events: Iterable[tuple[str, Any] | tuple[str, Any, str | None]],
    *,
    generation: int | None = None,
    schema: str | None = None,
) -> int:
    """``spectral_deploy.emit_many`` within a SQLAlchemy Session or Connection."""
    return emit_many_plain(_psycopg(session), events, generation=generation, schema=schema)


def _psycopg(session: Session | Connection) -> psycopg.Connection[Any]:
    connection = session.connection() if isinstance(session, Session) else session
    driver = connection.connection.driver_connection
    if not isinstance(driver, psycopg.Connection):
        raise UsageError(
            f"the SQLAlchemy engine uses {type(driver).__module__}, not psycopg 3",
            hint="create the engine with a postgresql+psycopg:// URL",
        )
    return driver
