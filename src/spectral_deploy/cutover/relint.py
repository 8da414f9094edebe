"""Linting a deploy's migrations: the one way the deploy's lint step and the rollback re-lint do it.

The release's tree is exported once per deploy; its migrations are found the way its tool
finds them (plain SQL, Alembic, Django: ``[migrations] tool``); the ones added or changed
since the prior commit are rendered to SQL in the app's interpreter and linted as one change
set (for plain SQL the release's earlier migrations are the history). What a finding means
is the caller's: the deploy stops on a violation, the rollback planner calls the prior code
incompatible.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from spectral_deploy.config import Config
from spectral_deploy.cutover.model import Deploy
from spectral_deploy.errors import CheckFailed, InputError, MigrationToolFailed
from spectral_deploy.lint import settings as lint_settings
from spectral_deploy.lint.engine import Step as LintStep
from spectral_deploy.lint.engine import Timeline, lint_timelines
from spectral_deploy.lint.history import change_set
from spectral_deploy.lint.origin import remap
from spectral_deploy.lint.registry import select_rules
from spectral_deploy.lint.rule import Rule
from spectral_deploy.lint.violation import Report
from spectral_deploy.migrate.tools import MigrationTool, ToolKind, lint_inputs, tool_for
from spectral_deploy.migrate.tools.base import Migration
from spectral_deploy.providers.base import SourceTree

__all__ = ["DeployLint", "lint_deploy", "release_dir"]


def release_dir(config: Config, deploy_id: int) -> Path:
    """Where a deploy's commit is exported for lint and migrations."""
    return config.project_root / ".spectral" / "deploys" / str(deploy_id) / "source"


@dataclass(frozen=True)
class DeployLint:
    """What the lint of a deploy's migrations found: the tool, every migration of the
    release, the ones linted (changed since the prior commit), and the report (None when
    none changed)."""

    tree: Path
    tool: MigrationTool
    migrations: Sequence[Migration]
    linted: tuple[str, ...]
    report: Report | None
    # the rules the report was made with (none when nothing was linted)
    rules: Sequence[Rule] = ()


def lint_deploy(
    config: Config,
    source: SourceTree,
    deploy: Deploy,
    *,
    database_url: Callable[[], str | None] = lambda: None,
) -> DeployLint:
    """Lint the migrations ``deploy`` added or changed since its prior commit.

    A repository that cannot be read raises its ``ProviderError``; a tool that cannot list
    or render the migrations is a ``CheckFailed`` saying which.
    """
    tree = source.export(deploy.commit, release_dir(config, deploy.id))
    tool = tool_for(config, root=tree, database_url=database_url)
    if tool.kind is ToolKind.NONE:
        return DeployLint(tree, tool, (), (), None)
    try:
        migrations = tool.migrations()
    except (InputError, MigrationToolFailed) as exc:
        raise CheckFailed(
            f"cannot list the release's migrations: {exc.message}", hint=exc.hint
        ) from exc
    if not migrations:
        return DeployLint(tree, tool, (), (), None)
    changed = set(source.changed_files(deploy.from_commit, deploy.commit, "."))
    selected = [m for m in migrations if m.display in changed]
    if not selected:
        return DeployLint(tree, tool, migrations, (), None)
    try:
        rendered = tool.render(selected)
    except MigrationToolFailed as exc:
        raise CheckFailed(
            f"cannot render the release's migrations to SQL: {exc.message}", hint=exc.hint
        ) from exc
    files, origins = lint_inputs(rendered)
    rules = select_rules(config.lint, select=[], ignore=[], source=config.source)
    settings = lint_settings.from_config(config)
    # as the pull request's lint: the release's earlier migrations are the history
    timelines = (
        change_set(files, tree)
        if tool.kind is ToolKind.SQL
        else [Timeline(tuple(LintStep(file, 0) for file in files), complete=False)]
    )
    report = lint_timelines(
        timelines,
        rules,
        override_scope=lint_settings.checked_scope(settings),
        max_file_bytes=settings.max_file_bytes,
    )
    linted = tuple(m.display for m in selected)
    return DeployLint(tree, tool, migrations, linted, remap(report, origins), rules)
