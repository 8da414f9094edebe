"""docs/rules/ is generated from the rule docstrings and must be up to date."""

from __future__ import annotations

from pathlib import Path

from spectral_deploy.lint.docs import rule_page, rule_pages
from spectral_deploy.lint.registry import find_rule

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules"


def test_committed_docs_match_the_docstrings() -> None:
    """Every page is committed as generated, and no stale page is left (run `make docs`)."""
    expected = rule_pages()
    committed = {path.name: path.read_text(encoding="utf-8") for path in DOCS.glob("*.md")}
    assert sorted(committed) == sorted(expected)
    for name, content in expected.items():
        assert committed[name] == content, f"docs/rules/{name} is stale: run `make docs`"


def test_page_has_title_default_sections_and_examples() -> None:
    """A page names the rule and code, its default, the doc sections and both examples."""
    rule = find_rule("drop-column")
    assert rule is not None
    page = rule_page(rule)
    assert page.startswith("# drop-column (MC102)\n\nDropping a column.\n")
    assert "*on by default." in page
    assert "## Why it breaks old code" in page
    assert "```sql\nALTER TABLE users DROP COLUMN email;\n```" in page
