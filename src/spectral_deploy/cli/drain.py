"""``spectral-deploy drain``: the legacy drain of a stranded generation."""

from __future__ import annotations

import os
import sys
import threading
from typing import TYPE_CHECKING, Annotated

import typer

from spectral_deploy.cli import console
from spectral_deploy.cli.common import state
from spectral_deploy.errors import EXIT_INTERRUPTED, CheckFailed, UsageError

if TYPE_CHECKING:
    from spectral_deploy.db import Database
    from spectral_deploy.outbox.drain import DrainReport, Preflight, TopicBacklog
    from spectral_deploy.outbox.handlers import Handlers

__all__ = ["drain"]


def drain(
    ctx: typer.Context,
    target_generation: Annotated[
        int, typer.Option("--target-generation", min=1, help="The stranded generation G.")
    ],
    app: Annotated[
        str | None,
        typer.Option(
            metavar="MODULE:ATTR",
            help="process mode: the handlers to run G's rows with, e.g. shop.handlers:handlers.",
        ),
    ] = None,
    mode: Annotated[
        str,
        typer.Option(
            help="process: handle G's rows here with --app's handlers. "
            "adopt: re-stamp them to --to-generation for the live fleet.",
        ),
    ] = "process",
    to_generation: Annotated[
        int | None,
        typer.Option(min=1, help="adopt mode: the generation to adopt into (default: active)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Stop after the preflight; say what would happen.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Drain even while live workers of G are running; adopt even into a "
            "generation that does not exist or failed.",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    max_rate: Annotated[
        float | None,
        typer.Option(
            "--max-rate", min=0.1, metavar="ROWS_PER_S", help="At most this many rows a second."
        ),
    ] = None,
) -> None:
    """Recover rows stranded at generation G (runbook: legacy-drain, target_generation=G).

    Always prints a preflight first: G's backlog per topic, its oldest row, live workers
    of G and the active generation. Live workers of G make it refuse (exit 3) unless
    --force. process mode claims G's rows with the worker's lease, retry and dead-letter
    rules and runs the handlers of --app; rows of topics without a handler stay and are
    reported, and so are the rows waiting behind them in key order. adopt mode re-stamps
    G's pending rows to the active generation (or --to-generation; refused, exit 3, when
    that generation does not exist or failed, unless --force) in short batches, keeping the
    original generation, with a fresh retry budget, so the live fleet handles them.
    --dry-run reads and writes nothing. Interrupt it and run it again: it continues. Exit 0
    when G has nothing left, 1 when rows remain (listed), 3 when a precondition fails, 130
    when interrupted.

    Example: spectral-deploy drain --target-generation 8 --app shop.handlers:handlers --yes
    """
    from spectral_deploy.outbox import drain as drains

    if mode not in ("process", "adopt"):
        raise UsageError(f"--mode must be process or adopt, got {mode!r}")
    config = state(ctx).config()
    database = state(ctx).database(create=not dry_run)
    plan = _preflight(
        database, target_generation, config.outbox.stale_after_seconds, dry_run=dry_run
    )
    _print_preflight(plan)
    if plan.unfinished == 0:
        console.info(f"nothing to drain: generation {target_generation} has no unfinished rows")
        _exit_for_leftovers(plan.topics, target_generation)
        return
    drains.check_preconditions(plan, force=force)
    if plan.live_workers:
        console.warn(f"--force: draining next to {len(plan.live_workers)} live worker(s) of G")

    handlers: Handlers | None = None
    target: int | None = None
    if mode == "process":
        handlers = _load_process_handlers(plan, app, confirm=not (yes or dry_run))
        unhandled = sum(t.unfinished for t in plan.unhandled(handlers.topics))
        what = (
            f"handle {plan.unfinished - unhandled} row(s) of generation {target_generation} "
            f"here with {app}"
        )
    else:
        target = _adopt_target(
            database, plan, to_generation, config.outbox.stale_after_seconds, force=force
        )
        what = (
            f"re-stamp {plan.unfinished} row(s) of generation {target_generation} to generation "
            f"{target} in batches of {drains.ADOPT_BATCH_ROWS}, for its workers to handle"
        )
    if max_rate:
        what += f", at most {max_rate:g} rows/s"
    if dry_run:
        console.info(f"dry run: would {what}")
        return
    if not yes:
        typer.confirm(f"Drain: {what}?", abort=True)

    stop = _stop_on_signals()
    with console.Progress(f"drain g{target_generation} ({mode})") as progress:

        def report_progress(step: drains.DrainProgress) -> None:
            progress.update(step.done, step.total, step.note)

        if handlers is not None:
            report = drains.process(
                database,
                config.outbox,
                target_generation,
                handlers,
                app=app or "",
                max_rows_per_second=max_rate,
                on_progress=report_progress,
                stop=stop,
            )
        else:
            assert target is not None
            report = drains.adopt(
                database,
                config.outbox,
                target_generation,
                target,
                max_rows_per_second=max_rate,
                on_progress=report_progress,
                stop=stop,
            )
    _print_report(report)
    if report.interrupted:
        console.error(
            "interrupted; nothing is lost and the drain resumes where it stopped",
            hint=" ".join(["spectral-deploy", *sys.argv[1:]]),
        )
        sys.exit(EXIT_INTERRUPTED)
    _exit_for_leftovers(report.remaining, target_generation)


def _preflight(
    database: Database, generation: int, stale_after: float, *, dry_run: bool
) -> Preflight:
    """The library's preflight; the workers it found gone are said."""
    from spectral_deploy.outbox import drain as drains

    with database.connect() as conn:
        opening = drains.open_drain(
            conn, database.schema, generation, stale_after=stale_after, dry_run=dry_run
        )
    for worker in opening.gone:
        where = f"worker {worker.host}:{worker.pid} of generation {worker.generation}"
        if opening.released:
            console.info(
                f"{where} was registered as live but its process is gone: marked stopped, "
                "leases ended"
            )
        else:
            console.info(
                f"{where} is registered as live but its process is gone: a drain would mark "
                "it stopped and end its leases"
            )
    return opening.plan


def _load_process_handlers(plan: Preflight, app: str | None, *, confirm: bool) -> Handlers:
    """The --app handlers; unhandled topics and a generation mismatch are said out loud."""
    from spectral_deploy.outbox.emit import GENERATION_ENV
    from spectral_deploy.outbox.loader import load_handlers

    generation = plan.generation
    if not app:
        raise UsageError(
            f"process mode needs --app: the handlers to run generation {generation}'s rows with",
            hint=f"spectral-deploy drain --target-generation {generation} "
            "--app shop.handlers:handlers  (or --mode adopt)",
        )
    handlers = load_handlers(app)
    for topic in plan.unhandled(handlers.topics):
        console.warn(
            f"no handler for topic {topic.topic!r} in {app}: its {topic.unfinished} row(s) "
            "stay where they are"
        )
    own = os.environ.get(GENERATION_ENV)
    if own and own != str(generation):
        console.warn(
            f"these handlers are generation {own}'s code ({GENERATION_ENV}={own}) but the rows "
            f"were written by generation {generation}: payload formats may differ"
        )
        if confirm:
            typer.confirm("Handle them with this code anyway?", abort=True)
    return handlers


def _adopt_target(
    database: Database,
    plan: Preflight,
    to_generation: int | None,
    stale_after: float,
    *,
    force: bool,
) -> int:
    """The library's choice of target; what it was forced past, or waits for, is said."""
    from spectral_deploy.outbox import drain as drains

    with database.connect() as conn:
        target = drains.adopt_target(
            conn, database.schema, plan, to_generation, stale_after=stale_after, force=force
        )
    if target.forced_past:
        console.warn(
            f"--force: adopting into generation {target.generation}, which {target.forced_past}"
        )
    if not target.live_workers:
        console.warn(
            f"no live worker of generation {target.generation}: adopted rows wait until one runs"
        )
    return target.generation


def _stop_on_signals() -> threading.Event:
    """Ctrl-C or SIGTERM: stop after the rows in hand; a second signal: exit at once."""
    from spectral_deploy.cli.signals import STOP_SIGNALS, on_stop_signals

    stop = threading.Event()
    on_stop_signals(stop.set, exit_on_second=STOP_SIGNALS)
    return stop


def _print_preflight(plan: Preflight) -> None:
    known = f"tag {plan.tag}, {plan.state}" if plan.known else "not in the generations table"
    console.info(f"preflight for generation {plan.generation} ({known})")
    if plan.topics:
        console.print_table(
            ["topic", "pending", "in flight", "dead", "oldest pending"],
            [
                (
                    t.topic,
                    t.pending,
                    t.in_flight,
                    t.dead,
                    f"{t.oldest_pending_age_seconds:.0f} s"
                    if t.oldest_pending_age_seconds is not None
                    else "",
                )
                for t in plan.topics
            ],
        )
    else:
        console.info("  no rows")
    live = ", ".join(f"{w.host}:{w.pid} ({w.state})" for w in plan.live_workers) or "none"
    console.info(f"  live workers of {plan.generation}: {live}")
    console.info(f"  active generation: {plan.active_generation or 'none'}")


def _print_report(report: DrainReport) -> None:
    if report.mode == "process":
        console.info(
            f"handled {report.handled} row(s), {report.dead_lettered} dead-lettered, "
            f"{report.failed} failed attempt(s), in {report.seconds:.1f} s"
        )
        for blocked in report.blocked:
            console.info(f"  blocked: {blocked.describe(report.generation)}")
    else:
        console.info(
            f"adopted {report.adopted} row(s) into generation {report.to_generation} in "
            f"{report.seconds:.1f} s (longest batch {report.longest_batch_seconds or 0:.3f} s)"
        )


def _exit_for_leftovers(topics: tuple[TopicBacklog, ...], generation: int) -> None:
    left = [t for t in topics if t.unfinished or t.dead]
    if not left:
        console.success(f"generation {generation} is drained: no rows left")
        return
    for topic in left:
        console.info(
            f"  left: {topic.topic}: {topic.unfinished} unfinished, {topic.dead} dead-lettered"
        )
    raise CheckFailed(
        f"generation {generation} still has rows: "
        f"{sum(t.unfinished for t in left)} unfinished, {sum(t.dead for t in left)} dead",
        hint=f"spectral-deploy outbox dead list --generation {generation}  "
        "(and --app with handlers for the remaining topics, or --mode adopt)",
    )
