"""What a statement changes relative to what N-1 code knows: new versus existing objects.

A table (view, function, type, index, schema) is *new* at a statement when the change set
created it earlier: earlier in the same file, or in an earlier file of the same change
set. Everything else is *existing*, and old code may use it. No rule fires on a new
object: a staging table created and dropped in one change set breaks nobody.

Names compare as PostgreSQL compares them (``names``): the parser has already folded
unquoted names to lower case and kept quoted ones; an unqualified name belongs to the
first schema of the ``search_path`` the file set (``public`` until it sets one).

The context also carries the schema model (``schema.Schema``): the database as it is
before the statement, built from the history and from the change set so far. With it,
``CREATE TABLE IF NOT EXISTS t`` creates a new table only when t is known not to exist
(without a model, or when t exists, it changes nothing, and t stays existing);
``CREATE OR REPLACE`` creates nothing new, since what it replaces existed before.

For a relation the change set renames or drops, the context remembers what N-1 knew it
as (its name and columns when the change set started), so that a compatibility view
created under the old name can be recognised (``compensated``).

With ``--base REF`` the change set is the migration files added or changed since the
merge base of REF and HEAD (working tree and untracked files included); the files before
them are the history the model is built from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from spectral_deploy.errors import InputError, PreconditionFailed
from spectral_deploy.lint.names import (
    DEFAULT_SCHEMA,
    ObjectKind,
    QualifiedName,
    relation_name,
)
from spectral_deploy.lint.parse import Node, Statement, string_list
from spectral_deploy.lint.schema import RelationKind, Schema, column_has_default, object_names

__all__ = [
    "DEFAULT_SCHEMA",
    "Context",
    "ObjectKind",
    "QualifiedName",
    "changed_files",
    "drop_kind",
    "dropped_names",
    "has_default",
    "relation_name",
]

GIT_TIMEOUT_SECONDS = 30

has_default = column_has_default


class Context:
    """The running state of one change set while its statements are linted in order."""

    def __init__(self, schema: str = DEFAULT_SCHEMA, model: Schema | None = None) -> None:
        self.schema = schema
        self.model = model if model is not None else Schema(complete=False)
        self.new: set[tuple[ObjectKind, QualifiedName]] = set()
        # columns the change set added to existing tables -> whether they got a default
        self.new_columns: dict[QualifiedName, dict[str, bool]] = {}
        # those of them that are NOT NULL
        self.new_required: set[tuple[QualifiedName, str]] = set()
        # relations renamed by the change set: current name -> the name N-1 knows
        self.origins: dict[QualifiedName, QualifiedName] = {}
        # N-1 relations the change set renamed, dropped or reshaped: (kind, columns) before
        self.before: dict[QualifiedName, tuple[RelationKind, tuple[str, ...] | None]] = {}
        # N-1 relations whose columns the change set renamed or dropped
        self.reshaped: set[QualifiedName] = set()
        # constraints added NOT VALID to existing tables in the open transaction -> contype
        self.unvalidated: dict[tuple[QualifiedName, str], str] = {}
        self._names: dict[int, QualifiedName] = {}

    def start_file(self) -> None:
        """A new file: the default search_path, and a new transaction."""
        self.schema = DEFAULT_SCHEMA
        self.unvalidated.clear()
        self._names.clear()

    def added_not_valid(self, table: QualifiedName, name: str) -> str | None:
        """The type (``CONSTR_CHECK``...) of constraint ``name`` if this transaction added it
        ``NOT VALID`` to an existing ``table``: validating it now keeps the ADD's lock."""
        return self.unvalidated.get((table, name))

    def qualify(self, names: Sequence[str]) -> QualifiedName:
        """``["s", "t"]`` or ``["t"]`` -> a qualified name (catalog prefixes dropped)."""
        if len(names) >= 2:
            return QualifiedName(names[-2], names[-1])
        return QualifiedName(self.schema, names[-1] if names else "")

    def relation(self, relation: Node) -> QualifiedName:
        """The qualified name of a ``RangeVar`` (remembered until the statement is recorded:
        every rule asks for the same one)."""
        key = id(relation)
        found = self._names.get(key)
        if found is None:
            found = self._names[key] = relation_name(relation, self.schema)
        return found

    def is_new(self, kind: ObjectKind, name: QualifiedName) -> bool:
        """True when the change set created ``name`` before this statement."""
        return (kind, name) in self.new

    def is_new_column(self, table: QualifiedName, column: str) -> bool:
        """True when the change set added ``column`` to an existing ``table``."""
        return column in self.new_columns.get(table, {})

    def new_column_has_default(self, table: QualifiedName, column: str) -> bool:
        """True when a column added by the change set was given a non-NULL default."""
        return self.new_columns.get(table, {}).get(column, False)

    def new_column_required(self, table: QualifiedName, column: str) -> bool:
        """True when a column added by the change set is NOT NULL."""
        return (table, column) in self.new_required

    def known_absent(self, kind: ObjectKind, name: QualifiedName) -> bool:
        """True when the schema model knows ``name`` does not exist (a no-op IF EXISTS)."""
        return self.model.exists(kind, name) is False

    def origin(self, name: QualifiedName) -> QualifiedName:
        """The name N-1 knows the relation now called ``name`` by."""
        return self.origins.get(name, name)

    def compensated(self, old: QualifiedName) -> bool:
        """True when a relation N-1 knows as ``old`` (renamed or dropped by the change set)
        is back under that name with every column N-1 knew: the relation itself renamed
        back, or a view in its place (``CREATE VIEW users AS SELECT * FROM app_users``).

        A view standing in for a table must select every row of the renamed table (a
        simple projection, which PostgreSQL can write through); one standing in for a
        view may select anything, as long as it has the columns.
        """
        now = self.model.relation(old)
        if now is None:
            return False
        if self.origins.get(old) == old:  # renamed away and back
            return old not in self.reshaped
        was_kind, was_columns = self.before.get(old, (None, None))
        stands_in = now.kind is RelationKind.VIEW or (
            now.kind is RelationKind.MATVIEW and now.populated
        )
        over_the_table = now.source is not None and self.origin(now.source) == old
        if not stands_in or (was_kind is RelationKind.TABLE and not over_the_table):
            return False
        if now.star_of is not None and self.origin(now.star_of) == old:
            return old not in self.reshaped
        return (
            was_columns is not None
            and now.columns is not None
            and set(was_columns) <= set(now.columns)
        )

    def record(self, statement: Statement) -> None:
        """Note what ``statement`` creates, renames, moves or drops (after rules saw it),
        then apply it to the schema model."""
        recorder = _RECORDERS.get(statement.kind)
        if recorder is not None:
            recorder(self, statement.node)
        self.model.apply(statement.kind, statement.node, self.schema)
        self._names.clear()  # the nodes it named may be gone (and their ids reused)

    def learn(self, statement: Statement) -> None:
        """Apply ``statement`` to the schema model only (nothing becomes new)."""
        self.model.apply(statement.kind, statement.node, self.schema)
        self._names.clear()

    def _created(self, kind: ObjectKind, name: QualifiedName) -> None:
        self.new.add((kind, name))

    def _dropped(self, kind: ObjectKind, name: QualifiedName) -> None:
        if (kind, name) in self.new:
            self.new.discard((kind, name))
        elif kind in (ObjectKind.TABLE, ObjectKind.VIEW):
            self._remember(name)
        if kind is ObjectKind.TABLE:
            self.new_columns.pop(name, None)

    def _renamed(self, kind: ObjectKind, old: QualifiedName, new: QualifiedName) -> None:
        if (kind, old) in self.new:
            self.new.discard((kind, old))
            self.new.add((kind, new))
        elif kind in (ObjectKind.TABLE, ObjectKind.VIEW):
            self._remember(old)
            self.origins[new] = self.origins.pop(old, old)
        if kind is ObjectKind.TABLE and old in self.new_columns:
            self.new_columns[new] = self.new_columns.pop(old)

    def _remember(self, name: QualifiedName) -> None:
        """Keep what N-1 knows of the relation ``name`` before the change set alters it."""
        original = self.origin(name)
        if original in self.before:
            return
        relation = self.model.relation(name)
        if relation is None:
            return
        columns = tuple(relation.columns) if relation.columns is not None else None
        self.before[original] = (relation.kind, columns)


