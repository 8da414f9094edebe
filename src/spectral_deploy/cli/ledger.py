"""``spectral-deploy ledger``: read the append-only deploy ledger."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from spectral_deploy.cli import console
from spectral_deploy.cli.common import OutputFormat, state

__all__ = ["app"]

app = typer.Typer(
    help=(
        "Read the deploy ledger: every deploy, step, rollback, drain and notification, "
        "with who, when, generations and outcome. Rows are never updated or deleted.\n\n"
        "Example: spectral-deploy ledger show --kind rollback"
    ),
    no_args_is_help=True,
)


@app.command()
def show(
    ctx: typer.Context,
    format_: Annotated[OutputFormat, typer.Option("--format", help="text or json")] = (
        OutputFormat.TEXT
    ),
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="Newest N entries (ignored with --all).")
    ] = 50,
    all_: Annotated[bool, typer.Option("--all", help="Every entry, oldest first.")] = False,
    kind: Annotated[
        str | None,
        typer.Option(help="Only this kind: generation, deploy, step, rollback, drain, ..."),
    ] = None,
    deploy: Annotated[int | None, typer.Option(help="Only entries of this deploy id.")] = None,
    generation: Annotated[
        int | None, typer.Option(help="Only entries that involve this generation.")
    ] = None,
) -> None:
    """Print ledger entries, oldest first.

    Example: spectral-deploy ledger show --generation 7 --format json
    """
    from spectral_deploy.ledger import store

    database = state(ctx).database()
    with database.connect() as conn:
        if all_:
            rows = store.entries(
                conn, database.schema, kind=kind, deploy_id=deploy, generation=generation
            )
        else:
            rows = store.tail(
                conn, database.schema, limit, kind=kind, deploy_id=deploy, generation=generation
            )
    if format_ is OutputFormat.JSON:
        console.print_json({"entries": [row.as_json() for row in rows]})
        return
    if not rows:
        console.info("the ledger is empty")
        return
    console.print_table(
        ["id", "when (UTC)", "kind", "action", "outcome", "gen", "actor", "details"],
        [
            (
                row.id,
                row.recorded_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
                row.kind,
                row.action,
                row.outcome,
                _generations(row.generation, row.from_generation, row.to_generation),
                row.actor,
                json.dumps(dict(row.details), separators=(",", ":")) if row.details else "",
            )
            for row in rows
        ],
    )


def _generations(generation: int | None, source: int | None, target: int | None) -> str:
    if source is not None and target is not None:
        return f"{source}→{target}"
    for value in (generation, source, target):
        if value is not None:
            return str(value)
    return ""
