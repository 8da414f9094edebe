"""What the lint reads: regular files only, bounded in size, no NUL, large files in batches."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from spectral_deploy.lint.engine import LintFile, lint_change_sets
from spectral_deploy.lint.markers import find_markers
from spectral_deploy.lint.parse import Batch, SyntaxFailure, parse_batches
from spectral_deploy.lint.source import Text
from spectral_deploy.lint.violation import Report
from tests.unit.lintkit import DEFAULT_RULES


def lint_path(path: Path, *, max_file_bytes: int = 32 * 1024 * 1024) -> Report:
    """Lint one file on disk as its own change set."""
    return lint_change_sets(
        [[LintFile(path, path.name)]], DEFAULT_RULES, max_file_bytes=max_file_bytes
    )


def test_a_nul_byte_is_an_error_at_its_position(tmp_path: Path) -> None:
    """PostgreSQL's parser stops at NUL: the DROP after it must not silently pass."""
    path = tmp_path / "nul.sql"
    path.write_bytes(b"SELECT 1;\nSELECT 2;\x00DROP TABLE t;\n")
    report = lint_path(path)
    [error] = report.errors
    assert (error.path, error.line, error.column) == ("nul.sql", 2, 10)
    assert "NUL byte" in error.message
    assert report.exit_code == 2


@pytest.mark.timeout(20)
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    """Opening a FIFO would block forever: it is reported as not a regular file."""
    path = tmp_path / "pipe.sql"
    os.mkfifo(path)
    [error] = lint_path(path).errors
    assert error.message == "not a regular file (a FIFO): only migration files are read"


def test_a_symlink_to_a_device_is_refused(tmp_path: Path) -> None:
    """/dev/zero would be read until memory runs out."""
    path = tmp_path / "zero.sql"
    path.symlink_to("/dev/zero")
    [error] = lint_path(path).errors
    assert "not a regular file (a character device)" in error.message


def test_a_symlink_loop_is_an_error_not_a_crash(tmp_path: Path) -> None:
    """ELOOP is reported as a file that cannot be read."""
    path = tmp_path / "loop.sql"
    path.symlink_to(path)
    [error] = lint_path(path).errors
    assert error.message.startswith("cannot read: ")


def test_a_file_over_the_size_limit_is_an_error_naming_the_setting(tmp_path: Path) -> None:
    """Too large: exit 2 with both sizes and the key to raise, nothing read."""
    path = tmp_path / "big.sql"
    path.write_bytes(b"SELECT 1;\n" * 300_000)
    [error] = lint_path(path, max_file_bytes=1024 * 1024).errors
    assert error.message.startswith("file is 2.9 MiB, over the limit of 1.0 MiB")
    assert "[lint] max_file_bytes" in error.message


def _big(statements: int) -> str:
    return "".join(
        f"ALTER TABLE t{n % 7} ADD COLUMN c{n} text; -- filler to make the file large\n"
        for n in range(statements)
    )


def test_a_large_text_is_parsed_in_batches_that_tile_it() -> None:
    """Over a megabyte: several batches, every statement once, in order, spans tiling."""
    text = _big(15_000)
    assert len(text) > 1024 * 1024
    batches = list(parse_batches(Text(text)))
    assert all(isinstance(b, Batch) for b in batches) and len(batches) > 5
    good = [b for b in batches if isinstance(b, Batch)]
    assert good[0].start == 0 and good[-1].end == len(text)
    assert all(a.end == b.start for a, b in itertools.pairwise(good))
    statements = [s for b in good for s in b.statements]
    assert len(statements) == 15_000
    last = statements[-1]
    assert text[last.start : last.end] == "ALTER TABLE t5 ADD COLUMN c14999 text"


def test_a_syntax_error_deep_in_a_large_text_has_its_file_position() -> None:
    """The failure offset is the file's, not the batch's."""
    text = _big(15_000) + "ALTER TABLE t ADD COLUMN x int UNSIGNED;\n" + _big(10)
    *_, failure = parse_batches(Text(text))
    assert isinstance(failure, SyntaxFailure)
    assert text[failure.offset or 0 :].startswith("UNSIGNED")


def test_a_function_body_with_semicolons_across_a_batch_boundary_parses() -> None:
    """BEGIN ATOMIC ... END holds semicolons the scanner splits on; the batch is retried."""
    body = "".join(f"  SELECT {n};\n" for n in range(4000))
    function = f"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC\n{body}END;\n"
    text = _big(15_000) + function + _big(10)
    batches = list(parse_batches(Text(text)))
    assert all(isinstance(b, Batch) for b in batches)
    kinds = [s.kind for b in batches if isinstance(b, Batch) for s in b.statements]
    assert kinds.count("CreateFunctionStmt") == 1 and len(kinds) == 15_011


def test_markers_are_found_in_every_region_of_a_large_file(tmp_path: Path) -> None:
    """An override marker near the end of a large file still applies."""
    path = tmp_path / "big.sql"
    path.write_text(
        _big(15_000) + "-- compat: breaking (reason: t9 is unused)\nDROP TABLE t9;\n",
        encoding="utf-8",
    )
    report = lint_path(path)
    assert [v.rule for v in report.violations] == []
    [override] = report.overrides
    assert override.line == 15_001
    assert [(v.rule, v.line) for v in override.covers] == [("drop-table", 15_002)]


def test_find_markers_in_a_region_reports_file_offsets() -> None:
    """Offsets of markers found in a slice are offsets into the whole text."""
    text = "SELECT 1;\n-- compat: breaking (reason: x)\nSELECT 2;\n"
    [marker] = find_markers(text, 9, len(text))
    assert text[marker.start : marker.end] == "-- compat: breaking (reason: x)"


def test_linting_leaves_no_reference_cycles(tmp_path: Path) -> None:
    """The command line turns the cyclic collector off while linting: nothing may need it."""
    import gc  # noqa: PLC0415 - this test is about it

    path = tmp_path / "m.sql"
    path.write_text(
        "CREATE TABLE t (a varchar(10));\nALTER TABLE t RENAME TO u;\n"
        "CREATE VIEW t AS SELECT * FROM u;\nDO $$ BEGIN DROP TABLE x; END $$;\n"
        "ALTER TABLE u ALTER COLUMN a TYPE text;\n" + _big(15_000),
        encoding="utf-8",
    )
    gc.collect()
    gc.disable()
    try:
        report = lint_path(path)
        assert report.files == 1
        assert gc.collect() == 0
    finally:
        gc.enable()
