"""A worker wired to PostgreSQL: what ``spectral-deploy worker`` and a process drain run.

Each claim loop opens its own ``PostgresStore`` (one autocommit connection, named after the
process in ``pg_stat_activity``); a ``Listener`` wakes the loops when rows arrive for the
generation and, for a fleet worker, when its generation is told to stop.
"""

from __future__ import annotations

from collections.abc import Callable

from spectral_deploy.config import OutboxConfig
from spectral_deploy.db import Database
from spectral_deploy.outbox.handlers import Handlers
from spectral_deploy.outbox.pgstore import Listener, PostgresStore
from spectral_deploy.outbox.worker import Worker, WorkerSettings

__all__ = ["postgres_worker"]


def postgres_worker(
    database: Database,
    outbox: OutboxConfig,
    handlers: Handlers | Callable[[], Handlers],
    settings: WorkerSettings,
    *,
    app: str,
    name: str,
    stop_on_request: bool = True,
) -> Worker:
    """A ``Worker`` over ``database`` whose connections are named ``name``.

    ``stop_on_request``: a stop request for its generation (a rollback away from it) is
    looked at as soon as it is notified, not only at the next heartbeat.
    """

    def open_store() -> PostgresStore:
        return PostgresStore(
            database.connect(application_name=name),
            database.schema,
            archive=outbox.archive,
            synchronous_commit=outbox.synchronous_commit,
        )

    def open_listener(wake: Callable[[], None]) -> Listener:
        return Listener(
            lambda: database.connect(application_name=f"{name} listener"),
            database.schema,
            settings.generation,
            wake,
            on_stop=worker.check_now if stop_on_request else None,
        )

    worker = Worker(handlers, settings, open_store, app=app, listener_factory=open_listener)
    return worker
