"""What the Alembic and Django adapters share: a tool whose migrations are listed and
rendered by a probe run in the app's own interpreter.

The listing is read once (from the first probe run: a listing, or a render, which lists
too); ``render`` asks the probe for the migrations given and maps each rendered item back
to its migration. Each adapter says how to run its probe, read its listing and turn one
rendered item into SQL with its origin.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from spectral_deploy.migrate.tools.base import Migration, RenderedMigration, ToolKind

__all__ = ["ProbedTool"]


class ProbedTool:
    """A ``MigrationTool`` whose listing and SQL come from a probe (``probe.run_probe``)."""

    kind: ToolKind
    # the command the listing probe stands for, in messages
    listing_label: str
    # the key of a rendered item that names its migration
    rendered_key: str

    def __init__(
        self, root: Path, *, python: str, database_url: Callable[[], str | None] = lambda: None
    ) -> None:
        self.root = root
        self.python = python
        self._database_url = database_url
        self._listing: list[Migration] | None = None

    def directories(self) -> list[Path]:
        """The directories that hold the migrations."""
        return sorted({m.path.parent for m in self.migrations()})

    def migrations(self) -> list[Migration]:
        """Every migration of the project, in the order the tool applies them."""
        if self._listing is None:
            self._listing = self._read_listing(self._probe_listing())
        return list(self._listing)

    def render(self, migrations: Sequence[Migration]) -> list[RenderedMigration]:
        """Those migrations as SQL, each traced to its file."""
        if not migrations:
            return []
        result = self._probe_render(migrations)
        if self._listing is None:
            self._listing = self._read_listing(result)
        by_key = {m.key: m for m in migrations}
        return [
            self._rendered(by_key[str(item[self.rendered_key])], item)
            for item in result.get("rendered", [])
        ]

    def _probe_listing(self) -> dict[str, Any]:
        raise NotImplementedError

    def _probe_render(self, migrations: Sequence[Migration]) -> dict[str, Any]:
        raise NotImplementedError

    def _read_listing(self, result: dict[str, Any]) -> list[Migration]:
        raise NotImplementedError

    def _rendered(self, migration: Migration, item: dict[str, Any]) -> RenderedMigration:
        raise NotImplementedError
