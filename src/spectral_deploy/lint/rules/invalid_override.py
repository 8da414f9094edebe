"""An override marker without a reason.

## What it does
Reports a SQL comment that starts with `compat:` but is not a complete override marker
`-- compat: breaking (reason: <text>)` with a non-empty reason: a bare
`-- compat: breaking`, an empty `(reason: )`, or a misspelt form. Text inside string
literals and dollar-quoted bodies is not a comment and is never read as a marker.

## Why it breaks old code
The marker is how a migration knowingly opts into a breaking change; reviewers sign off on
the stated reason. A marker without a reason gives them nothing to sign off on, and a
misspelt one would silently not apply.

## Instead
Write the marker in full, saying why the change is acceptable:
`-- compat: breaking (reason: column unused since v2.3, dropped after two releases)`.

## Known problems
None known. An override never hides this rule.
"""

from __future__ import annotations

from spectral_deploy.lint.rule import Rule

__all__ = ["RULE"]

RULE = Rule(
    code="MC001",
    name="invalid-override",
    summary="compat: override marker with no or an empty reason",
    help="write `-- compat: breaking (reason: <why this is acceptable>)` with a real reason",
    doc=__doc__ or "",
    bad="-- compat: breaking\nALTER TABLE users DROP COLUMN email;",
    ok="-- compat: breaking (reason: email moved to user_emails in v1.8, unused since)\n"
    "ALTER TABLE users DROP COLUMN email;",
)
