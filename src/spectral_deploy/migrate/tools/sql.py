"""Plain SQL: the ``.sql`` files of ``[migrations] directory``, in name order; each is its SQL."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from spectral_deploy.errors import InputError
from spectral_deploy.migrate.tools.base import Migration, RenderedMigration, ToolKind
from spectral_deploy.migrate.tools.positions import display_path

__all__ = ["SqlTool", "sql_files"]


def sql_files(directory: Path) -> list[Path]:
    """The ``*.sql`` files of ``directory``, sorted by name."""
    return sorted(p for p in directory.iterdir() if p.suffix == ".sql" and p.is_file())


class SqlTool:
    """``MigrationTool`` for ``.sql`` files applied by the built-in runner."""

    kind = ToolKind.SQL

    def __init__(self, root: Path, directory: Path) -> None:
        self.root = root
        self.directory = directory if directory.is_absolute() else root / directory

    def describe(self) -> str:
        """``SQL files (migrations/)``."""
        return f"SQL files ({display_path(self.directory, self.root)}/)"

    def default_command(self) -> None:
        """None: the built-in runner applies them."""
        return None

    def directories(self) -> list[Path]:
        """``[migrations] directory``."""
        return [self.directory]

    def migrations(self) -> list[Migration]:
        """The directory's ``.sql`` files in name order (the directory must exist)."""
        if not self.directory.is_dir():
            raise InputError(
                f"migrations directory {display_path(self.directory, self.root)} does not exist",
                hint="pass the migration files or directories, or set [migrations] directory "
                "(or tool) in spectral.toml",
            )
        return [
            Migration(key=path.name, path=path, display=display_path(path, self.root))
            for path in sql_files(self.directory)
        ]

    def render(self, migrations: Sequence[Migration]) -> list[RenderedMigration]:
        """Each file as it is: the lint reads it."""
        return [RenderedMigration(migration) for migration in migrations]
