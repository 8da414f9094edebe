"""``spectral-deploy generations``: allocate and list deploy generations."""

from __future__ import annotations

from typing import Annotated

import typer

from spectral_deploy.cli import console
from spectral_deploy.cli.common import OutputFormat, state

__all__ = ["app"]

app = typer.Typer(
    help=(
        "Deploy generations: one integer per cutover attempt, never reused. "
        "A rollback deploy gets a new one.\n\n"
        "Example: spectral-deploy generations allocate --tag v1.4.0 --commit $(git rev-parse HEAD)"
    ),
    no_args_is_help=True,
)


@app.command("list")
def list_(
    ctx: typer.Context,
    format_: Annotated[OutputFormat, typer.Option("--format", help="text or json")] = (
        OutputFormat.TEXT
    ),
) -> None:
    """List generations, newest first, with tag, commit and state.

    Example: spectral-deploy generations list
    """
    from spectral_deploy.ledger import generations

    database = state(ctx).database()
    with database.connect() as conn:
        rows = generations.list_all(conn, database.schema)
    if format_ is OutputFormat.JSON:
        console.print_json({"generations": [g.as_json() for g in rows]})
        return
    if not rows:
        console.info("no generations allocated yet")
        return
    console.print_table(
        ["generation", "state", "tag", "commit", "allocated", "by"],
        [
            (
                g.generation,
                g.state,
                g.tag,
                (g.commit_sha or "")[:12],
                g.allocated_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
                g.allocated_by,
            )
            for g in rows
        ],
    )


@app.command()
def allocate(
    ctx: typer.Context,
    tag: Annotated[str | None, typer.Option(help="The release tag being deployed.")] = None,
    commit: Annotated[str | None, typer.Option(help="The commit the tag resolves to.")] = None,
    format_: Annotated[OutputFormat, typer.Option("--format", help="text or json")] = (
        OutputFormat.TEXT
    ),
) -> None:
    """Allocate the next generation (atomic: concurrent callers never get the same number).

    Normally the deploy does this (step 2); CI jobs that need the number call it directly.

    Example: spectral-deploy generations allocate --tag v1.4.0 --commit 3f2c1ab --format json
    """
    from spectral_deploy.ledger import generations

    database = state(ctx).database(create=True)
    with database.connect() as conn:
        generation = generations.allocate(conn, database.schema, tag=tag, commit_sha=commit)
    if format_ is OutputFormat.JSON:
        console.print_json(generation.as_json())
    else:
        console.success(f"allocated generation {generation.generation}")
