"""The schema model: what the database holds before each statement, as the rules need it.

Built by replaying migrations in apply order (``apply``, one statement at a time: the
project's earlier migrations, then the change set being linted) or read from a live
database's catalog (``lint.catalog``). It knows tables, views and their columns (type,
``NOT NULL``, whether an ``INSERT`` that leaves the column out gets a value, collation),
``CHECK (col IS NOT NULL)`` constraints and whether they are validated, indexes and the
columns they read, schemas, sequences, routines and types.

``complete`` says whether the model is the whole truth: true when it comes from the
catalog or from replaying every earlier migration, false when there is no history (a
lone file, stdin) or the history had SQL the lint cannot read (a parse error, a DO block
running computed SQL). Only a complete model answers "does not exist"; an incomplete one
answers "unknown", and the rules then keep their conservative answers.

A model is copied with ``fork`` before a timeline changes it (a catalog model shared by
several directories, a down migration checked but not applied); relations are copied on
first write, so a fork costs a few dictionary copies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from enum import StrEnum
from typing import NamedTuple

from spectral_deploy.lint.coltype import ColumnType, type_of
from spectral_deploy.lint.names import ObjectKind, QualifiedName, relation_name
from spectral_deploy.lint.parse import Node, string_list, walk

__all__ = [
    "CheckConstraint",
    "Column",
    "Index",
    "Relation",
    "RelationKind",
    "Schema",
    "column_has_default",
    "view_shape",
]

_SERIAL_TYPES = frozenset({"serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"})


class RelationKind(StrEnum):
    """What a relation is."""

    TABLE = "table"
    VIEW = "view"
    MATVIEW = "materialized view"


class Column(NamedTuple):
    """One column as the model knows it."""

    name: str
    type: ColumnType | None = None
    not_null: bool = False
    default: bool = False  # an INSERT that leaves the column out gets a non-NULL value
    collation: str | None = None


class CheckConstraint(NamedTuple):
    """A CHECK constraint: the column it proves NOT NULL (``col IS NOT NULL``), if any."""

    not_null_of: str | None
    validated: bool


class Relation:
    """A table, view or materialized view.

    ``columns`` is None when the model cannot know them (``CREATE TABLE AS`` of an
    unknown query, a view of ``*`` over a relation whose columns are unknown). For a view,
    ``source`` is the one relation it selects from when it is a simple projection (every
    row, no grouping: what PostgreSQL can update through), and ``star_of`` that relation
    when the view selects ``*`` from it.
    """

    __slots__ = ("checks", "columns", "kind", "populated", "source", "star_of")

    def __init__(
        self,
        kind: RelationKind,
        columns: dict[str, Column] | None,
        checks: dict[str, CheckConstraint] | None = None,
        source: QualifiedName | None = None,
        star_of: QualifiedName | None = None,
        *,
        populated: bool = True,
    ) -> None:
        self.kind = kind
        self.columns = columns
        self.checks = checks if checks is not None else {}
        self.source = source
        self.star_of = star_of
        self.populated = populated

    def __repr__(self) -> str:
        known = "unknown" if self.columns is None else ", ".join(self.columns)
        return f"Relation({self.kind.value}: {known})"

    def column(self, name: str) -> Column | None:
        """The column ``name``, if known."""
        return self.columns.get(name) if self.columns is not None else None

    def copy(self) -> Relation:
        """A copy that can be changed without touching this one."""
        columns = dict(self.columns) if self.columns is not None else None
        return Relation(
            self.kind,
            columns,
            dict(self.checks),
            self.source,
            self.star_of,
            populated=self.populated,
        )


class Index(NamedTuple):
    """An index: its table, the columns it reads, whether it is unique."""

    table: QualifiedName
    columns: frozenset[str]
    unique: bool


class Schema:
    """The database as the model knows it; see the module docstring."""

    def __init__(self, *, complete: bool) -> None:
        self.complete = complete
        self.relations: dict[QualifiedName, Relation] = {}
        self.indexes: dict[QualifiedName, Index] = {}
        self.routines: set[QualifiedName] = set()
        self.volatile_routines: set[QualifiedName] = set()  # declared VOLATILE (the default)
        self.types: set[QualifiedName] = set()
        self.sequences: set[QualifiedName] = set()
        self.schemas: set[str] = {"public"} if complete else set()
        self._owned: set[QualifiedName] = set()
        # table -> its indexes' names; relation -> the views selecting from it
        self._indexes_of: dict[QualifiedName, list[QualifiedName]] = {}
        self._views_of: dict[QualifiedName, set[QualifiedName]] = {}

    def fork(self) -> Schema:
        """An independent copy (relations are copied when first changed)."""
        other = Schema(complete=self.complete)
        other.relations = dict(self.relations)
        other.indexes = dict(self.indexes)
        other.routines = set(self.routines)
        other.volatile_routines = set(self.volatile_routines)
        other.types = set(self.types)
        other.sequences = set(self.sequences)
        other.schemas = set(self.schemas)
        other._indexes_of = {table: list(names) for table, names in self._indexes_of.items()}
        other._views_of = {name: set(views) for name, views in self._views_of.items()}
        self._owned = set()  # both now share the relations: each copies before writing
        return other

    # --- questions --------------------------------------------------------------------

    def relation(self, name: QualifiedName) -> Relation | None:
        """The relation called ``name``, if the model knows one."""
        return self.relations.get(name)

    def exists(self, kind: ObjectKind, name: QualifiedName) -> bool | None:
        """True or False when the model knows, None when it cannot say."""
        found: bool
        if kind in (ObjectKind.TABLE, ObjectKind.VIEW):
            relation = self.relations.get(name)
            wanted = (
                (RelationKind.TABLE,)
                if kind is ObjectKind.TABLE
                else (RelationKind.VIEW, RelationKind.MATVIEW)
            )
            found = relation is not None and relation.kind in wanted
        elif kind is ObjectKind.INDEX:
            found = name in self.indexes
        elif kind is ObjectKind.SCHEMA:
            found = name.name in self.schemas or any(n.schema == name.name for n in self.relations)
        elif kind is ObjectKind.SEQUENCE:
            found = name in self.sequences
        elif kind is ObjectKind.FUNCTION:
            found = name in self.routines
        else:
            found = name in self.types
        if found:
            return True
        # extensions create routines and types the model does not list
        known_kinds = (ObjectKind.FUNCTION, ObjectKind.TYPE)
        return False if self.complete and kind not in known_kinds else None

    def column(self, table: QualifiedName, name: str) -> Column | None:
        """The column, if the model knows it."""
        relation = self.relations.get(table)
        return relation.column(name) if relation is not None else None

    def has_column(self, table: QualifiedName, name: str) -> bool | None:
        """True or False when the model knows the table's columns, else None."""
        relation = self.relations.get(table)
        if relation is None or relation.columns is None:
            return None
        return name in relation.columns

    def indexed(self, table: QualifiedName, column: str) -> bool:
        """True when an index the model knows reads ``column`` of ``table``."""
        return any(column in self.indexes[name].columns for name in self._indexes_of.get(table, ()))

    def not_null_check(self, table: QualifiedName, column: str) -> CheckConstraint | None:
        """A ``CHECK (column IS NOT NULL)`` on ``table``, validated ones first."""
        relation = self.relations.get(table)
        if relation is None:
            return None
        found = [c for c in relation.checks.values() if c.not_null_of == column]
        found.sort(key=lambda c: not c.validated)
        return found[0] if found else None

    def objects_in(self, schema: str) -> int:
        """How many relations, routines, types and sequences the model has in ``schema``."""
        groups: Iterable[Iterable[QualifiedName]] = (
            self.relations,
            self.routines,
            self.types,
            self.sequences,
        )
        return sum(1 for group in groups for n in group if n.schema == schema)

    # --- changes ----------------------------------------------------------------------

    def apply(self, kind: str, node: Node, schema: str) -> None:
        """Change the model as the statement ``kind``/``node`` changes the database.

        ``schema`` is where unqualified names go (the file's ``search_path``).
        """
        applier = _APPLIERS.get(kind)
        if applier is not None:
            applier(self, node, schema)

    def add_relation(self, name: QualifiedName, relation: Relation) -> None:
        """Create (or replace) ``name``."""
        self.relations[name] = relation
        self._owned.add(name)
        self.schemas.add(name.schema)
        for source in {relation.source, relation.star_of} - {None}:
            assert source is not None
            self._views_of.setdefault(source, set()).add(name)

    def add_index(self, name: QualifiedName, index: Index) -> None:
        """Create (or replace) index ``name``."""
        self.drop_index(name)
        self.indexes[name] = index
        self._indexes_of.setdefault(index.table, []).append(name)

    def drop_index(self, name: QualifiedName) -> Index | None:
        """Remove index ``name``; the index, if there was one."""
        index = self.indexes.pop(name, None)
        names = self._indexes_of.get(index.table, []) if index is not None else []
        if name in names:
            names.remove(name)
        return index

    def indexes_of(self, table: QualifiedName) -> list[QualifiedName]:
        """The names of ``table``'s indexes."""
        return sorted(self._indexes_of.get(table, ()))

    def mutable(self, name: QualifiedName) -> Relation | None:
        """The relation ``name``, safe to change in place (copied if shared)."""
        relation = self.relations.get(name)
        if relation is None:
            return None
        if name not in self._owned:
            relation = relation.copy()
            self.relations[name] = relation
            self._owned.add(name)
        return relation

    def drop_relation(self, name: QualifiedName, *, cascade: bool) -> None:
        """Remove ``name``, its indexes and (with CASCADE) the views over it."""
        self.relations.pop(name, None)
        self._owned.discard(name)
        for index_name in self.indexes_of(name):
            self.drop_index(index_name)
        views = self._views_of.pop(name, set())
        if cascade:
            for other in sorted(views):
                self.drop_relation(other, cascade=True)

    def rename_relation(self, old: QualifiedName, new: QualifiedName) -> None:
        """``old`` is now called ``new``; views and indexes follow (PostgreSQL keeps OIDs)."""
        relation = self.relations.pop(old, None)
        if relation is None:
            return
        owned = old in self._owned
        self._owned.discard(old)
        self.relations[new] = relation
        if owned:
            self._owned.add(new)
        self.schemas.add(new.schema)
        views = self._views_of.pop(old, set())
        for name in sorted(views):
            changed = self.mutable(name)
            if changed is not None:
                changed.source = new if changed.source == old else changed.source
                changed.star_of = new if changed.star_of == old else changed.star_of
        if views:
            self._views_of.setdefault(new, set()).update(views)
        for index_name in self.indexes_of(old):
            index = self.drop_index(index_name)
            if index is not None:
                self.add_index(index_name, index._replace(table=new))

    def drop_schema(self, schema: str) -> None:
        """Remove a schema and (CASCADE) everything in it."""
        self.schemas.discard(schema)
        for name in [n for n in self.relations if n.schema == schema]:
            self.drop_relation(name, cascade=True)
        for group in (self.routines, self.types, self.sequences):
            group.difference_update({n for n in group if n.schema == schema})
        for name in [n for n in self.indexes if n.schema == schema]:
            self.drop_index(name)


