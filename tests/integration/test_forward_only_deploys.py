"""Forward-only rollback deploys on the fake world (plain SQL migrations): a deploy of code
older than the schema runs no migration, records the schema kept, and goes on; a release that
has diverged from the database stops at step 4 naming both sides."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from spectral_deploy.cutover.model import Step
from spectral_deploy.cutover.steps import StepFailed
from spectral_deploy.db import Database
from spectral_deploy.errors import InputError
from spectral_deploy.ledger.store import entries
from spectral_deploy.migrate.forward import release_records
from spectral_deploy.migrate.tools import MigrationTool, tool_for
from spectral_deploy.rollback.classify import Symptom
from tests.integration.fakeworld import (
    MIGRATION_V1,
    MIGRATION_V2,
    Operator,
    SimulatedCrash,
    crash_at,
)


@pytest.fixture
def operator(database: Database, tmp_path: Path) -> Iterator[Operator]:
    """v1.0.0 (0000_gadgets) then v2.0.0 (0001_widgets) deployed: the schema is v2's."""
    with Operator.deployed(tmp_path, database, "v1.0.0", "v2.0.0") as operator:
        yield operator


def applied_files(operator: Operator) -> list[str]:
    with operator.database.connect() as conn:
        rows = conn.execute("SELECT filename FROM spectral.app_migrations ORDER BY 1").fetchall()
    return [str(row[0]) for row in rows]


def step_details(operator: Operator, deploy_id: int, step: Step) -> dict[str, object]:
    with operator.database.connect() as conn:
        found = [
            e
            for e in entries(conn, operator.database.schema, kind="step", deploy_id=deploy_id)
            if e.action == step.slug and e.outcome == "ok"
        ]
    assert found, f"no {step.slug} entry for deploy #{deploy_id}"
    return found[-1].details


def test_class_3_keeps_the_schema_and_says_so(operator: Operator) -> None:
    """The prior code's deploy (v2.0.0-rollback, at v1.0.0's commit) runs no migration: its
    step 4 records the schema ahead of code, kept, naming the file it lacks and who applied it."""
    before = applied_files(operator)
    record = operator.rollback_run(Symptom.DATA)
    assert record.outcome == "completed"
    assert applied_files(operator) == before == ["0000_gadgets.sql", "0001_widgets.sql"]
    latest = operator.deployer().current()
    assert latest is not None and latest.tag == "v2.0.0-rollback" and latest.generation == 3
    details = step_details(operator, latest.id, Step.APPLY_MIGRATIONS)
    assert details["schema_kept"] == "schema ahead of code, kept"
    check = details["check"]
    assert isinstance(check, dict)
    assert check["relation"] == "ahead"
    assert check["unknown"] == ["0001_widgets.sql"]
    assert check["confirmed_by"] == "generation 2 (v2.0.0)"
    assert any(line.startswith("schema ahead of code, kept") for line in operator.said)
    with operator.database.connect() as conn:
        kept = [e for e in entries(conn, "spectral", kind="migration") if e.action == "schema-kept"]
    assert [(e.deploy_id, e.generation) for e in kept] == [(latest.id, 3)]


def test_each_deploy_records_the_schema_it_left(operator: Operator) -> None:
    """Step 4 records every file applied after it ran (what a later rollback reads)."""
    latest = operator.deployer().current()
    assert latest is not None
    schema = step_details(operator, latest.id, Step.APPLY_MIGRATIONS)["schema"]
    assert schema == {
        "tool": "sql",
        "applied": ["0000_gadgets.sql", "0001_widgets.sql"],
        "heads": [],
    }


def test_any_older_tag_keeps_the_schema(operator: Operator) -> None:
    """Deploying v1.0.0 again by hand is a deploy of older code too: kept, not migrated."""
    operator.finish()
    deployed = operator.deploy("v1.0.0")
    assert deployed.flipped
    details = step_details(operator, deployed.id, Step.APPLY_MIGRATIONS)
    assert details["schema_kept"] == "schema ahead of code, kept"


