"""Adding a column whose value must be computed for every row: a table rewrite.

## What it does
Flags `ALTER TABLE ... ADD COLUMN` on a table that is not new when PostgreSQL has to
compute a value for each existing row: a `DEFAULT` that calls a volatile function
(`gen_random_uuid()`, `random()`, `clock_timestamp()`, `nextval(...)`, a function of the
project declared without `STABLE` or `IMMUTABLE`), a `serial` type, an identity column,
or a `GENERATED ... STORED` column. A constant default, or a stable one (`now()`,
`CURRENT_TIMESTAMP`), is stored once in the catalog and costs nothing (PostgreSQL 11+).

## Why it breaks old code
The whole table and its indexes are rewritten while an `ACCESS EXCLUSIVE` lock is held:
every read and write of the running (N-1) release waits until it is done, minutes on a
large table, which looks like an outage.

## Instead
Add the column without the default (or with a constant one), set the volatile default in
a separate statement (`ALTER COLUMN ... SET DEFAULT gen_random_uuid()` applies to new rows
only and is instant), and backfill the existing rows in batches. For an identity, add a
nullable column, fill it from a sequence in batches, then attach the sequence.

## Known problems
A function of another schema the model does not know is taken for stable (its volatility
is not in the history); a small table rewrites fast, and the lint does not know sizes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from spectral_deploy.lint.context import Context
from spectral_deploy.lint.names import ObjectKind
from spectral_deploy.lint.parse import Node, Statement, string_list, walk
from spectral_deploy.lint.rule import Rule, alter_commands
from spectral_deploy.lint.violation import Finding

__all__ = ["RULE"]

_SERIAL = frozenset({"serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"})
_VOLATILE: frozenset[str] | None = None


def volatile_functions() -> frozenset[str]:
    """PostgreSQL's volatile built-in function names (read once, on first use)."""
    global _VOLATILE  # noqa: PLW0603 - a lazily read constant
    if _VOLATILE is None:
        # next to the package's modules (importlib.resources would cost more to import than
        # the read)
        path = Path(__file__).parent.parent / "volatile_functions.txt"
        text = path.read_text(encoding="utf-8")
        lines = (line.strip() for line in text.splitlines())
        _VOLATILE = frozenset(line for line in lines if line and not line.startswith("#"))
    return _VOLATILE


def check(statement: Statement, context: Context) -> Iterator[Finding]:
    """Flag ADD COLUMN that makes PostgreSQL rewrite an existing table."""
    table = context.relation(statement.node["relation"])
    for command in alter_commands(statement, "AT_AddColumn"):
        column = command.get("def", {}).get("ColumnDef", {})
        name = column.get("colname", "")
        if command.get("missing_ok") and context.model.has_column(table, name):
            continue  # already there: nothing is added
        why = _why_rewrite(column, context)
        if why is None:
            continue
        start = statement.offset(column.get("location"))
        yield Finding(
            (start, statement.clause_end(start)),
            f'adding column "{name}" to table {table.display} {why} rewrites the table and '
            "its indexes under an ACCESS EXCLUSIVE lock, blocking the running release",
            (ObjectKind.TABLE, table),
        )


def _why_rewrite(column: Node, context: Context) -> str | None:
    names = string_list(column.get("typeName", {}).get("names"))
    if names and names[-1] in _SERIAL:
        return f"as {names[-1]} (a sequence value for every row)"
    for item in column.get("constraints", ()):
        constraint = item.get("Constraint", {})
        contype = constraint.get("contype")
        if contype == "CONSTR_IDENTITY":
            return "as an identity column (a sequence value for every row)"
        if contype == "CONSTR_GENERATED" and constraint.get("generated_kind") == "s":
            return "as GENERATED ... STORED (computed for every row)"
        if contype == "CONSTR_DEFAULT":
            called = _volatile_call(constraint.get("raw_expr"), context)
            if called is not None:
                return f"with the volatile default {called}() (computed for every row)"
    return None


def _volatile_call(expression: Node | None, context: Context) -> str | None:
    """The first volatile function the default calls, if any."""
    volatile = volatile_functions()
    for node in walk(expression):
        names = string_list(node["FuncCall"].get("funcname")) if "FuncCall" in node else []
        # a built-in or an extension's (uuid-ossp, pgcrypto: in whatever schema), or
        # one of the project's own declared without STABLE or IMMUTABLE
        if names and (
            names[-1] in volatile or context.qualify(names) in context.model.volatile_routines
        ):
            return ".".join(names)
    return None


RULE = Rule(
    code="MC205",
    name="adding-column-rewrites-table",
    summary="ADD COLUMN with a volatile default, serial, identity or stored generated value",
    help="add the column without the default, SET DEFAULT in a separate statement, and "
    "backfill existing rows in batches",
    doc=__doc__ or "",
    bad="ALTER TABLE orders ADD COLUMN public_id uuid DEFAULT gen_random_uuid();\n"
    "ALTER TABLE orders ADD COLUMN seq bigserial;",
    ok="ALTER TABLE orders ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();\n"
    "ALTER TABLE orders ADD COLUMN public_id uuid;\n"
    "ALTER TABLE orders ALTER COLUMN public_id SET DEFAULT gen_random_uuid();",
    nodes=("AlterTableStmt",),
    check=check,
)