def column_has_default(column: Node) -> bool:
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


_NOT_NULL_CONSTRAINTS = frozenset({"CONSTR_NOTNULL", "CONSTR_PRIMARY", "CONSTR_IDENTITY"})
_FILLING_CONSTRAINTS = frozenset({"CONSTR_IDENTITY", "CONSTR_GENERATED"})


def _column(definition: Node, schema: str) -> Column:
    """A ``ColumnDef`` as a model column (constraints inline), in one pass."""
    type_name = definition.get("typeName")
    column_type = type_of(type_name, schema) if type_name else None
    not_null = bool(definition.get("is_not_null"))
    default = column_type is not None and column_type.name in _SERIAL_TYPES
    for item in definition.get("constraints", ()):
        constraint = item.get("Constraint")
        if constraint is None:
            continue
        contype = constraint.get("contype")
        if contype in _NOT_NULL_CONSTRAINTS:
            not_null = True
        if contype in _FILLING_CONSTRAINTS or (
            contype == "CONSTR_DEFAULT" and not _is_null(constraint.get("raw_expr"))
        ):
            default = True
    collation = definition.get("collClause", {}).get("collname")
    column = Column(
        definition.get("colname", ""),
        column_type,
        not_null,
        default,
        ".".join(string_list(collation)) if collation else None,
    )
    # a schema repeats the same columns (id bigint NOT NULL...): share one object each
    return _COLUMNS.setdefault(column, column)


