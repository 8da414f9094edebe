"""Spectral's own schema migrations pass its own lint (the N-1 rule it enforces on users)."""

from __future__ import annotations

from spectral_deploy.db.schema import bundled_migrations
from tests.unit.lintkit import lint

SCHEMA = "spectral"


def test_own_migrations_pass_the_lint() -> None:
    """Every bundled migration, with its {schema} placeholder filled in, has no violation."""
    migrations = bundled_migrations()
    assert migrations
    for migration in migrations:
        report = lint(migration.text.format(schema=SCHEMA), path=migration.name)
        assert report.errors == (), report.errors
        assert report.violations == (), [(v.rule, v.line, v.message) for v in report.violations]


def test_the_lint_sees_the_own_migrations_statements() -> None:
    """The pass is not vacuous: an existing-table index in the same SQL would fire."""
    first = bundled_migrations()[0].text.format(schema=SCHEMA)
    report = lint(first + "\nCREATE INDEX later_idx ON spectral.some_existing_table (id);\n")
    assert [v.rule for v in report.violations] == ["create-index-non-concurrently"]
