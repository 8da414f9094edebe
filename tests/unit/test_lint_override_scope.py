"""What an override marker covers, listed in the report, per ``[lint] override_scope``."""

from __future__ import annotations

from spectral_deploy.lint.violation import OverrideScope
from tests.unit.lintkit import lint

SESSIONS = (
    "-- compat: breaking (reason: sessions unused since v1.4)\n"
    "DROP TABLE sessions;\n"
    "ALTER TABLE users DROP COLUMN email;\n"
)


def test_file_scope_lists_every_finding_the_marker_covers() -> None:
    """The issue's example: the unrelated DROP COLUMN is covered too, and now shown."""
    report = lint(SESSIONS)
    assert report.violations == () and report.exit_code == 0
    [override] = report.overrides
    assert override.scope is OverrideScope.FILE
    assert [(v.rule, v.line, v.column) for v in override.covers] == [
        ("drop-table", 2, 1),
        ("drop-column", 3, 19),
    ]


def test_statement_scope_covers_only_the_statement_after_the_marker() -> None:
    """The DROP COLUMN is no longer covered: it fails the run."""
    report = lint(SESSIONS, scope=OverrideScope.STATEMENT)
    assert [(v.rule, v.line) for v in report.violations] == [("drop-column", 3)]
    [override] = report.overrides
    assert [(v.rule, v.line) for v in override.covers] == [("drop-table", 2)]
    assert report.exit_code == 1


def test_statement_scope_a_marker_inside_a_statement_covers_that_statement() -> None:
    """A comment between clauses belongs to the statement around it."""
    sql = (
        "ALTER TABLE users\n"
        "  -- compat: breaking (reason: email moved to user_emails)\n"
        "  DROP COLUMN email;\n"
        "DROP TABLE sessions;\n"
    )
    report = lint(sql, scope=OverrideScope.STATEMENT)
    assert [v.rule for v in report.violations] == ["drop-table"]
    assert [v.rule for v in report.overrides[0].covers] == ["drop-column"]


def test_statement_scope_a_marker_at_the_end_covers_nothing_and_says_so() -> None:
    """Nothing after it: listed with no findings, and the findings stay violations."""
    sql = "DROP TABLE sessions;\n-- compat: breaking (reason: cleanup)\n"
    report = lint(sql, scope=OverrideScope.STATEMENT)
    assert [v.rule for v in report.violations] == ["drop-table"]
    assert report.overrides[0].covers == ()


def test_statement_scope_covers_the_sql_inside_a_do_block() -> None:
    """A finding inside a DO block belongs to the DO statement."""
    sql = (
        "-- compat: breaking (reason: legacy table)\n"
        "DO $$ BEGIN DROP TABLE legacy; END $$;\n"
        "DROP TABLE other;\n"
    )
    report = lint(sql, scope=OverrideScope.STATEMENT)
    assert [v.rule for v in report.violations] == ["drop-table"]
    assert report.violations[0].line == 3
    assert [(v.rule, v.line) for v in report.overrides[0].covers] == [("drop-table", 2)]


def test_file_scope_assigns_each_finding_to_the_nearest_marker_before_it() -> None:
    """Two markers: each lists what follows it; findings before the first go to the first."""
    sql = (
        "DROP TABLE a;\n"
        "-- compat: breaking (reason: first)\n"
        "DROP TABLE b;\n"
        "-- compat: breaking (reason: second)\n"
        "DROP TABLE c;\n"
    )
    first, second = lint(sql).overrides
    assert [v.line for v in first.covers] == [1, 3]
    assert [v.line for v in second.covers] == [5]


def test_invalid_markers_cover_nothing_in_either_scope() -> None:
    """invalid-override is never overridden, whatever the scope."""
    sql = "-- compat: breaking (reason: ok)\n-- compat: breaking\nDROP TABLE t;\n"
    for scope in OverrideScope:
        report = lint(sql, scope=scope)
        assert "invalid-override" in [v.rule for v in report.violations]
