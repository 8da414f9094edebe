"""Each rule: its documented examples, and good and bad SQL around its edges."""

from __future__ import annotations

import pytest

from spectral_deploy.lint.registry import all_rules
from spectral_deploy.lint.rule import Rule
from tests.unit.lintkit import fired, lint

ALL_RULES = [rule.name for rule in all_rules()]


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.name)
def test_bad_example_fires(rule: Rule) -> None:
    """The doc page's flagged example makes the rule fire."""
    assert rule.name in fired(rule.bad, *ALL_RULES, history=rule.history or None)


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.name)
def test_ok_example_does_not_fire(rule: Rule) -> None:
    """The doc page's not-flagged example passes the rule."""
    assert rule.name not in fired(rule.ok, *ALL_RULES, history=rule.history or None)


# (rule, SQL, how many times the rule fires)
CASES = [
    ("adding-required-column", "ALTER TABLE t ADD COLUMN c int NOT NULL;", 1),
    ("adding-required-column", "ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT NULL;", 1),
    ("adding-required-column", "ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT NULL::int;", 1),
    ("adding-required-column", "ALTER TABLE t ADD COLUMN c int DEFAULT 0 NOT NULL;", 0),
    ("adding-required-column", "ALTER TABLE t ADD COLUMN c int;", 0),
    ("adding-required-column", "ALTER TABLE t ADD COLUMN c bigserial NOT NULL;", 0),
    ("adding-required-column", "ALTER TABLE t ADD COLUMN c int GENERATED ALWAYS AS IDENTITY;", 0),
    (
        "adding-required-column",
        "ALTER TABLE t ADD COLUMN c int GENERATED ALWAYS AS (a + 1) STORED NOT NULL;",
        0,
    ),
    ("adding-required-column", "ALTER TABLE t ADD c int NOT NULL, ADD d int NOT NULL;", 2),
    ("adding-required-column", "CREATE TABLE t (a int);\nALTER TABLE t ADD c int NOT NULL;", 0),
    ("drop-column", "ALTER TABLE t DROP COLUMN c;", 1),
    ("drop-column", "ALTER TABLE t DROP c, DROP COLUMN IF EXISTS d;", 2),
    ("drop-column", "ALTER TABLE t ADD COLUMN c int;\nALTER TABLE t DROP COLUMN c;", 0),
    ("drop-column", "CREATE TABLE t (c int);\nALTER TABLE t DROP COLUMN c;", 0),
    ("drop-table", "DROP TABLE t;", 1),
    ("drop-table", "DROP TABLE IF EXISTS a, s.b CASCADE;", 2),
    ("drop-table", "CREATE TABLE tmp (a int);\nDROP TABLE tmp;", 0),
    ("drop-table", "CREATE TABLE tmp AS SELECT 1 AS a;\nDROP TABLE tmp;", 0),
    ("drop-table", "SELECT 1 AS a INTO tmp;\nDROP TABLE tmp;", 0),
    ("drop-table", "DROP VIEW t;", 0),
    ("alter-column-type", "ALTER TABLE t ALTER COLUMN c TYPE bigint;", 1),
    ("alter-column-type", "ALTER TABLE t ALTER c SET DATA TYPE text USING c::text;", 1),
    ("alter-column-type", "ALTER TABLE t ALTER COLUMN c SET DEFAULT 1;", 0),
    ("alter-column-type", "ALTER TABLE t ADD c int;\nALTER TABLE t ALTER c TYPE bigint;", 0),
    ("unique-on-existing-table", "CREATE UNIQUE INDEX CONCURRENTLY i ON t (a);", 1),
    ("unique-on-existing-table", "ALTER TABLE t ADD CONSTRAINT u UNIQUE (a, b);", 1),
    ("unique-on-existing-table", "ALTER TABLE t ADD PRIMARY KEY (id);", 1),
    ("unique-on-existing-table", "ALTER TABLE t ADD COLUMN c int UNIQUE;", 1),
    ("unique-on-existing-table", "ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX i;", 0),
    ("unique-on-existing-table", "CREATE INDEX CONCURRENTLY i ON t (a);", 0),
    ("unique-on-existing-table", "CREATE TABLE t (a int);\nCREATE UNIQUE INDEX i ON t (a);", 0),
    ("rename-table", "ALTER TABLE t RENAME TO u;", 1),
    ("rename-table", "ALTER TABLE IF EXISTS s.t RENAME TO u;", 1),
    ("rename-table", "ALTER TABLE t RENAME COLUMN a TO b;", 0),
    ("rename-column", "ALTER TABLE t RENAME COLUMN a TO b;", 1),
    ("rename-column", "ALTER TABLE t RENAME a TO b;", 1),
    ("rename-column", "ALTER TABLE t ADD a int;\nALTER TABLE t RENAME a TO b;", 0),
    ("set-not-null", "ALTER TABLE t ALTER COLUMN c SET NOT NULL;", 1),
    ("set-not-null", "ALTER TABLE t ADD c int;\nALTER TABLE t ALTER c SET NOT NULL;", 1),
    ("set-not-null", "ALTER TABLE t ADD c int DEFAULT 1;\nALTER TABLE t ALTER c SET NOT NULL;", 0),
    ("set-not-null", "CREATE TABLE t (c int);\nALTER TABLE t ALTER c SET NOT NULL;", 0),
    ("drop-view", "DROP MATERIALIZED VIEW IF EXISTS mv;", 1),
    ("drop-view", "CREATE VIEW v AS SELECT 1;\nDROP VIEW v;", 0),
    ("drop-view", "CREATE OR REPLACE VIEW v AS SELECT 1;\nDROP VIEW v;", 1),
    ("drop-function", "DROP FUNCTION f(int), g;", 2),
    ("drop-function", "DROP PROCEDURE p;", 1),
    ("drop-type", "DROP TYPE IF EXISTS status;", 1),
    ("drop-type", "DROP DOMAIN email;", 1),
    ("drop-type", "CREATE DOMAIN email AS text;\nDROP DOMAIN email;", 0),
    ("rename-object", "ALTER FUNCTION f(int) RENAME TO g;", 1),
    ("rename-object", "ALTER SCHEMA app RENAME TO app2;", 1),
    ("rename-object", "ALTER TYPE status RENAME VALUE 'a' TO 'b';", 1),
    ("rename-object", "ALTER INDEX i RENAME TO j;", 0),
    ("rename-object", "ALTER TABLE t RENAME CONSTRAINT c TO d;", 0),
    ("set-schema", "ALTER TABLE t SET SCHEMA archive;", 1),
    ("set-schema", "ALTER FUNCTION f() SET SCHEMA archive;", 1),
    ("set-schema", "CREATE TABLE t (a int);\nALTER TABLE t SET SCHEMA archive;", 0),
    ("check-without-not-valid", "ALTER TABLE t ADD COLUMN n int CHECK (n >= 0);", 1),
    (
        "check-without-not-valid",
        "CREATE TABLE t (a int);\nALTER TABLE t ADD n int CHECK (n > 0);",
        0,
    ),
    ("check-without-not-valid", "ALTER TABLE t ADD COLUMN n int;", 0),
    ("check-without-not-valid", "ALTER TABLE t ADD CHECK (a > 0);", 1),
    ("check-without-not-valid", "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;", 0),
    ("check-without-not-valid", "CREATE TABLE t (a int);\nALTER TABLE t ADD CHECK (a > 0);", 0),
    ("foreign-key-without-not-valid", "ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES u;", 1),
    ("foreign-key-without-not-valid", "ALTER TABLE t ADD COLUMN a int REFERENCES u;", 0),
    (
        "foreign-key-without-not-valid",
        "ALTER TABLE t ADD COLUMN a int DEFAULT NULL REFERENCES u;",
        1,
    ),
    ("foreign-key-without-not-valid", "ALTER TABLE t ADD COLUMN a int DEFAULT 1 REFERENCES u;", 1),
    ("foreign-key-without-not-valid", "ALTER TABLE t ADD COLUMN a bigserial REFERENCES u;", 1),
    ("create-index-non-concurrently", "CREATE INDEX ON t (a);", 1),
    ("create-index-non-concurrently", "CREATE INDEX CONCURRENTLY ON t (a);", 0),
    ("create-index-non-concurrently", "CREATE TABLE t (a int);\nCREATE INDEX i ON t (a);", 0),
    ("drop-index-non-concurrently", "DROP INDEX i;", 1),
    ("drop-index-non-concurrently", "DROP INDEX CONCURRENTLY IF EXISTS i;", 0),
    ("drop-index-non-concurrently", "CREATE INDEX CONCURRENTLY i ON t (a);\nDROP INDEX i;", 0),
    ("drop-not-null", "ALTER TABLE t ALTER COLUMN a DROP NOT NULL;", 1),
    ("drop-not-null", "ALTER TABLE t ALTER COLUMN a SET NOT NULL;", 0),
    ("adding-column-rewrites-table", "ALTER TABLE t ADD c uuid DEFAULT gen_random_uuid();", 1),
    ("adding-column-rewrites-table", "ALTER TABLE t ADD c int GENERATED ALWAYS AS (a) STORED;", 1),
    ("adding-column-rewrites-table", "ALTER TABLE t ADD c serial, ADD d bigserial;", 2),
    ("adding-column-rewrites-table", "ALTER TABLE t ADD c timestamptz DEFAULT now();", 0),
    ("adding-column-rewrites-table", "CREATE TABLE t (a int);\nALTER TABLE t ADD c serial;", 0),
]


