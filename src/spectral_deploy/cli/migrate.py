"""``spectral-deploy migrate``: the app's forward-only migrations."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from spectral_deploy.cli import console
from spectral_deploy.cli.common import OutputFormat, state

__all__ = ["app"]

app = typer.Typer(
    help=(
        "The app's forward-only migrations: plain .sql files in \\[migrations] directory, "
        "applied in name order, once each, checksummed, each in a transaction with lock and "
        "statement timeouts; or the app's own tool (Alembic, Django, \\[migrations] "
        "command). There are no down migrations: fix forward.\n\n"
        "Example: spectral-deploy migrate status"
    ),
    no_args_is_help=True,
)


@app.command()
def status(
    ctx: typer.Context,
    format_: Annotated[OutputFormat, typer.Option("--format", help="text or json")] = (
        OutputFormat.TEXT
    ),
) -> None:
    """Show each migration: applied (with the generation that applied it), pending, changed
    since applied (an error), or applied but missing from the directory.

    With Alembic or Django the tool itself is asked (alembic current, manage.py
    showmigrations); with another \\[migrations] command, which keeps its own record, the
    state is reported as unknown rather than guessed.

    Example: spectral-deploy migrate status --format json
    """
    from spectral_deploy.migrate.runner import FileState
    from spectral_deploy.migrate.tools.status import project_status

    config = state(ctx).config()
    database = state(ctx).database()
    report = project_status(config, database)
    statuses, source, current, note = report.statuses, report.source, report.current, report.note
    if format_ is OutputFormat.JSON:
        document: dict[str, object] = {
            "source": source,
            "migrations": [s.as_json() for s in statuses],
        }
        if current:
            document["current"] = list(current)
        if note:
            document["note"] = note
        console.print_json(document)
    else:
        if source not in ("spectral", "unknown"):
            console.info(f"according to `{source}`:")
        if statuses:
            console.print_table(
                ["migration", "state", "generation", "applied"],
                [
                    (
                        s.name,
                        s.state,
                        s.generation or "",
                        s.applied_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
                        if s.applied_at
                        else "",
                    )
                    for s in statuses
                ],
            )
        elif not note:
            console.info(f"no migrations in {config.migrations_dir}")
        if note:
            console.warn(note)
    if any(s.state is FileState.CHANGED for s in statuses):
        from spectral_deploy.errors import CheckFailed

        raise CheckFailed("an applied migration was edited afterwards (state: changed)")


@app.command()
def apply(
    ctx: typer.Context,
    generation: Annotated[
        int | None,
        typer.Option(
            min=1,
            metavar="N",
            help="Record this generation (default: $SPECTRAL_GENERATION, if set).",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would run.")] = False,
) -> None:
    """Apply the pending migrations in order (the deploy does this at step 4).

    With Alembic or Django the tool applies them ({python} -m alembic upgrade head,
    {python} manage.py migrate); with \\[migrations] command set, that command runs instead
    (Supabase CLI, dbmate...). Either runs with DATABASE_URL and SPECTRAL_GENERATION set;
    {python} is the app's interpreter (\\[hosting] python) and {project} the project's
    directory.

    Example: spectral-deploy migrate apply --generation 8
    """
    from spectral_deploy.migrate.runner import FileState, apply, discover, plan, run_command
    from spectral_deploy.migrate.tools import tool_for

    config = state(ctx).config()
    database = state(ctx).database(create=True)
    if generation is None and os.environ.get("SPECTRAL_GENERATION", "").isdigit():
        generation = int(os.environ["SPECTRAL_GENERATION"])
    command = config.migrations.command or tool_for(config).default_command()
    if command:
        if dry_run:
            console.info(f"dry run: would run {command!r}")
            return
        run_command(
            command,
            cwd=config.project_root,
            database_url=database.url,
            generation=generation,
            config=config,
        )
        console.success(f"ran {command!r}")
        return
    files = discover(config.migrations_dir)
    with database.connect() as conn:
        pending = [
            s.name for s in plan(conn, database.schema, files) if s.state is FileState.PENDING
        ]
        if dry_run:
            console.info("dry run: would apply " + (", ".join(pending) if pending else "nothing"))
            return
        done = apply(
            conn,
            database.schema,
            files,
            config.migrations,
            generation=generation,
            on_file=lambda file: console.info(f"applying {file.name}"),
        )
    if done:
        console.success(f"applied {len(done)} migration(s)")
    else:
        console.success("nothing to apply: every migration is applied")


@app.command("fix-forward")
def fix_forward(
    ctx: typer.Context,
    generation: Annotated[
        int, typer.Option(min=1, help="The generation whose migrations broke the prior code.")
    ],
) -> None:
    """Write a follow-up migration skeleton that restores compatibility with the prior code
    (the runbook's Class 4): e.g. DROP NOT NULL for a required column, dropping a new unique
    constraint; commented instructions where a person must decide. Review it, then ship it.

    Example: spectral-deploy migrate fix-forward --generation 8
    """
    from spectral_deploy.migrate.fixforward import write_fix_forward

    path = write_fix_forward(state(ctx).config(), state(ctx).database(), generation)
    console.success(f"wrote {path}")
    console.info(path.read_text(encoding="utf-8"))
