"""New versus existing objects: names as PostgreSQL compares them, change sets, history."""

from __future__ import annotations

from pathlib import Path

from spectral_deploy.lint.engine import LintFile, lint_change_sets
from tests.unit.lintkit import DEFAULT_RULES, fired, lint


def test_unquoted_names_fold_to_lower_case() -> None:
    """CREATE TABLE Users makes users new; ALTER TABLE USERS is the same table."""
    assert fired("CREATE TABLE Users (a int);\nALTER TABLE USERS DROP COLUMN a;") == []


def test_quoted_names_keep_their_case() -> None:
    """A quoted "Users" is a different table from users."""
    sql = 'CREATE TABLE "Users" (a int);\nALTER TABLE users DROP COLUMN a;'
    assert fired(sql) == ["drop-column"]


def test_schema_qualified_names() -> None:
    """public.t and t are the same table; app.t is another one."""
    assert fired("CREATE TABLE t (a int);\nALTER TABLE public.t DROP COLUMN a;") == []
    assert fired("CREATE TABLE app.t (a int);\nALTER TABLE t DROP COLUMN a;") == ["drop-column"]


def test_search_path_decides_the_schema_of_unqualified_names() -> None:
    """After SET search_path TO app, an unqualified t is app.t."""
    sql = "SET search_path TO app, public;\nCREATE TABLE t (a int);\nALTER TABLE app.t DROP a;"
    assert fired(sql) == []


def test_a_table_created_later_in_the_file_is_not_new_earlier() -> None:
    """Only what was created before the statement is new."""
    assert fired("DROP TABLE t;\nCREATE TABLE t (a int);\nDROP TABLE t;") == ["drop-table"]


def test_renaming_a_new_table_keeps_it_new() -> None:
    """A new table renamed stays new under its new name."""
    sql = "CREATE TABLE a (x int);\nALTER TABLE a RENAME TO b;\nALTER TABLE b DROP COLUMN x;"
    assert fired(sql) == []


def test_create_if_not_exists_without_history_may_be_an_existing_table() -> None:
    """Without history, IF NOT EXISTS usually means t exists: it stays existing."""
    sql = "CREATE TABLE IF NOT EXISTS t (a int);\nCREATE INDEX i ON t (a);"
    assert fired(sql) == ["create-index-non-concurrently"]


def test_create_if_not_exists_of_a_table_the_history_lacks_creates_it() -> None:
    """With a history that has no t, IF NOT EXISTS creates a new table."""
    sql = "CREATE TABLE IF NOT EXISTS t (a int);\nCREATE INDEX i ON t (a);"
    assert fired(sql, history="CREATE TABLE other (a int);") == []


def test_create_if_not_exists_of_an_existing_table_changes_nothing() -> None:
    """t exists (history): the CREATE is a no-op and dropping its column breaks N-1."""
    sql = "CREATE TABLE IF NOT EXISTS t (a int, c int);\nALTER TABLE t DROP COLUMN c;"
    report = lint(sql, history="CREATE TABLE t (a int, c int);")
    assert [(v.rule, v.line, v.column) for v in report.violations] == [("drop-column", 2, 15)]


def _files(tmp_path: Path, *contents: str) -> list[LintFile]:
    files = []
    for number, text in enumerate(contents, start=1):
        path = tmp_path / f"{number:04}.sql"
        path.write_text(text, encoding="utf-8")
        files.append(LintFile(path, path.name))
    return files


def test_a_change_set_shares_new_tables_across_files(tmp_path: Path) -> None:
    """A table created in an earlier file of the same change set is new."""
    first, second = _files(tmp_path, "CREATE TABLE t (a int);", "ALTER TABLE t DROP COLUMN a;")
    assert lint_change_sets([[first, second]], DEFAULT_RULES).violations == ()


def test_without_a_change_set_each_file_stands_alone(tmp_path: Path) -> None:
    """As separate change sets, the second file's table is existing."""
    first, second = _files(tmp_path, "CREATE TABLE t (a int);", "ALTER TABLE t DROP COLUMN a;")
    report = lint_change_sets([[first], [second]], DEFAULT_RULES)
    assert [(v.path, v.rule) for v in report.violations] == [("0002.sql", "drop-column")]


def test_staging_table_created_and_dropped_in_one_change_set(tmp_path: Path) -> None:
    """Create in one file, drop in the next: nothing fires."""
    files = _files(tmp_path, "CREATE TABLE staging (a int);", "DROP TABLE staging;")
    assert lint_change_sets([files], DEFAULT_RULES).violations == ()


def test_search_path_does_not_leak_into_the_next_file(tmp_path: Path) -> None:
    """Each file starts with the default search_path."""
    files = _files(
        tmp_path,
        "SET search_path TO app;\nCREATE TABLE t (a int);",
        "ALTER TABLE t DROP COLUMN a;",
    )
    report = lint_change_sets([files], DEFAULT_RULES)
    assert [v.rule for v in report.violations] == ["drop-column"]
