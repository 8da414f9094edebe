"""The schema model: replayed history, judged type changes, what exists, compatibility views."""

from __future__ import annotations

from pathlib import Path

import pytest

from spectral_deploy.lint.engine import LintFile, SqlText, lint_text, lint_timelines
from spectral_deploy.lint.history import change_set, is_down_migration, plan
from spectral_deploy.lint.names import ObjectKind, QualifiedName
from spectral_deploy.lint.parse import parse_sql
from spectral_deploy.lint.schema import Schema
from spectral_deploy.lint.source import Text
from tests.unit.lintkit import DEFAULT_RULES, fired, lint

USERS = (
    "CREATE TABLE users (id bigint PRIMARY KEY, name varchar(20), email varchar(255),\n"
    "  total numeric(10, 2), seen timestamp(3), hits integer, ip cidr, bio text);"
)


def test_the_issues_widenings_are_clean_with_history() -> None:
    """varchar(255)->text, varchar(20)->varchar(100)/varchar, numeric(10,2)->numeric(12,2)."""
    sql = (
        "ALTER TABLE users ALTER COLUMN email TYPE text;\n"
        "ALTER TABLE users ALTER COLUMN name TYPE varchar(100);\n"
        "ALTER TABLE users ALTER COLUMN name TYPE varchar;\n"
        "ALTER TABLE users ALTER COLUMN total TYPE numeric(12, 2);\n"
        "ALTER TABLE users ALTER COLUMN seen TYPE timestamp(6), ALTER COLUMN ip TYPE inet;\n"
    )
    assert fired(sql, history=USERS) == []


@pytest.mark.parametrize(
    ("sql", "column", "words"),
    [
        ("ALTER TABLE users ALTER COLUMN name TYPE varchar(10);", 19, "from varchar(20) to"),
        ("ALTER TABLE users ALTER COLUMN bio TYPE varchar(50);", 19, "narrows it"),
        ("ALTER TABLE users ALTER COLUMN total TYPE numeric(9, 2);", 19, "narrows it"),
        ("ALTER TABLE users ALTER COLUMN hits TYPE bigint;", 19, "from integer to bigint"),
        ("ALTER TABLE users ALTER COLUMN seen TYPE timestamptz;", 19, "unless the migration"),
    ],
)
def test_narrowing_and_other_types_are_flagged_with_the_old_type(
    sql: str, column: int, words: str
) -> None:
    """The message names the old and the new type; the span is the ALTER COLUMN clause."""
    report = lint(sql, "alter-column-type", history=USERS)
    [violation] = report.violations
    assert (violation.line, violation.column) == (1, column)
    assert words in violation.message


def test_a_widening_message_never_claims_a_rewrite_because_none_is_reported() -> None:
    """A widening is not reported at all; a narrowing says it rewrites (PostgreSQL does)."""
    widen = lint("ALTER TABLE users ALTER COLUMN name TYPE text;", history=USERS)
    narrow = lint("ALTER TABLE users ALTER COLUMN name TYPE varchar(5);", history=USERS)
    assert widen.violations == ()
    assert "rewrites the table" in narrow.violations[0].message


def test_without_history_the_answer_stays_conservative_and_says_old_type_unknown() -> None:
    """No history: every type change is flagged, and the message says why."""
    report = lint("ALTER TABLE users ALTER COLUMN email TYPE text;")
    [violation] = report.violations
    assert violation.rule == "alter-column-type"
    assert "old type unknown: no migration history or schema given" in violation.message
    assert "rewrites the table" in violation.message and "if it narrows" in violation.message


def test_a_column_the_history_does_not_know_is_old_type_unknown() -> None:
    """History without the column: flagged, naming the model's gap."""
    report = lint("ALTER TABLE users ALTER COLUMN nickname TYPE text;", history=USERS)
    assert "the schema model does not know the column" in report.violations[0].message


def test_using_and_collation_changes_are_flagged_even_when_the_type_widens() -> None:
    """USING another expression, or a new collation, rewrite and change what old code sees."""
    using = "ALTER TABLE users ALTER COLUMN name TYPE text USING upper(name);"
    collate = 'ALTER TABLE users ALTER COLUMN name TYPE text COLLATE "C";'
    plain = "ALTER TABLE users ALTER COLUMN name TYPE text USING name::text;"
    assert fired(using, history=USERS) == ["alter-column-type"]
    assert fired(collate, history=USERS) == ["alter-column-type"]
    assert fired(plain, history=USERS) == []


