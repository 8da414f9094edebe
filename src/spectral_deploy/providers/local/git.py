"""VCS through the git command line, on the project's own repository.

``GitVcs`` is the ``git`` VCS provider (tags) and, for either VCS provider, the release's
source tree (``SourceTree``): the files a release changes, and its tree exported once per
commit for the lint and the migrations.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

from spectral_deploy.config import Config
from spectral_deploy.errors import InputError, ProviderError

__all__ = ["GitVcs", "export_tree", "from_config"]

PROVIDER = "git"


def from_config(config: Config) -> GitVcs:
    """The project's repository."""
    return GitVcs(config.project_root)


class GitVcs:
    """``VcsProvider`` and ``SourceTree`` over ``git -C <project>``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def resolve_tag(self, tag: str) -> str:
        """The commit a tag (or any revision) points at."""
        result = self._git("rev-parse", "--verify", "--quiet", f"{tag}^{{commit}}", check=False)
        if result.returncode != 0 or not result.stdout.strip():
            raise InputError(f"no tag or revision {tag!r} in {self.root}")
        return result.stdout.strip()

    def has_commit(self, commit: str) -> bool:
        """Whether the repository holds ``commit`` (so it can be built again)."""
        result = self._git("cat-file", "-e", f"{commit}^{{commit}}", check=False)
        return result.returncode == 0

    def create_tag(self, tag: str, commit: str, message: str) -> None:
        """An annotated tag at ``commit``; an existing tag at the same commit is fine."""
        existing = self._git("rev-parse", "--verify", "--quiet", f"{tag}^{{commit}}", check=False)
        if existing.returncode == 0:
            if existing.stdout.strip() == commit:
                return
            raise InputError(
                f"tag {tag} already exists at {existing.stdout.strip()[:12]}, not {commit[:12]}"
            )
        self._git("tag", "-a", tag, commit, "-m", message)

    def tag_names(self) -> list[str]:
        """``git tag --list``."""
        return self._git("tag", "--list").stdout.split()

    def changed_files(self, base: str | None, commit: str, directory: str) -> list[str]:
        """Files under ``directory`` added or changed from ``base`` to ``commit`` (all at
        ``commit`` when there is no base)."""
        if base is None:
            listing = self._git("ls-tree", "-r", "--name-only", commit, "--", directory)
            return sorted(listing.stdout.split())
        diff = self._git("diff", "--name-only", "--diff-filter=ACMR", base, commit, "--", directory)
        return sorted(diff.stdout.split())

    def export(self, commit: str, destination: Path) -> Path:
        """``git archive`` of ``commit``."""
        return export_tree(self.root, commit, destination)

    def _git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        try:
            result = subprocess.run(
                ["git", "-C", str(self.root), *args],
                capture_output=True,
                text=True,
                check=False,
            )
        except OSError as exc:
            raise ProviderError(
                f"cannot run git: {exc.strerror}", provider=PROVIDER, operation=args[0]
            ) from exc
        if check and result.returncode != 0:
            raise ProviderError(
                result.stderr.strip() or f"git {args[0]} failed",
                provider=PROVIDER,
                operation=args[0],
            )
        return result


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
