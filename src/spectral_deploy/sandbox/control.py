"""Stopping the local sandbox: both colors' processes, the router, the embedded server."""

from __future__ import annotations

from dataclasses import dataclass

from spectral_deploy.config import Config
from spectral_deploy.db.embedded import EmbeddedServer
from spectral_deploy.providers.base import Color
from spectral_deploy.providers.local.dns import from_config as local_dns
from spectral_deploy.providers.local.hosting import LocalHosting

__all__ = ["SandboxDown", "down"]


@dataclass(frozen=True)
class SandboxDown:
    """What was running and is stopped now."""

    colors: tuple[Color, ...]
    router: bool
    database: bool


def down(config: Config, *, keep_database: bool = False) -> SandboxDown:
    """Stop the sandbox's processes (workers drain first); the data stays in .spectral/."""
    hosting = LocalHosting(
        project_root=config.project_root,
        state_dir=config.project_root / ".spectral",
        web_command=config.hosting.web_command or "true",
        worker_app=config.hosting.worker_app,
        health_path=config.hosting.health_path,
        ports={Color.BLUE: config.hosting.blue_port, Color.GREEN: config.hosting.green_port},
        database_url="",
    )
    stopped = []
    for color in Color:
        if hosting.current(color) is not None:
            hosting.stop(color)
            stopped.append(color)
    router = local_dns(config).stop_router()
    database = False
    if not keep_database and not config.database.url:
        database = EmbeddedServer(config.embedded_data_dir).stop()
    return SandboxDown(tuple(stopped), router, database)