def test_changing_an_indexed_column_to_citext_is_flagged() -> None:
    """text -> citext is a relabel, unless an index must be rebuilt under the lock."""
    history = "CREATE TABLE t (a text, b text);\nCREATE INDEX t_b ON t (b);"
    sql = "ALTER TABLE t ALTER COLUMN a TYPE citext, ALTER COLUMN b TYPE citext;"
    report = lint(sql, "alter-column-type", history=history)
    assert [v.message.split('"')[1] for v in report.violations] == ["b"]


def _migrations(tmp_path: Path, *contents: str) -> list[LintFile]:
    directory = tmp_path / "migrations"
    directory.mkdir()
    files = []
    for number, text in enumerate(contents, start=1):
        path = directory / f"{number:04}_m.sql"
        path.write_text(text, encoding="utf-8")
        files.append(LintFile(path, f"migrations/{path.name}"))
    return files


def test_a_migrations_directory_is_replayed_and_each_direction_judged(tmp_path: Path) -> None:
    """Linting the last file replays the ones before it; only the narrowing is flagged."""
    files = _migrations(
        tmp_path,
        "CREATE TABLE users (id bigint, name varchar(20), code varchar(10));",
        "ALTER TABLE users ALTER COLUMN name TYPE varchar(50);",
        "ALTER TABLE users ALTER COLUMN name TYPE text;\n"
        "ALTER TABLE users ALTER COLUMN code TYPE varchar(5);\n"
        "ALTER TABLE users ALTER COLUMN id TYPE integer;",
    )
    timelines = plan([files[-1]])
    assert [s.change_set for s in timelines[0].steps] == [None, None, 2]
    report = lint_timelines(timelines, DEFAULT_RULES)
    assert [(v.path, v.line, v.rule) for v in report.violations] == [
        ("migrations/0003_m.sql", 2, "alter-column-type"),
        ("migrations/0003_m.sql", 3, "alter-column-type"),
    ]
    assert "from varchar(10) to varchar(5) narrows" in report.violations[0].message
    assert "from bigint to integer" in report.violations[1].message


def test_every_file_of_a_directory_sees_the_files_before_it(tmp_path: Path) -> None:
    """Without --base each file is its own change set, after the others as history."""
    files = _migrations(
        tmp_path,
        "CREATE TABLE t (a varchar(10));",
        "ALTER TABLE t ALTER COLUMN a TYPE varchar(20);",
        "ALTER TABLE t ALTER COLUMN a TYPE varchar(15);",
    )
    report = lint_timelines(plan(files), DEFAULT_RULES)
    assert [(v.path, v.rule) for v in report.violations] == [
        ("migrations/0003_m.sql", "alter-column-type")
    ]
    assert "from varchar(20) to varchar(15)" in report.violations[0].message


def test_with_a_change_set_the_other_files_are_history(tmp_path: Path) -> None:
    """--base: files outside the change set are replayed, not linted."""
    files = _migrations(
        tmp_path, "CREATE TABLE t (a int);", "DROP TABLE old;", "ALTER TABLE t DROP COLUMN a;"
    )
    changed = {files[2].path.resolve()}
    report = lint_timelines(plan(files, changed=changed), DEFAULT_RULES)
    assert [(v.path, v.rule) for v in report.violations] == [
        ("migrations/0003_m.sql", "drop-column")
    ]
    assert report.files == 1


def test_down_migrations_are_linted_after_their_up_but_never_applied(tmp_path: Path) -> None:
    """0002.down drops what 0002.up made: judged after it, and 0003 still sees the table."""
    directory = tmp_path / "m"
    directory.mkdir()
    for name, text in {
        "0001_a.up.sql": "CREATE TABLE t (a varchar(10));",
        "0002_b.up.sql": "CREATE TABLE u (b int);",
        "0002_b.down.sql": "DROP TABLE IF EXISTS u;",
        "0003_c.up.sql": "ALTER TABLE u ALTER COLUMN b TYPE bigint;",
    }.items():
        (directory / name).write_text(text, encoding="utf-8")
    files = [LintFile(p, p.name) for p in sorted(directory.iterdir())]
    report = lint_timelines(plan(files), DEFAULT_RULES)
    assert [(v.path, v.rule) for v in report.violations] == [
        ("0002_b.down.sql", "drop-table"),
        ("0003_c.up.sql", "alter-column-type"),
    ]
    assert "from integer to bigint" in report.violations[1].message
    assert is_down_migration("U3__undo.sql") and is_down_migration("5_x_down.sql")
    assert not is_down_migration("0004_download.sql")


