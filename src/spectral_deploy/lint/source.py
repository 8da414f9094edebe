"""A migration file's text, and how offsets into it become lines and columns.

libpg_query reports locations as UTF-8 byte offsets into the text it parsed; people
read lines and columns. Lines are counted on ``\\n`` (so CRLF files count right and the
``\\r`` never shows up in excerpts); columns count Unicode code points from 1, which is
what editors, GitHub annotations and SARIF (``columnKind: unicodeCodePoints``) expect.
"""

from __future__ import annotations

import bisect
from typing import NamedTuple

__all__ = ["Position", "Source", "Text"]


class Position(NamedTuple):
    """A 1-based line and column (columns in code points); ordered line first."""

    line: int
    column: int


class Text:
    """A string handed to the parser, able to turn its byte offsets into character offsets."""

    __slots__ = ("_ascii", "_utf8", "value")

    def __init__(self, value: str) -> None:
        self.value = value
        self._ascii: bool | None = None
        self._utf8: bytes | None = None

    @property
    def is_ascii(self) -> bool:
        """True when byte offsets and character offsets are the same."""
        if self._ascii is None:
            self._ascii = self.value.isascii()
        return self._ascii

    def char_offset(self, byte_offset: int) -> int:
        """The character offset of a UTF-8 byte offset (inside a character: that character)."""
        if self.is_ascii:
            return byte_offset
        if self._utf8 is None:
            self._utf8 = self.value.encode("utf-8")
        return len(self._utf8[:byte_offset].decode("utf-8", errors="ignore"))


class Source:
    """One file: the path shown to people and its decoded text."""

    __slots__ = ("_line_starts", "_parsed", "path", "text")

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        # A UTF-8 byte order mark is not SQL; PostgreSQL's psql skips it. It becomes one
        # space for the parser, so character offsets stay those of the file.
        parsed = " " + text[1:] if text.startswith("\ufeff") else text
        self._parsed = Text(parsed)
        self._line_starts: list[int] | None = None

    def __repr__(self) -> str:
        return f"Source(path={self.path!r}, {len(self.text)} characters)"

    @property
    def parsed(self) -> Text:
        """The text given to the parser (the file's, a byte order mark blanked)."""
        return self._parsed

    def _starts(self) -> list[int]:
        if self._line_starts is None:
            starts = [0]
            text = self.text
            found = text.find("\n")
            while found != -1:
                starts.append(found + 1)
                found = text.find("\n", found + 1)
            self._line_starts = starts
        return self._line_starts

    def position(self, offset: int) -> Position:
        """The line and column of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        starts = self._starts()
        index = bisect.bisect_right(starts, offset) - 1
        return Position(index + 1, offset - starts[index] + 1)

    def line_text(self, line: int) -> str:
        """Line ``line`` (1-based) without its line break."""
        starts = self._starts()
        start = starts[line - 1]
        end = starts[line] - 1 if line < len(starts) else len(self.text)
        return self.text[start:end].rstrip("\r")
