"""``spectral-deploy sandbox``: the local sandbox's processes."""

from __future__ import annotations

from typing import Annotated

import typer

from spectral_deploy.cli import console
from spectral_deploy.cli.common import state

__all__ = ["app"]

app = typer.Typer(
    help=(
        "The local sandbox: blue and green run as processes on this machine, a router plays "
        "the CNAME, an embedded PostgreSQL holds the data (all under .spectral/).\n\n"
        "Example: spectral-deploy sandbox down"
    ),
    no_args_is_help=True,
)


@app.command()
def down(
    ctx: typer.Context,
    keep_database: Annotated[
        bool, typer.Option("--keep-database", help="Leave the embedded PostgreSQL running.")
    ] = False,
) -> None:
    """Stop blue's and green's processes (workers drain first), the router and the embedded
    server. Nothing is deleted: `spectral-deploy deploy` starts them again.

    Example: spectral-deploy sandbox down --keep-database
    """
    from spectral_deploy.sandbox.control import down as stop_all

    result = stop_all(state(ctx).config(), keep_database=keep_database)
    colors = ", ".join(map(str, result.colors)) or "no color"
    console.success(
        f"stopped {colors}; router {'stopped' if result.router else 'was not running'}; "
        f"database {'stopped' if result.database else 'left as it was'}"
    )