def test_history_that_does_not_parse_is_a_note_and_makes_the_model_incomplete(
    tmp_path: Path,
) -> None:
    """A history file the parser rejects: said so; IF EXISTS judgments turn conservative."""
    files = _migrations(tmp_path, "CREATE TABLE t (a int UNSIGNED);", "DROP TABLE IF EXISTS gone;")
    timelines = plan([files[1]], display=lambda path: f"migrations/{path.name}")
    report = lint_timelines(timelines, DEFAULT_RULES)
    assert [v.rule for v in report.violations] == ["drop-table"]
    assert len(report.notes) == 1
    assert report.notes[0].startswith("history migrations/0001_m.sql:1:")
    assert "schema model lacks" in report.notes[0]


def test_drop_if_exists_of_what_the_history_never_had_is_clean() -> None:
    """A complete history knows the table is not there: nothing is dropped."""
    assert fired("DROP TABLE IF EXISTS nothing_here;", history="CREATE TABLE t (a int);") == []
    assert fired("DROP TABLE IF EXISTS nothing_here;") == ["drop-table"]
    assert fired("DROP TABLE IF EXISTS t;", history="CREATE TABLE t (a int);") == ["drop-table"]
    drop = "ALTER TABLE t DROP COLUMN IF EXISTS b;"
    assert fired(drop, history="CREATE TABLE t (a int);") == []


def test_if_not_exists_of_what_exists_is_a_no_op() -> None:
    """ADD COLUMN / CREATE INDEX IF NOT EXISTS of something there already changes nothing."""
    history = "CREATE TABLE t (a int, b int NOT NULL DEFAULT 0);\nCREATE UNIQUE INDEX t_a ON t (a);"
    sql = (
        "ALTER TABLE t ADD COLUMN IF NOT EXISTS b int NOT NULL;\n"
        "CREATE UNIQUE INDEX IF NOT EXISTS t_a ON t (a);"
    )
    assert fired(sql, history=history) == []
    assert fired(sql) == [
        "adding-required-column",
        "unique-on-existing-table",
        "create-index-non-concurrently",
    ]


def test_rename_with_a_compatibility_view_is_clean() -> None:
    """The issue's example: rename-table's own advice is not flagged."""
    sql = "ALTER TABLE users RENAME TO app_users;\nCREATE VIEW users AS SELECT * FROM app_users;"
    assert fired(sql) == []
    assert fired(sql, history=USERS) == []


def test_a_column_alias_in_the_view_covers_a_column_rename() -> None:
    """Table and column renamed, the view gives both old names back."""
    sql = (
        "ALTER TABLE users RENAME TO app_users;\n"
        "ALTER TABLE app_users RENAME COLUMN name TO full_name;\n"
        "CREATE VIEW users AS SELECT id, full_name AS name, email, total, seen, hits, ip, bio\n"
        "  FROM app_users;"
    )
    assert fired(sql, history=USERS) == []


@pytest.mark.parametrize(
    ("view", "why"),
    [
        ("CREATE VIEW users AS SELECT id, full_name, email FROM app_users;", "columns missing"),
        ("CREATE VIEW users AS SELECT * FROM app_users WHERE id > 0;", "rows filtered"),
        ("CREATE VIEW users AS SELECT * FROM other;", "another table"),
        ("CREATE VIEW users_v AS SELECT * FROM app_users;", "another name"),
    ],
)
def test_a_view_that_does_not_stand_in_for_the_table_leaves_the_rename_flagged(
    view: str, why: str
) -> None:
    """Only a view of every row and every old column under the old name counts."""
    sql = (
        "ALTER TABLE users RENAME TO app_users;\n"
        "ALTER TABLE app_users RENAME COLUMN name TO full_name;\n" + view
    )
    assert "rename-table" in fired(sql, history=USERS), why


