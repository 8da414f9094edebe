"""One renderer per output format; each turns a ``Report`` into the exact text to print.

Only the renderer asked for is imported: the lint's start-up time is paid on every
pull request.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from enum import StrEnum

from spectral_deploy.lint.rule import Rule
from spectral_deploy.lint.violation import Report

__all__ = ["LintFormat", "render"]


class LintFormat(StrEnum):
    """``spectral-deploy lint --format``; each value names its module in this package."""

    TEXT = "text"
    JSON = "json"
    GITHUB = "github"
    SARIF = "sarif"


def render(report: Report, format_: LintFormat, rules: Sequence[Rule]) -> str:
    """The report in ``format_``; ``rules`` are the rules the run used."""
    module = importlib.import_module(f"{__name__}.{format_.value}")
    renderer: Callable[[Report, Sequence[Rule]], str] = module.render
    return renderer(report, rules)
