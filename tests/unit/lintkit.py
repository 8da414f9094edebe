"""Helpers for the lint's unit tests: lint SQL text with chosen rules."""

from __future__ import annotations

from spectral_deploy.lint.engine import lint_text
from spectral_deploy.lint.registry import all_rules, find_rule
from spectral_deploy.lint.violation import Report

DEFAULT_RULES = tuple(rule for rule in all_rules() if rule.default)


def lint(sql: str, *rules: str, path: str = "m.sql") -> Report:
    """Lint ``sql`` as one file with the named rules (default: the default rules)."""
    chosen = tuple(find_rule(name) for name in rules) if rules else DEFAULT_RULES
    assert all(rule is not None for rule in chosen), rules
    return lint_text(sql, [rule for rule in chosen if rule is not None], path=path)


def fired(sql: str, *rules: str) -> list[str]:
    """The rule names that fire on ``sql``, in report order."""
    report = lint(sql, *rules)
    assert not report.errors, report.errors
    return [v.rule for v in report.violations]
