"""The database: one SQLAlchemy engine on psycopg 3, from DATABASE_URL."""

from __future__ import annotations

import os
from functools import cache

from sqlalchemy import Engine, create_engine

# `alembic upgrade --sql` renders SQL without connecting: any PostgreSQL URL will do there
OFFLINE_URL = "postgresql+psycopg://offline.invalid/app"


def database_url() -> str:
    """DATABASE_URL, as SQLAlchemy's psycopg 3 dialect spells it."""
    url = os.environ.get("DATABASE_URL") or OFFLINE_URL
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@cache
def engine() -> Engine:
    """The process's engine (created on first use)."""
    return create_engine(database_url(), pool_pre_ping=True)