def dropped_names(context: Context, node: Node) -> Iterable[QualifiedName]:
    """The qualified names a ``DropStmt`` removes."""
    return object_names(node, context.schema)


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
    "OBJECT_SCHEMA": ObjectKind.SCHEMA,
    "OBJECT_SEQUENCE": ObjectKind.SEQUENCE,
}


def drop_kind(node: Node) -> ObjectKind | None:
    """The tracked kind a ``DropStmt`` removes, if any."""
    return _DROP_KINDS.get(node.get("removeType", ""))


def _record_create_table(context: Context, node: Node) -> None:
    name = context.relation(node.get("relation", {}))
    if node.get("if_not_exists") and not context.known_absent(ObjectKind.TABLE, name):
        return  # it exists (or may): nothing is created, and old code may use it
    context._created(ObjectKind.TABLE, name)


def _record_create_table_as(context: Context, node: Node) -> None:
    relation = node.get("into", {}).get("rel")
    if relation is None:
        return
    kind = ObjectKind.VIEW if node.get("objtype") == "OBJECT_MATVIEW" else ObjectKind.TABLE
    name = context.relation(relation)
    if node.get("if_not_exists") and not context.known_absent(kind, name):
        return
    context._created(kind, name)


def _record_select_into(context: Context, node: Node) -> None:
    into = node.get("intoClause")
    if into is not None:
        context._created(ObjectKind.TABLE, context.relation(into["rel"]))


