"""``spectral-deploy dashboard``: the read-only status page, its JSON and /metrics, locally."""

from __future__ import annotations

import threading
from typing import Annotated

import typer

from spectral_deploy.cli import console
from spectral_deploy.cli.common import state

__all__ = ["dashboard"]


def dashboard(
    ctx: typer.Context,
    listen: Annotated[
        str,
        typer.Option(
            metavar="HOST:PORT",
            help="Where to serve (loopback only unless --allow-remote).",
        ),
    ] = "127.0.0.1:8180",
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help="Listen beyond loopback. The dashboard has no authentication: put it behind "
            "an authenticating proxy.",
        ),
    ] = False,
    interval: Annotated[
        float, typer.Option(min=0.2, help="Seconds between snapshots (and chart samples).")
    ] = 2.0,
) -> None:
    """Serve a read-only page with the live color and generations, the deploy and its
    timeline, outbox backlog per generation over time (stranded generations highlighted),
    workers and the last backup; JSON at /api/status, /api/timeline, /api/backlog, and
    Prometheus metrics at /metrics. Runs until Ctrl-C or SIGTERM.

    Example: spectral-deploy dashboard --listen 127.0.0.1:8180
    """
    from spectral_deploy.cli.signals import on_stop_signals
    from spectral_deploy.web.server import Monitor, make_server, parse_listen
    from spectral_deploy.web.snapshot import open_sources, read_backup, read_snapshot

    host, port = parse_listen(listen, allow_remote=allow_remote)
    config = state(ctx).config()
    sources = open_sources(config, state(ctx).database())
    monitor = Monitor(
        lambda backup: read_snapshot(sources, backup=backup),
        lambda: read_backup(sources),
        interval=interval,
    )
    server = make_server(
        host, port, monitor, project=config.project_root.name, allow_remote=allow_remote
    )
    monitor.sample()
    stop = threading.Event()
    sampler = threading.Thread(target=monitor.run, args=(stop,), name="sampler", daemon=True)
    sampler.start()

    # shutdown() waits for serve_forever to return: from another thread, never the handler's
    on_stop_signals(lambda: threading.Thread(target=server.shutdown, daemon=True).start())
    console.info(f"dashboard: {server.url}  (metrics: {server.url}metrics)  Ctrl-C to stop")
    try:
        server.serve_forever(poll_interval=0.25)
    finally:
        stop.set()
        server.server_close()
    console.info("dashboard stopped")
