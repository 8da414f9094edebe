"""What every command shares: the resolved configuration, the database, output formats."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from spectral_deploy.errors import UsageError

if TYPE_CHECKING:
    from spectral_deploy.config import Config
    from spectral_deploy.db import Database

__all__ = ["AppState", "OutputFormat", "parse_assignment", "state"]


class OutputFormat(StrEnum):
    """``--format`` of commands that report."""

    TEXT = "text"
    JSON = "json"


@dataclass
class AppState:
    """Options of the root command, and what they resolve to (loaded on first use)."""

    config_file: Path | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    _config: Config | None = None
    _database: Database | None = None

    def config(self) -> Config:
        """The configuration (file, environment, ``--set``)."""
        if self._config is None:
            from spectral_deploy.config import load_config

            self._config = load_config(config_file=self.config_file, overrides=self.overrides)
        return self._config

    def database(self, *, create: bool = False) -> Database:
        """The database with Spectral's schema checked.

        Read-only commands take the default: nothing is initialised or installed (a missing
        server or schema is exit 3 naming the command that creates it). Commands that write
        pass ``create=True``: the embedded server is initialised, started and given the
        schema on first use.
        """
        if self._database is None:
            from spectral_deploy.db import open_database

            self._database = open_database(self.config(), create=create)
        return self._database


def state(ctx: typer.Context) -> AppState:
    """The root command's state, from any subcommand's context."""
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState()
    return root.obj


def parse_assignment(text: str) -> tuple[str, str]:
    """``section.key=value`` -> (key, value)."""
    key, sep, value = text.partition("=")
    if not sep or "." not in key:
        raise UsageError(
            f"--set expects section.key=value, got {text!r}",
            hint="spectral-deploy --set database.schema=spectral db status",
        )
    return key.strip(), value