def _record_view(context: Context, node: Node) -> None:
    name = context.relation(node["view"])
    if not node.get("replace") or context.known_absent(ObjectKind.VIEW, name):
        context._created(ObjectKind.VIEW, name)


def _record_function(context: Context, node: Node) -> None:
    if not node.get("replace"):
        context._created(ObjectKind.FUNCTION, context.qualify(string_list(node.get("funcname"))))


def _record_type(context: Context, names: list[str]) -> None:
    context._created(ObjectKind.TYPE, context.qualify(names))


def _record_index(context: Context, node: Node) -> None:
    name = node.get("idxname")
    if name:
        table = context.relation(node["relation"])
        index = QualifiedName(table.schema, name)
        if node.get("if_not_exists") and not context.known_absent(ObjectKind.INDEX, index):
            return
        context._created(ObjectKind.INDEX, index)


def _record_schema(context: Context, node: Node) -> None:
    name = QualifiedName("", node.get("schemaname") or "")
    if node.get("if_not_exists") and not context.known_absent(ObjectKind.SCHEMA, name):
        return
    context._created(ObjectKind.SCHEMA, name)


def _record_alter_table(context: Context, node: Node) -> None:
    if node.get("objtype") not in ("OBJECT_TABLE", "OBJECT_FOREIGN_TABLE"):
        return
    table = context.relation(node["relation"])
    if context.is_new(ObjectKind.TABLE, table):
        return
    for item in node.get("cmds", ()):
        command = item.get("AlterTableCmd", {})
        recorder = _COMMAND_RECORDERS.get(command.get("subtype", ""))
        if recorder is not None:
            recorder(context, table, command)


def _record_add_column(context: Context, table: QualifiedName, command: Node) -> None:
    column = command.get("def", {}).get("ColumnDef", {})
    name = column.get("colname", "")
    if command.get("missing_ok") and context.model.has_column(table, name) is not False:
        return  # ADD COLUMN IF NOT EXISTS of a column that is (or may be) there
    context.new_columns.setdefault(table, {})[name] = has_default(column)
    if _required(column):
        context.new_required.add((table, name))


def _record_nullability(context: Context, table: QualifiedName, command: Node) -> None:
    name = command.get("name", "")
    if context.is_new_column(table, name) and command.get("subtype") == "AT_SetNotNull":
        context.new_required.add((table, name))
    else:
        context.new_required.discard((table, name))


