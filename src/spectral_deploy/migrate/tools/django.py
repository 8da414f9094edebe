"""Django: the project's migrations found through ``manage.py``, each as ``sqlmigrate`` prints it.

Only the project's own migrations count (files under the project directory), not those of
Django itself or of installed packages. ``sqlmigrate`` needs the database (Django reads
constraint names there), so rendering runs with ``DATABASE_URL`` set. Each statement is
traced to the entry of the migration's ``operations`` list that produced it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from spectral_deploy.errors import MigrationToolFailed
from spectral_deploy.lint.origin import LineOrigin, Origin
from spectral_deploy.lint.settings import DJANGO_MANAGE_PY as MANAGE_PY
from spectral_deploy.lint.source import Position
from spectral_deploy.migrate.tools.base import Migration, RenderedMigration, ToolKind
from spectral_deploy.migrate.tools.positions import (
    display_path,
    origins_for,
    read_lines,
    with_markers,
)
from spectral_deploy.migrate.tools.probe import run_probe
from spectral_deploy.migrate.tools.probed import ProbedTool

__all__ = ["MANAGE_PY", "DjangoTool"]


class DjangoTool(ProbedTool):
    """``MigrationTool`` for a project with ``manage.py`` at its root."""

    kind = ToolKind.DJANGO
    listing_label = "python manage.py showmigrations --plan"
    rendered_key = "migration"

    def __init__(
        self, root: Path, *, python: str, database_url: Callable[[], str | None] = lambda: None
    ) -> None:
        super().__init__(root, python=python, database_url=database_url)
        self._operations: dict[str, int] = {}

    def describe(self) -> str:
        """``Django (manage.py)``."""
        return f"Django ({MANAGE_PY})"

    def default_command(self) -> str:
        """``manage.py migrate``, in the app's interpreter."""
        return "{python} manage.py migrate --no-input"

    def _probe_listing(self) -> dict[str, Any]:
        """The project's own migrations, in the order ``migrate`` applies them."""
        return self._probe([], label=self.listing_label)

    def _probe_render(self, migrations: Sequence[Migration]) -> dict[str, Any]:
        """``manage.py sqlmigrate APP NAME`` for each (with the database: Django reads
        constraint names there)."""
        label = "; ".join(_sqlmigrate(m.key) for m in migrations)
        return self._probe([m.key for m in migrations], label=label, database=True)

    def _rendered(self, migration: Migration, item: dict[str, Any]) -> RenderedMigration:
        """The migration's SQL, traced to its ``operations`` entries."""
        sql, origin = _origin(
            migration,
            _sqlmigrate(migration.key),
            str(item["sql"]),
            item["lines"],
            self._operations.get(migration.key),
        )
        return RenderedMigration(migration, sql=sql, origin=origin)

    def _probe(self, keys: list[str], *, label: str, database: bool = False) -> dict[str, Any]:
        if not (self.root / MANAGE_PY).is_file():
            raise MigrationToolFailed(
                f"no {MANAGE_PY} in {self.root}",
                hint='set [migrations] tool = "sql" (or "alembic") if the app does not use Django',
            )
        url = self._database_url() if database else None
        return run_probe(
            "django_probe.py",
            [MANAGE_PY, *keys],
            python=self.python,
            cwd=self.root,
            env={"DATABASE_URL": url} if url else {},
            label=label,
            module="django",
        )

    def _read_listing(self, result: dict[str, Any]) -> list[Migration]:
        listing = []
        for item in result.get("migrations", []):
            path = item.get("path")
            if not path:
                continue
            display = display_path(Path(path), self.root)
            if Path(display).is_absolute() or "site-packages" in Path(display).parts:
                continue  # Django's own and installed packages' migrations
            key = f"{item['app']}.{item['name']}"
            self._operations[key] = int(item["operations"])
            listing.append(
                Migration(
                    key=key,
                    path=Path(path),
                    display=display,
                    parents=tuple(str(p) for p in item["parents"]),
                )
            )
        return listing


def _sqlmigrate(key: str) -> str:
    """``python manage.py sqlmigrate APP NAME`` of ``app.name``."""
    return "python manage.py sqlmigrate " + key.replace(".", " ", 1)


def _origin(
    migration: Migration, command: str, sql: str, lines: list[Any], operations: int | None
) -> tuple[str, Origin]:
    """Each SQL line's origin: the span of the ``operations`` entry that wrote it; the SQL gets
    the migration's ``# compat:`` comments appended."""
    file_lines = read_lines(migration.path)
    entries, fallback = operation_spans(migration.path, file_lines)
    usable = operations is None or len(entries) == operations
    spans: list[tuple[Position, Position] | None] = []
    for index in lines:
        if index is None or not usable or not 0 <= int(index) < len(entries):
            spans.append(None)
        else:
            spans.append(entries[int(index)])
    sql, origins = with_markers(sql, origins_for(sql.split("\n"), spans, file_lines), file_lines)
    origin = Origin(path=migration.display, command=command, lines=origins, fallback=fallback)
    return sql, origin


def operation_spans(
    path: Path, file_lines: list[str]
) -> tuple[list[tuple[Position, Position]], LineOrigin]:
    """The spans of the entries of ``class Migration``'s ``operations`` list literal, and the
    position of ``operations`` itself (or of the class, or line 1) for everything else."""
    fallback = LineOrigin(Position(1, 1), Position(1, 1))
    try:
        tree = ast.parse("\n".join(file_lines), filename=str(path))
    except (SyntaxError, ValueError):
        return [], fallback
    for node in tree.body:
        if not (isinstance(node, ast.ClassDef) and node.name == "Migration"):
            continue
        fallback = LineOrigin(
            Position(node.lineno, node.col_offset + 1), Position(node.lineno, node.col_offset + 1)
        )
        for statement in node.body:
            targets = (
                statement.targets
                if isinstance(statement, ast.Assign)
                else [statement.target]
                if isinstance(statement, ast.AnnAssign)
                else []
            )
            if not any(isinstance(t, ast.Name) and t.id == "operations" for t in targets):
                continue
            start = Position(statement.lineno, statement.col_offset + 1)
            fallback = LineOrigin(start, start)
            value = getattr(statement, "value", None)
            if isinstance(value, (ast.List, ast.Tuple)):
                return [_span(element, file_lines) for element in value.elts], fallback
    return [], fallback


def _span(node: ast.expr, file_lines: list[str]) -> tuple[Position, Position]:
    from spectral_deploy.migrate.tools.positions import char_column  # noqa: PLC0415

    end_line = node.end_lineno or node.lineno
    end_column = node.end_col_offset or node.col_offset
    return (
        Position(node.lineno, char_column(file_lines, node.lineno, node.col_offset)),
        Position(end_line, char_column(file_lines, end_line, end_column)),
    )
