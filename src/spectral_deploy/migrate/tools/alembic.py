"""Alembic: revisions found through ``alembic.ini``, each rendered offline to SQL.

A revision's SQL is what ``alembic upgrade PARENT:REVISION --sql`` prints (no database
involved), produced by the app's own Alembic in the app's own interpreter. Every
statement is traced to the ``op.*`` call in the revision file that emitted it, so a finding
points at that call (and, for SQL written out in ``op.execute("...")``, at the very line).
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spectral_deploy.errors import MigrationToolFailed
from spectral_deploy.lint.origin import LineOrigin, Origin
from spectral_deploy.lint.settings import ALEMBIC_CONFIG as CONFIG_FILE
from spectral_deploy.lint.source import Position
from spectral_deploy.migrate.tools.base import Migration, RenderedMigration, ToolKind
from spectral_deploy.migrate.tools.positions import (
    char_column,
    display_path,
    origins_for,
    read_lines,
    with_markers,
)
from spectral_deploy.migrate.tools.probe import run_probe
from spectral_deploy.migrate.tools.probed import ProbedTool

__all__ = ["CONFIG_FILE", "AlembicTool"]

# offline rendering never connects; a URL is only needed for the dialect
OFFLINE_DATABASE_URL = "postgresql://spectral-lint.invalid/offline"


class AlembicTool(ProbedTool):
    """``MigrationTool`` for a project with ``alembic.ini`` at its root."""

    kind = ToolKind.ALEMBIC
    listing_label = "alembic history"
    rendered_key = "revision"

    def describe(self) -> str:
        """``Alembic (alembic.ini)``."""
        return f"Alembic ({CONFIG_FILE})"

    def default_command(self) -> str:
        """``alembic upgrade head``, in the app's interpreter."""
        return "{python} -m alembic upgrade head"

    def _probe_listing(self) -> dict[str, Any]:
        """Every revision, base first (``alembic history``, in upgrade order)."""
        return self._probe([], label=self.listing_label)

    def _probe_render(self, migrations: Sequence[Migration]) -> dict[str, Any]:
        """``alembic upgrade PARENT:REVISION --sql`` for each."""
        ranges = [f"{m.parents[0]}:{m.key}" if m.parents else m.key for m in migrations]
        label = "; ".join(f"alembic upgrade {r} --sql" for r in ranges)
        return self._probe([m.key for m in migrations], label=label)

    def _rendered(self, migration: Migration, item: dict[str, Any]) -> RenderedMigration:
        """The revision's SQL, traced to the ``op.*`` calls of the revision file."""
        command = f"alembic upgrade {item['range']} --sql"
        sql, origin = _origin(migration, command, str(item["sql"]), item["lines"])
        return RenderedMigration(migration, sql=sql, origin=origin)

    def _probe(self, revisions: list[str], *, label: str) -> dict[str, Any]:
        if not (self.root / CONFIG_FILE).is_file():
            raise MigrationToolFailed(
                f"no {CONFIG_FILE} in {self.root}",
                hint='set [migrations] tool = "sql" (or "django") if the app does not use Alembic',
            )
        url = self._database_url() or OFFLINE_DATABASE_URL
        return run_probe(
            "alembic_probe.py",
            [CONFIG_FILE, *revisions],
            python=self.python,
            cwd=self.root,
            env={"DATABASE_URL": url},
            label=label,
            module="alembic",
        )

    def _read_listing(self, result: dict[str, Any]) -> list[Migration]:
        return [
            Migration(
                key=str(item["revision"]),
                path=Path(item["path"]),
                display=display_path(Path(item["path"]), self.root),
                parents=tuple(str(p) for p in item["parents"]),
            )
            for item in result.get("revisions", [])
        ]


def _origin(migration: Migration, command: str, sql: str, lines: list[Any]) -> tuple[str, Origin]:
    """Each SQL line's origin from the probe's (line, end line, byte column, end byte column);
    the SQL gets the revision's ``# compat:`` comments appended."""
    file_lines = read_lines(migration.path)
    spans: list[tuple[Position, Position] | None] = []
    for where in lines:
        if where is None:
            spans.append(None)
            continue
        line, end_line, column, end_column = (int(v) for v in where)
        spans.append(
            (
                Position(line, char_column(file_lines, line, column)),
                Position(end_line, char_column(file_lines, end_line, end_column)),
            )
        )
    sql, origins = with_markers(sql, origins_for(sql.split("\n"), spans, file_lines), file_lines)
    origin = Origin(
        path=migration.display,
        command=command,
        lines=origins,
        fallback=_upgrade_function(migration.path, file_lines),
    )
    return sql, origin


def _upgrade_function(path: Path, file_lines: list[str]) -> LineOrigin:
    """Where ``def upgrade`` is (bookkeeping SQL points there), else the file's first line."""
    try:
        tree = ast.parse("\n".join(file_lines), filename=str(path))
    except (SyntaxError, ValueError):
        tree = None
    for node in tree.body if tree is not None else []:
        if isinstance(node, ast.FunctionDef) and node.name == "upgrade":
            start = Position(node.lineno, node.col_offset + 1)
            return LineOrigin(start, start)
    return LineOrigin(Position(1, 1), Position(1, 1))
