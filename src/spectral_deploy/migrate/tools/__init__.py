"""The app's migrations as the tool that writes them knows them: plain SQL, Alembic or Django.

``tool_for(config)`` picks the adapter (``[migrations] tool``, or found from the project:
``alembic.ini``, else ``manage.py``, else ``.sql`` files); each lists the migrations in the
order the tool applies them and renders them to SQL, in the app's own interpreter.

``project_migrations(config)`` yields every migration of the project in that order as
(file, SQL, line origins): what the lint reads, and what a schema model replays.
``lint_inputs`` turns rendered migrations into the lint's files and the origins its
report is mapped back with (``spectral_deploy.lint.origin.remap``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from spectral_deploy.config import Config
from spectral_deploy.lint.engine import LintFile
from spectral_deploy.lint.origin import Origin
from spectral_deploy.lint.settings import detect_tool
from spectral_deploy.migrate.tools.alembic import AlembicTool
from spectral_deploy.migrate.tools.base import (
    Migration,
    MigrationTool,
    RenderedMigration,
    ToolKind,
)
from spectral_deploy.migrate.tools.django import DjangoTool
from spectral_deploy.migrate.tools.sql import SqlTool

__all__ = [
    "Migration",
    "MigrationTool",
    "NoMigrations",
    "RenderedMigration",
    "ToolKind",
    "detect",
    "lint_inputs",
    "project_migrations",
    "tool_for",
]


def detect(root: Path) -> ToolKind:
    """What ``auto`` means for a project: ``alembic.ini``, else ``manage.py``, else SQL
    (the lint's fast path asks ``lint.settings.detect_tool``, the same function)."""
    return ToolKind(detect_tool(root))


class NoMigrations:
    """``[migrations] tool = "none"``: an app without a schema of its own."""

    kind = ToolKind.NONE

    def __init__(self, root: Path) -> None:
        self.root = root

    def describe(self) -> str:
        """``no migrations ([migrations] tool = "none")``."""
        return 'no migrations ([migrations] tool = "none")'

    def directories(self) -> list[Path]:
        """None."""
        return []

    def migrations(self) -> list[Migration]:
        """None."""
        return []

    def render(self, migrations: Sequence[Migration]) -> list[RenderedMigration]:
        """Nothing to render."""
        return []

    def default_command(self) -> None:
        """Nothing to run."""
        return None


def tool_for(
    config: Config,
    *,
    root: Path | None = None,
    database_url: Callable[[], str | None] = lambda: None,
) -> MigrationTool:
    """The adapter for the project at ``root`` (default: the project root; a deploy passes the
    release's checkout). ``database_url`` is asked only when a tool needs a database to render
    (Django's ``sqlmigrate``); Alembic renders offline."""
    from spectral_deploy.appenv import app_python  # noqa: PLC0415 - not for plain SQL

    root = root or config.project_root
    kind = ToolKind(config.migrations.tool) if config.migrations.tool != "auto" else detect(root)
    if kind is ToolKind.NONE:
        return NoMigrations(root)
    if kind is ToolKind.SQL:
        return SqlTool(root, config.migrations.directory)
    if kind is ToolKind.ALEMBIC:
        # offline rendering never connects: no server is started for it
        configured = config.database.url or os.environ.get("DATABASE_URL")
        return AlembicTool(root, python=app_python(config), database_url=lambda: configured)
    return DjangoTool(root, python=app_python(config), database_url=database_url)


def project_migrations(
    config: Config,
    *,
    root: Path | None = None,
    database_url: Callable[[], str | None] = lambda: None,
) -> Iterator[RenderedMigration]:
    """Every migration of the project, in the order the tool applies them, as SQL with origins.

    For plain SQL files ``sql`` is ``None`` (the file is the SQL: read ``migration.path``).
    """
    tool = tool_for(config, root=root, database_url=database_url)
    yield from tool.render(tool.migrations())


def lint_inputs(
    rendered: Sequence[RenderedMigration], *, display: Callable[[Migration], str] | None = None
) -> tuple[list[LintFile], dict[str, Origin]]:
    """The lint's files for rendered migrations, and the origins to map its report back with.

    ``display`` names each file in the report (default: relative to the project root).
    """
    files: list[LintFile] = []
    origins: dict[str, Origin] = {}
    for item in rendered:
        migration = item.migration
        shown = display(migration) if display is not None else migration.display
        if item.sql is None:
            files.append(LintFile(migration.path, shown))
            continue
        files.append(LintFile(migration.path, shown, text=item.sql))
        if item.origin is not None:
            origins[shown] = dataclasses.replace(item.origin, path=shown)
    return files, origins
