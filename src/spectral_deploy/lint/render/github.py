"""``--format github``: GitHub Actions workflow commands, one annotation per line.

Violations and unreadable files are ``::error``; overrides are ``::warning`` so the
reviewer who must sign them off sees them on the pull request: one on the marker, listing
what it covers, and one on each covered finding, naming the marker.
"""

from __future__ import annotations

from collections.abc import Sequence

from spectral_deploy.lint.rule import Rule
from spectral_deploy.lint.violation import Report

__all__ = ["render"]


def render(report: Report, rules: Sequence[Rule]) -> str:
    """One workflow command per violation, error and override."""
    lines: list[str] = []
    for v in report.violations:
        properties = {
            "file": v.path,
            "line": str(v.start.line),
            "col": str(v.start.column),
            "endLine": str(v.end.line),
            "endColumn": str(v.end.column),
            "title": f"{v.code} {v.rule}",
        }
        where = (
            f"\nin the SQL of `{v.rendered.command}`, line {v.rendered.start.line}"
            if v.rendered is not None
            else ""
        )
        lines.append(_command("error", properties, f"{v.message}{where}\nhelp: {v.help}"))
    for e in report.errors:
        properties = {
            "file": e.path,
            "line": str(e.line),
            "col": str(e.column),
            "title": "migration lint: cannot check file",
        }
        lines.append(_command("error", properties, e.message))
    for o in report.overrides:
        properties = {"file": o.path, "line": str(o.line), "title": "compat: breaking override"}
        covered = "".join(f"\n- {v.path}:{v.line}:{v.column} {v.code} {v.rule}" for v in o.covers)
        covers = f"\ncovers:{covered}" if covered else "\ncovers no finding"
        if o.signoff is None:
            lines.append(
                _command("warning", properties, f"needs reviewer signoff: {o.reason}{covers}")
            )
        elif o.signoff.signed:
            text = f"signed off ({o.signoff.detail}): {o.reason}{covers}"
            lines.append(_command("notice", properties, text))
        else:
            properties["title"] = "compat: breaking override not signed off"
            lines.append(_command("error", properties, f"{o.signoff.detail}: {o.reason}{covers}"))
        for v in o.covers:
            properties = {
                "file": v.path,
                "line": str(v.start.line),
                "col": str(v.start.column),
                "endLine": str(v.end.line),
                "endColumn": str(v.end.column),
                "title": f"{v.code} {v.rule} (overridden)",
            }
            message = f"{v.message}\noverridden by the marker on line {o.line}: {o.reason}"
            lines.append(_command("warning", properties, message))
    for note in report.notes:
        lines.append(_command("notice", {"title": "migration lint"}, note))
    return "".join(line + "\n" for line in lines)


def _command(kind: str, properties: dict[str, str], message: str) -> str:
    rendered = ",".join(f"{key}={_escape_property(value)}" for key, value in properties.items())
    return f"::{kind} {rendered}::{_escape_data(message)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
