"""``spectral-deploy logs``: what blue's and green's processes wrote (the local slots)."""

from __future__ import annotations

from typing import Annotated

import typer

from spectral_deploy.cli import console
from spectral_deploy.cli.common import state
from spectral_deploy.errors import UsageError
from spectral_deploy.providers.base import Color

__all__ = ["logs"]


def logs(
    ctx: typer.Context,
    color: Annotated[
        str | None,
        typer.Argument(
            help="blue or green (default: both).", metavar="[COLOR]", show_default=False
        ),
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl-C.")
    ] = False,
    worker: Annotated[
        bool, typer.Option("--worker", help="The workers' logs instead of the web app's.")
    ] = False,
    lines: Annotated[
        int, typer.Option("--lines", "-n", min=0, metavar="N", help="Show the last N lines first.")
    ] = 50,
) -> None:
    """Print a slot's log: its web app's output (or its workers' with --worker), the last
    lines first, then, with --follow, new lines as they are written.

    The local hosting provider keeps each process's output in
    .spectral/hosting/COLOR/web.log and worker-N.log, across releases. On Render, read the
    service's logs in its dashboard.

    Example: spectral-deploy logs green --worker --follow
    """
    from spectral_deploy.providers.local.logs import follow as follow_logs
    from spectral_deploy.providers.local.logs import log_files, tail

    config = state(ctx).config()
    if config.hosting.provider != "local":
        raise UsageError(
            f"spectral-deploy logs reads the local slots; [hosting] provider is "
            f"{config.hosting.provider!r}",
            hint="read the services' logs in the provider's dashboard",
        )
    try:
        colors = list(Color) if color is None else [Color(color)]
    except ValueError:
        raise UsageError(f"COLOR must be blue or green, got {color!r}") from None
    files = log_files(config.project_root / ".spectral", colors, workers=worker)
    what = "worker" if worker else "web"
    if not files:
        where = ", ".join(str(c) for c in colors)
        raise UsageError(
            f"no {what} log for {where} yet (nothing was deployed there)",
            hint="spectral-deploy hosting status",
        )
    labelled = len(files) > 1
    offsets = {}
    for log in files:
        text, offsets[log.path] = tail(log.path, lines)
        for line in text:
            console.print_text(f"{log.label} | {line}" if labelled else line)
    if follow:
        for log, line in follow_logs(files, offsets):
            console.print_text(f"{log.label} | {line}" if labelled else line)
