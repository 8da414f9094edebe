"""Class 4 on the fake world and the real PostgreSQL: a fix-forward migration is written only
when the re-lint finds the prior code incompatible, and then the rollback escalates."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from spectral_deploy.db import Database
from spectral_deploy.errors import ProviderUnavailable
from spectral_deploy.rollback.classify import Symptom, classify
from spectral_deploy.rollback.facts import migrations_compatible
from spectral_deploy.rollback.plan import PlanContext, make_plan
from tests.integration.fakeworld import MIGRATION_V1, MIGRATION_V2, Operator

BREAKING = (
    "-- compat: breaking (reason: the name moved to labels)\n"
    "ALTER TABLE widgets DROP COLUMN name;\n"
)


@pytest.fixture
def operator(database: Database, tmp_path: Path) -> Iterator[Operator]:
    """v1.0.0 live on blue, v2.0.0 (an expand migration) cut over to green."""
    with Operator.deployed(tmp_path, database, "v1.0.0", "v2.0.0") as operator:
        yield operator


def fix_forward_files(operator: Operator) -> list[Path]:
    return sorted(operator.root.rglob("*fix_forward*.sql"))


def test_a_compatible_prior_gets_no_fix_forward_file(operator: Operator) -> None:
    """The plan could not decide (no re-lint yet); at run time the re-lint is clean: no file."""
    gathered, planned = operator.plan(Symptom.MIGRATION)
    assert planned.failure_class == 4 and gathered.facts.migration_compatible_with_prior is True
    assert "fix-forward" not in [s.id for s in planned.steps]
    undecided = replace(gathered.facts, migration_compatible_with_prior=None)
    plan = make_plan(classify(undecided), undecided, PlanContext())
    assert "fix-forward" in [s.id for s in plan.steps]
    runner = operator.runner()
    record = runner.run(runner.begin(plan, undecided, gathered.deploy))
    assert fix_forward_files(operator) == []
    assert any("no fix-forward migration written" in line for line in operator.said)
    assert record.finished_at is not None


def test_an_incompatible_prior_writes_the_fix_and_escalates(operator: Operator) -> None:
    """A breaking override the lint let through: Class 5 escalated from 4, the file is written."""
    world = operator.world
    base = {
        "app.py": "print('v3')\n",
        "migrations/0000_gadgets.sql": MIGRATION_V1,
        "migrations/0001_widgets.sql": MIGRATION_V2,
        "migrations/0002_drop_name.sql": BREAKING,
    }
    world.vcs.commit(base, tag="v3.0.0")
    directory = operator.config.migrations_dir
    directory.mkdir(parents=True, exist_ok=True)
    for path, text in base.items():
        if path.startswith("migrations/"):
            (directory / Path(path).name).write_text(text)
    operator.finish()
    operator.deploy("v3.0.0")
    gathered, plan = operator.plan(Symptom.MIGRATION)
    assert gathered.facts.migration_compatible_with_prior is False
    assert plan.failure_class == 5 and plan.escalated_from == 4
    assert [s.id for s in plan.steps][:2] == ["relint", "fix-forward"]
    record = operator.rollback_run(Symptom.MIGRATION)
    assert record.outcome == "escalated"
    written = fix_forward_files(operator)
    assert len(written) == 1 and "generation_3" in written[0].name


def test_the_relint_reads_the_deploys_own_migrations(operator: Operator) -> None:
    """The re-lint of v2.0.0 (an expand migration) is clean; v2.0.0 added a migration."""
    deploy = operator.deployer().current()
    assert deploy is not None and deploy.tag == "v2.0.0"
    notes: list[str] = []
    source = operator.world.vcs
    assert migrations_compatible(operator.config, deploy, notes, source) is True
    assert "the deploy added no migration" not in notes


def test_a_deploy_without_a_migration_is_compatible(operator: Operator) -> None:
    """A release that adds no migration file: compatible, and the note says why."""
    operator.world.vcs.commit(
        {
            "app.py": "print('v3')\n",
            "migrations/0000_gadgets.sql": MIGRATION_V1,
            "migrations/0001_widgets.sql": MIGRATION_V2,
        },
        tag="v3.0.0",
    )
    operator.finish()
    operator.deploy("v3.0.0")
    deploy = operator.deployer().current()
    assert deploy is not None and deploy.tag == "v3.0.0"
    notes: list[str] = []
    assert migrations_compatible(operator.config, deploy, notes, operator.world.vcs) is True
    assert notes == ["the deploy added no migration"]


def test_a_source_that_cannot_be_read_leaves_compatibility_unknown(operator: Operator) -> None:
    """The repository refuses: compatibility is unknown (None), never assumed, and noted."""
    deploy = operator.deployer().current()
    assert deploy is not None
    notes: list[str] = []

    class Unreadable:
        def changed_files(self, base: str | None, commit: str, directory: str) -> list[str]:
            raise ProviderUnavailable("git is gone", provider="git", operation="diff")

        def export(self, commit: str, destination: Path) -> Path:
            raise ProviderUnavailable("git is gone", provider="git", operation="archive")

    assert migrations_compatible(operator.config, deploy, notes, Unreadable()) is None
    assert len(notes) == 1 and notes[0].startswith("cannot re-lint the deploy's migrations:")
    assert "git is gone" in notes[0]
