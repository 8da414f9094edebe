"""Release tags in version order: which release came before a given one.

A tag is a version when, after an optional prefix of letters (``v``, ``release-``), it
reads ``MAJOR[.MINOR[.PATCH...]]`` with an optional ``-prerelease`` and ``+build``, as
in semantic versioning: numbers compare as numbers, a pre-release sorts before its
release (``v1.2.0-rc.1 < v1.2.0``), and a rollback tag ``v1.2.0-rollback`` sorts just
before ``v1.2.0``, which it re-tags. Tags that are not versions are ignored, and so are
rollback tags when looking for the release before another: a rollback tag re-deploys an
older release, it is not one. Whatever needs tags in version order orders them here.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from typing import TypeAlias

__all__ = ["VersionKey", "is_rollback_tag", "previous_version", "version_key"]

_VERSION = re.compile(
    r"^(?P<prefix>[A-Za-z_\-/]*?)(?P<release>\d+(?:\.\d+)*)"
    r"(?:-(?P<pre>[0-9A-Za-z.\-]+))?(?:\+[0-9A-Za-z.\-]+)?$"
)

# (release numbers, has no pre-release, pre-release identifiers)
VersionKey: TypeAlias = tuple[tuple[int, ...], bool, tuple[tuple[int, int | str], ...]]


def version_key(tag: str) -> VersionKey | None:
    """A sort key for ``tag``, or None when it is not a version."""
    match = _VERSION.match(tag)
    if match is None:
        return None
    release = tuple(int(part) for part in match["release"].split("."))
    # trailing zeros do not make a different version: v1.2 == v1.2.0
    while len(release) > 1 and release[-1] == 0:
        release = release[:-1]
    pre = match["pre"]
    if pre is None:
        return release, True, ()
    # semver: numeric identifiers sort before alphanumeric ones, numbers as numbers
    identifiers = tuple((0, int(part)) if part.isdigit() else (1, part) for part in pre.split("."))
    return release, False, identifiers


def is_rollback_tag(tag: str) -> bool:
    """Whether ``tag`` is a rollback tag (``v1.4.0-rollback``, ``v1.4.0-rollback.2``)."""
    match = _VERSION.match(tag)
    pre = match["pre"] if match is not None else None
    return pre is not None and pre.split(".")[0] == "rollback"


def previous_version(tag: str, tags: Iterable[str], pattern: str = "*") -> str | None:
    """The greatest release tag matching ``pattern`` that sorts before ``tag`` (None if none;
    rollback tags are left out)."""
    key = version_key(tag)
    if key is None:
        return None
    best: tuple[VersionKey, str] | None = None
    for candidate in tags:
        if candidate == tag or not fnmatch.fnmatchcase(candidate, pattern):
            continue
        if is_rollback_tag(candidate):
            continue
        candidate_key = version_key(candidate)
        if candidate_key is None or candidate_key >= key:
            continue
        if best is None or candidate_key > best[0]:
            best = (candidate_key, candidate)
    return None if best is None else best[1]
