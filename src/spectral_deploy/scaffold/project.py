"""The project directory ``init`` writes into: what it already holds, and the writing itself.

Files are written whole or not at all (a temporary file beside the target, then a rename).
A file that exists with other content is left alone unless ``force``; one that already
holds exactly what would be written is reported as unchanged.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from spectral_deploy.errors import PreconditionFailed
from spectral_deploy.scaffold.render import ScaffoldFile, github_repository

__all__ = [
    "MIGRATION_DIR_CANDIDATES",
    "FileResult",
    "Outcome",
    "detect_migrations_dir",
    "detect_repository",
    "ensure_ignored",
    "git_toplevel",
    "pyproject_configures_spectral",
    "write_files",
]

# where projects keep plain .sql migrations, most specific first (Supabase CLI, dbmate, ...)
MIGRATION_DIR_CANDIDATES = ("supabase/migrations", "db/migrations", "migrations")
GIT_TIMEOUT_SECONDS = 10


class Outcome(StrEnum):
    """What happened to one file."""

    WRITTEN = "written"
    OVERWRITTEN = "overwritten"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class FileResult:
    """One file and what ``write_files`` did with it."""

    file: ScaffoldFile
    outcome: Outcome


def write_files(root: Path, files: Iterable[ScaffoldFile], *, force: bool) -> list[FileResult]:
    """Write each file under root; existing different files only with ``force``."""
    results = []
    for file in files:
        target = root.joinpath(*file.path.parts)
        existing = _read(target)
        if existing == file.content:
            outcome = Outcome.UNCHANGED
        elif existing is not None and not force:
            outcome = Outcome.SKIPPED
        else:
            _write(target, file.content)
            outcome = Outcome.WRITTEN if existing is None else Outcome.OVERWRITTEN
        results.append(FileResult(file, outcome))
    return results


def ensure_ignored(root: Path, entry: str = ".spectral/") -> Outcome:
    """``entry`` in ``root/.gitignore`` (created, or appended to, unless already there).

    ``.spectral/`` holds the embedded database, release checkouts and logs: never commit it.
    """
    target = root / ".gitignore"
    existing = _read(target)
    bare = entry.strip("/")
    if existing is not None and any(
        line.strip().strip("/") == bare for line in existing.splitlines()
    ):
        return Outcome.UNCHANGED
    text = existing or ""
    if text and not text.endswith("\n"):
        text += "\n"
    _write(target, text + f"# spectral-deploy's local state (database, releases, logs)\n{entry}\n")
    return Outcome.WRITTEN if existing is None else Outcome.OVERWRITTEN


def detect_migrations_dir(root: Path) -> str | None:
    """The first of the usual migration directories that exists under root, if any."""
    for candidate in MIGRATION_DIR_CANDIDATES:
        if root.joinpath(*candidate.split("/")).is_dir():
            return candidate
    return None


def detect_repository(root: Path) -> str:
    """``owner/name`` of the ``origin`` remote when it is on GitHub; empty otherwise."""
    try:
        done = subprocess.run(
            ["git", "config", "--get", "remote.origin.url"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return github_repository(done.stdout) if done.returncode == 0 else ""


def git_toplevel(root: Path) -> Path | None:
    """The work tree that holds root (the nearest directory with ``.git``), if any."""
    for directory in (root, *root.parents):
        if (directory / ".git").exists():
            return directory
    return None


def pyproject_configures_spectral(root: Path) -> bool:
    """Whether root's pyproject.toml has a ``[tool.spectral-deploy]`` table."""
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    tool = data.get("tool")
    return isinstance(tool, dict) and "spectral-deploy" in tool


def _read(target: Path) -> str | None:
    try:
        return target.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        return ""  # exists, and is certainly not what we would write
    except OSError as exc:
        raise PreconditionFailed(f"cannot read {target}: {exc.strerror}") from exc


def _write(target: Path, content: str) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(content)
            Path(temporary).chmod(0o644)
            Path(temporary).replace(target)
        except BaseException:
            with contextlib.suppress(OSError):
                Path(temporary).unlink()
            raise
    except OSError as exc:
        raise PreconditionFailed(
            f"cannot write {target}: {exc.strerror}",
            hint="check the directory's permissions, or run spectral-deploy init elsewhere",
        ) from exc