_COLUMNS: dict[Column, Column] = {}


def _check(constraint: Node) -> CheckConstraint:
    """A CHECK constraint node; ``not_null_of`` when it is exactly ``col IS NOT NULL``."""
    test = constraint.get("raw_expr", {}).get("NullTest", {})
    column = None
    if test.get("nulltesttype") == "IS_NOT_NULL":
        fields = string_list(test.get("arg", {}).get("ColumnRef", {}).get("fields"))
        column = fields[-1] if fields else None
    return CheckConstraint(column, validated=not constraint.get("skip_validation"))


def _create_table(model: Schema, node: Node, schema: str) -> None:
    name = relation_name(node.get("relation", {}), schema)
    exists = model.exists(ObjectKind.TABLE, name)
    if node.get("if_not_exists") and exists is not False:
        if exists is None:  # it may exist, with other columns: know nothing of them
            model.add_relation(name, Relation(RelationKind.TABLE, None))
        return
    relation = Relation(RelationKind.TABLE, _inherited(model, node, schema))
    for item in node.get("tableElts", ()):
        if "ColumnDef" in item:
            if relation.columns is not None:
                column = _column(item["ColumnDef"], schema)
                relation.columns[column.name] = column
            for inline in item["ColumnDef"].get("constraints", ()):
                if inline.get("Constraint", {}).get("contype") == "CONSTR_CHECK":
                    _table_constraint(relation, inline["Constraint"])
        elif "TableLikeClause" in item:
            like = model.relation(
                relation_name(item["TableLikeClause"].get("relation", {}), schema)
            )
            if like is None or like.columns is None or relation.columns is None:
                relation.columns = None
            else:
                relation.columns.update(like.columns)
        elif "Constraint" in item:
            _table_constraint(relation, item["Constraint"])
    # a new table's constraints hold at once, NOT VALID or not: it has no rows
    if relation.checks:
        relation.checks = {n: c._replace(validated=True) for n, c in relation.checks.items()}
    model.add_relation(name, relation)


