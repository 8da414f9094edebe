"""Lines and columns: CRLF input, multibyte characters, byte order marks, parse errors."""

from __future__ import annotations

from pathlib import Path

from spectral_deploy.lint.engine import LintFile, lint_change_sets
from spectral_deploy.lint.source import Position, Source
from tests.unit.lintkit import DEFAULT_RULES, lint


def test_crlf_lines_and_columns() -> None:
    """With CRLF line ends the violation is on the right line and column, no \\r in excerpts."""
    sql = "-- first\r\nSELECT 1;\r\n\r\n  ALTER TABLE users DROP COLUMN email;\r\n"
    violation = lint(sql, "drop-column").violations[0]
    assert (violation.line, violation.column) == (4, 21)
    assert violation.statement_lines == ("  ALTER TABLE users DROP COLUMN email;",)


def test_multibyte_characters_before_the_statement() -> None:
    """Columns count code points, not UTF-8 bytes, after é, € and an emoji."""
    sql = "-- café € 😀\nSELECT 'ü😀'; ALTER TABLE t DROP COLUMN c;\n"
    violation = lint(sql, "drop-column").violations[0]
    assert (violation.line, violation.column) == (2, 28)
    line = sql.splitlines()[1]
    assert line[violation.column - 1 :].startswith("DROP COLUMN c")


def test_multibyte_characters_on_the_same_line_as_the_span_end() -> None:
    """The end of a span is right after a quoted multibyte identifier."""
    violation = lint('ALTER TABLE "tä" DROP COLUMN "ö";', "drop-column").violations[0]
    assert violation.start == Position(1, 18)
    assert violation.end == Position(1, 33)


def test_byte_order_mark_is_not_a_syntax_error() -> None:
    """A UTF-8 BOM is skipped like psql does; positions stay those of the file."""
    violation = lint("\ufeffDROP TABLE t;", "drop-table").violations[0]
    assert (violation.line, violation.column) == (1, 2)


def test_parse_error_position_after_multibyte_characters() -> None:
    """A syntax error is placed on its token even after multibyte characters."""
    sql = "-- ünïcödé 😀\r\nSELECT 1;\r\nSELEC 2;\r\n"
    report = lint(sql)
    assert report.violations == ()
    error = report.errors[0]
    assert (error.line, error.column) == (3, 1)
    assert "syntax error" in error.message and "SELEC" in error.message


def test_parse_error_position_mid_line() -> None:
    """An error in the middle of a line names its column."""
    error = lint("CREATE TABLE t (\n  a int UNSIGNED\n);").errors[0]
    assert (error.line, error.column) == (2, 9)


def test_source_positions() -> None:
    """Offsets map to lines and columns, CRLF and a last line without a line break."""
    source = Source("x.sql", "ab\r\ncd\nef")
    assert source.position(0) == Position(1, 1)
    assert source.position(4) == Position(2, 1)
    assert source.position(8) == Position(3, 2)
    assert source.line_text(1) == "ab"
    assert source.line_text(3) == "ef"


def test_not_utf8_is_reported_with_its_position(tmp_path: Path) -> None:
    """A Latin-1 file is an error naming the line and column of the first bad byte."""
    bad = tmp_path / "0001_latin1.sql"
    bad.write_bytes("-- ok\nSELECT 'caf\xe9';\n".encode("latin-1"))
    good = tmp_path / "0002_drop.sql"
    good.write_text("DROP TABLE t;\n", encoding="utf-8")
    report = lint_change_sets(
        [[LintFile(bad, bad.name)], [LintFile(good, good.name)]], DEFAULT_RULES
    )
    error = report.errors[0]
    assert (error.path, error.line, error.column) == ("0001_latin1.sql", 2, 12)
    assert "not UTF-8" in error.message and "0xe9" in error.message
    assert [v.path for v in report.violations] == ["0002_drop.sql"]
    assert report.exit_code == 2


def test_unreadable_file_is_reported_and_others_are_linted(tmp_path: Path) -> None:
    """A missing file is an error; the next file is still linted."""
    good = tmp_path / "b.sql"
    good.write_text("DROP TABLE t;", encoding="utf-8")
    report = lint_change_sets(
        [[LintFile(tmp_path / "missing.sql", "missing.sql")], [LintFile(good, "b.sql")]],
        DEFAULT_RULES,
    )
    assert report.errors[0].path == "missing.sql"
    assert "cannot read" in report.errors[0].message
    assert len(report.violations) == 1
