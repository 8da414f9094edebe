"""The lint over the real-world corpus (588 migrations from six projects), against squawk.

The corpus is found through ``SPECTRAL_CORPUS``, else ``<repo>/../shared/corpus/migrations``,
else ``/work/shared/corpus/migrations``; without any of them the tests are skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path

import pytest
from pglast.parser import ParseError, parse_sql_json

from spectral_deploy.config import LintConfig
from spectral_deploy.lint.coltype import Verdict, judge, type_of
from spectral_deploy.lint.context import Context
from spectral_deploy.lint.engine import LintFile, lint_change_sets, lint_timelines
from spectral_deploy.lint.history import plan
from spectral_deploy.lint.parse import Statement
from spectral_deploy.lint.registry import all_rules, select_rules
from spectral_deploy.lint.rule import Rule, alter_commands
from spectral_deploy.lint.violation import Finding, Report

REPO = Path(__file__).resolve().parents[2]
# squawk's rule for each of ours that the issue compares (DROP TABLE / DROP COLUMN / TYPE)
SQUAWK_RULES = {
    "ban-drop-table": "drop-table",
    "ban-drop-column": "drop-column",
    "changing-column-type": "alter-column-type",
}


def find_corpus() -> Path | None:
    """The corpus directory, if this machine has one."""
    candidates = [
        os.environ.get("SPECTRAL_CORPUS"),
        str(REPO.parent / "shared" / "corpus" / "migrations"),
        "/work/shared/corpus/migrations",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


CORPUS = find_corpus()
pytestmark = pytest.mark.skipif(
    CORPUS is None,
    reason="no corpus: set SPECTRAL_CORPUS or put it at ../shared/corpus/migrations",
)


@pytest.fixture(scope="module")
def files() -> list[str]:
    """Every migration of the corpus, as paths relative to it, sorted."""
    assert CORPUS is not None
    found = sorted(
        str(path.relative_to(CORPUS))
        for path in CORPUS.rglob("*")
        if path.name.endswith((".sql", ".sql.postgres"))
    )
    assert len(found) > 500
    return found


def lint_corpus(
    files: list[str],
    rules: Sequence[Rule] | None = None,
    *,
    jobs: int = 1,
    exempt_new: bool = True,
) -> Report:
    """Lint the corpus files, each its own change set."""
    assert CORPUS is not None
    return lint_change_sets(
        [[LintFile(CORPUS / name, name)] for name in files],
        select_rules(LintConfig()) if rules is None else rules,
        jobs=jobs,
        exempt_new=exempt_new,
    )


@pytest.fixture(scope="module")
def report(files: list[str]) -> Report:
    """The default rules over the whole corpus, one change set per file, one process."""
    return lint_corpus(files, jobs=1)


def test_every_file_is_linted_or_its_parse_failure_reported(
    files: list[str], report: Report
) -> None:
    """No crash; exactly the files libpg_query rejects are errors, each with a position."""
    assert CORPUS is not None
    unparseable = set()
    for name in files:
        try:
            parse_sql_json((CORPUS / name).read_text(encoding="utf-8"))
        except ParseError:
            unparseable.add(name)
    assert report.files == len(files)
    assert {error.path for error in report.errors} == unparseable
    for error in report.errors:
        lines = (CORPUS / error.path).read_text(encoding="utf-8").splitlines()
        assert 1 <= error.line <= len(lines)
        assert 1 <= error.column <= len(lines[error.line - 1]) + 1
        assert error.message.startswith("syntax error")
    assert report.violations, "the corpus has breaking changes; finding none means a bug"


def test_parallel_run_equals_single_process_run(files: list[str], report: Report) -> None:
    """Forked workers produce the same report, in the same order."""
    assert lint_corpus(files, jobs=2) == report


def _squawk_findings(files: list[str]) -> tuple[set[tuple[str, int, str]], set[str]]:
    squawk = shutil.which("squawk", path=str(Path(sys.executable).parent)) or shutil.which("squawk")
    if squawk is None:
        pytest.skip("squawk (dev extra squawk-cli) is not installed")
    result = subprocess.run(
        [squawk, "--reporter", "json", *files],
        cwd=CORPUS,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    findings = json.loads(result.stdout)
    unparsed = {f["file"] for f in findings if f["rule_name"] == "syntax-error"}
    compared = {
        (f["file"], f["line"] + 1, SQUAWK_RULES[f["rule_name"]])
        for f in findings
        if f["rule_name"] in SQUAWK_RULES and f["file"] not in unparsed
    }
    return compared, unparsed


def test_findings_agree_with_squawk(files: list[str]) -> None:
    """DROP TABLE / DROP COLUMN / ALTER COLUMN TYPE: same file, line and kind as squawk."""
    # Without history, and with new objects treated as existing (squawk tracks neither),
    # the findings are identical on every file both tools parse. With our exemption for
    # objects the change set created they still are: each file of the corpus that creates
    # a table and then changes it does so with IF NOT EXISTS, which without history may be
    # a table old code already uses.
    squawk, both = _compared(files)
    rules = [rule for rule in all_rules() if rule.name in SQUAWK_RULES.values()]

    def found(report: Report) -> set[tuple[str, int, str]]:
        return {(v.path, v.line, v.rule) for v in report.violations if v.path in both}

    assert len(squawk) > 250
    assert found(lint_corpus(files, rules, exempt_new=False)) == squawk
    assert found(lint_corpus(files, rules)) == squawk


def test_with_history_the_differences_are_widenings_and_no_op_drops(files: list[str]) -> None:
    """Replaying each project's earlier migrations, we report a subset of squawk's findings;
    each one missing is a type change the schema model knows is a widening (or no change),
    or a DROP TABLE IF EXISTS of a table the history never had (or dropped before)."""
    squawk, both = _compared(files)
    rules = [rule for rule in all_rules() if rule.name in SQUAWK_RULES.values()]
    verdicts: dict[str, set[Verdict]] = {}
    spy = Rule(
        "MC999",
        "type-verdicts",
        "",
        "",
        "Records the verdict on every type change.",
        "",
        "",
        ("AlterTableStmt",),
        partial(_record_verdicts, verdicts),
    )
    assert CORPUS is not None
    timelines = plan([LintFile(CORPUS / name, name) for name in files])
    report = lint_timelines(timelines, [*rules, spy])
    ours = {(v.path, v.line, v.rule) for v in report.violations if v.path in both}
    assert ours <= squawk
    missing = squawk - ours
    by_rule = {rule: {m for m in missing if m[2] == rule} for rule in SQUAWK_RULES.values()}
    assert by_rule["drop-column"] == set()
    for path, line, _ in by_rule["drop-table"]:
        statement = (CORPUS / path).read_text(encoding="utf-8").splitlines()[line - 1]
        assert statement.upper().startswith("DROP TABLE IF EXISTS"), (path, line)
    assert len(by_rule["alter-column-type"]) == 24
    for path, line, _ in by_rule["alter-column-type"]:
        statement = (CORPUS / path).read_text(encoding="utf-8").splitlines()[line - 1]
        assert verdicts[statement.strip()] <= {Verdict.SAME, Verdict.WIDENING}, (path, line)
    # the examples among them: varchar(n) -> text, varchar(n) -> varchar(m > n)
    assert verdicts["ALTER TABLE properties ALTER COLUMN v TYPE text;"] == {Verdict.WIDENING}
    assert verdicts["ALTER TABLE registry ALTER COLUMN url TYPE varchar(256);"] == {
        Verdict.WIDENING
    }


def _compared(files: list[str]) -> tuple[set[tuple[str, int, str]], set[str]]:
    """squawk's findings of the three rules on the files both tools parse, and those files."""
    squawk, squawk_unparsed = _squawk_findings(files)
    ours_unparsed = {error.path for error in lint_corpus(files).errors}
    both = set(files) - squawk_unparsed - ours_unparsed
    assert len(both) > 500
    return {finding for finding in squawk if finding[0] in both}, both


def _record_verdicts(
    verdicts: dict[str, set[Verdict]], statement: Statement, context: Context
) -> Iterable[Finding]:
    """A test rule: the schema model's verdict on each column type change, by statement."""
    table = context.relation(statement.node["relation"])
    for command in alter_commands(statement, "AT_AlterColumnType"):
        column = context.model.column(table, command.get("name", ""))
        new = type_of(command["def"]["ColumnDef"]["typeName"], context.schema)
        if column is not None and column.type is not None:
            text = statement.text.value[statement.start - statement.base :]
            line = text.splitlines()[0].strip()
            verdicts.setdefault(line, set()).add(judge(column.type, new))
    return ()
