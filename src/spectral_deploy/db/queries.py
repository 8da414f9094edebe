"""Named SQL blocks kept in ``.sql`` files beside the code that runs them.

A file holds blocks of this shape::

    -- allocate_generation --
    -- Take the next generation number; the row lock serialises allocators.
    UPDATE {schema}.generation_counter SET last_value = last_value + 1 RETURNING last_value;

The first comment names the block, the comment lines after it describe it, the
rest up to the next name is the statement. ``{schema}`` is replaced by the
configured schema as a quoted identifier (psycopg ``sql.Identifier``), so a
literal brace in SQL is written ``{{`` / ``}}``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

from psycopg import sql

__all__ = ["Queries", "Query", "load_queries", "parse_blocks"]

_NAME_LINE = re.compile(r"^--\s*([a-z][a-z0-9_]*)\s*--\s*$")


@dataclass(frozen=True)
class Query:
    """One named statement, already bound to a schema."""

    name: str
    description: str
    statement: sql.Composed


class Queries:
    """The named blocks of one ``.sql`` file, bound to one schema."""

    def __init__(self, source: str, queries: dict[str, Query]) -> None:
        self._source = source
        self._queries = queries

    def __getitem__(self, name: str) -> sql.Composed:
        try:
            return self._queries[name].statement
        except KeyError:
            raise KeyError(f"no query named {name!r} in {self._source}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._queries

    def names(self) -> list[str]:
        """The block names in file order."""
        return list(self._queries)


def parse_blocks(text: str) -> list[tuple[str, str, str]]:
    """Split a file into ``(name, description, body)``; text before the first name is ignored."""
    blocks: list[tuple[str, list[str], list[str]]] = []
    for line in text.splitlines():
        match = _NAME_LINE.match(line.strip())
        if match:
            blocks.append((match.group(1), [], []))
            continue
        if not blocks:
            continue
        _, description, body = blocks[-1]
        if not body and line.strip().startswith("--"):
            description.append(line.strip().lstrip("-").strip())
        elif body or line.strip():
            body.append(line)
    names = [name for name, _, _ in blocks]
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates:
        raise ValueError(f"duplicate query names: {', '.join(sorted(duplicates))}")
    return [(name, " ".join(desc), "\n".join(body).strip()) for name, desc, body in blocks]


@functools.cache
def load_queries(package: str, filename: str, schema: str) -> Queries:
    """Load ``filename`` from ``package`` with ``{schema}`` bound to ``schema``."""
    text = resources.files(package).joinpath(filename).read_text(encoding="utf-8")
    schema_identifier = sql.Identifier(schema)
    queries = {
        name: Query(
            name=name,
            description=description,
            statement=sql.SQL(body).format(schema=schema_identifier),
        )
        for name, description, body in parse_blocks(text)
    }
    return Queries(f"{package}/{filename}", queries)
