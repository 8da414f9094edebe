"""Helpers for the lint's unit tests: lint SQL text with chosen rules."""

from __future__ import annotations

from spectral_deploy.lint.engine import SqlText, lint_text
from spectral_deploy.lint.registry import all_rules, find_rule
from spectral_deploy.lint.violation import OverrideScope, Report

DEFAULT_RULES = tuple(rule for rule in all_rules() if rule.default)


def lint(
    sql: str,
    *rules: str,
    path: str = "m.sql",
    history: str | None = None,
    scope: OverrideScope = OverrideScope.FILE,
) -> Report:
    """Lint ``sql`` as one file with the named rules (default: the default rules).

    ``history``: the earlier migrations, replayed into the schema model first ("" is an
    empty but known history: a project's first migration).
    """
    chosen = tuple(find_rule(name) for name in rules) if rules else DEFAULT_RULES
    assert all(rule is not None for rule in chosen), rules
    return lint_text(
        sql,
        [rule for rule in chosen if rule is not None],
        path=path,
        history=() if history is None else (SqlText("history.sql", history),),
        override_scope=scope,
    )


def fired(sql: str, *rules: str, history: str | None = None) -> list[str]:
    """The rule names that fire on ``sql``, in report order."""
    report = lint(sql, *rules, history=history)
    assert not report.errors, report.errors
    return [v.rule for v in report.violations]