def _record_drop_column(context: Context, table: QualifiedName, command: Node) -> None:
    if context.new_columns.get(table, {}).pop(command.get("name", ""), None) is None:
        context._remember(table)
        context.reshaped.add(context.origin(table))


def _record_add_constraint(context: Context, table: QualifiedName, command: Node) -> None:
    constraint = command.get("def", {}).get("Constraint", {})
    if constraint.get("skip_validation") and constraint.get("conname"):
        context.unvalidated[(table, constraint["conname"])] = constraint.get("contype", "")


def _record_validate(context: Context, table: QualifiedName, command: Node) -> None:
    context.unvalidated.pop((table, command.get("name", "")), None)


def _record_default(context: Context, table: QualifiedName, command: Node) -> None:
    name = command.get("name", "")
    if context.is_new_column(table, name):
        value = command.get("def")
        context.new_columns[table][name] = bool(value) and not _is_null_default(value)


_COMMAND_RECORDERS: dict[str, Callable[[Context, QualifiedName, Node], None]] = {
    "AT_AddColumn": _record_add_column,
    "AT_SetNotNull": _record_nullability,
    "AT_DropNotNull": _record_nullability,
    "AT_DropColumn": _record_drop_column,
    "AT_AddConstraint": _record_add_constraint,
    "AT_ValidateConstraint": _record_validate,
    "AT_ColumnDefault": _record_default,
}


def _required(column: Node) -> bool:
    """True when a ``ColumnDef`` says ``NOT NULL`` (or ``PRIMARY KEY``)."""
    return bool(column.get("is_not_null")) or any(
        item.get("Constraint", {}).get("contype") in ("CONSTR_NOTNULL", "CONSTR_PRIMARY")
        for item in column.get("constraints", ())
    )


def _is_null_default(expression: Node | None) -> bool:
    while expression is not None and "TypeCast" in expression:
        expression = expression["TypeCast"].get("arg")
    return expression is None or bool(expression.get("A_Const", {}).get("isnull"))


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
        elif not any(context.is_new(k, table) for k in (ObjectKind.TABLE, ObjectKind.VIEW)):
            context._remember(table)
            context.reshaped.add(context.origin(table))
    elif node.get("renameType") == "OBJECT_SCHEMA":
        old_schema = QualifiedName("", node.get("subname", ""))
        context._renamed(ObjectKind.SCHEMA, old_schema, QualifiedName("", node.get("newname", "")))


def _record_set_schema(context: Context, node: Node) -> None:
    kind = _RENAME_KINDS.get(node.get("objectType", ""))
    relation = node.get("relation")
    if relation is not None and kind is not None:
        old = context.relation(relation)
        context._renamed(kind, old, QualifiedName(node.get("newschema", ""), old.name))


def _record_drop(context: Context, node: Node) -> None:
    kind = drop_kind(node)
    if kind is ObjectKind.SCHEMA:
        for item in node.get("objects", ()):
            context._dropped(kind, QualifiedName("", item.get("String", {}).get("sval", "")))
    elif kind is not None:
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


def _record_create_schema(context: Context, node: Node) -> None:
    _record_schema(context, node)
    schema = node.get("schemaname") or context.schema
    saved, context.schema = context.schema, schema
    try:
        for element in node.get("schemaElts", ()):
            kind, inner = next(iter(element.items()))
            recorder = _RECORDERS.get(kind)
            if recorder is not None:
                recorder(context, inner)
    finally:
        context.schema = saved


def _record_transaction(context: Context, node: Node) -> None:
    if node.get("kind") in ("TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK", "TRANS_STMT_PREPARE"):
        context.unvalidated.clear()


_RECORDERS = {
    "TransactionStmt": _record_transaction,
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
    "CreateSchemaStmt": _record_create_schema,
    "CreateSeqStmt": lambda c, n: c._created(ObjectKind.SEQUENCE, c.relation(n["sequence"])),
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