def _inherited(model: Schema, node: Node, schema: str) -> dict[str, Column] | None:
    """The columns a new table starts with: its parents' (INHERITS, PARTITION OF)."""
    if node.get("ofTypename"):
        return None
    columns: dict[str, Column] = {}
    for parent in node.get("inhRelations", ()):
        inherited = model.relation(relation_name(parent.get("RangeVar", {}), schema))
        if inherited is None or inherited.columns is None:
            return None
        columns.update(inherited.columns)
    return columns


def _table_constraint(relation: Relation, constraint: Node) -> None:
    contype = constraint.get("contype")
    if contype in ("CONSTR_PRIMARY", "CONSTR_NOTNULL") and relation.columns is not None:
        for key in string_list(constraint.get("keys")):
            column = relation.column(key)
            if column is not None:
                relation.columns[key] = column._replace(not_null=True)
    elif contype == "CONSTR_CHECK":
        name = constraint.get("conname") or f"_{len(relation.checks)}"
        relation.checks[name] = _check(constraint)


def _create_table_as(model: Schema, node: Node, schema: str) -> None:
    into = node.get("into", {})
    if not into.get("rel"):
        return
    name = relation_name(into["rel"], schema)
    if node.get("if_not_exists") and model.exists(ObjectKind.TABLE, name) is not False:
        return
    kind = RelationKind.MATVIEW if node.get("objtype") == "OBJECT_MATVIEW" else RelationKind.TABLE
    shape = view_shape(node.get("query", {}), model, schema)
    names = string_list(into.get("colNames")) or shape.names
    model.add_relation(name, Relation(kind, _named(names), populated=not into.get("skipData")))


