"""The override marker: read from real comments only, with a reason, listed for signoff."""

from __future__ import annotations

import pytest

from tests.unit.lintkit import lint

DROP = "ALTER TABLE users DROP COLUMN email;\n"


@pytest.mark.parametrize(
    "marker",
    [
        "-- compat: breaking (reason: email moved to user_emails)\n",
        "/* compat: breaking (reason: email moved to user_emails) */\n",
        "--compat:breaking(reason:email moved to user_emails)\n",
        "-- COMPAT: Breaking (Reason: email moved to user_emails)\n",
    ],
)
def test_marker_with_a_reason_passes_the_file(marker: str) -> None:
    """A well-formed marker suppresses the file's violations and is listed as an override."""
    report = lint(marker + DROP)
    assert report.violations == ()
    assert [(o.path, o.line, o.reason) for o in report.overrides] == [
        ("m.sql", 1, "email moved to user_emails")
    ]
    assert report.exit_code == 0


def test_marker_after_the_statement_still_applies() -> None:
    """The marker is per file, wherever the comment is."""
    report = lint(DROP + "-- compat: breaking (reason: cleanup after v2)\n")
    assert report.violations == () and report.overrides[0].line == 2


def test_reason_may_contain_parentheses() -> None:
    """The reason runs to the last closing parenthesis."""
    report = lint("-- compat: breaking (reason: unused since v1.2 (see ADR-7))\n" + DROP)
    assert report.overrides[0].reason == "unused since v1.2 (see ADR-7)"


@pytest.mark.parametrize(
    ("marker", "problem"),
    [
        ("-- compat: breaking\n", "malformed"),
        ("-- compat: breaking (reason: )\n", "empty reason"),
        ("-- compat: breaking (reason:)\n", "empty reason"),
        ("-- compat: braking (reason: typo)\n", "malformed"),
    ],
)
def test_marker_without_a_reason_is_invalid_override(marker: str, problem: str) -> None:
    """No or an empty reason is itself a violation, and does not hide the others."""
    report = lint(marker + DROP)
    assert [v.rule for v in report.violations] == ["invalid-override", "drop-column"]
    assert problem in report.violations[0].message
    assert report.overrides == ()
    assert report.exit_code == 1


def test_valid_marker_does_not_hide_an_invalid_one() -> None:
    """invalid-override is never overridden."""
    report = lint("-- compat: breaking (reason: ok)\n-- compat: breaking\n" + DROP)
    assert [v.rule for v in report.violations] == ["invalid-override"]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT '-- compat: breaking (reason: in a string)';\n" + DROP,
        "SELECT $$ -- compat: breaking (reason: dollar quoted) $$;\n" + DROP,
        "SELECT E'\\n-- compat: breaking (reason: escaped string)';\n" + DROP,
        'SELECT 1 AS "-- compat: breaking (reason: identifier)";\n' + DROP,
    ],
)
def test_text_inside_literals_is_not_a_marker(sql: str) -> None:
    """Only real comments count: the drop is still reported."""
    report = lint(sql)
    assert [v.rule for v in report.violations] == ["drop-column"]
    assert report.overrides == ()


def test_prose_mentioning_compat_is_not_a_marker() -> None:
    """A comment that does not start with compat: is ordinary prose."""
    report = lint("-- keep backwards compat: old clients read it\nSELECT 1;")
    assert report.violations == () and report.overrides == ()
