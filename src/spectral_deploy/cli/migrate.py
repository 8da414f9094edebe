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
        "The app's forward-only migrations: plain .sql files in [migrations] directory, "
        "applied in name order, once each, checksummed, each in a transaction with lock and "
        "statement timeouts. There are no down migrations: fix forward.\n\n"
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
    """Show each migration file: applied (with the generation that applied it), pending,
    changed since applied (an error), or applied but missing from the directory.

    Example: spectral-deploy migrate status --format json
    """
    from spectral_deploy.migrate.runner import FileState, discover, plan

    config = state(ctx).config()
    database = state(ctx).database()
    files = discover(config.migrations_dir)
    with database.connect() as conn:
        statuses = plan(conn, database.schema, files)
    if format_ is OutputFormat.JSON:
        console.print_json({"migrations": [s.as_json() for s in statuses]})
    elif not statuses:
        console.info(f"no migrations in {config.migrations_dir}")
    else:
        console.print_table(
            ["migration", "state", "generation", "applied"],
            [
                (
                    s.name,
                    s.state,
                    s.generation or "",
                    s.applied_at.astimezone().strftime("%Y-%m-%d %H:%M:%S") if s.applied_at else "",
                )
                for s in statuses
            ],
        )
    if any(s.state is FileState.CHANGED for s in statuses):
        from spectral_deploy.errors import CheckFailed

        raise CheckFailed("an applied migration was edited afterwards (state: changed)")


@app.command()
def apply(
    ctx: typer.Context,
    generation: Annotated[
        int | None,
        typer.Option(min=1, help="Record this generation (default: $SPECTRAL_GENERATION, if set)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would run.")] = False,
) -> None:
    """Apply the pending migrations in order (the deploy does this at step 4).

    With [migrations] command set, that command runs instead (Alembic, Supabase CLI,
    dbmate...), with DATABASE_URL and SPECTRAL_GENERATION set.

    Example: spectral-deploy migrate apply --generation 8
    """
    from spectral_deploy.migrate.runner import FileState, apply, discover, plan, run_command

    config = state(ctx).config()
    database = state(ctx).database(create=True)
    if generation is None and os.environ.get("SPECTRAL_GENERATION", "").isdigit():
        generation = int(os.environ["SPECTRAL_GENERATION"])
    if config.migrations.command:
        if dry_run:
            console.info(f"dry run: would run {config.migrations.command!r}")
            return
        run_command(
            config.migrations.command,
            cwd=config.project_root,
            database_url=database.url,
            generation=generation,
        )
        console.success(f"ran {config.migrations.command!r}")
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