def _named(names: list[str] | None) -> dict[str, Column] | None:
    """Columns known by name only (of a query's output)."""
    return {n: Column(n) for n in names} if names is not None else None


def _select_into(model: Schema, node: Node, schema: str) -> None:
    into = node.get("intoClause")
    if into is None:
        return
    shape = view_shape({"SelectStmt": node}, model, schema)
    relation = Relation(RelationKind.TABLE, _named(shape.names))
    model.add_relation(relation_name(into["rel"], schema), relation)


class ViewShape(NamedTuple):
    """What a view's query exposes: column names (None: unknown), and its one source."""

    names: list[str] | None
    source: QualifiedName | None  # the one relation of a simple projection
    star_of: QualifiedName | None  # that relation again when the view selects its *


def view_shape(query: Node, model: Schema, schema: str) -> ViewShape:
    """The columns and source of a ``SELECT`` used as a view (or ``CREATE TABLE AS``)."""
    select = query.get("SelectStmt", {})
    if select.get("op", "SETOP_NONE") != "SETOP_NONE":  # UNION...: the first branch names
        first = view_shape({"SelectStmt": select.get("larg", {})}, model, schema)
        return ViewShape(first.names, None, None)
    sources = select.get("fromClause", ())
    source: QualifiedName | None = None
    if len(sources) == 1 and "RangeVar" in sources[0]:
        source = relation_name(sources[0]["RangeVar"], schema)
    simple = source is not None and not any(
        select.get(key)
        for key in (
            "whereClause",
            "groupClause",
            "havingClause",
            "distinctClause",
            "limitCount",
            "limitOffset",
            "withClause",
            "windowClause",
        )
    )
    names: list[str] | None = []
    star_of: QualifiedName | None = None
    for target in select.get("targetList", ()):
        result = target.get("ResTarget", {})
        value = result.get("val", {})
        fields = value.get("ColumnRef", {}).get("fields", ())
        if fields and "A_Star" in fields[-1]:
            relation = model.relation(source) if source is not None else None
            if source is not None and len(select.get("targetList", ())) == 1:
                star_of = source
            if relation is None or relation.columns is None or names is None:
                names = None
            else:
                names.extend(relation.columns)
            continue
        if not fields and "ColumnRef" not in value:
            simple = False
        if names is not None:
            names.append(result.get("name") or _output_name(value))
    return ViewShape(names, source if simple else None, star_of if simple else None)


def _output_name(value: Node) -> str:
    """The name PostgreSQL gives an unnamed output column."""
    while "TypeCast" in value:
        inner = value["TypeCast"].get("arg", {})
        if "ColumnRef" not in inner and "FuncCall" not in inner:
            names = string_list(value["TypeCast"].get("typeName", {}).get("names"))
            return names[-1] if names else "?column?"
        value = inner
    fields = string_list(value.get("ColumnRef", {}).get("fields"))
    if fields:
        return fields[-1]
    function = string_list(value.get("FuncCall", {}).get("funcname"))
    return function[-1] if function else "?column?"