def test_a_release_that_diverged_from_the_database_stops_at_step_4(operator: Operator) -> None:
    """A branch off v1.0.0 with its own migration, on a database that has v2's: the deploy
    stops at step 4 naming what each side lacks, and nothing is applied."""
    operator.finish()
    vcs = operator.world.vcs
    vcs.commit(
        {
            "app.py": "print('hotfix')\n",
            "migrations/0000_gadgets.sql": MIGRATION_V1,
            "migrations/0001_hotfix.sql": "CREATE TABLE IF NOT EXISTS hotfix (id int);\n",
        },
        tag="v1.0.1",
    )
    with pytest.raises(StepFailed) as stopped:
        operator.deploy("v1.0.1")
    message = stopped.value.message
    assert "stopped at step 4" in message
    assert "have diverged" in message
    assert "0001_hotfix.sql, which the database never had" in message
    assert "0001_widgets.sql, which the code does not know" in message
    assert applied_files(operator) == ["0000_gadgets.sql", "0001_widgets.sql"]


def kept_entries(operator: Operator) -> list[tuple[int | None, int | None]]:
    """The ledger's "schema-kept" entries as (deploy id, generation)."""
    with operator.database.connect() as conn:
        found = entries(conn, "spectral", kind="migration")
    return [(e.deploy_id, e.generation) for e in found if e.action == "schema-kept"]


def test_a_crash_after_the_schema_was_kept_resumes_without_recording_it_twice(
    operator: Operator,
) -> None:
    """Killed after step 4 kept the schema but before the step was recorded: the rollback
    run again finishes, still runs no migration, and the ledger has one "kept" entry."""
    with crash_at("step-4:done"), pytest.raises(SimulatedCrash):
        operator.rollback_run(Symptom.DATA)
    assert len(kept_entries(operator)) == 1
    record = operator.rollback_run(Symptom.DATA)
    assert record.outcome == "completed"
    latest = operator.deployer().current()
    assert latest is not None and latest.tag == "v2.0.0-rollback"
    assert kept_entries(operator) == [(latest.id, latest.generation)]
    assert applied_files(operator) == ["0000_gadgets.sql", "0001_widgets.sql"]


def test_a_newer_deploy_that_died_in_step_4_is_named_as_the_origin(operator: Operator) -> None:
    """v3.0.0 is killed after applying its migration, before step 4 was recorded, and is
    aborted; v2.0.0 deployed again finds a file it does not know and names the deploy that
    was applying it (from the intent recorded before the step ran)."""
    operator.finish()
    base = {"app.py": "print('v3')\n", "migrations/0000_gadgets.sql": MIGRATION_V1}
    operator.world.vcs.commit(
        {
            **base,
            "migrations/0001_widgets.sql": MIGRATION_V2,
            "migrations/0002_gizmos.sql": "CREATE TABLE IF NOT EXISTS gizmos (id int);\n",
        },
        tag="v3.0.0",
    )
    with crash_at("step-4:done"), pytest.raises(SimulatedCrash):
        operator.deploy("v3.0.0")
    operator.abort()
    assert "0002_gizmos.sql" in applied_files(operator)
    deployed = operator.deploy("v2.0.0")
    assert deployed.flipped
    check = step_details(operator, deployed.id, Step.APPLY_MIGRATIONS)["check"]
    assert isinstance(check, dict)
    assert check["relation"] == "ahead"
    assert check["unknown"] == ["0002_gizmos.sql"]
    assert check["confirmed_by"] == ("generation 3 (v3.0.0), whose migrations step did not finish")


def test_earlier_releases_own_migrations_stand_in_for_a_missing_record(
    operator: Operator,
) -> None:
    """For deploys made before the ledger kept schema records, each finished migrations step
    is read back from its own commit's migrations, newest first (a tree that cannot be
    exported any more is skipped)."""
    source = operator.world.vcs

    def tool_of(deploy_id: int, commit: str) -> MigrationTool:
        if deploy_id == 1:
            raise InputError("that commit is gone")
        tree = source.export(commit, operator.root / "old" / str(deploy_id))
        return tool_for(operator.config, root=tree)

    found = release_records(operator.database, tool_of)
    assert [(r.generation, r.tag, r.record.applied) for r in found] == [
        (2, "v2.0.0", ("0000_gadgets.sql", "0001_widgets.sql"))
    ]
