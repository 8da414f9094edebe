"""Gathering the planner's facts from the ledger, the deploys table and the providers.

Every source may be down: a database that does not answer is itself a fact
(``database_healthy = false``, Class 5), and so is a provider that fails. ``--facts FILE``
supplies or overrides any fact, so the planner works when nothing else does.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from spectral_deploy import providers
from spectral_deploy.config import Config
from spectral_deploy.cutover import store
from spectral_deploy.cutover.model import Deploy
from spectral_deploy.cutover.source import export_tree
from spectral_deploy.cutover.steps import target_of
from spectral_deploy.db import Database, open_database
from spectral_deploy.errors import InputError, ProviderError, SpectralError
from spectral_deploy.lint import settings as lint_settings
from spectral_deploy.lint.engine import LintFile, lint_timelines
from spectral_deploy.lint.history import change_set
from spectral_deploy.lint.registry import select_rules
from spectral_deploy.providers.base import HostingProvider
from spectral_deploy.providers.local.git import GitVcs
from spectral_deploy.rollback.classify import Facts, Symptom, facts_from_json

__all__ = ["Gathered", "gather", "migrations_compatible"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Gathered:
    """The facts and where they came from."""

    facts: Facts
    deploy: Deploy | None
    database: Database | None
    notes: tuple[str, ...]


def gather(
    config: Config,
    *,
    symptom: Symptom | None,
    deploy_id: int | None = None,
    facts_file: Path | None = None,
) -> Gathered:
    """Observe what can be observed, then apply ``--facts``."""
    notes: list[str] = []
    database: Database | None = None
    deploy: Deploy | None = None
    try:
        database = open_database(config)
        with database.connect() as conn:
            conn.execute("SELECT 1")
            if deploy_id is not None:
                deploy = store.get(conn, database.schema, deploy_id)
                if deploy is None:
                    raise InputError(f"no deploy #{deploy_id}", hint="spectral-deploy deploy list")
            else:
                deploy = store.open_deploy(conn, database.schema) or store.latest(
                    conn, database.schema
                )
    except InputError:
        raise
    except SpectralError as exc:
        notes.append(f"the database does not answer: {exc.message}")
        database = None
    facts = Facts(
        cutover_completed=bool(deploy and deploy.flipped),
        blue_warm=False,
        symptom=symptom,
        database_healthy=database is not None,
        from_generation=deploy.from_generation if deploy else None,
        to_generation=deploy.generation if deploy else None,
        tag=deploy.tag if deploy else None,
        prior_commit=deploy.from_commit if deploy else None,
        prior_build_available=False,
    )
    if deploy is not None and database is not None:
        facts = _observe_providers(config, database, deploy, facts, notes)
        if symptom is Symptom.MIGRATION and deploy.from_commit:
            facts = replace(
                facts,
                migration_compatible_with_prior=migrations_compatible(config, deploy, notes),
            )
    elif deploy is None and database is not None:
        notes.append("no deploy recorded yet")
    if facts_file is not None:
        facts = _override(facts, facts_file)
        notes.append(f"facts overridden from {facts_file}")
    return Gathered(facts, deploy, database, tuple(notes))


def _observe_providers(
    config: Config, database: Database, deploy: Deploy, facts: Facts, notes: list[str]
) -> Facts:
    try:
        hosting: HostingProvider = providers.hosting_provider(config, database.url)
        blue_warm = False
        if deploy.has_blue and not deploy.finished:
            health = hosting.health(deploy.blue)
            blue_warm = health.ok
            if not health.ok:
                notes.append(f"blue is not warm: {health.detail}")
        prior_build = bool(deploy.from_commit) and hosting.build_available(deploy.from_commit or "")
        record = providers.dns_provider(config).read()
        if deploy.flipped and record.target == target_of(config, deploy.blue):
            notes.append("the CNAME already points back at blue")
        return replace(facts, blue_warm=blue_warm, prior_build_available=prior_build)
    except ProviderError as exc:
        notes.append(f"a provider failed: {exc.message}")
        return replace(facts, provider_outage=True)


def migrations_compatible(config: Config, deploy: Deploy, notes: list[str]) -> bool | None:
    """Whether the prior code runs on the new schema: re-lint what the deploy added."""
    if deploy.from_commit is None:
        return None
    git = GitVcs(config.project_root)
    directory = str(config.migrations.directory)
    try:
        changed = [
            path
            for path in git.changed_files(deploy.from_commit, deploy.commit, directory)
            if path.endswith(".sql")
        ]
        if not changed:
            notes.append("the deploy added no migration")
            return True
        tree = export_tree(
            config.project_root,
            deploy.commit,
            config.project_root / ".spectral" / "deploys" / str(deploy.id) / "source",
        )
    except SpectralError as exc:
        notes.append(f"cannot re-lint the deploy's migrations: {exc.message}")
        return None
    rules = select_rules(config.lint, select=[], ignore=[], source=config.source)
    settings = lint_settings.from_config(config)
    report = lint_timelines(
        change_set([LintFile(tree / path, path) for path in changed], tree),
        rules,
        override_scope=lint_settings.checked_scope(settings),
        max_file_bytes=settings.max_file_bytes,
    )
    if report.violations or report.overrides:
        found = [f"{v.path}:{v.line} {v.rule}" for v in report.violations]
        found += [f"{o.path} (override: {o.reason})" for o in report.overrides]
        notes.append("re-lint: the prior code may not run on the new schema: " + "; ".join(found))
        return False
    return True


def _override(facts: Facts, path: Path) -> Facts:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc
    return facts_from_json(data, str(path), base=facts)
