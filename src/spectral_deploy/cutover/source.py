"""The release's source tree, exported from git once per commit (lint and migrations read it).

``SourceTree`` is what the deploy steps and the rollback planner need from the repository:
the migration files a release adds, and the release's files on disk. ``GitSource`` is the
project's own git repository; the in-process fake world has its own (``providers.fake``).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Protocol

from spectral_deploy.config import Config
from spectral_deploy.errors import ProviderError
from spectral_deploy.providers.local.git import GitVcs

__all__ = ["GitSource", "SourceTree", "export_tree", "from_config"]


class SourceTree(Protocol):
    """The repository's files at a commit."""

    def changed_files(self, base: str | None, commit: str, directory: str) -> list[str]:
        """Files under ``directory`` added or changed from ``base`` to ``commit`` (all of them
        when there is no base)."""
        ...

    def export(self, commit: str, destination: Path) -> Path:
        """The tree of ``commit`` at ``destination`` (reused when already there)."""
        ...


class GitSource:
    """``SourceTree`` over the project's git repository."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._git = GitVcs(root)

    def changed_files(self, base: str | None, commit: str, directory: str) -> list[str]:
        """``git diff --name-only`` (or ``ls-tree`` without a base)."""
        return self._git.changed_files(base, commit, directory)

    def export(self, commit: str, destination: Path) -> Path:
        """``git archive`` of ``commit``."""
        return export_tree(self.root, commit, destination)


def from_config(config: Config) -> GitSource:
    """The project's own checkout."""
    return GitSource(config.project_root)


def export_tree(repository: Path, commit: str, destination: Path) -> Path:
    """``git archive`` of ``commit`` into ``destination`` (reused when already there)."""
    marker = destination / ".spectral-source"
    if marker.is_file() and marker.read_text().strip() == commit:
        return destination
    staging = destination.with_name(destination.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        archive = subprocess.run(
            ["git", "-C", str(repository), "archive", "--format=tar", commit],
            capture_output=True,
            check=True,
        ).stdout
    except subprocess.CalledProcessError as exc:
        raise ProviderError(
            exc.stderr.decode(errors="replace").strip(), provider="git", operation="archive"
        ) from exc
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4
            tar.extractall(staging, filter="data")
        else:  # our own repository's archive
            tar.extractall(staging)  # noqa: S202
    (staging / ".spectral-source").write_text(commit + "\n")
    shutil.rmtree(destination, ignore_errors=True)
    staging.rename(destination)
    return destination
