"""Names as PostgreSQL compares them: schema-qualified, already case-folded by the parser.

An unqualified name belongs to the first schema of the ``search_path`` a file set
(``public`` until it sets one); ``display`` leaves ``public.`` out, as migrations do.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from spectral_deploy.lint.parse import Node

__all__ = ["DEFAULT_SCHEMA", "ObjectKind", "QualifiedName", "quote", "relation_name"]

DEFAULT_SCHEMA = "public"


class ObjectKind(StrEnum):
    """The kinds of object whose newness (and existence) the lint tracks."""

    TABLE = "table"
    VIEW = "view"
    FUNCTION = "function"
    TYPE = "type"
    INDEX = "index"
    SCHEMA = "schema"
    SEQUENCE = "sequence"


class QualifiedName(NamedTuple):
    """A schema-qualified name, compared exactly (folding happened in the parser).

    A schema's own name is ``QualifiedName("", schema)``.
    """

    schema: str
    name: str

    def __str__(self) -> str:
        if not self.schema:
            return quote(self.name)
        return f"{quote(self.schema)}.{quote(self.name)}"

    @property
    def display(self) -> str:
        """The name as a migration would usually write it (``public.`` left out)."""
        return quote(self.name) if self.schema in (DEFAULT_SCHEMA, "") else str(self)


def relation_name(relation: Node, schema: str = DEFAULT_SCHEMA) -> QualifiedName:
    """The qualified name of a ``RangeVar`` given the current default schema."""
    return QualifiedName(relation.get("schemaname") or schema, relation.get("relname", ""))


def quote(name: str) -> str:
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
