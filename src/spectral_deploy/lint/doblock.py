"""What a ``DO`` block runs: its PL/pgSQL body parsed, the SQL inside it found and placed.

Static SQL statements and ``EXECUTE`` of constant strings come back as statements
(with file positions) for the rules to check like any other. Everything the lint
cannot see (``EXECUTE`` of a computed string, another language, a body that does not
parse) comes back as an opaque finding, so it is reported and never silently passed.

Positions inside a dollar-quoted body are exact; inside a ``'...'`` body with doubled
quotes they are close (the body is unescaped before PL/pgSQL sees it).
"""

from __future__ import annotations

from functools import partial

from spectral_deploy.lint.parse import (
    Node,
    Statement,
    SyntaxFailure,
    parse_plpgsql,
    parse_sql,
    walk,
)
from spectral_deploy.lint.source import Text
from spectral_deploy.lint.violation import Finding

__all__ = ["DoBlock", "analyse"]

# PL/pgSQL statements that run SQL given as an expression evaluated at run time.
_DYNAMIC = {
    "PLpgSQL_stmt_dynexecute": "query",
    "PLpgSQL_stmt_dynfors": "query",
    "PLpgSQL_stmt_open": "dynquery",
    "PLpgSQL_stmt_return_query": "dynquery",
}


class DoBlock:
    """The SQL a DO block runs that the lint can check, and what it cannot."""

    __slots__ = ("opaque", "statements")

    def __init__(self) -> None:
        self.statements: list[Statement] = []
        self.opaque: list[Finding] = []


def analyse(statement: Statement) -> DoBlock:
    """Look inside one ``DoStmt``."""
    result = DoBlock()
    body, language, literal = _arguments(statement)
    if language != "plpgsql":
        result.opaque.append(
            Finding(
                partial(statement.clause, "DO"),
                f"DO block in language {language!r}: the lint can only read PL/pgSQL",
            )
        )
        return result
    body_start = _body_start(statement, literal)
    tree = parse_plpgsql(body)
    if isinstance(tree, SyntaxFailure):
        message = f"DO block body does not parse as PL/pgSQL: {tree.message}"
        if tree.offset is None:
            result.opaque.append(Finding(partial(statement.clause, "DO"), message))
        else:
            at = body_start + tree.offset
            result.opaque.append(Finding((at, at + 1), message))
        return result
    lines = _line_starts(body)
    for node in walk(tree):
        if "PLpgSQL_stmt_execsql" in node:
            item = node["PLpgSQL_stmt_execsql"]
            query = item.get("sqlstmt", {}).get("PLpgSQL_expr", {}).get("query", "")
            at = _locate(body, lines, item.get("lineno", 1), query)
            _add_sql(result, query, body_start + at)
            continue
        for kind, key in _DYNAMIC.items():
            if kind in node:
                item = node[kind]
                expression = item.get(key, {}).get("PLpgSQL_expr", {}).get("query", "")
                at = _locate(body, lines, item.get("lineno", 1), expression)
                _add_dynamic(result, expression, body_start + at)
    return result


def _arguments(statement: Statement) -> tuple[str, str, int | None]:
    body, language, literal = "", "plpgsql", None
    for item in statement.node.get("args", ()):
        element = item.get("DefElem", {})
        value = element.get("arg", {}).get("String", {}).get("sval", "")
        if element.get("defname") == "as":
            body = value
            literal = element.get("arg_location", element.get("location"))
        elif element.get("defname") == "language":
            language = value.lower()
    return body, language, literal


def _body_start(statement: Statement, literal: int | None) -> int:
    """The file offset of the body's first character (after the opening quote)."""
    start = statement.offset(literal)
    text = statement.text.value
    local = start - statement.base
    if text.startswith("$", local):
        close = text.find("$", local + 1)
        return statement.base + close + 1 if close != -1 else start
    if text[local : local + 2].lower() == "e'":
        return start + 2
    return start + 1 if text.startswith("'", local) else start


def _line_starts(body: str) -> list[int]:
    starts = [0]
    found = body.find("\n")
    while found != -1:
        starts.append(found + 1)
        found = body.find("\n", found + 1)
    return starts


def _locate(body: str, lines: list[int], lineno: int, text: str) -> int:
    """Where ``text`` (reported on 1-based body line ``lineno``) starts in the body."""
    line_start = lines[min(max(lineno, 1), len(lines)) - 1]
    found = body.find(text, line_start) if text else -1
    return found if found != -1 else line_start


def _add_sql(result: DoBlock, query: str, at: int) -> None:
    parsed = parse_sql(Text(query), at)
    if isinstance(parsed, SyntaxFailure):
        offset = at if parsed.offset is None else parsed.offset
        result.opaque.append(
            Finding(
                (offset, offset + 1),
                f"SQL in DO block does not parse: {parsed.message}",
            )
        )
    else:
        result.statements.extend(parsed)


def _add_dynamic(result: DoBlock, expression: str, at: int) -> None:
    constant = _constant_string(expression)
    if constant is not None:
        _add_sql(result, constant, at + 1)
        return
    shown = " ".join(expression.split())
    if len(shown) > 60:
        shown = shown[:57] + "..."
    result.opaque.append(
        Finding(
            (at, at + len(expression)),
            f"DO block runs SQL built at run time ({shown}); the lint cannot check it",
        )
    )


def _constant_string(expression: str) -> str | None:
    parsed = parse_sql(Text(f"SELECT {expression}"))
    if isinstance(parsed, SyntaxFailure) or len(parsed) != 1:
        return None
    targets: list[Node] = parsed[0].node.get("targetList", [])
    if parsed[0].kind != "SelectStmt" or len(targets) != 1:
        return None
    value = targets[0].get("ResTarget", {}).get("val", {})
    string = value.get("A_Const", {}).get("sval", {}).get("sval")
    return string if isinstance(string, str) else None
