"""A DO block the lint cannot see into.

## What it does
The lint parses the PL/pgSQL body of every `DO` block and checks the SQL inside it, static
statements and `EXECUTE` of constant strings alike, with all the other rules. This rule
reports what it cannot check: `EXECUTE` of a string built at run time
(`EXECUTE format('ALTER TABLE %I ...', name)`), a body in a language other than
PL/pgSQL, and a body the PL/pgSQL parser rejects.

## Why it breaks old code
Whatever that SQL does is invisible to review by the lint: it may drop or rename exactly
what the running release uses. Passing it silently would make the lint's verdict a lie.

## Instead
Write the DDL as plain statements (PostgreSQL's `IF EXISTS` / `IF NOT EXISTS` cover most
reasons for dynamic SQL), or review the block and add the override marker with the
reason.

## Known problems
Dynamic SQL that only reads (`FOR r IN EXECUTE 'SELECT ...'` with a computed string) is
reported too: the lint cannot tell what a computed string will hold.
"""

from __future__ import annotations

from spectral_deploy.lint.rule import Rule

__all__ = ["RULE"]

RULE = Rule(
    code="MC002",
    name="opaque-do-block",
    summary="DO block running SQL the lint cannot analyse",
    help="write the DDL as plain statements, or review the block and add the override "
    "marker with the reason",
    doc=__doc__ or "",
    bad="DO $$ BEGIN EXECUTE format('ALTER TABLE %I DROP COLUMN legacy', 'users'); END $$;",
    ok="DO $$ BEGIN\n  IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'mood') THEN\n"
    "    CREATE TYPE mood AS ENUM ('ok', 'sad');\n  END IF;\nEND $$;",
)
