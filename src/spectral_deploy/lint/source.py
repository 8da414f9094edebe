"""A migration file's text, and how offsets into it become lines and columns.

libpg_query reports locations as UTF-8 byte offsets into the text it parsed; people
read lines and columns. Lines are counted on ``\\n`` (so CRLF files count right and the
``\\r`` never shows up in excerpts); columns count Unicode code points from 1, which is
what editors, GitHub annotations and SARIF (``columnKind: unicodeCodePoints``) expect.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from functools import cached_property

__all__ = ["Position", "Source", "Text"]


@dataclass(frozen=True, order=True)
class Position:
    """A 1-based line and column (columns in code points)."""

    line: int
    column: int


@dataclass(frozen=True, eq=False)
class Text:
    """A string handed to the parser, able to turn its byte offsets into character offsets."""

    value: str

    @cached_property
    def is_ascii(self) -> bool:
        """True when byte offsets and character offsets are the same."""
        return self.value.isascii()

    @cached_property
    def _utf8(self) -> bytes:
        return self.value.encode("utf-8")

    def char_offset(self, byte_offset: int) -> int:
        """The character offset of a UTF-8 byte offset (inside a character: that character)."""
        if self.is_ascii:
            return byte_offset
        return len(self._utf8[:byte_offset].decode("utf-8", errors="ignore"))


@dataclass(frozen=True, eq=False)
class Source:
    """One file: the path shown to people and its decoded text."""

    path: str
    text: str
    _parsed: Text = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # A UTF-8 byte order mark is not SQL; PostgreSQL's psql skips it. It becomes one
        # space for the parser, so character offsets stay those of the file.
        parsed = " " + self.text[1:] if self.text.startswith("\ufeff") else self.text
        object.__setattr__(self, "_parsed", Text(parsed))

    @property
    def parsed(self) -> Text:
        """The text given to the parser (the file's, a byte order mark blanked)."""
        return self._parsed

    @cached_property
    def _line_starts(self) -> list[int]:
        starts = [0]
        text = self.text
        found = text.find("\n")
        while found != -1:
            starts.append(found + 1)
            found = text.find("\n", found + 1)
        return starts

    def position(self, offset: int) -> Position:
        """The line and column of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        index = bisect.bisect_right(self._line_starts, offset) - 1
        return Position(index + 1, offset - self._line_starts[index] + 1)

    def line_text(self, line: int) -> str:
        """Line ``line`` (1-based) without its line break."""
        starts = self._line_starts
        start = starts[line - 1]
        end = starts[line] - 1 if line < len(starts) else len(self.text)
        return self.text[start:end].rstrip("\r")
