"""The release's source tree, exported from git once per commit (lint and migrations read it)."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

from spectral_deploy.errors import ProviderError

__all__ = ["export_tree"]


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
