"""``spectral-deploy demo``: the runbook's story on this machine, under live traffic."""

from __future__ import annotations

from typing import Annotated

import typer

from spectral_deploy.cli import console
from spectral_deploy.cli.common import OutputFormat

__all__ = ["demo"]


def demo(
    format_: Annotated[OutputFormat, typer.Option("--format", help="text or json")] = (
        OutputFormat.TEXT
    ),
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the sandbox running afterwards to explore it.")
    ] = False,
) -> None:
    """Run the sandbox story: the sample shop under live traffic goes through deploy blue ->
    deploy green with a migration -> cutover -> a behaviour fault -> Class 2 rollback (flip
    back, drain N+1) -> the fixed release -> a data fault -> Class 3 rollback (rollback tag at
    N+2, drain N+1) -> finish. Each step is narrated with the command an operator would type;
    the summary counts requests served and failed and events emitted, handled and lost (from
    the database and the load generator). Everything runs in a throwaway project (embedded
    PostgreSQL, local providers) that is deleted at the end. Exit 1 if anything was lost.

    Example: spectral-deploy demo --format json
    """
    from spectral_deploy.sandbox.demo import run_demo

    step = 0

    def say(text: str, command: str | None) -> None:
        nonlocal step
        if format_ is OutputFormat.JSON:
            return
        if not text.startswith("  "):
            step += 1
            console.info(f"{step:>2}. {text}")
        else:
            console.info(f"    {text.strip()}")
        if command:
            console.info(f"      $ {command}")

    summary = run_demo(say, keep=keep)
    if format_ is OutputFormat.JSON:
        console.print_json(summary.as_json())
    else:
        console.info("")
        for scenario in summary.scenarios:
            mark = "ok" if scenario.ok else "FAILED"
            console.info(f"{scenario.name}: {mark} in {scenario.seconds:.1f} s")
        failed = ", ".join(f"{n} {cause}" for cause, n in summary.load.failed_by_cause.items())
        console.info(
            f"requests: {summary.load.served} served, {summary.load.failed} failed"
            + (f" ({failed})" if failed else "")
        )
        console.info(
            f"events:   {summary.events_emitted} emitted, {summary.events_handled} handled, "
            f"{summary.events_lost} lost"
        )
        console.info(f"took:     {summary.seconds:.0f} s")
        for problem in summary.problems:
            console.warn(problem)
        (console.success if summary.ok else console.warn)(
            "demo passed: nothing lost" if summary.ok else "demo found a problem"
        )
    if not summary.ok:
        raise typer.Exit(1)
