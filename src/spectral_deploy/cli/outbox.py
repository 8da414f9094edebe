"""``spectral-deploy outbox``: backlog per generation, workers, dead letters."""

from __future__ import annotations

from typing import Annotated

import typer

from spectral_deploy.cli import console
from spectral_deploy.cli.common import OutputFormat, state

__all__ = ["app"]

app = typer.Typer(
    help=(
        "Inspect the outbox: pending, in-flight and dead rows per generation, live workers, "
        "stranded generations; list, retry or discard dead-lettered rows.\n\n"
        "Example: spectral-deploy outbox status"
    ),
    no_args_is_help=True,
)
dead_app = typer.Typer(
    help=(
        "Dead-lettered rows: kept with their last error after outbox.max_attempts failures.\n\n"
        "Example: spectral-deploy outbox dead list --generation 7"
    ),
    no_args_is_help=True,
)
app.add_typer(dead_app, name="dead")

FormatOption = Annotated[OutputFormat, typer.Option("--format", help="text or json")]
IdsOption = Annotated[list[int] | None, typer.Option("--id", help="Row id (repeatable).")]
GenerationOption = Annotated[int | None, typer.Option(help="Only rows of this generation.")]
TopicOption = Annotated[str | None, typer.Option(help="Only rows of this topic.")]
AllOption = Annotated[bool, typer.Option("--all", help="Every dead row.")]


@app.command()
def status(ctx: typer.Context, format_: FormatOption = OutputFormat.TEXT) -> None:
    """Pending / in-flight / dead rows per generation, live workers, stranded generations.

    A worker is live when it is not stopped and its heartbeat is fresh by its own
    threshold (the stale_after_seconds it registered). A generation is stranded when it
    has pending rows that no live worker will claim (none of its workers live, or those
    left are draining, told to stop, or claim other topics): it needs a legacy drain, and
    the command to run is printed.

    Example: spectral-deploy outbox status --format json
    """
    from spectral_deploy.outbox.status import drain_command, read_status
    from spectral_deploy.outbox.store import WorkerState

    config = state(ctx).config()
    database = state(ctx).database()
    with database.connect() as conn:
        report = read_status(
            conn, database.schema, stale_after_seconds=config.outbox.stale_after_seconds
        )
    if format_ is OutputFormat.JSON:
        console.print_json(report.as_json())
        return
    if not report.generations:
        console.info("the outbox is empty and no worker is registered")
        return
    console.print_table(
        ["generation", "pending", "in flight", "dead", "oldest pending", "live workers", ""],
        [
            (
                f"{g.generation}{' (active)' if g.active else ''}",
                g.pending,
                g.in_flight,
                g.dead,
                _age(g.oldest_pending_age_seconds),
                g.live_workers,
                "STRANDED" if g.stranded else "",
            )
            for g in report.generations
        ],
        title="outbox",
    )
    if report.workers:
        console.print_table(
            ["worker", "generation", "state", "live", "host:pid", "heartbeat", "app"],
            [
                (
                    str(w.id)[:8],
                    w.generation,
                    str(w.state),
                    ("yes (told to stop)" if w.stop_requested else "yes")
                    if w.live
                    else "no (stale)"
                    if w.state is not WorkerState.STOPPED
                    else "no",
                    f"{w.host}:{w.pid}",
                    f"{w.heartbeat_age_seconds:.1f} s ago",
                    w.app,
                )
                for w in report.workers
            ],
            title="workers",
        )
    for generation in report.stranded:
        rows = (
            generation.stranded_rows
            if generation.stranded_rows is not None
            else generation.pending + generation.in_flight
        )
        console.warn(
            f"generation {generation.generation} is stranded: {rows} row(s) that no live "
            "worker will claim"
        )
        console.info(f"  next: {drain_command(generation.generation)}")


