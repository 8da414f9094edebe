"""Column types, and whether changing one into another is safe for the running (N-1) release.

A type comes from a ``TypeName`` node (a migration's ``CREATE TABLE`` or ``ALTER COLUMN
... TYPE``) or from the catalog (``format_type`` text, parsed the same way), so both
sides of a comparison are spelled alike: ``character varying(20)``, ``varchar(20)`` and
``pg_catalog.varchar(20)`` are one type.

``judge`` answers with PostgreSQL's own rule for when ``ALTER COLUMN ... TYPE`` needs no
rewrite (``ATColumnChangeRequiresRewrite`` and the length-coercion support functions of
``varchar``, ``numeric``, ``varbit``, the time types and ``interval``): such a change keeps
every stored value and every value the old release writes as it is, and only relaxes a
limit, so the old release reads and writes the column unchanged. Everything else either
narrows (values the old release writes may no longer fit, and the table is rewritten) or
changes the type (the old release reads and writes another type, and the table is
rewritten).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import NamedTuple

from spectral_deploy.lint.parse import Node

__all__ = ["ColumnType", "Verdict", "judge", "type_of"]

# pg_catalog types by the name the parser gives them (their internal name)
_BUILTIN = frozenset(
    {
        "bit", "bool", "bpchar", "bytea", "char", "cidr", "date", "float4", "float8",
        "inet", "int2", "int4", "int8", "interval", "json", "jsonb", "macaddr",
        "macaddr8", "money", "name", "numeric", "oid", "text", "time", "timestamp",
        "timestamptz", "timetz", "tsquery", "tsvector", "uuid", "varbit", "varchar", "xml",
        "serial", "serial2", "serial4", "serial8", "smallserial", "bigserial",
        "int4range", "int8range", "numrange", "tsrange", "tstzrange", "daterange",
        "point", "line", "lseg", "box", "path", "polygon", "circle", "pg_lsn", "regclass",
    }
)  # fmt: skip
_ALIASES = {"decimal": "numeric", "integer": "int4", "bigint": "int8", "smallint": "int2"}
# how people write them, for messages
_SHOWN = {
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "float4": "real",
    "float8": "double precision",
    "bool": "boolean",
    "bpchar": "char",
    "varbit": "bit varying",
}
_TIME_TYPES = frozenset({"timestamp", "timestamptz", "time", "timetz"})
MAX_TIME_PRECISION = 6
INTERVAL_FULL_RANGE = 0x7FFF
# binary-coercible pairs PostgreSQL relabels without touching a row (pg_cast method 'b')
_RELABEL = frozenset(
    {
        ("varchar", "text"), ("text", "varchar"), ("cidr", "inet"),
        ("text", "citext"), ("citext", "text"), ("varchar", "citext"), ("citext", "varchar"),
    }
)  # fmt: skip


class ColumnType(NamedTuple):
    """A column's type: canonical name (schema-qualified unless built in), modifiers, arrays."""

    name: str
    modifiers: tuple[int, ...] = ()
    array_dims: int = 0

    @property
    def base(self) -> str:
        """The unqualified name (``citext`` for ``public.citext``)."""
        return self.name.rpartition(".")[2]

    def __str__(self) -> str:
        shown = _SHOWN.get(self.name, self.name)
        mods = self.modifiers
        if self.name == "interval":
            mods = mods[1:] if len(mods) > 1 else ()
        if self.name in _TIME_TYPES:
            plain = {"timestamptz": "timestamptz", "timetz": "timetz"}.get(self.name, shown)
            shown = plain
        text = f"{shown}({', '.join(str(m) for m in mods)})" if mods else shown
        return text + "[]" * self.array_dims


def type_of(type_name: Node, schema: str) -> ColumnType:
    """The ``ColumnType`` a ``TypeName`` node names, unqualified user types in ``schema``."""
    names = [item["String"]["sval"] for item in type_name.get("names", ()) if "String" in item]
    if not names:
        return ColumnType("?")
    if len(names) >= 2 and names[-2] == "pg_catalog":
        name = names[-1]
    elif len(names) >= 2:
        name = f"{names[-2]}.{names[-1]}"
    else:
        name = _ALIASES.get(names[0], names[0])
        if name not in _BUILTIN:
            name = f"{schema}.{name}"
    typmods = type_name.get("typmods")
    arrays = len(type_name["arrayBounds"]) if "arrayBounds" in type_name else 0
    modifiers: list[int] = []
    for item in typmods or ():
        value = item.get("A_Const", {}).get("ival")
        if not isinstance(value, dict):  # not an integer constant
            modifiers = []
            break
        modifiers.append(int(value.get("ival", 0)))  # libpg_query leaves out a zero
    found = ColumnType(name, tuple(modifiers), arrays)
    return _TYPES.setdefault(found, found)  # one object per distinct type


_TYPES: dict[ColumnType, ColumnType] = {}


