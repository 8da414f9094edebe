"""The engine's forked workers: same report as one process, failures surface."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from spectral_deploy.lint import engine
from spectral_deploy.lint.context import Context
from spectral_deploy.lint.engine import LintFile, lint_change_sets
from spectral_deploy.lint.parse import Statement
from spectral_deploy.lint.rule import Rule
from spectral_deploy.lint.violation import Finding
from tests.unit.lintkit import DEFAULT_RULES


def _files(tmp_path: Path, count: int) -> list[list[LintFile]]:
    change_sets = []
    for number in range(count):
        path = tmp_path / f"{number:04}.sql"
        path.write_text(f"DROP TABLE t{number};\n" * (number + 1), encoding="utf-8")
        change_sets.append([LintFile(path, path.name)])
    return change_sets


def test_forked_workers_give_the_single_process_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With forking forced on small input, the report is identical and in file order."""
    change_sets = _files(tmp_path, 9)
    serial = lint_change_sets(change_sets, DEFAULT_RULES, jobs=1)
    monkeypatch.setattr(engine, "PARALLEL_MIN_BYTES", 0)
    assert lint_change_sets(change_sets, DEFAULT_RULES, jobs=3) == serial
    assert [v.path for v in serial.violations][:3] == ["0000.sql", "0001.sql", "0001.sql"]


def _explode(statement: Statement, context: Context) -> Iterable[Finding]:
    raise ValueError(f"boom at {statement.start}")


def test_an_error_in_a_worker_is_raised_in_the_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in a rule running in a worker is not swallowed."""
    broken = Rule("MC999", "broken", "", "", "Broken.", "", "", ("DropStmt",), _explode)
    monkeypatch.setattr(engine, "PARALLEL_MIN_BYTES", 0)
    with pytest.raises(ValueError, match="boom"):
        lint_change_sets(_files(tmp_path, 4), [broken], jobs=2)
