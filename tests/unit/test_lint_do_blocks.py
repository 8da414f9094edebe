"""DO blocks: the SQL inside is linted with file positions; what cannot be seen is reported."""

from __future__ import annotations

from tests.unit.lintkit import lint


def test_static_ddl_inside_do_is_linted_at_its_position() -> None:
    """A DROP COLUMN inside IF ... THEN is found on its own line and column."""
    sql = (
        "DO $$\n"
        "BEGIN\n"
        "  IF EXISTS (SELECT 1 FROM pg_tables WHERE tablename = 'users') THEN\n"
        "    ALTER TABLE users DROP COLUMN email;\n"
        "  END IF;\n"
        "END $$;\n"
    )
    violation = lint(sql).violations[0]
    assert violation.rule == "drop-column"
    assert (violation.line, violation.column) == (4, 23)


def test_dollar_tag_and_exception_handlers() -> None:
    """Named dollar quotes and statements in EXCEPTION handlers are read too."""
    sql = "DO $body$ BEGIN NULL; EXCEPTION WHEN others THEN DROP TABLE t; END $body$;"
    violation = lint(sql).violations[0]
    assert violation.rule == "drop-table"
    assert sql[violation.column - 1 :].startswith("DROP TABLE t")


def test_execute_of_a_constant_string_is_linted() -> None:
    """EXECUTE 'ALTER TABLE ...' is SQL the lint can read."""
    report = lint("DO $$ BEGIN EXECUTE 'ALTER TABLE t RENAME COLUMN a TO b'; END $$;")
    assert [v.rule for v in report.violations] == ["rename-column"]


def test_execute_of_a_computed_string_is_opaque() -> None:
    """EXECUTE format(...) cannot be checked and is reported, not passed."""
    report = lint("DO $$ BEGIN EXECUTE format('DROP TABLE %I', 'users'); END $$;")
    assert [v.rule for v in report.violations] == ["opaque-do-block"]
    assert "format('DROP TABLE %I', 'users')" in report.violations[0].message


def test_other_languages_are_opaque() -> None:
    """A DO block in another language is reported."""
    report = lint("DO LANGUAGE plpython3u $$ plpy.execute('DROP TABLE t') $$;")
    assert [v.rule for v in report.violations] == ["opaque-do-block"]


def test_body_that_does_not_parse_is_opaque() -> None:
    """A PL/pgSQL syntax error inside the body is reported, never silently passed."""
    report = lint("DO $$ BEGIN IF THEN END; END $$;")
    assert [v.rule for v in report.violations] == ["opaque-do-block"]
    assert "does not parse" in report.violations[0].message


def test_table_created_inside_do_is_new_afterwards() -> None:
    """CREATE TABLE in a DO block makes the table new for the rest of the file."""
    sql = "DO $$ BEGIN CREATE TABLE t (a int); END $$;\nCREATE INDEX i ON t (a);"
    assert lint(sql).violations == ()


def test_clean_do_block_passes() -> None:
    """Conditional creation of a type breaks nothing."""
    sql = (
        "DO $$ BEGIN\n"
        "  IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'mood') THEN\n"
        "    CREATE TYPE mood AS ENUM ('ok');\n"
        "  END IF;\nEND $$;"
    )
    assert lint(sql).violations == ()


def test_override_marker_covers_an_opaque_block() -> None:
    """After review, the marker passes a block the lint cannot see into."""
    sql = (
        "-- compat: breaking (reason: only creates missing partitions)\n"
        "DO $$ BEGIN EXECUTE format('CREATE TABLE %I ()', 'p1'); END $$;"
    )
    report = lint(sql)
    assert report.violations == () and len(report.overrides) == 1
