"""Rendered SQL mapped back to the revision file that produced it (lint/origin.py, the seam)."""

from __future__ import annotations

from pathlib import Path

from spectral_deploy.lint.engine import LintFile, lint_change_sets
from spectral_deploy.lint.origin import LineOrigin, Origin, exact_lines, remap
from spectral_deploy.lint.render import LintFormat, render
from spectral_deploy.lint.source import Position
from spectral_deploy.migrate.tools.positions import char_column, origins_for, with_markers
from tests.unit.lintkit import DEFAULT_RULES

REVISION = '''"""add author"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.add_column("notes", sa.Column("author", sa.Text(), nullable=False))
    op.execute(
        """
        ALTER TABLE handled_events
            DROP COLUMN generation
        """
    )
'''
# what `alembic upgrade 0002:0003 --sql` prints for it
SQL = """BEGIN;

-- Running upgrade 0002 -> 0003

ALTER TABLE notes ADD COLUMN author TEXT NOT NULL;

ALTER TABLE handled_events
            DROP COLUMN generation;

UPDATE alembic_version SET version_num='0003' WHERE alembic_version.version_num = '0002';

COMMIT;

"""
ADD_COLUMN = (Position(10, 5), Position(10, 75))
EXECUTE = (Position(11, 5), Position(16, 6))
COMMAND = "alembic upgrade 0002:0003 --sql"


def _origin(sql: str = SQL, revision: str = REVISION) -> tuple[str, Origin]:
    file_lines = revision.splitlines()
    sql_lines = sql.split("\n")
    spans: list[tuple[Position, Position] | None] = [None] * len(sql_lines)
    spans[4] = spans[5] = ADD_COLUMN
    spans[6] = spans[7] = spans[8] = EXECUTE
    sql, lines = with_markers(sql, origins_for(sql_lines, spans, file_lines), file_lines)
    fallback = LineOrigin(Position(9, 1), Position(9, 1))
    return sql, Origin("alembic/versions/0003.py", COMMAND, lines, fallback)


def _lint(sql: str, origin: Origin) -> object:
    file = LintFile(Path("alembic/versions/0003.py"), origin.path, text=sql)
    return remap(lint_change_sets([[file]], DEFAULT_RULES), {origin.path: origin})


def test_findings_point_at_the_op_call_and_keep_the_sql_line() -> None:
    """A statement rendered from op.add_column is reported at that call, with its SQL line."""
    sql, origin = _origin()
    report = _lint(sql, origin)
    first = report.violations[0]  # type: ignore[attr-defined]
    assert (first.path, first.rule, first.start, first.end) == (
        "alembic/versions/0003.py",
        "adding-required-column",
        Position(10, 5),
        Position(10, 75),
    )
    assert first.rendered is not None
    assert (first.rendered.command, first.rendered.start) == (COMMAND, Position(5, 30))


def test_sql_written_out_in_the_file_maps_to_its_exact_line_and_column() -> None:
    """op.execute("... DROP COLUMN ...") is found verbatim: the finding is at that very text."""
    sql, origin = _origin()
    drop = _lint(sql, origin).violations[1]  # type: ignore[attr-defined]
    assert drop.rule == "drop-column"
    assert drop.start == Position(14, 13)
    assert REVISION.splitlines()[13][12:].startswith("DROP COLUMN generation")
    assert drop.rendered.start == Position(8, 13)


def test_every_renderer_names_the_revision_file_and_the_sql_line() -> None:
    """text shows the SQL excerpt with its own line numbers; json carries "sql"; github too."""
    sql, origin = _origin()
    report = _lint(sql, origin)
    text = render(report, LintFormat.TEXT, DEFAULT_RULES)  # type: ignore[arg-type]
    assert text.startswith(
        "alembic/versions/0003.py:10:5: MC101 adding-required-column\n"
        f"  = in the SQL of `{COMMAND}`, line 5:\n"
        "  |\n"
        "5 | ALTER TABLE notes ADD COLUMN author TEXT NOT NULL;\n"
        "  |                              ^^^^^^^^^^^^^^^^^^^^ adding column"
    )
    json_text = render(report, LintFormat.JSON, DEFAULT_RULES)  # type: ignore[arg-type]
    assert f'"sql": {{"command": "{COMMAND}", "line": 5, "column": 30}}' in json_text
    github = render(report, LintFormat.GITHUB, DEFAULT_RULES)  # type: ignore[arg-type]
    assert github.startswith("::error file=alembic/versions/0003.py,line=10,col=5,")
    assert "line 5" in github


def test_a_python_comment_marker_overrides_the_revision_at_its_line() -> None:
    """`# compat: breaking (reason: ...)` in the revision file is the override, listed there."""
    marked = REVISION.replace(
        "def upgrade() -> None:\n",
        "def upgrade() -> None:\n    # compat: breaking (reason: author is backfilled by ops)\n",
    )
    sql, origin = _origin(revision=marked)
    assert sql.startswith(SQL) and sql.endswith(
        "-- compat: breaking (reason: author is backfilled by ops)\n"
    )
    report = _lint(sql, origin)
    assert report.violations == ()  # type: ignore[attr-defined]
    (override,) = report.overrides  # type: ignore[attr-defined]
    assert (override.path, override.line, override.reason) == (
        "alembic/versions/0003.py",
        10,
        "author is backfilled by ops",
    )


def test_a_parse_error_is_placed_in_the_file_and_names_the_sql_position() -> None:
    """Rendered SQL the parser rejects is an error at the revision, naming the SQL line."""
    bad = "BEGIN;\n\nALTER TABLE notes ADD COLUMN x UNSIGNED int;\n"
    file_lines = REVISION.splitlines()
    spans: list[tuple[Position, Position] | None] = [None, None, ADD_COLUMN, None]
    lines = origins_for(bad.split("\n"), spans, file_lines)
    origin = Origin("r.py", COMMAND, lines, LineOrigin(Position(1, 1), Position(1, 1)))
    report = _lint(bad, origin)
    (error,) = report.errors  # type: ignore[attr-defined]
    assert (error.path, error.line, error.column) == ("r.py", 10, 5)
    assert f"line 3, column 41 of the SQL that `{COMMAND}` renders" in error.message


def test_exact_lines_is_all_or_nothing() -> None:
    """A call whose SQL is not all written out in the file keeps only its span (no guessing)."""
    file_lines = ["op.execute(", '    "DROP TABLE a"', ")"]
    start, end = Position(1, 1), Position(3, 2)
    assert exact_lines(["DROP TABLE a;"], file_lines, start, end) == [(2, 5)]
    assert exact_lines(["DROP TABLE a;", "DROP TABLE b;"], file_lines, start, end) == [None, None]
    assert exact_lines(["-- a comment", "DROP TABLE a;"], file_lines, start, end) == [None, (2, 5)]


def test_byte_columns_become_character_columns() -> None:
    """Python reports byte offsets; a multibyte character before the call shifts them."""
    lines = ['x = "é"; op.drop_table("t")']
    assert char_column(lines, 1, len('x = "é"; '.encode())) == len('x = "é"; ') + 1
