"""The override marker: ``-- compat: breaking (reason: <text>)`` in a SQL comment.

A file whose comments carry the marker with a non-empty reason passes and is listed
as needing reviewer signoff. The marker is read from comment tokens of PostgreSQL's
scanner, so the same text inside a string literal or a dollar-quoted body is not a
marker. A comment that starts with ``compat:`` but is not a well-formed marker (no
reason, an empty one, a typo) is reported as ``invalid-override``: a marker that
silently failed to apply would surprise whoever wrote it.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from spectral_deploy.lint.parse import scan_tokens

__all__ = ["Marker", "find_markers"]

# These patterns read the text of one comment, never SQL.
_CANDIDATE = re.compile(r"\s*compat:", re.IGNORECASE)
_ANYWHERE = re.compile(r"compat:", re.IGNORECASE)
_MARKER = re.compile(
    r"\s*compat:\s*breaking\s*\(\s*reason\s*:(?P<reason>.*)\)\s*", re.IGNORECASE | re.DOTALL
)
_EXPECTED = "-- compat: breaking (reason: <why old code is safe or why it is accepted>)"


class Marker(NamedTuple):
    """One ``compat:`` comment: its reason when well formed, else what is wrong with it."""

    start: int
    end: int
    reason: str | None
    problem: str | None


def find_markers(text: str, start: int = 0, end: int | None = None) -> list[Marker]:
    """Every ``compat:`` comment of ``text[start:end]``, in order, with file offsets.

    ``start`` must be where a statement (or the text) begins, so the scanner starts
    outside any string or comment.
    """
    region = text[start:end]
    if _ANYWHERE.search(region) is None:
        return []
    markers: list[Marker] = []
    for token in scan_tokens(region, start):
        if token.name == "SQL_COMMENT":
            body = token.text[2:]
        elif token.name == "C_COMMENT":
            body = token.text[2:-2]
        else:
            continue
        if not _CANDIDATE.match(body):
            continue
        match = _MARKER.fullmatch(body)
        reason = " ".join(match.group("reason").split()) if match else ""
        if match is None:
            problem = f"malformed override marker; expected `{_EXPECTED}`"
        elif not reason:
            problem = "override marker has an empty reason"
        else:
            problem = None
        markers.append(Marker(token.start, token.end, reason or None, problem))
    return markers