def test_the_view_must_come_in_the_same_file(tmp_path: Path) -> None:
    """A rename whose view comes in the next file leaves a moment without the old name."""
    files = _migrations(
        tmp_path,
        USERS,
        "ALTER TABLE users RENAME TO app_users;",
        "CREATE VIEW users AS SELECT * FROM app_users;",
    )
    changed = {files[1].path.resolve(), files[2].path.resolve()}
    report = lint_timelines(plan(files, changed=changed), DEFAULT_RULES)
    assert [v.rule for v in report.violations] == ["rename-table"]


def test_a_dropped_view_recreated_with_the_same_columns_is_clean() -> None:
    """DROP VIEW + CREATE VIEW with every old column: what CREATE OR REPLACE cannot do."""
    history = "CREATE TABLE t (a int, b int);\nCREATE VIEW v AS SELECT a, b FROM t;"
    assert (
        fired("DROP VIEW v;\nCREATE VIEW v AS SELECT b, a, 1 AS c FROM t;", history=history) == []
    )
    assert fired("DROP VIEW v;\nCREATE VIEW v AS SELECT a FROM t;", history=history) == [
        "drop-view"
    ]
    assert fired("DROP VIEW v;", history=history) == ["drop-view"]


def test_drop_schema_cascade_is_flagged_at_the_schema_name() -> None:
    """The new drop-schema rule, with its position; CASCADE is named in the message."""
    report = lint("SELECT 1;\nDROP SCHEMA IF EXISTS billing CASCADE;", "drop-schema")
    [violation] = report.violations
    assert (violation.line, violation.column, violation.end.column) == (2, 1, 30)
    assert "CASCADE" in violation.message


def test_drop_schema_of_a_known_empty_or_new_schema_is_clean() -> None:
    """Known empty (no CASCADE needed) or created by the change set: nothing old code uses."""
    assert fired("DROP SCHEMA scratch;", "drop-schema", history="CREATE SCHEMA scratch;") == []
    assert fired("CREATE SCHEMA s;\nDROP SCHEMA s CASCADE;", "drop-schema") == []
    history = "CREATE SCHEMA s;\nCREATE TABLE s.t (a int);"
    assert fired("DROP SCHEMA s CASCADE;", "drop-schema", history=history) == ["drop-schema"]
    assert fired("DROP SCHEMA s;", "drop-schema") == ["drop-schema"]


def test_djangos_addfield_pattern_is_flagged_at_the_drop_default() -> None:
    """ADD COLUMN ... NOT NULL DEFAULT, then DROP DEFAULT: N-1 inserts now fail."""
    sql = (
        'ALTER TABLE "core_recipe" ADD COLUMN "foo" integer DEFAULT 10 NOT NULL;\n'
        'ALTER TABLE "core_recipe" ALTER COLUMN "foo" DROP DEFAULT;'
    )
    report = lint(sql)
    [violation] = report.violations
    assert (violation.rule, violation.line, violation.column) == ("adding-required-column", 2, 27)
    assert "added NOT NULL by this change set" in violation.message


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT 0, ALTER COLUMN c DROP DEFAULT;",
        "ALTER TABLE t ADD COLUMN c int DEFAULT 0;\nALTER TABLE t ALTER COLUMN c SET NOT NULL;\n"
        "ALTER TABLE t ALTER COLUMN c SET DEFAULT NULL;",
    ],
)
def test_dropping_the_default_of_a_new_required_column_is_flagged(sql: str) -> None:
    """In the same statement, or after SET NOT NULL; SET DEFAULT NULL is DROP DEFAULT."""
    assert fired(sql, "adding-required-column") == ["adding-required-column"]


def test_dropping_a_default_is_clean_when_nothing_requires_it() -> None:
    """A nullable new column, or an existing column not known to be NOT NULL."""
    assert (
        fired("ALTER TABLE t ADD COLUMN c int DEFAULT 0;\nALTER TABLE t ALTER c DROP DEFAULT;")
        == []
    )
    assert fired("ALTER TABLE t ALTER COLUMN c DROP DEFAULT;") == []
    history = "CREATE TABLE t (c int NOT NULL DEFAULT 0, d int DEFAULT 0);"
    assert fired("ALTER TABLE t ALTER COLUMN c DROP DEFAULT;", history=history) == [
        "adding-required-column"
    ]
    assert fired("ALTER TABLE t ALTER COLUMN d DROP DEFAULT;", history=history) == []


