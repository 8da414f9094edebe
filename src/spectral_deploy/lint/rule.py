"""The shape of a rule: code, name, doc page, examples, and the check itself.

Each rule lives in its own module under ``rules/``; the module docstring is the rule's
doc page (What it does / Why it breaks old code / Instead / Known problems), printed by
``spectral-deploy lint --explain`` and rendered into ``docs/rules/``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import NamedTuple

from spectral_deploy.lint.context import Context, dropped_names
from spectral_deploy.lint.names import ObjectKind, QualifiedName
from spectral_deploy.lint.parse import Node, Statement, string_list
from spectral_deploy.lint.violation import Finding

__all__ = [
    "Check",
    "Rule",
    "alter_commands",
    "drop_findings",
    "index_exists",
    "object_name",
    "validated_too_soon",
]

Check = Callable[[Statement, Context], Iterable[Finding]]


def _no_check(statement: Statement, context: Context) -> Iterable[Finding]:
    return ()


class Rule(NamedTuple):
    """One lint rule.

    ``nodes`` are the statement types ``check`` is called for; a rule with none is
    reported by the engine itself (override markers, DO blocks it cannot see into).
    ``bad`` must make the rule fire and ``ok`` must not: the tests run both, each as a
    change set after ``history`` (the earlier migrations the examples assume, if any).
    """

    code: str
    name: str
    summary: str
    help: str
    doc: str
    bad: str
    ok: str
    nodes: tuple[str, ...] = ()
    check: Check = _no_check
    default: bool = True
    history: str = ""

    @property
    def title(self) -> str:
        """The first line of the doc page."""
        return self.doc.strip().splitlines()[0].rstrip(".")


def alter_commands(statement: Statement, *subtypes: str) -> Iterator[Node]:
    """The ``AlterTableCmd`` nodes of an ``ALTER TABLE`` with one of ``subtypes``."""
    if statement.node.get("objtype") != "OBJECT_TABLE":
        return
    for item in statement.node.get("cmds", ()):
        command = item.get("AlterTableCmd")
        if command is not None and command.get("subtype") in subtypes:
            yield command


def drop_findings(
    statement: Statement,
    context: Context,
    remove_types: dict[str, str],
    kind: ObjectKind,
    consequence: str,
) -> Iterator[Finding]:
    """One finding per object a ``DROP`` of one of ``remove_types`` (type -> noun) removes.

    ``DROP ... IF EXISTS`` of an object the schema model knows does not exist changes
    nothing and is not reported.
    """
    noun = remove_types.get(statement.node.get("removeType", ""))
    if noun is None:
        return
    missing_ok = bool(statement.node.get("missing_ok"))
    for name in dropped_names(context, statement.node):
        if missing_ok and context.known_absent(kind, name):
            continue
        yield Finding(
            partial(statement.clause, "DROP", name=name.name),
            f"dropping {noun} {name.display} {consequence}",
            (kind, name),
            replaced=context.origin(name) if kind is ObjectKind.VIEW else None,
        )


def validated_too_soon(
    statement: Statement, context: Context, contype: str, what: str
) -> Iterator[Finding]:
    """``VALIDATE CONSTRAINT`` in the transaction that added the constraint ``NOT VALID``.

    The ``ADD`` took an ``ACCESS EXCLUSIVE`` lock that is held until the transaction ends,
    so validating before a ``COMMIT`` scans the table under it, as if ``NOT VALID`` had not
    been written.
    """
    table = context.relation(statement.node["relation"])
    for command in alter_commands(statement, "AT_ValidateConstraint"):
        name = command.get("name", "")
        if context.added_not_valid(table, name) != contype:
            continue
        yield Finding(
            partial(statement.clause, "VALIDATE", "CONSTRAINT", name=name),
            f'validating {what} "{name}" of table {table.display} in the transaction that '
            "added it NOT VALID scans every row under the ADD's ACCESS EXCLUSIVE lock, "
            "blocking the running release",
            (ObjectKind.TABLE, table),
        )


def index_exists(statement: Statement, context: Context) -> bool:
    """True for ``CREATE INDEX IF NOT EXISTS`` of an index that exists (a no-op)."""
    node = statement.node
    name = node.get("idxname")
    if not node.get("if_not_exists") or not name:
        return False
    table = context.relation(node["relation"])
    return context.model.exists(ObjectKind.INDEX, QualifiedName(table.schema, name)) is True


def object_name(node: Node, context: Context) -> QualifiedName | None:
    """The object a ``RenameStmt`` or ``AlterObjectSchemaStmt`` acts on (None for a schema)."""
    if node.get("relation"):
        return context.relation(node["relation"])
    target = node.get("object") or {}
    if "ObjectWithArgs" in target:
        return context.qualify(string_list(target["ObjectWithArgs"].get("objname")))
    if "List" in target:
        return context.qualify(string_list(target["List"].get("items")))
    if "TypeName" in target:
        return context.qualify(string_list(target["TypeName"].get("names")))
    return None