def _view(model: Schema, node: Node, schema: str) -> None:
    name = relation_name(node.get("view", {}), schema)
    shape = view_shape(node.get("query", {}), model, schema)
    names = shape.names
    aliases = string_list(node.get("aliases"))
    if aliases and names is not None:
        names = aliases + names[len(aliases) :]
    elif aliases:
        names = None
    star_of = shape.star_of if not aliases else None
    model.add_relation(
        name, Relation(RelationKind.VIEW, _named(names), source=shape.source, star_of=star_of)
    )


def _alter_table(model: Schema, node: Node, schema: str) -> None:
    name = relation_name(node.get("relation", {}), schema)
    relation = model.mutable(name)
    if relation is None:
        if node.get("missing_ok") or node.get("objtype") != "OBJECT_TABLE":
            return
        # it exists (the statement needs it); what else is in it is not known
        relation = Relation(RelationKind.TABLE, None)
        model.add_relation(name, relation)
    for item in node.get("cmds", ()):
        command = item.get("AlterTableCmd")
        if command is not None:
            _alter_command(model, name, relation, command, schema)


def _alter_command(
    model: Schema, table: QualifiedName, relation: Relation, command: Node, schema: str
) -> None:
    subtype = command.get("subtype", "")
    name = command.get("name", "")
    definition = command.get("def", {})
    if subtype == "AT_AddColumn":
        _add_column(relation, command, schema)
    elif subtype == "AT_DropColumn":
        if relation.columns is not None:
            relation.columns.pop(name, None)
        for index in model.indexes_of(table):
            if name in model.indexes[index].columns:
                model.drop_index(index)
    elif subtype == "AT_AddConstraint":
        _table_constraint(relation, definition.get("Constraint", {}))
    elif subtype == "AT_ValidateConstraint" and name in relation.checks:
        relation.checks[name] = relation.checks[name]._replace(validated=True)
    elif subtype == "AT_DropConstraint":
        relation.checks.pop(name, None)
    elif subtype in _COLUMN_CHANGES:
        column = relation.column(name)
        if column is not None and relation.columns is not None:
            relation.columns[name] = _COLUMN_CHANGES[subtype](column, definition, schema)


def _add_column(relation: Relation, command: Node, schema: str) -> None:
    definition = command.get("def", {}).get("ColumnDef", {})
    name = definition.get("colname", "")
    columns = relation.columns
    if columns is not None and not (command.get("missing_ok") and name in columns):
        columns[name] = _column(definition, schema)
    for item in definition.get("constraints", ()):
        constraint = item.get("Constraint", {})
        if constraint.get("contype") == "CONSTR_CHECK":
            _table_constraint(relation, constraint)


def _new_type(column: Column, definition: Node, schema: str) -> Column:
    type_name = definition.get("ColumnDef", {}).get("typeName")
    collation = definition.get("ColumnDef", {}).get("collClause", {}).get("collname")
    return column._replace(
        type=type_of(type_name, schema) if type_name else None,
        collation=".".join(string_list(collation)) if collation else column.collation,
    )


_COLUMN_CHANGES: dict[str, Callable[[Column, Node, str], Column]] = {
    "AT_AlterColumnType": _new_type,
    "AT_SetNotNull": lambda c, d, s: c._replace(not_null=True),
    "AT_DropNotNull": lambda c, d, s: c._replace(not_null=False),
    "AT_ColumnDefault": lambda c, d, s: c._replace(default=not _is_null(d or None)),
    "AT_AddIdentity": lambda c, d, s: c._replace(default=True, not_null=True),
    "AT_SetExpression": lambda c, d, s: c._replace(default=True),
    "AT_DropIdentity": lambda c, d, s: c._replace(default=False),
}


_RELATION_OBJECTS = frozenset(
    {"OBJECT_TABLE", "OBJECT_FOREIGN_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW"}
)
_NAMED = {
    "OBJECT_FUNCTION": "routines",
    "OBJECT_PROCEDURE": "routines",
    "OBJECT_ROUTINE": "routines",
    "OBJECT_AGGREGATE": "routines",
    "OBJECT_TYPE": "types",
    "OBJECT_DOMAIN": "types",
    "OBJECT_SEQUENCE": "sequences",
}


