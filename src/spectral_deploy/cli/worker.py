"""``spectral-deploy worker``: run the handlers of one generation."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from spectral_deploy.cli import console
from spectral_deploy.cli.common import state

if TYPE_CHECKING:
    from spectral_deploy.db import Database

__all__ = ["worker"]


def worker(
    ctx: typer.Context,
    app: Annotated[
        str,
        typer.Option(
            "--app",
            metavar="MODULE:ATTR",
            help="Where the handlers are: a spectral_deploy.Handlers (or a function returning "
            "one), e.g. shop.handlers:handlers. The working directory is importable.",
        ),
    ],
    generation: Annotated[
        int | None,
        typer.Option(
            min=1, help="The generation whose rows to handle (default: $SPECTRAL_GENERATION)."
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Claim loops (threads) in this process.")
    ] = 1,
    lease_seconds: Annotated[
        float | None,
        typer.Option(
            min=1.0,
            help="How long a claim holds a row if this worker dies (default outbox.lease_seconds). "
            "A live worker renews its leases, so a slow handler is never run twice.",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Run even for a generation that was never allocated or that failed "
            "(rolled back), which is refused otherwise (exit 3).",
        ),
    ] = False,
) -> None:
    """Claim and handle outbox rows of one generation until SIGTERM.

    The worker registers itself (starting -> running), claims pending rows of its own
    generation in batches under a lease, runs the handler of each row's topic, retries
    failures with exponential backoff and jitter, and dead-letters a row after
    outbox.max_attempts. A handler running longer than its timeout (outbox.
    handler_timeout_seconds, or Handlers.on(topic, timeout=...)) gives its row back as a
    failed attempt. SIGTERM (or Ctrl-C, or `spectral-deploy outbox stop-workers`) drains: no
    new claims, the rows in hand finish, then it stops and exits 0. A second Ctrl-C exits at
    once (leases expire and the rows are handled again). A generation that was never
    allocated, or that failed, is refused (exit 3) unless --force.

    Example: SPECTRAL_GENERATION=7 spectral-deploy worker --app shop.handlers:handlers
    """
    from spectral_deploy.cli.signals import on_stop_signals
    from spectral_deploy.outbox.emit import resolve_generation
    from spectral_deploy.outbox.handlers import Handlers
    from spectral_deploy.outbox.loader import load_handlers
    from spectral_deploy.outbox.wiring import postgres_worker
    from spectral_deploy.outbox.worker import WorkerSettings

    number = resolve_generation(generation)
    config = state(ctx).config()
    database = state(ctx).database(create=True)
    _check_generation(database, number, force=force)
    settings = WorkerSettings.from_config(
        config.outbox, generation=number, concurrency=concurrency, lease_seconds=lease_seconds
    )

    def load() -> Handlers:
        handlers = load_handlers(app)
        topics = ", ".join(sorted(handlers.topics)) or "(none)"
        console.info(
            f"worker for generation {number} on {database.target}: "
            f"{concurrency} loop(s), topics: {topics}"
        )
        return handlers

    runner = postgres_worker(
        database, config.outbox, load, settings, app=app, name=f"spectral-worker g{number}"
    )
    on_stop_signals(runner.request_stop)
    summary = runner.run()
    console.info(
        f"worker {summary.worker} stopped: {summary.handled} handled, {summary.failed} failed, "
        f"{summary.dead_lettered} dead-lettered, {summary.timed_out} timed out"
    )
    if summary.error:
        # a bug in a claim loop, or handler threads stuck past their timeout: exit 1 so that
        # the supervisor (systemd, the hosting provider) starts a clean process
        console.error(f"the worker stopped on an error: {summary.error.splitlines()[0]}")
        sys.exit(1)


def _check_generation(database: Database, generation: int, *, force: bool) -> None:
    """Refuse a generation that was never allocated or that failed, unless forced."""
    from spectral_deploy.errors import GenerationRefused
    from spectral_deploy.ledger import generations
    from spectral_deploy.ledger.generations import GenerationState

    with database.connect() as conn:
        record = generations.get(conn, database.schema, generation)
    if record is not None and record.state is not GenerationState.FAILED:
        return
    if record is None:
        problem = f"generation {generation} was never allocated: no deploy stamps rows with it"
    else:
        problem = (
            f"generation {generation} failed (tag {record.tag or '?'}, rolled back): its "
            "workers should not run again"
        )
    if force:
        console.warn(f"--force: {problem}")
        return
    raise GenerationRefused(
        problem,
        hint="spectral-deploy generations list  (or --force to run it anyway, e.g. to handle "
        "its rows with this code)",
    )
