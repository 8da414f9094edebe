"""One renderer per output format; each turns a ``Report`` into the exact text to print."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum

from spectral_deploy.lint.render import github, json, sarif, text
from spectral_deploy.lint.rule import Rule
from spectral_deploy.lint.violation import Report

__all__ = ["LintFormat", "render"]


class LintFormat(StrEnum):
    """``spectral-deploy lint --format``."""

    TEXT = "text"
    JSON = "json"
    GITHUB = "github"
    SARIF = "sarif"


_RENDERERS: dict[LintFormat, Callable[[Report, Sequence[Rule]], str]] = {
    LintFormat.TEXT: text.render,
    LintFormat.JSON: json.render,
    LintFormat.GITHUB: github.render,
    LintFormat.SARIF: sarif.render,
}


def render(report: Report, format_: LintFormat, rules: Sequence[Rule]) -> str:
    """The report in ``format_``; ``rules`` are the rules the run used."""
    return _RENDERERS[format_](report, rules)