def object_names(node: Node, schema: str) -> Iterator[QualifiedName]:
    """The qualified names a ``DropStmt`` removes (or a ``RenameStmt`` object names)."""
    for item in node.get("objects", ()):
        if "List" in item:
            yield _qualify(string_list(item["List"].get("items")), schema)
        elif "ObjectWithArgs" in item:
            yield _qualify(string_list(item["ObjectWithArgs"].get("objname")), schema)
        elif "TypeName" in item:
            yield _qualify(string_list(item["TypeName"].get("names")), schema)
        elif "String" in item:
            yield _qualify([item["String"].get("sval", "")], schema)


def _qualify(names: list[str], schema: str) -> QualifiedName:
    if len(names) >= 2:
        return QualifiedName(names[-2], names[-1])
    return QualifiedName(schema, names[-1] if names else "")


def _drop(model: Schema, node: Node, schema: str) -> None:
    remove = node.get("removeType", "")
    cascade = node.get("behavior") == "DROP_CASCADE"
    if remove == "OBJECT_SCHEMA":
        for item in node.get("objects", ()):
            model.drop_schema(item.get("String", {}).get("sval", ""))
        return
    for name in object_names(node, schema):
        if remove in _RELATION_OBJECTS:
            model.drop_relation(name, cascade=cascade)
        elif remove == "OBJECT_INDEX":
            model.drop_index(name)
        elif remove in _NAMED:
            getattr(model, _NAMED[remove]).discard(name)


def _index(model: Schema, node: Node, schema: str) -> None:
    table = relation_name(node.get("relation", {}), schema)
    index_name = node.get("idxname")
    name = QualifiedName(table.schema, index_name or f"{table.name}_idx")
    if node.get("if_not_exists") and name in model.indexes:
        return
    columns: set[str] = set()
    for param in node.get("indexParams", ()):
        element = param.get("IndexElem", {})
        if element.get("name"):
            columns.add(element["name"])
        if "expr" not in element:
            continue
        for found in walk(element["expr"]):
            fields = (
                string_list(found.get("ColumnRef", {}).get("fields"))
                if "ColumnRef" in found
                else []
            )
            if fields:
                columns.add(fields[-1])
    model.add_index(name, Index(table, frozenset(columns), bool(node.get("unique"))))


_RENAMED_KIND = {"OBJECT_VIEW": RelationKind.VIEW, "OBJECT_MATVIEW": RelationKind.MATVIEW}


def _rename(model: Schema, node: Node, schema: str) -> None:
    kind = node.get("renameType", "")
    relation = node.get("relation")
    new_name = node.get("newname", "")
    if kind in _RELATION_OBJECTS and relation is not None:
        old = relation_name(relation, schema)
        if model.relation(old) is None and not node.get("missing_ok"):
            # the statement proves it exists: the history came from elsewhere
            model.add_relation(old, Relation(_RENAMED_KIND.get(kind, RelationKind.TABLE), None))
        model.rename_relation(old, QualifiedName(old.schema, new_name))
    elif kind == "OBJECT_COLUMN" and relation is not None:
        table = model.mutable(relation_name(relation, schema))
        old_name = node.get("subname", "")
        renamed = table.column(old_name) if table is not None else None
        if table is not None and table.columns is not None and renamed is not None:
            columns = list(table.columns.items())
            table.columns = {
                (new_name if n == old_name else n): (
                    renamed._replace(name=new_name) if n == old_name else c
                )
                for n, c in columns
            }
    elif kind == "OBJECT_TABCONSTRAINT" and relation is not None:
        table = model.mutable(relation_name(relation, schema))
        old_name = node.get("subname", "")
        if table is not None and old_name in table.checks:
            table.checks[new_name] = table.checks.pop(old_name)
    elif kind == "OBJECT_INDEX" and relation is not None:
        old = relation_name(relation, schema)
        index = model.drop_index(old)
        if index is not None:
            model.add_index(QualifiedName(old.schema, new_name), index)
    elif kind == "OBJECT_SCHEMA":
        _rename_schema(model, node.get("subname", ""), new_name)
    elif kind in _NAMED:
        names = list(object_names({"objects": [node.get("object", {})]}, schema))
        group: set[QualifiedName] = getattr(model, _NAMED[kind])
        for old in names:
            if old in group:
                group.discard(old)
                group.add(QualifiedName(old.schema, new_name))


