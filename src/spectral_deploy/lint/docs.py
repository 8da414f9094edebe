"""Rule documentation: each rule's module docstring as a Markdown page.

``spectral-deploy lint --explain RULE`` prints a page; ``make docs`` (``python -m
spectral_deploy.lint.docs docs/rules``) writes every page plus an index, and a test
checks that the committed ``docs/rules/`` matches.
"""

from __future__ import annotations

import sys
from pathlib import Path

from spectral_deploy.lint.registry import all_rules
from spectral_deploy.lint.rule import Rule

__all__ = ["index_page", "rule_page", "rule_pages", "write_docs"]


def rule_page(rule: Rule) -> str:
    """The Markdown doc page of one rule."""
    title, _, body = rule.doc.strip().partition("\n")
    default = (
        "on by default"
        if rule.default
        else f'off by default; turn it on with `enable = ["{rule.name}"]` under `[lint]`'
    )
    return (
        f"# {rule.name} ({rule.code})\n\n"
        f"{title}\n\n"
        f"*{default}. Disable with `--ignore {rule.name}` or "
        f'`disable = ["{rule.name}"]` under `[lint]`.*\n\n'
        f"{body.strip()}\n\n"
        "## Examples\n\n"
        f"{_history(rule)}"
        f"Flagged:\n\n```sql\n{rule.bad.strip()}\n```\n\n"
        f"Not flagged:\n\n```sql\n{rule.ok.strip()}\n```\n"
    )


def _history(rule: Rule) -> str:
    if not rule.history:
        return ""
    return f"Given the earlier migrations:\n\n```sql\n{rule.history.strip()}\n```\n\n"


def index_page() -> str:
    """The index of all rules."""
    rows = "".join(
        f"| {r.code} | [{r.name}]({r.name}.md) | {'on' if r.default else 'off'} | {r.summary} |\n"
        for r in all_rules()
    )
    return (
        "# Migration-compat lint rules\n\n"
        "Generated from the rule modules' docstrings by `make docs`; do not edit by hand.\n\n"
        "| code | rule | default | flags |\n|---|---|---|---|\n" + rows
    )


def rule_pages() -> dict[str, str]:
    """File name -> content of every page, the index included."""
    pages = {f"{rule.name}.md": rule_page(rule) for rule in all_rules()}
    pages["README.md"] = index_page()
    return pages


def write_docs(directory: Path) -> None:
    """Write every page into ``directory``, removing pages of rules that no longer exist."""
    directory.mkdir(parents=True, exist_ok=True)
    pages = rule_pages()
    for stale in directory.glob("*.md"):
        if stale.name not in pages:
            stale.unlink()
    for name, content in pages.items():
        (directory / name).write_text(content, encoding="utf-8")


if __name__ == "__main__":
    write_docs(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/rules"))
