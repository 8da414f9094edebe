"""Which migrations are linted and which are history, for plain SQL migration directories.

Files are grouped by directory; a directory's migrations (its ``*.sql`` regular files,
plus any file named on the command line) in name order are one ``Timeline``, the order a
runner applies them. Without a change set (no ``--base``) every file asked for is its
own change set, and the files before it that were not asked for are replayed as history;
with one (``--base``) the files asked for that changed form the change set and every
other migration of the directory is history. Files after the last linted one are not
read.

Down migrations (``0003_x.down.sql``, ``..._down.sql``, ``.undo.sql``, Flyway's
``U3__x.sql``) are never history: they undo what their up migration did. Asked for, they
are linted against the model as it is right after their up migration (they sort there,
not before it), and what they change is not kept.

A migration tool that is not plain SQL (Alembic, Django) can hand its history over as
``SqlText`` steps in the same shape.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from spectral_deploy.lint.engine import LintFile, Step, Timeline

__all__ = ["change_set", "is_down_migration", "plan"]

_DOWN = re.compile(r"(?:^|[._-])(?:down|undo)\.sql$", re.IGNORECASE)
_FLYWAY_UNDO = re.compile(r"^U\d+(?:[._]\d+)*__", re.IGNORECASE)


def is_down_migration(name: str) -> bool:
    """True for a file that undoes a migration rather than applying one."""
    return bool(_DOWN.search(name) or _FLYWAY_UNDO.match(name))


def plan(
    files: Sequence[LintFile],
    *,
    changed: set[Path] | None = None,
    display: Callable[[Path], str] = str,
    history: bool = True,
) -> list[Timeline]:
    """The timelines that lint ``files``; see the module docstring.

    ``changed``: resolved paths of the change set (``--base``), or None (every file its
    own change set). ``history=False`` replays nothing (the model comes from a catalog).
    """
    by_directory: dict[str, dict[str, LintFile]] = {}
    for file in files:
        # strings, not Path.resolve(): its lstat of every component of every file adds up
        directory = os.path.dirname(os.path.abspath(file.path))  # noqa: PTH100, PTH120
        by_directory.setdefault(directory, {})[file.path.name] = file
    timelines = []
    for directory, asked in by_directory.items():
        siblings = _migrations(Path(directory)) if history else {}
        names = sorted(set(asked) | set(siblings), key=_apply_order)
        steps = _steps(names, asked, siblings, changed, display)
        if steps:
            timelines.append(Timeline(tuple(steps), complete=history))
    return timelines


def change_set(files: Sequence[LintFile], root: Path) -> list[Timeline]:
    """``files`` as one change set after the rest of their directories as history, the
    history's paths shown relative to ``root`` (a checkout of a release, as a deploy does)."""
    changed = {file.path.resolve() for file in files}
    return plan(files, changed=changed, display=lambda path: os.path.relpath(path, root))


def _steps(
    names: list[str],
    asked: dict[str, LintFile],
    siblings: dict[str, str],
    changed: set[Path] | None,
    display: Callable[[Path], str],
) -> list[Step]:
    steps: list[Step] = []
    pending: list[Step] = []  # history waiting for a linted file after it
    for number, name in enumerate(names):
        file = asked.get(name)
        linted = file is not None and (changed is None or file.path.resolve() in changed)
        if file is not None and linted:
            steps.extend(pending)
            pending = []
            change_set = number if changed is None else 0
            steps.append(Step(file, change_set, applies=not is_down_migration(name)))
        elif not is_down_migration(name):
            if file is None:
                path = Path(siblings[name])
                file = LintFile(path, display(path))
            pending.append(Step(file))
    return steps


def _apply_order(name: str) -> tuple[str, int]:
    """Name order, except that a down migration comes right after its up migration."""
    if _FLYWAY_UNDO.match(name):
        return "V" + name[1:], 1
    found = _DOWN.search(name)
    if found is None:
        return name, 0
    separator = found.group(0)[0] if found.start() > 0 else ""
    return name[: found.start()] + separator + "up.sql", 1


def _migrations(directory: Path) -> dict[str, str]:
    """The directory's ``*.sql`` regular files: name -> path (unreadable: none)."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return {}
    return {e.name: e.path for e in entries if e.name.endswith(".sql") and _regular(e)}


def _regular(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False
