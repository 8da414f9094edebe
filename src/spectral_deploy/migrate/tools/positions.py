"""Positions in revision files: byte columns to character columns, display paths, line origins."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from spectral_deploy.lint.origin import LineOrigin, exact_lines
from spectral_deploy.lint.source import Position

__all__ = ["char_column", "display_path", "origins_for", "read_lines"]


def read_lines(path: Path) -> list[str]:
    """The file's lines (empty when it cannot be read: positions then stay coarse)."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def char_column(file_lines: Sequence[str], line: int, byte_column: int) -> int:
    """The 1-based character column of a 0-based UTF-8 byte offset into ``line``."""
    if not 0 < line <= len(file_lines):
        return byte_column + 1
    text = file_lines[line - 1]
    return len(text.encode("utf-8")[:byte_column].decode("utf-8", errors="ignore")) + 1


def display_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when inside it (symlinks resolved on both sides)."""
    real_root = os.path.realpath(root)
    real_path = os.path.realpath(path)
    if real_path == real_root or real_path.startswith(real_root.rstrip(os.sep) + os.sep):
        return os.path.relpath(real_path, real_root)
    return str(path)


def origins_for(
    sql_lines: Sequence[str],
    spans: Sequence[tuple[Position, Position] | None],
    file_lines: Sequence[str],
) -> tuple[LineOrigin | None, ...]:
    """A ``LineOrigin`` per SQL line: its call's span, plus the exact line where the SQL is
    written out in the file within that span (``op.execute``, ``RunSQL``)."""
    result: list[LineOrigin | None] = [None] * len(sql_lines)
    index = 0
    while index < len(sql_lines):
        span = spans[index] if index < len(spans) else None
        if span is None:
            index += 1
            continue
        run_end = index
        while (
            run_end < len(sql_lines) and (spans[run_end] if run_end < len(spans) else None) == span
        ):
            run_end += 1
        exact = exact_lines(sql_lines[index:run_end], file_lines, span[0], span[1])
        for offset, hit in enumerate(exact):
            if hit is None:
                result[index + offset] = LineOrigin(span[0], span[1])
            else:
                result[index + offset] = LineOrigin(span[0], span[1], hit[0], hit[1])
        index = run_end
    return tuple(result)


def with_markers(
    sql: str, origins: tuple[LineOrigin | None, ...], file_lines: Sequence[str]
) -> tuple[str, tuple[LineOrigin | None, ...]]:
    """``sql`` with the file's ``# compat: ...`` comments appended as SQL comments.

    The override marker of a revision file is a Python comment; the lint finds markers in
    SQL comments. Appended at the end, they keep the SQL's line numbers those of the tool's
    own output, and each maps back to its comment in the file.
    """
    added: list[str] = []
    extra: list[LineOrigin | None] = []
    for line, column, text in _compat_comments(file_lines):
        added.append(f"-- {text}")
        at = Position(line, column)
        extra.append(LineOrigin(at, at, line, column - 4))
    if not added:
        return sql, origins
    body = sql if sql.endswith("\n") or not sql else sql + "\n"
    count = body.count("\n")  # the lines before the markers
    lines = (*origins[:count], *([None] * (count - len(origins))), *extra)
    return body + "\n".join(added) + "\n", tuple(lines)


def _compat_comments(file_lines: Sequence[str]) -> list[tuple[int, int, str]]:
    """(line, 1-based column of the text, text) of each ``# compat:`` comment."""
    import io  # noqa: PLC0415
    import tokenize  # noqa: PLC0415

    found: list[tuple[int, int, str]] = []
    source = "\n".join(file_lines) + "\n"
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return found
    for token in tokens:
        if token.type != tokenize.COMMENT:
            continue
        text = token.string.lstrip("#").strip()
        if text.lower().startswith("compat:"):
            line, column = token.start
            offset = token.string.index(text)
            found.append((line, column + offset + 1, text))
    return found