def test_alter_view_rename_column_is_flagged() -> None:
    """A view's column renamed: old queries of the view fail."""
    report = lint("ALTER VIEW v RENAME COLUMN a TO b;", "rename-column")
    [violation] = report.violations
    assert (violation.line, violation.column) == (1, 14)
    assert 'column "a" of view v' in violation.message
    assert fired("CREATE VIEW v AS SELECT 1 AS a;\nALTER VIEW v RENAME COLUMN a TO b;") == []


def test_set_not_null_after_a_validated_check_is_clean() -> None:
    """A validated CHECK (col IS NOT NULL) already refuses NULLs and spares the scan."""
    steps = (
        "ALTER TABLE users ADD CONSTRAINT email_set CHECK (email IS NOT NULL) NOT VALID;\n"
        "ALTER TABLE users VALIDATE CONSTRAINT email_set;\n"
    )
    sql = steps + "ALTER TABLE users ALTER COLUMN email SET NOT NULL;"
    assert fired(sql, "set-not-null") == []
    unvalidated = "ALTER TABLE users ADD CONSTRAINT e CHECK (email IS NOT NULL) NOT VALID;\n"
    assert fired(unvalidated + "ALTER TABLE users ALTER email SET NOT NULL;") == ["set-not-null"]
    validated = "CREATE TABLE users (email text, CONSTRAINT e CHECK (email IS NOT NULL));"
    assert fired("ALTER TABLE users ALTER email SET NOT NULL;", history=validated) == []
    history_steps = "CREATE TABLE users (email text);\n" + steps
    sql = "ALTER TABLE users ALTER COLUMN email SET NOT NULL;"
    assert fired(sql, history=history_steps) == []
    new_column = (
        "ALTER TABLE users ADD COLUMN bar bigint;\n"
        "ALTER TABLE users ADD CONSTRAINT b CHECK (bar IS NOT NULL) NOT VALID;\n"
        "ALTER TABLE users VALIDATE CONSTRAINT b;\nALTER TABLE users ALTER bar SET NOT NULL;"
    )
    # old code's inserts leave bar NULL (and the VALIDATE holds the ADD's lock)
    assert fired(new_column) == ["check-without-not-valid", "set-not-null"]


def test_the_model_follows_renames_drops_and_search_path() -> None:
    """Apply statements directly: what exists, under which name, with which columns."""
    model = Schema(complete=True)
    sql = (
        "CREATE SCHEMA app;\nSET search_path TO app;\nCREATE TABLE t (a varchar(5) NOT NULL);\n"
        "ALTER TABLE app.t RENAME TO u;\nALTER TABLE app.u RENAME COLUMN a TO b;\n"
        "CREATE INDEX u_b ON app.u (lower(b));\nDROP TABLE IF EXISTS app.gone;"
    )
    parsed = parse_sql(Text(sql))
    assert isinstance(parsed, list)
    schema = "public"
    for statement in parsed:
        if statement.kind == "VariableSetStmt":
            schema = "app"
        model.apply(statement.kind, statement.node, schema)
    u = QualifiedName("app", "u")
    assert model.exists(ObjectKind.TABLE, QualifiedName("app", "t")) is False
    column = model.column(u, "b")
    assert column is not None and column.not_null and str(column.type) == "varchar(5)"
    assert model.indexed(u, "b")
    assert model.exists(ObjectKind.SCHEMA, QualifiedName("", "app")) is True
    assert Schema(complete=False).exists(ObjectKind.TABLE, u) is None


def test_history_can_be_sql_text_from_another_tool() -> None:
    """The shape a migration tool adapter feeds: (origin, SQL) pairs."""
    history = (SqlText("alembic:0001_users", USERS),)
    sql = "ALTER TABLE users ALTER COLUMN name TYPE text;"
    assert lint_text(sql, DEFAULT_RULES, history=history).violations == ()
    assert [v.rule for v in lint_text(sql, DEFAULT_RULES).violations] == ["alter-column-type"]


