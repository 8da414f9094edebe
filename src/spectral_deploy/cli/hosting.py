"""``spectral-deploy hosting``: what runs on blue and green, and stopping or scaling a color."""

from __future__ import annotations

from typing import Annotated

import typer

from spectral_deploy.appenv import placeholder_help
from spectral_deploy.cli import console
from spectral_deploy.cli.common import OutputFormat, state
from spectral_deploy.errors import UsageError
from spectral_deploy.providers.base import Color

__all__ = ["app"]

app = typer.Typer(
    help=(
        "The two deployment slots (blue and green) on the configured hosting provider: what "
        "each runs, stop one, scale its workers. The rollback plans use these commands.\n\n"
        "Locally, each slot runs [hosting] web_command from the release's checkout, and "
        "[hosting] workers worker processes, in the app's interpreter ([hosting] python). "
        "Placeholders in web_command (and in [migrations] command):\n\n"
        + "\n".join(f"  {line}" for line in placeholder_help().splitlines())
        + "\n\nExample: spectral-deploy hosting status"
    ),
    no_args_is_help=True,
)

ColorArgument = Annotated[str, typer.Argument(help="blue or green", metavar="COLOR")]


def _color(text: str) -> Color:
    try:
        return Color(text)
    except ValueError:
        raise UsageError(f"COLOR must be blue or green, got {text!r}") from None


@app.command()
def status(
    ctx: typer.Context,
    format_: Annotated[OutputFormat, typer.Option("--format", help="text or json")] = (
        OutputFormat.TEXT
    ),
) -> None:
    """What each slot runs: generation, commit, tag, workers, health.

    Example: spectral-deploy hosting status --format json
    """
    from spectral_deploy import providers

    config = state(ctx).config()
    hosting = providers.hosting_provider(config, state(ctx).database().app_url)
    rows = []
    for color in Color:
        current = hosting.current(color)
        health = hosting.health(color) if current else None
        rows.append(
            {
                "color": str(color),
                "generation": current.generation if current else None,
                "commit": current.commit if current else None,
                "tag": current.tag if current else None,
                "status": current.status if current else "stopped",
                "workers": current.workers if current else 0,
                "healthy": health.ok if health else False,
                "address": hosting.address(color),
            }
        )
    if format_ is OutputFormat.JSON:
        console.print_json({"slots": rows})
        return
    console.print_table(
        ["slot", "generation", "tag", "status", "workers", "healthy", "address"],
        [
            (
                r["color"],
                r["generation"],
                r["tag"],
                r["status"],
                r["workers"],
                r["healthy"],
                r["address"],
            )
            for r in rows
        ],
    )


@app.command()
def stop(
    ctx: typer.Context,
    color: ColorArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Stop a slot: its workers drain (finish the rows in hand), then the web app stops.

    Example: spectral-deploy hosting stop green --yes
    """
    from spectral_deploy import providers

    slot = _color(color)
    if not yes:
        typer.confirm(f"Stop slot {slot}?", abort=True)
    hosting = providers.hosting_provider(
        state(ctx).config(), state(ctx).database(create=True).app_url
    )
    hosting.stop(slot)
    console.success(f"slot {slot} stopped")


@app.command()
def scale(
    ctx: typer.Context,
    color: ColorArgument,
    workers: Annotated[int, typer.Argument(min=0, help="How many worker processes.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Run this many workers on a slot (0 stops them; they drain first).

    Example: spectral-deploy hosting scale green 0 --yes
    """
    from spectral_deploy import providers

    slot = _color(color)
    if not yes:
        typer.confirm(f"Scale slot {slot} to {workers} worker(s)?", abort=True)
    hosting = providers.hosting_provider(
        state(ctx).config(), state(ctx).database(create=True).app_url
    )
    hosting.scale_workers(slot, workers)
    console.success(f"slot {slot}: {workers} worker(s)")
