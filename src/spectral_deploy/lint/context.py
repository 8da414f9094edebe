"""What a statement changes relative to what N-1 code knows: new versus existing objects.

A table (view, function, type, index) is *new* at a statement when the change set
created it earlier: earlier in the same file, or in an earlier file of the same change
set. Everything else is *existing*, and old code may use it. No rule fires on a new
object: a staging table created and dropped in one change set breaks nobody.

Names compare as PostgreSQL compares them: the parser has already folded unquoted
names to lower case and kept quoted ones; an unqualified name belongs to the first
schema of the ``search_path`` the file set (``public`` until it sets one).

``CREATE TABLE IF NOT EXISTS`` counts as creating the table (the idiom of migrations
that create tables idempotently); ``CREATE OR REPLACE`` does not, since what it replaces
existed before.

With ``--base REF`` the change set is the migration files added or changed since the
merge base of REF and HEAD (working tree and untracked files included); files before
them are history and are not read at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from spectral_deploy.errors import InputError, PreconditionFailed
from spectral_deploy.lint.parse import Node, Statement, string_list

__all__ = [
    "Context",
    "ObjectKind",
    "QualifiedName",
    "changed_files",
    "relation_name",
]

DEFAULT_SCHEMA = "public"
GIT_TIMEOUT_SECONDS = 30


class ObjectKind(StrEnum):
    """The kinds of object whose newness the lint tracks."""

    TABLE = "table"
    VIEW = "view"
    FUNCTION = "function"
    TYPE = "type"
    INDEX = "index"


@dataclass(frozen=True, order=True)
class QualifiedName:
    """A schema-qualified name, compared exactly (folding happened in the parser)."""

    schema: str
    name: str

    def __str__(self) -> str:
        return f"{_quote(self.schema)}.{_quote(self.name)}"

    @property
    def display(self) -> str:
        """The name as a migration would usually write it (``public.`` left out)."""
        return _quote(self.name) if self.schema == DEFAULT_SCHEMA else str(self)


@dataclass
class Context:
    """The running state of one change set while its statements are linted in order."""

    schema: str = DEFAULT_SCHEMA
    new: set[tuple[ObjectKind, QualifiedName]] = field(default_factory=set)
    new_columns: dict[QualifiedName, dict[str, bool]] = field(default_factory=dict)

    def qualify(self, names: Sequence[str]) -> QualifiedName:
        """``["s", "t"]`` or ``["t"]`` -> a qualified name (catalog prefixes dropped)."""
        if len(names) >= 2:
            return QualifiedName(names[-2], names[-1])
        return QualifiedName(self.schema, names[-1] if names else "")

    def relation(self, relation: Node) -> QualifiedName:
        """The qualified name of a ``RangeVar``."""
        return relation_name(relation, self.schema)

    def is_new(self, kind: ObjectKind, name: QualifiedName) -> bool:
        """True when the change set created ``name`` before this statement."""
        return (kind, name) in self.new

    def is_new_column(self, table: QualifiedName, column: str) -> bool:
        """True when the change set added ``column`` to an existing ``table``."""
        return column in self.new_columns.get(table, {})

    def new_column_has_default(self, table: QualifiedName, column: str) -> bool:
        """True when a column added by the change set was given a non-NULL default."""
        return self.new_columns.get(table, {}).get(column, False)

    def record(self, statement: Statement) -> None:
        """Note what ``statement`` creates, renames, moves or drops (after rules saw it)."""
        recorder = _RECORDERS.get(statement.kind)
        if recorder is not None:
            recorder(self, statement.node)

    def _created(self, kind: ObjectKind, name: QualifiedName) -> None:
        self.new.add((kind, name))

    def _dropped(self, kind: ObjectKind, name: QualifiedName) -> None:
        self.new.discard((kind, name))
        if kind is ObjectKind.TABLE:
            self.new_columns.pop(name, None)

    def _renamed(self, kind: ObjectKind, old: QualifiedName, new: QualifiedName) -> None:
        if (kind, old) in self.new:
            self.new.discard((kind, old))
            self.new.add((kind, new))
        if kind is ObjectKind.TABLE and old in self.new_columns:
            self.new_columns[new] = self.new_columns.pop(old)


def relation_name(relation: Node, schema: str = DEFAULT_SCHEMA) -> QualifiedName:
    """The qualified name of a ``RangeVar`` given the current default schema."""
    return QualifiedName(relation.get("schemaname") or schema, relation.get("relname", ""))


def has_default(column: Node) -> bool:
    """True when a ``ColumnDef`` gets a non-NULL value without the writer naming it."""
    names = string_list(column.get("typeName", {}).get("names"))
    if names and names[-1] in _SERIAL_TYPES:
        return True
    for item in column.get("constraints", ()):
        constraint = item.get("Constraint", {})
        contype = constraint.get("contype")
        if contype in ("CONSTR_IDENTITY", "CONSTR_GENERATED"):
            return True
        if contype == "CONSTR_DEFAULT" and not _is_null(constraint.get("raw_expr")):
            return True
    return False


def _is_null(expression: Node | None) -> bool:
    while expression is not None and "TypeCast" in expression:
        expression = expression["TypeCast"].get("arg")
    return expression is None or bool(expression.get("A_Const", {}).get("isnull"))


_SERIAL_TYPES = frozenset({"serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"})


def _record_create_table(context: Context, node: Node) -> None:
    context._created(ObjectKind.TABLE, context.relation(node["relation"]))


def _record_create_table_as(context: Context, node: Node) -> None:
    relation = node.get("into", {}).get("rel")
    if relation is None:
        return
    kind = ObjectKind.VIEW if node.get("objtype") == "OBJECT_MATVIEW" else ObjectKind.TABLE
    context._created(kind, context.relation(relation))


def _record_select_into(context: Context, node: Node) -> None:
    into = node.get("intoClause")
    if into is not None:
        context._created(ObjectKind.TABLE, context.relation(into["rel"]))


def _record_view(context: Context, node: Node) -> None:
    if not node.get("replace"):
        context._created(ObjectKind.VIEW, context.relation(node["view"]))


def _record_function(context: Context, node: Node) -> None:
    if not node.get("replace"):
        context._created(ObjectKind.FUNCTION, context.qualify(string_list(node.get("funcname"))))


def _record_type(context: Context, names: list[str]) -> None:
    context._created(ObjectKind.TYPE, context.qualify(names))


def _record_index(context: Context, node: Node) -> None:
    name = node.get("idxname")
    if name:
        table = context.relation(node["relation"])
        context._created(ObjectKind.INDEX, QualifiedName(table.schema, name))


def _record_alter_table(context: Context, node: Node) -> None:
    if node.get("objtype") != "OBJECT_TABLE":
        return
    table = context.relation(node["relation"])
    if context.is_new(ObjectKind.TABLE, table):
        return
    for item in node.get("cmds", ()):
        command = item.get("AlterTableCmd", {})
        if command.get("subtype") == "AT_AddColumn":
            column = command.get("def", {}).get("ColumnDef", {})
            context.new_columns.setdefault(table, {})[column.get("colname", "")] = has_default(
                column
            )
        elif command.get("subtype") == "AT_DropColumn":
            context.new_columns.get(table, {}).pop(command.get("name", ""), None)


_RENAME_KINDS = {
    "OBJECT_TABLE": ObjectKind.TABLE,
    "OBJECT_FOREIGN_TABLE": ObjectKind.TABLE,
    "OBJECT_VIEW": ObjectKind.VIEW,
    "OBJECT_MATVIEW": ObjectKind.VIEW,
    "OBJECT_INDEX": ObjectKind.INDEX,
}


def _record_rename(context: Context, node: Node) -> None:
    kind = _RENAME_KINDS.get(node.get("renameType", ""))
    relation = node.get("relation")
    if relation is not None and kind is not None:
        old = context.relation(relation)
        context._renamed(kind, old, QualifiedName(old.schema, node.get("newname", "")))
    elif node.get("renameType") == "OBJECT_COLUMN" and relation is not None:
        table = context.relation(relation)
        columns = context.new_columns.get(table, {})
        old_name = node.get("subname", "")
        if old_name in columns:
            columns[node.get("newname", "")] = columns.pop(old_name)


def _record_set_schema(context: Context, node: Node) -> None:
    kind = _RENAME_KINDS.get(node.get("objectType", ""))
    relation = node.get("relation")
    if relation is not None and kind is not None:
        old = context.relation(relation)
        context._renamed(kind, old, QualifiedName(node.get("newschema", ""), old.name))


_DROP_KINDS = {
    "OBJECT_TABLE": ObjectKind.TABLE,
    "OBJECT_FOREIGN_TABLE": ObjectKind.TABLE,
    "OBJECT_VIEW": ObjectKind.VIEW,
    "OBJECT_MATVIEW": ObjectKind.VIEW,
    "OBJECT_INDEX": ObjectKind.INDEX,
    "OBJECT_FUNCTION": ObjectKind.FUNCTION,
    "OBJECT_PROCEDURE": ObjectKind.FUNCTION,
    "OBJECT_ROUTINE": ObjectKind.FUNCTION,
    "OBJECT_TYPE": ObjectKind.TYPE,
    "OBJECT_DOMAIN": ObjectKind.TYPE,
}


def dropped_names(context: Context, node: Node) -> Iterable[QualifiedName]:
    """The qualified names a ``DropStmt`` removes."""
    for item in node.get("objects", ()):
        if "List" in item:
            yield context.qualify(string_list(item["List"].get("items")))
        elif "ObjectWithArgs" in item:
            yield context.qualify(string_list(item["ObjectWithArgs"].get("objname")))
        elif "TypeName" in item:
            yield context.qualify(string_list(item["TypeName"].get("names")))
        elif "String" in item:
            yield context.qualify([item["String"].get("sval", "")])


def drop_kind(node: Node) -> ObjectKind | None:
    """The tracked kind a ``DropStmt`` removes, if any."""
    return _DROP_KINDS.get(node.get("removeType", ""))


def _record_drop(context: Context, node: Node) -> None:
    kind = drop_kind(node)
    if kind is not None:
        for name in dropped_names(context, node):
            context._dropped(kind, name)


def _record_search_path(context: Context, node: Node) -> None:
    if node.get("name") != "search_path":
        return
    if node.get("kind") in ("VAR_RESET", "VAR_SET_DEFAULT"):
        context.schema = DEFAULT_SCHEMA
        return
    for argument in node.get("args", ()):
        value = argument.get("A_Const", {}).get("sval", {}).get("sval")
        if isinstance(value, str):
            value = value.strip()
            quoted = len(value) >= 2 and value[0] == value[-1] == '"'
            schema = value[1:-1] if quoted else value.lower()
            if schema and schema != "$user":
                context.schema = schema
                return


_RECORDERS = {
    "CreateStmt": _record_create_table,
    "CreateForeignTableStmt": lambda c, n: _record_create_table(c, n.get("base", {})),
    "CreateTableAsStmt": _record_create_table_as,
    "SelectStmt": _record_select_into,
    "ViewStmt": _record_view,
    "CreateFunctionStmt": _record_function,
    "CompositeTypeStmt": lambda c, n: _record_type(
        c, [n["typevar"].get("schemaname") or c.schema, n["typevar"].get("relname", "")]
    ),
    "CreateEnumStmt": lambda c, n: _record_type(c, string_list(n.get("typeName"))),
    "CreateDomainStmt": lambda c, n: _record_type(c, string_list(n.get("domainname"))),
    "CreateRangeStmt": lambda c, n: _record_type(c, string_list(n.get("typeName"))),
    "IndexStmt": _record_index,
    "AlterTableStmt": _record_alter_table,
    "RenameStmt": _record_rename,
    "AlterObjectSchemaStmt": _record_set_schema,
    "DropStmt": _record_drop,
    "VariableSetStmt": _record_search_path,
}


def changed_files(base: str, paths: Iterable[Path], cwd: Path) -> set[Path]:
    """Files under ``paths`` added or changed since the merge base of ``base`` and HEAD."""
    root = Path(_git(["rev-parse", "--show-toplevel"], cwd, base).strip())
    merge_base = _git(["merge-base", base, "HEAD"], cwd, base).strip()
    specs = [str(path.resolve()) for path in paths]
    changed = _git(
        [
            "diff",
            "--name-only",
            "-z",
            "--diff-filter=ACMR",
            "--no-renames",
            merge_base,
            "--",
            *specs,
        ],
        cwd,
        base,
    )
    untracked = _git(["ls-files", "-z", "--others", "--exclude-standard", "--", *specs], cwd, base)
    found = {(root / name).resolve() for name in changed.split("\0") if name}
    found |= {(cwd / name).resolve() for name in untracked.split("\0") if name}
    return found


def _git(args: list[str], cwd: Path, base: str) -> str:
    import subprocess  # noqa: PLC0415 - only --base needs it, and lint start-up time counts

    try:
        result = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except FileNotFoundError as exc:
        raise PreconditionFailed(
            "--base needs git, which is not installed", hint="install git or drop --base"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise PreconditionFailed(f"git {args[0]} did not answer in {GIT_TIMEOUT_SECONDS}s") from exc
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"
        raise InputError(
            f"--base {base}: git {args[0]}: {detail}",
            hint="give a branch, tag or commit that exists, e.g. --base origin/main "
            "(in CI fetch it first: git fetch origin main)",
        )
    return result.stdout


def _quote(name: str) -> str:
    """The name as SQL would spell it: bare when that reads back the same, else quoted."""
    bare = name.replace("_", "a").replace("$", "a")
    if (
        name
        and bare.isalnum()
        and bare.isascii()
        and name == name.lower()
        and not name[0].isdigit()
    ):
        return name
    return '"' + name.replace('"', '""') + '"'
