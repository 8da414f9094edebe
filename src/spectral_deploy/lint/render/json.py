"""``--format json``: one document, lines and columns 1-based (columns in code points).

``{"violations": [{"path", "line", "column", "rule", "code", "message", "help"}],
"overrides": [{"path", "reason", "line", "scope", "covers": [{"path", "line", "column",
"rule", "code", "message"}], "signoff": null | {"signed", "detail"}}], "errors": [{"path",
"line", "column", "message"}], "notes": ["..."]}``: each override lists every finding its
marker covers, and, with ``--require-signoff``, whether it is signed off.

A violation in a revision file a migration tool rendered (Alembic, Django), and each finding
an override covers there, also carries ``"sql": {"command", "line", "column"}``: where it is
in the SQL that command prints.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from spectral_deploy.lint.rule import Rule
from spectral_deploy.lint.violation import Report, Violation

__all__ = ["render"]


def render(report: Report, rules: Sequence[Rule]) -> str:
    """The report as the documented JSON shape."""
    document: dict[str, list[Any]] = {
        "violations": [{**_violation(v), "help": v.help, **_sql(v)} for v in report.violations],
        "overrides": [
            {
                "path": o.path,
                "reason": o.reason,
                "line": o.line,
                "scope": o.scope.value,
                "covers": [{**_violation(v), **_sql(v)} for v in o.covers],
                "signoff": (
                    {"signed": o.signoff.signed, "detail": o.signoff.detail}
                    if o.signoff is not None
                    else None
                ),
            }
            for o in report.overrides
        ],
        "errors": [
            {"path": e.path, "line": e.line, "column": e.column, "message": e.message}
            for e in report.errors
        ],
        "notes": list(report.notes),
    }
    return _dumps(document)


def _violation(v: Violation) -> dict[str, Any]:
    return {
        "path": v.path,
        "line": v.line,
        "column": v.column,
        "rule": v.rule,
        "code": v.code,
        "message": v.message,
    }


def _sql(v: Violation) -> dict[str, Any]:
    """Where a finding in a tool-rendered revision sits in the SQL (nothing for plain SQL)."""
    if v.rendered is None:
        return {}
    return {
        "sql": {
            "command": v.rendered.command,
            "line": v.rendered.start.line,
            "column": v.rendered.start.column,
        }
    }


def _dumps(document: dict[str, list[Any]]) -> str:
    """One entry a line: readable, and encoded by the C encoder (``indent`` would disable it)."""
    sections = []
    for key, entries in document.items():
        items = ",\n".join("    " + json.dumps(e, ensure_ascii=False) for e in entries)
        body = f"[\n{items}\n  ]" if entries else "[]"
        sections.append(f"  {json.dumps(key)}: {body}")
    return "{\n" + ",\n".join(sections) + "\n}\n"
