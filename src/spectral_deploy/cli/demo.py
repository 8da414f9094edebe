"""``spectral-deploy demo``: what a new user runs first (``make demo``)."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from spectral_deploy.cli import console
from spectral_deploy.cli.common import OutputFormat, state

__all__ = ["demo"]


def demo(
    ctx: typer.Context,
    format_: Annotated[OutputFormat, typer.Option("--format", help="text or json")] = (
        OutputFormat.TEXT
    ),
) -> None:
    """Run the demo on the embedded PostgreSQL server, in a scratch database it cleans up.

    Today it shows the foundation (the embedded server, Spectral's schema, generations
    allocated concurrently without duplicates, a ledger that refuses to be rewritten) and
    the outbox (events committed with their orders, handled by a worker of their
    generation; a generation with no worker left stranded).
    The full blue/green story (deploy, cutover, faults, rollbacks, legacy drain) replaces
    it as those capabilities land.

    Example: spectral-deploy demo --format json
    """
    from spectral_deploy.sandbox.demo import run_foundation_demo

    config = state(ctx).config()
    step = 0

    def narrate(text: str, command: str | None) -> None:
        nonlocal step
        if format_ is OutputFormat.JSON:
            return
        step += 1
        console.info(f"{step:>2}. {text}")
        if command:
            console.info(f"      $ {command}")

    if format_ is OutputFormat.TEXT:
        console.info(
            "Spectral Deploy demo: the foundation (embedded PostgreSQL, generations, ledger) "
            "the generation-routed outbox and the legacy drain.\n"
            "The full sandbox story (deploy -> cutover -> fault -> rollback -> drain) is not "
            "built yet; this demo runs the part that exists.\n"
        )
    summary = run_foundation_demo(config, narrate)
    if format_ is OutputFormat.JSON:
        console.print_json(dataclasses.asdict(summary))
    else:
        console.info("")
        console.info(f"PostgreSQL server:        {summary.server_version} (embedded)")
        console.info(f"generations allocated:    {summary.generations_allocated}")
        console.info(f"duplicate numbers:        {summary.duplicates}")
        console.info(f"numbers 1..n, no gaps:    {summary.strictly_increasing}")
        console.info(f"ledger entries:           {summary.ledger_entries}")
        console.info(f"ledger rewrite refused:   {summary.ledger_rewrite_refused}")
        console.info(f"events emitted:           {summary.events_emitted}")
        console.info(f"events handled:           {summary.events_handled}")
        stranded = ", ".join(map(str, summary.stranded_generations)) or "none"
        console.info(f"stranded, then drained:   {stranded}")
        console.info(f"took:                     {summary.seconds} s")
        (console.success if summary.ok else console.warn)(
            "demo passed" if summary.ok else "demo found a problem"
        )
    if not summary.ok:
        raise typer.Exit(1)
