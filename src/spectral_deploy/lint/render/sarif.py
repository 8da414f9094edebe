"""``--format sarif``: SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

Columns are Unicode code points (``columnKind``). Each rule the run used is listed
with its doc page; files that could not be linted are error notifications of the
invocation, and overrides are note notifications that need reviewer signoff. A finding
an override covers is a result with an in-source suppression (status ``underReview``:
it waits for the signoff), its justification the marker's reason.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from spectral_deploy._version import __version__
from spectral_deploy.lint.rule import Rule
from spectral_deploy.lint.violation import Override, Report, Violation

__all__ = ["SARIF_SCHEMA", "render"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def render(report: Report, rules: Sequence[Rule]) -> str:
    """The report as one SARIF 2.1.0 log with one run."""
    index = {rule.name: i for i, rule in enumerate(rules)}
    results = [_result(v, index) for v in report.violations]
    for o in report.overrides:
        for v in o.covers:
            result = _result(v, index)
            signed = o.signoff is not None and o.signoff.signed
            result["suppressions"] = [
                {
                    "kind": "inSource",
                    "status": "accepted" if signed else "underReview",
                    "justification": f"{o.reason} (marker on line {o.line})",
                    "location": _location(o.path, o.line, 1),
                }
            ]
            results.append(result)
    notifications = (
        [
            {
                "level": "error",
                "message": {"text": e.message},
                "locations": [_location(e.path, e.line, e.column)],
            }
            for e in report.errors
        ]
        + [
            {
                "level": "error" if o.signoff is not None and not o.signoff.signed else "note",
                "message": {
                    "text": f"compat: breaking override {_status(o)}: {o.reason}; "
                    f"covers {len(o.covers)} finding(s)"
                    + "".join(f"; {v.path}:{v.line}:{v.column} {v.code} {v.rule}" for v in o.covers)
                },
                "locations": [_location(o.path, o.line, 1)],
            }
            for o in report.overrides
        ]
        + [{"level": "note", "message": {"text": note}} for note in report.notes]
    )
    run = {
        "tool": {
            "driver": {
                "name": "spectral-deploy lint",
                "version": __version__,
                "rules": [_rule(rule) for rule in rules],
            }
        },
        "invocations": [
            {
                "executionSuccessful": not report.errors,
                "toolExecutionNotifications": notifications,
            }
        ],
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _status(o: Override) -> str:
    if o.signoff is None:
        return "needs reviewer signoff"
    return f"signed off ({o.signoff.detail})" if o.signoff.signed else o.signoff.detail


def _result(v: Violation, index: dict[str, int]) -> dict[str, Any]:
    where = (
        f" (in the SQL of `{v.rendered.command}`, line {v.rendered.start.line})"
        if v.rendered is not None
        else ""
    )
    result: dict[str, Any] = {
        "ruleId": v.code,
        "level": "error",
        "message": {"text": f"{v.message}{where}. Help: {v.help}"},
        "locations": [_location(v.path, v.start.line, v.start.column, v.end.line, v.end.column)],
    }
    if v.rule in index:
        result["ruleIndex"] = index[v.rule]
    return result


def _rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.title},
        "help": {"text": rule.help, "markdown": rule.doc.strip()},
        "defaultConfiguration": {"level": "error", "enabled": rule.default},
    }


def _location(
    path: str, line: int, column: int, end_line: int | None = None, end_column: int | None = None
) -> dict[str, Any]:
    region: dict[str, int] = {"startLine": line, "startColumn": column}
    if end_line is not None and end_column is not None:
        region["endLine"] = end_line
        region["endColumn"] = end_column
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": quote(path.replace("\\", "/"))},
            "region": region,
        }
    }
