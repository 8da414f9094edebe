"""Parsing with PostgreSQL's own parser (libpg_query through pglast), as plain dicts.

pglast can build Python node objects, but that costs about twenty times the parse
itself; the lint needs a handful of fields from a handful of statement types, so it
takes libpg_query's JSON and decodes it with orjson (twice as fast as ``json`` on it). Node
locations in that JSON are UTF-8 byte offsets into the parsed text.

Token-level questions (where exactly is the ``DROP COLUMN`` clause, where are the
comments) go to libpg_query's scanner, never to regular expressions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import orjson

from spectral_deploy.lint.pgparser import (
    ParseError,
    parse_plpgsql_json,
    parse_sql_json,
    scan,
    split,
)
from spectral_deploy.lint.source import Text

__all__ = [
    "Batch",
    "Node",
    "Statement",
    "SyntaxFailure",
    "Token",
    "parse_batches",
    "parse_plpgsql",
    "parse_sql",
    "scan_tokens",
    "string_list",
    "walk",
]

Node = Mapping[str, Any]

# Texts longer than this are parsed a batch of statements at a time: libpg_query's JSON
# for a whole 25 MB file, decoded, would take gigabytes.
WHOLE_PARSE_CHARS = 1024 * 1024
BATCH_CHARS = 128 * 1024


class SyntaxFailure(NamedTuple):
    """The parser rejected the text: its message, and where (character offset in the file;
    None when the parser did not say)."""

    message: str
    offset: int | None


class Token(NamedTuple):
    """One scanner token: its kind (``DROP``, ``IDENT``, ``SQL_COMMENT``...) and file span."""

    name: str
    start: int
    end: int
    text: str

    @property
    def identifier(self) -> str | None:
        """The name an identifier or unreserved keyword token stands for, as PostgreSQL folds it."""
        if self.text.startswith('"'):
            return self.text[1:-1].replace('""', '"')
        if self.name == "IDENT" or self.text[:1].isalpha():
            return self.text.lower()
        return None


class Statement:
    """One parsed statement: its node type, its fields, and where it sits in the file.

    ``text`` is the text that was parsed, which starts at file offset ``base``.
    """

    __slots__ = ("_tokens", "base", "end", "kind", "node", "start", "text")

    def __init__(
        self, kind: str, node: Node, text: Text, base: int, *, start: int, end: int
    ) -> None:
        self.kind = kind
        self.node = node
        self.text = text
        self.base = base
        self.start = start
        self.end = end
        self._tokens: tuple[Token, ...] | None = None

    def __repr__(self) -> str:
        return f"Statement({self.kind}, {self.start}..{self.end})"

    def offset(self, location: int | None) -> int:
        """The file character offset of a node's byte ``location`` (the statement start if none)."""
        if location is None or location < 0:
            return self.start
        return self.base + self.text.char_offset(location)

    @property
    def tokens(self) -> tuple[Token, ...]:
        """The statement's tokens, comments included, with file character offsets."""
        if self._tokens is None:
            local_start = self.start - self.base
            snippet = self.text.value[local_start : self.end - self.base]
            self._tokens = scan_tokens(snippet, self.start)
        return self._tokens

    def clause(self, *keywords: str, name: str | None = None) -> tuple[int, int]:
        """The file span from a run of ``keywords`` (matched in order, other tokens between
        allowed) to the identifier ``name`` after it, within one clause (up to a comma or the
        next first keyword); the whole statement if there is no such clause.
        """
        tokens = self.tokens
        for index, token in enumerate(tokens):
            if token.name != keywords[0]:
                continue
            position = index + 1
            for keyword in keywords[1:]:
                while position < len(tokens) and tokens[position].name != keyword:
                    if tokens[position].name == "ASCII_44":
                        break
                    position += 1
                if position >= len(tokens) or tokens[position].name != keyword:
                    break
                position += 1
            else:
                if name is None:
                    return token.start, tokens[position - 1].end
                for candidate in tokens[position:]:
                    if candidate.name in ("ASCII_44", keywords[0]):
                        break
                    if candidate.identifier == name:
                        return token.start, candidate.end
        return self.start, self.end

    def clause_from(self, keywords: tuple[str, ...], name: str) -> tuple[int, int]:
        """From the clause ``keywords ... name`` to the end of that clause."""
        start, _ = self.clause(*keywords, name=name)
        return self.clause_at(start)

    def clause_at(self, start: int) -> tuple[int, int]:
        """The span of the clause that starts at ``start``."""
        return start, self.clause_end(start)

    def clause_end(self, start: int) -> int:
        """Where the clause starting at ``start`` ends: the next comma outside parentheses."""
        depth = 0
        last = start
        for token in self.tokens:
            if token.start < start:
                continue
            if token.name == "ASCII_40":
                depth += 1
            elif token.name == "ASCII_41":
                if depth == 0:
                    break
                depth -= 1
            elif token.name == "ASCII_44" and depth == 0:
                break
            if not token.name.endswith("COMMENT"):
                last = token.end
        return max(last, start)