class Verdict(StrEnum):
    """What a type change means for the running release."""

    SAME = "same"  # no change at all
    WIDENING = "widening"  # relabelled or a limit relaxed: no rewrite, old code unaffected
    NARROWING = "narrowing"  # a limit tightened: old writes may fail; rewritten
    REWRITE = "rewrite"  # another representation: old code reads another type; rewritten
    # timestamp <-> timestamptz: old code reads another type; rewritten unless TimeZone is UTC
    ZONE = "zone"


def judge(old: ColumnType, new: ColumnType, *, indexed: bool = False) -> Verdict:
    """The verdict on changing a column from ``old`` to ``new`` (no ``USING``, no collation).

    ``indexed``: the column is part of an index; a change of operator class (``citext``)
    then rebuilds the index under the table's ``ACCESS EXCLUSIVE`` lock.
    """
    if old == new:
        return Verdict.SAME
    if old.array_dims != new.array_dims or old.array_dims:
        return Verdict.REWRITE  # an array coercion is evaluated row by row
    if "citext" in (old.base, new.base) and old.base != new.base:
        return _citext(old, new, indexed=indexed)
    if {old.name, new.name} == {"timestamp", "timestamptz"}:
        return Verdict.ZONE
    if old.name != new.name and (old.name, new.name) not in _RELABEL:
        return Verdict.REWRITE
    family = _FAMILIES.get(new.name)
    return family(old, new) if family is not None else Verdict.REWRITE


def _citext(old: ColumnType, new: ColumnType, *, indexed: bool) -> Verdict:
    """citext is an extension type (in whatever schema), relabelled to and from text."""
    if (old.base, new.base) not in _RELABEL:
        return Verdict.REWRITE
    if new.base == "varchar" and new.modifiers:
        return Verdict.NARROWING
    return Verdict.REWRITE if indexed else Verdict.WIDENING


def _limited(old: ColumnType, new: ColumnType) -> Verdict:
    """varchar and varbit: a length limit raised or removed is free."""
    old_limit = old.modifiers[0] if old.name == new.name and old.modifiers else None
    if not new.modifiers:
        return Verdict.WIDENING
    if old_limit is not None and new.modifiers[0] >= old_limit:
        return Verdict.WIDENING
    return Verdict.NARROWING


def _fixed(old: ColumnType, new: ColumnType) -> Verdict:
    """char(n) and bit(n): any change of length rewrites (and shorter truncates)."""
    new_len, old_len = new.modifiers[:1] or (1,), old.modifiers[:1] or (1,)
    return Verdict.NARROWING if new_len < old_len else Verdict.REWRITE


def _numeric(old: tuple[int, ...], new: tuple[int, ...]) -> Verdict:
    if not new:
        return Verdict.WIDENING  # unconstrained holds every value
    if not old:
        return Verdict.NARROWING
    old_p, old_s = old[0], old[1] if len(old) > 1 else 0
    new_p, new_s = new[0], new[1] if len(new) > 1 else 0
    if new_s == old_s:
        return Verdict.WIDENING if new_p >= old_p else Verdict.NARROWING
    if new_p - new_s < old_p - old_s or new_s < old_s:
        return Verdict.NARROWING  # fewer integer digits, or rounding away decimals
    return Verdict.REWRITE  # more decimals: every value is rescaled


def _time_precision(modifiers: tuple[int, ...]) -> int:
    return modifiers[0] if modifiers else MAX_TIME_PRECISION


def _precision(old: int, new: int) -> Verdict:
    if new >= old or new >= MAX_TIME_PRECISION:
        return Verdict.WIDENING
    return Verdict.NARROWING  # values are rounded to fewer fractional digits


def _interval(old: tuple[int, ...], new: tuple[int, ...]) -> Verdict:
    if not new:
        return Verdict.WIDENING
    if not old:
        return Verdict.NARROWING
    old_range, new_range = old[0], new[0]
    old_precision = old[1] if len(old) > 1 else MAX_TIME_PRECISION
    new_precision = new[1] if len(new) > 1 else MAX_TIME_PRECISION
    if new_range not in (old_range, INTERVAL_FULL_RANGE):
        return Verdict.NARROWING  # fields dropped: values truncated
    return _precision(old_precision, new_precision)


_FAMILIES: dict[str, Callable[[ColumnType, ColumnType], Verdict]] = {
    "text": lambda old, new: Verdict.WIDENING,  # from varchar, any length
    "inet": lambda old, new: Verdict.WIDENING,  # from cidr
    "varchar": _limited,
    "varbit": _limited,
    "numeric": lambda old, new: _numeric(old.modifiers, new.modifiers),
    "interval": lambda old, new: _interval(old.modifiers, new.modifiers),
    "bpchar": _fixed,
    "bit": _fixed,
    **{
        name: lambda old, new: _precision(
            _time_precision(old.modifiers), _time_precision(new.modifiers)
        )
        for name in _TIME_TYPES
    },
}