@pytest.mark.parametrize(("rule", "sql", "count"), CASES)
def test_rule_cases(rule: str, sql: str, count: int) -> None:
    """Each case fires its rule exactly ``count`` times."""
    assert fired(sql, rule).count(rule) == count


def test_codes_and_names_are_stable() -> None:
    """Codes and names are public interface: renaming one breaks users' configs."""
    assert {rule.name: rule.code for rule in all_rules()} == {
        "invalid-override": "MC001",
        "opaque-do-block": "MC002",
        "adding-required-column": "MC101",
        "drop-column": "MC102",
        "drop-table": "MC103",
        "alter-column-type": "MC104",
        "unique-on-existing-table": "MC105",
        "rename-table": "MC106",
        "rename-column": "MC107",
        "set-not-null": "MC108",
        "drop-view": "MC109",
        "drop-function": "MC110",
        "drop-type": "MC111",
        "rename-object": "MC112",
        "set-schema": "MC113",
        "drop-not-null": "MC114",
        "drop-schema": "MC115",
        "check-without-not-valid": "MC201",
        "foreign-key-without-not-valid": "MC202",
        "create-index-non-concurrently": "MC203",
        "drop-index-non-concurrently": "MC204",
        "adding-column-rewrites-table": "MC205",
    }


def test_only_drop_not_null_is_off_by_default() -> None:
    """A careful team's defaults: every rule on except the opt-in drop-not-null."""
    assert [rule.name for rule in all_rules() if not rule.default] == ["drop-not-null"]


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.name)
def test_doc_page_has_the_four_sections(rule: Rule) -> None:
    """Every module docstring says what, why it breaks old code, instead, known problems."""
    for heading in (
        "## What it does",
        "## Why it breaks old code",
        "## Instead",
        "## Known problems",
    ):
        assert heading in rule.doc, (rule.name, heading)


def test_message_and_help_are_separate() -> None:
    """A violation's message says what is wrong and its help what to do instead."""
    report_rules = fired("ALTER TABLE users DROP COLUMN email;", "drop-column")
    assert report_rules == ["drop-column"]
    violation = lint("ALTER TABLE users DROP COLUMN email;").violations[0]
    assert '"email"' in violation.message and "users" in violation.message
    assert violation.help.startswith("stop using the column")


@pytest.mark.parametrize(
    ("column", "says"),
    [
        ("c int UNIQUE", "ACCESS EXCLUSIVE"),
        ("c int UNIQUE NULLS NOT DISTINCT", "unique or exclusion violations"),
        ("c int DEFAULT 0 UNIQUE", "unique or exclusion violations"),
        ("c serial UNIQUE", "unique or exclusion violations"),
    ],
)
def test_a_unique_column_added_empty_is_flagged_for_its_lock(column: str, says: str) -> None:
    """UNIQUE on a column old writes leave NULL is about the build's lock, not violations."""
    violations = lint(f"ALTER TABLE t ADD COLUMN {column};", "unique-on-existing-table").violations
    assert len(violations) == 1
    assert says in violations[0].message