def scan_tokens(text: str, base: int = 0) -> tuple[Token, ...]:
    """libpg_query's scanner over ``text``; spans are character offsets plus ``base``."""
    return tuple(
        Token(t.name, base + t.start, base + t.end + 1, text[t.start : t.end + 1])
        for t in scan(text)
    )


def parse_sql(text: Text, base: int = 0) -> list[Statement] | SyntaxFailure:
    """Every statement of ``text``, or where the parser stopped."""
    try:
        tree = orjson.loads(parse_sql_json(text.value))
    except ParseError as exc:
        message, reported = _error_details(exc)
        return SyntaxFailure(message, base + _error_offset(text.value, reported or 0))
    statements: list[Statement] = []
    source = text.value
    for raw in tree.get("stmts", ()):
        kind, node = next(iter(raw["stmt"].items()))
        start_byte = raw.get("stmt_location", 0)
        length = raw.get("stmt_len", 0)
        start = text.char_offset(start_byte)
        end = text.char_offset(start_byte + length) if length else len(source)
        while start < end and source[start].isspace():
            start += 1
        while end > start and source[end - 1].isspace():
            end -= 1
        statements.append(Statement(kind, node, text, base, start=base + start, end=base + end))
    return statements


class Batch(NamedTuple):
    """Consecutive statements, and the span of text they cover (batches tile the text)."""

    start: int
    end: int
    statements: list[Statement]


def parse_batches(text: Text) -> Iterator[Batch | SyntaxFailure]:
    """The statements of ``text`` in batches; a ``SyntaxFailure`` ends the stream.

    A short text is one batch. A long one is split into statements by libpg_query's
    scanner and parsed a batch at a time; the scanner cannot see that a SQL-standard
    function body (``BEGIN ATOMIC ... END``) holds semicolons, so a batch that fails to
    parse at its end is retried together with the next one.
    """
    value = text.value
    if len(value) <= WHOLE_PARSE_CHARS:
        parsed = parse_sql(text)
        yield parsed if isinstance(parsed, SyntaxFailure) else Batch(0, len(value), parsed)
        return
    try:
        slices = split(value, with_parser=False, only_slices=True)
    except ParseError as exc:
        message, reported = _error_details(exc)
        yield SyntaxFailure(message, _error_offset(value, reported or 0))
        return
    if not slices:
        yield Batch(0, len(value), [])
        return
    region_start = first = 0
    while first < len(slices):
        last = first
        while last + 1 < len(slices) and slices[last + 1].stop - slices[first].start <= BATCH_CHARS:
            last += 1
        while True:
            begin, end = slices[first].start, slices[last].stop
            parsed = parse_sql(Text(value[begin:end]), begin)
            if not isinstance(parsed, SyntaxFailure):
                break
            cut_too_early = (parsed.offset or 0) >= slices[last].start and last + 1 < len(slices)
            if not cut_too_early:
                yield parsed
                return
            last += 1
        region_end = len(value) if last + 1 == len(slices) else end
        yield Batch(region_start, region_end, parsed)
        region_start, first = region_end, last + 1


def parse_plpgsql(body: str) -> Node | SyntaxFailure:
    """The PL/pgSQL tree of a DO block body (offsets in a failure are into ``body``)."""
    tag = "spectral_do"
    while f"${tag}$" in body:
        tag += "_"
    prefix = f"CREATE FUNCTION spectral_do_block() RETURNS void LANGUAGE plpgsql AS ${tag}$"
    wrapped = f"{prefix}{body}${tag}$"
    try:
        functions = orjson.loads(parse_plpgsql_json(wrapped))
    except ParseError as exc:
        message, reported = _error_details(exc)
        if reported is None:  # PL/pgSQL errors often carry no position
            return SyntaxFailure(message, None)
        return SyntaxFailure(message, max(0, _error_offset(wrapped, reported) - len(prefix)))
    return functions[0] if isinstance(functions, list) and functions else {}


def string_list(items: Sequence[Node] | None) -> list[str]:
    """``[{"String": {"sval": "a"}}, ...]`` -> ``["a", ...]``."""
    return [item["String"].get("sval", "") for item in items or () if "String" in item]


def walk(node: Any) -> Iterator[Mapping[str, Any]]:
    """Every dict inside a decoded tree, depth first."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            yield current
            stack.extend(reversed(list(current.values())))
        elif isinstance(current, list):
            stack.extend(reversed(current))


def _error_details(exc: ParseError) -> tuple[str, int | None]:
    """The message and reported index of a pglast error (PL/pgSQL errors may have no index)."""
    message = str(exc.args[0]) if exc.args else str(exc)
    reported = exc.args[1] if len(exc.args) > 1 else None
    return message, reported if isinstance(reported, int) and reported >= 0 else None


def _error_offset(text: str, reported: int) -> int:
    """The character offset of a parse error from the index pglast reports.

    libpg_query's cursor position is already in characters, but pglast 8.7 converts it
    again as if it were a UTF-8 byte offset, so after a multibyte character the reported
    index is early. Undo that: the true offset is the byte offset of the reported
    character (exact unless the true position itself falls inside a multibyte character).
    """
    if text.isascii():
        return reported
    return min(len(text[:reported].encode("utf-8")), len(text))