def _rename_schema(model: Schema, old: str, new: str) -> None:
    for name in [n for n in model.relations if n.schema == old]:
        model.rename_relation(name, QualifiedName(new, name.name))
    for group in (model.routines, model.types, model.sequences):
        moved = {n for n in group if n.schema == old}
        group.difference_update(moved)
        group.update(QualifiedName(new, n.name) for n in moved)
    for name in [n for n in model.indexes if n.schema == old]:
        index = model.drop_index(name)
        if index is not None:
            model.add_index(QualifiedName(new, name.name), index)
    model.schemas.discard(old)
    model.schemas.add(new)


def _set_schema(model: Schema, node: Node, schema: str) -> None:
    kind = node.get("objectType", "")
    new_schema = node.get("newschema", "")
    relation = node.get("relation")
    if kind in _RELATION_OBJECTS and relation is not None:
        old = relation_name(relation, schema)
        model.rename_relation(old, QualifiedName(new_schema, old.name))
    elif kind in _NAMED:
        group: set[QualifiedName] = getattr(model, _NAMED[kind])
        for old in object_names({"objects": [node.get("object", {})]}, schema):
            if old in group:
                group.discard(old)
                group.add(QualifiedName(new_schema, old.name))


def _add(group: str, names_key: str) -> Callable[[Schema, Node, str], None]:
    def apply(model: Schema, node: Node, schema: str) -> None:
        names = string_list(node.get(names_key))
        if names:
            getattr(model, group).add(_qualify(names, schema))

    return apply


def _function(model: Schema, node: Node, schema: str) -> None:
    name = _qualify(string_list(node.get("funcname")), schema)
    model.routines.add(name)
    volatility = "volatile"
    for option in node.get("options", ()):
        element = option.get("DefElem", {})
        if element.get("defname") == "volatility":
            volatility = element.get("arg", {}).get("String", {}).get("sval", volatility)
    if volatility == "volatile":
        model.volatile_routines.add(name)
    else:
        model.volatile_routines.discard(name)


def _composite_type(model: Schema, node: Node, schema: str) -> None:
    model.types.add(relation_name(node.get("typevar", {}), schema))


def _sequence(model: Schema, node: Node, schema: str) -> None:
    model.sequences.add(relation_name(node.get("sequence", {}), schema))


def _create_schema(model: Schema, node: Node, schema: str) -> None:
    name = node.get("schemaname") or ""
    if name:
        model.schemas.add(name)
    for element in node.get("schemaElts", ()):
        kind, inner = next(iter(element.items()))
        model.apply(kind, inner, name or schema)


_APPLIERS: dict[str, Callable[[Schema, Node, str], None]] = {
    "CreateStmt": _create_table,
    "CreateForeignTableStmt": lambda m, n, s: _create_table(m, n.get("base", {}), s),
    "CreateTableAsStmt": _create_table_as,
    "SelectStmt": _select_into,
    "ViewStmt": _view,
    "AlterTableStmt": _alter_table,
    "DropStmt": _drop,
    "IndexStmt": _index,
    "RenameStmt": _rename,
    "AlterObjectSchemaStmt": _set_schema,
    "CreateFunctionStmt": _function,
    "CreateEnumStmt": _add("types", "typeName"),
    "CreateDomainStmt": _add("types", "domainname"),
    "CreateRangeStmt": _add("types", "typeName"),
    "CompositeTypeStmt": _composite_type,
    "CreateSeqStmt": _sequence,
    "CreateSchemaStmt": _create_schema,
}