def test_validate_in_the_transaction_that_added_not_valid_is_flagged() -> None:
    """squawk's not_valid_validate_transaction: the ADD's lock is held during the scan."""
    sql = (
        'ALTER TABLE "app_email" ADD CONSTRAINT "fk_user" FOREIGN KEY (user_id)\n'
        '  REFERENCES "app_user" (id) NOT VALID;\n'
        'ALTER TABLE "app_email" VALIDATE CONSTRAINT "fk_user";'
    )
    report = lint(sql)
    [violation] = report.violations
    assert (violation.rule, violation.line, violation.column) == (
        "foreign-key-without-not-valid",
        3,
        25,
    )
    assert "in the transaction that added it NOT VALID" in violation.message


def test_validate_after_a_commit_or_in_a_later_file_is_clean(tmp_path: Path) -> None:
    """A COMMIT between, or the next migration file: separate transactions."""
    add = "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;\n"
    validate = "ALTER TABLE t VALIDATE CONSTRAINT c;\n"
    assert fired(add + "COMMIT;\nBEGIN;\n" + validate) == []
    assert fired(add + "ROLLBACK;\n" + validate) == []
    files = _migrations(tmp_path, add, validate)
    changed = {f.path.resolve() for f in files}
    assert lint_timelines(plan(files, changed=changed), DEFAULT_RULES).violations == ()


def test_an_exclusion_constraint_on_an_existing_table_is_flagged() -> None:
    """Like UNIQUE: old writes that overlap now fail, and the build scans under a lock."""
    sql = (
        "ALTER TABLE bookings ADD CONSTRAINT no_overlap\n"
        "  EXCLUDE USING gist (room WITH =, during WITH &&);"
    )
    assert fired(sql) == ["unique-on-existing-table"]
    new = "CREATE TABLE bookings (room int, during tstzrange);\n" + sql
    assert fired(new) == []


def test_a_deploys_change_set_is_linted_after_the_releases_history(tmp_path: Path) -> None:
    """history.change_set (deploy step 3, rollback re-lint): the widening the pull request's
    lint passed passes here too; history paths are shown relative to the checkout."""
    files = _migrations(
        tmp_path,
        "CREATE TABLE users (name varchar(20));",
        "ALTER TABLE users ALTER COLUMN name TYPE text;",
        "ALTER TABLE users ALTER COLUMN name TYPE varchar(10);",
    )
    timelines = change_set(files[1:], tmp_path)
    assert [(s.source.display, s.change_set) for s in timelines[0].steps] == [
        ("migrations/0001_m.sql", None),
        ("migrations/0002_m.sql", 0),
        ("migrations/0003_m.sql", 0),
    ]
    report = lint_timelines(timelines, DEFAULT_RULES)
    assert [(v.path, v.rule) for v in report.violations] == [
        ("migrations/0003_m.sql", "alter-column-type")
    ]


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TABLE IF EXISTS gone DROP COLUMN a;",
        "ALTER TABLE IF EXISTS gone ALTER COLUMN a TYPE int;",
        "ALTER TABLE IF EXISTS gone RENAME COLUMN a TO b;",
        "ALTER TABLE IF EXISTS gone RENAME TO gone2;",
        "ALTER VIEW IF EXISTS gone RENAME COLUMN a TO b;",
        "ALTER TABLE IF EXISTS gone ADD COLUMN b int NOT NULL;",
    ],
)
def test_alter_if_exists_of_an_absent_relation_is_a_no_op(sql: str) -> None:
    """ALTER ... IF EXISTS of a relation the history never had finds nothing."""
    assert fired(sql, history="CREATE TABLE kept (a int);") == []


@pytest.mark.parametrize(
    ("sql", "rule"),
    [
        ("ALTER TABLE IF EXISTS kept DROP COLUMN a;", "drop-column"),
        ("ALTER TABLE IF EXISTS kept RENAME COLUMN a TO b;", "rename-column"),
    ],
)
def test_alter_if_exists_of_a_present_relation_is_linted(sql: str, rule: str) -> None:
    """ALTER ... IF EXISTS of a table the history has is linted as usual."""
    assert fired(sql, history="CREATE TABLE kept (a int);") == [rule]


def test_alter_if_exists_without_history_is_linted() -> None:
    """Without history the relation may exist: ALTER TABLE IF EXISTS is linted."""
    assert fired("ALTER TABLE IF EXISTS gone DROP COLUMN a;") == ["drop-column"]