@app.command("stop-workers")
def stop_workers(
    ctx: typer.Context,
    generation: Annotated[int, typer.Option("--generation", min=1, help="Whose workers.")],
) -> None:
    """Tell the running workers of a generation to stop claiming, at once.

    Each finishes the rows in hand and stops (state stopped); this is what a rollback away
    from a generation needs, so its code handles nothing more. The request is in each
    worker's registry row: a notification wakes them, and a worker that misses it reads it
    at its next heartbeat. Workers started later are not affected; the rows left are for a
    legacy drain (spectral-deploy drain --target-generation N --mode adopt).

    Example: spectral-deploy outbox stop-workers --generation 8
    """
    from spectral_deploy.outbox.fleet import request_stop

    database = state(ctx).database()
    with database.connect() as conn:
        told = request_stop(conn, database.schema, generation)
    if told:
        console.success(f"told {told} worker(s) of generation {generation} to stop claiming")
    else:
        console.info(f"generation {generation} has no running worker to tell")


@dead_app.command("list")
def dead_list(
    ctx: typer.Context,
    generation: GenerationOption = None,
    topic: TopicOption = None,
    ids: IdsOption = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows.")] = 100,
    format_: FormatOption = OutputFormat.TEXT,
) -> None:
    """List dead-lettered rows with their last error (payloads stay in the table).

    Example: spectral-deploy outbox dead list --topic order.created
    """
    from spectral_deploy.outbox.deadletter import Selection, list_dead

    database = state(ctx).database()
    selection = Selection(ids=tuple(ids) if ids else None, generation=generation, topic=topic)
    with database.connect() as conn:
        rows = list_dead(conn, database.schema, selection, limit=limit)
    if format_ is OutputFormat.JSON:
        console.print_json({"dead": [row.as_json() for row in rows]})
        return
    if not rows:
        console.info("no dead-lettered rows")
        return
    console.print_table(
        ["id", "generation", "topic", "key", "attempts", "dead since", "last error"],
        [
            (
                row.id,
                row.generation,
                row.topic,
                row.key,
                row.attempt,
                row.dead_at.astimezone().strftime("%Y-%m-%d %H:%M:%S") if row.dead_at else "",
                (row.last_error or "").splitlines()[0][:80] if row.last_error else "",
            )
            for row in rows
        ],
    )


@dead_app.command("retry")
def dead_retry(
    ctx: typer.Context,
    ids: IdsOption = None,
    generation: GenerationOption = None,
    topic: TopicOption = None,
    all_: AllOption = False,
) -> None:
    """Put dead rows back in line with a fresh set of attempts (recorded in the ledger).

    Example: spectral-deploy outbox dead retry --id 1041 --id 1042
    """
    from spectral_deploy.outbox.deadletter import Selection, retry

    database = state(ctx).database(create=True)
    selection = Selection(
        ids=tuple(ids) if ids else None, generation=generation, topic=topic, everything=all_
    )
    with database.connect() as conn:
        done = retry(conn, database.schema, selection)
    console.success(f"{len(done)} dead row(s) are pending again")


@dead_app.command("discard")
def dead_discard(
    ctx: typer.Context,
    ids: IdsOption = None,
    generation: GenerationOption = None,
    topic: TopicOption = None,
    all_: AllOption = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete dead rows for good; the ledger keeps who discarded which rows.

    Example: spectral-deploy outbox dead discard --topic legacy.ping --yes
    """
    from spectral_deploy.outbox.deadletter import Selection, discard, list_dead

    database = state(ctx).database(create=True)
    selection = Selection(
        ids=tuple(ids) if ids else None, generation=generation, topic=topic, everything=all_
    )
    selection.require_scope()
    with database.connect() as conn:
        if not yes:
            preview = list_dead(conn, database.schema, selection, limit=1_000_000)
            conn.rollback()
            if not preview:
                console.info("no dead-lettered rows match")
                return
            typer.confirm(f"Discard {len(preview)} dead row(s) for good?", abort=True)
        done = discard(conn, database.schema, selection)
    console.success(f"discarded {len(done)} dead row(s); recorded in the ledger")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
