"""Which migrations are applied, when another tool applies them: asked of that tool.

Spectral's own record only knows the ``.sql`` files its runner applied. With Alembic the
database's revision comes from ``alembic current`` (and the revisions from the scripts);
with Django from ``manage.py showmigrations --plan``. Any other ``[migrations] command``
(dbmate, Supabase CLI ...) keeps its own record that spectral-deploy cannot read: the
status says so rather than calling applied migrations pending.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spectral_deploy.config import Config
from spectral_deploy.db import Database
from spectral_deploy.migrate.runner import FileState, MigrationStatus, discover, plan
from spectral_deploy.migrate.tools import ToolKind, tool_for
from spectral_deploy.migrate.tools.alembic import AlembicTool
from spectral_deploy.migrate.tools.base import MigrationTool
from spectral_deploy.migrate.tools.django import MANAGE_PY, DjangoTool
from spectral_deploy.migrate.tools.probe import run_tool

__all__ = ["ProjectStatus", "ToolMigrationState", "ToolStatus", "project_status", "tool_status"]

_SHOWMIGRATIONS_LINE = re.compile(r"^\[(?P<mark>[ X-])\]\s+(?P<key>\S+)")


@dataclass(frozen=True)
class ToolMigrationState:
    """One migration as the tool reports it: ``applied`` or ``pending``."""

    name: str
    applied: bool


@dataclass(frozen=True)
class ToolStatus:
    """What the tool said, and the command it was asked with."""

    source: str
    migrations: tuple[ToolMigrationState, ...]
    current: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProjectStatus:
    """``migrate status``: each migration's state, who said so, and what to warn about.

    ``source`` is ``spectral`` (its own record of the .sql files it applied), the tool's
    command that was asked, or ``unknown`` (another tool's command keeps its own record).
    """

    source: str
    statuses: tuple[MigrationStatus, ...]
    current: tuple[str, ...] = ()
    note: str | None = None


def project_status(config: Config, database: Database) -> ProjectStatus:
    """Where the project's migrations stand, from whoever applies them."""
    tool = tool_for(config, database_url=lambda: database.url)
    if tool.kind in (ToolKind.ALEMBIC, ToolKind.DJANGO):
        reported = tool_status(tool, database.url)
        statuses = tuple(
            MigrationStatus(m.name, FileState.APPLIED if m.applied else FileState.PENDING)
            for m in reported.migrations
        )
        known = {s.name for s in statuses}
        ahead = [revision for revision in reported.current if revision not in known]
        note = (
            f"the database is at {', '.join(ahead)}, which these revisions do not have "
            "(the schema is ahead of this code)"
            if ahead
            else None
        )
        return ProjectStatus(reported.source, statuses, reported.current, note)
    if tool.kind is ToolKind.NONE:
        return ProjectStatus("spectral", (), note='[migrations] tool = "none": no migrations')
    if config.migrations.command:
        files = discover(config.migrations_dir) if config.migrations_dir.is_dir() else []
        return ProjectStatus(
            "unknown",
            tuple(MigrationStatus(f.name, FileState.UNKNOWN) for f in files),
            note=f"migrations are applied by {config.migrations.command!r}, which keeps its "
            "own record: spectral-deploy cannot know which are applied (ask that tool)",
        )
    files = discover(config.migrations_dir)
    with database.connect() as conn:
        return ProjectStatus("spectral", tuple(plan(conn, database.schema, files)))


def tool_status(tool: MigrationTool, database_url: str) -> ToolStatus:
    """Ask Alembic or Django which migrations the database has."""
    env = {"DATABASE_URL": database_url}
    if isinstance(tool, AlembicTool):
        label = "alembic current"
        output = run_tool(
            [tool.python, "-m", "alembic", "current"],
            cwd=tool.root,
            env=env,
            label=label,
            module="alembic",
        )
        current = tuple(
            line.split()[0] for line in output.splitlines() if line.strip() and " " not in line[:1]
        )
        return ToolStatus(label, _alembic_states(tool, current), current)
    if isinstance(tool, DjangoTool):
        label = f"python {MANAGE_PY} showmigrations --plan"
        output = run_tool(
            [tool.python, MANAGE_PY, "showmigrations", "--plan", "--no-color"],
            cwd=tool.root,
            env=env,
            label=label,
            module="django",
        )
        states = []
        for line in output.splitlines():
            found = _SHOWMIGRATIONS_LINE.match(line.strip())
            if found:
                states.append(ToolMigrationState(found["key"], found["mark"] == "X"))
        return ToolStatus(label, tuple(states))
    raise TypeError(f"no status for {tool.describe()}")


def _alembic_states(tool: AlembicTool, current: tuple[str, ...]) -> tuple[ToolMigrationState, ...]:
    """Every revision, applied when it is a current revision or one of their ancestors."""
    migrations = tool.migrations()
    parents = {m.key: m.parents for m in migrations}
    applied: set[str] = set()
    stack = [key for key in current if key in parents]
    while stack:
        key = stack.pop()
        if key not in applied:
            applied.add(key)
            stack.extend(parents.get(key, ()))
    return tuple(ToolMigrationState(m.key, m.key in applied) for m in migrations)
