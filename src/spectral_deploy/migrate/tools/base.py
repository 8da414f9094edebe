"""What every migration tool adapter gives: the project's migrations in order, and their SQL.

A ``Migration`` is one file the tool applies (a ``.sql`` file, an Alembic revision, a
Django migration); ``RenderedMigration`` is that file as the SQL the lint reads, with an
``Origin`` mapping each SQL line back to the file when a tool wrote the SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from spectral_deploy.lint.origin import Origin

__all__ = ["Migration", "MigrationTool", "RenderedMigration", "ToolKind"]


class ToolKind(StrEnum):
    """What writes the app's migrations (``[migrations] tool``, ``auto`` resolved)."""

    SQL = "sql"
    ALEMBIC = "alembic"
    DJANGO = "django"
    NONE = "none"


@dataclass(frozen=True)
class Migration:
    """One migration file, where the tool's order puts it.

    ``key`` is what the tool calls it (the file name, the Alembic revision id, Django's
    ``app.name``); ``display`` is the path shown to people, relative to the project root.
    """

    key: str
    path: Path
    display: str
    parents: tuple[str, ...] = ()


@dataclass(frozen=True)
class RenderedMigration:
    """A migration as SQL. ``sql`` is ``None`` for a plain ``.sql`` file: the file is the SQL
    (the lint reads and checks it); otherwise ``origin`` maps the SQL back to the file."""

    migration: Migration
    sql: str | None = None
    origin: Origin | None = None


class MigrationTool(Protocol):
    """A migration tool as the lint, the deploy and ``migrate status`` need it."""

    kind: ToolKind
    root: Path

    def describe(self) -> str:
        """What was found, for messages: ``Alembic (alembic.ini)``."""
        ...

    def directories(self) -> list[Path]:
        """Where its migration files live (what ``--base`` diffs and ``init`` watches)."""
        ...

    def migrations(self) -> list[Migration]:
        """Every migration of the project, in the order the tool applies them."""
        ...

    def render(self, migrations: Sequence[Migration]) -> list[RenderedMigration]:
        """Those migrations as SQL, in the order given."""
        ...

    def default_command(self) -> str | None:
        """The command that applies its migrations, when ``[migrations] command`` is unset."""
        ...
