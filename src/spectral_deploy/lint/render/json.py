"""``--format json``: one document, lines and columns 1-based (columns in code points).

``{"violations": [{"path", "line", "column", "rule", "code", "message", "help"}],
"overrides": [{"path", "reason"}], "errors": [{"path", "line", "column", "message"}]}``

A violation in a revision file a migration tool rendered (Alembic, Django) also carries
``"sql": {"command", "line", "column"}``: where it is in the SQL that command prints.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from spectral_deploy.lint.rule import Rule
from spectral_deploy.lint.violation import Report

__all__ = ["render"]


def render(report: Report, rules: Sequence[Rule]) -> str:
    """The report as the documented JSON shape."""
    violations: list[dict[str, object]] = []
    for v in report.violations:
        entry: dict[str, object] = {
            "path": v.path,
            "line": v.line,
            "column": v.column,
            "rule": v.rule,
            "code": v.code,
            "message": v.message,
            "help": v.help,
        }
        if v.rendered is not None:
            entry["sql"] = {
                "command": v.rendered.command,
                "line": v.rendered.start.line,
                "column": v.rendered.start.column,
            }
        violations.append(entry)
    document: dict[str, list[dict[str, object]]] = {
        "violations": violations,
        "overrides": [{"path": o.path, "reason": o.reason} for o in report.overrides],
        "errors": [
            {"path": e.path, "line": e.line, "column": e.column, "message": e.message}
            for e in report.errors
        ],
    }
    return _dumps(document)


def _dumps(document: dict[str, list[dict[str, object]]]) -> str:
    """One entry a line: readable, and encoded by the C encoder (``indent`` would disable it)."""
    sections = []
    for key, entries in document.items():
        items = ",\n".join("    " + json.dumps(e, ensure_ascii=False) for e in entries)
        body = f"[\n{items}\n  ]" if entries else "[]"
        sections.append(f"  {json.dumps(key)}: {body}")
    return "{\n" + ",\n".join(sections) + "\n}\n"
