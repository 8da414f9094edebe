"""Fixtures of the security tests: the CLI as an attacker or a careless operator runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.acceptance.sandbox import run_cli

__all__ = ["cli", "needs_root"]

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="the attack is on what root does for an unprivileged user"
)


def cli(
    root: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``spectral-deploy ARGS`` in ``root`` (never raises on a non-zero exit)."""
    return run_cli(root, args, env=env, timeout=timeout)


@pytest.fixture
def workdir() -> Iterator[Path]:
    """An empty directory under /tmp that the unprivileged server user can reach."""
    root = Path(tempfile.mkdtemp(prefix="spectral-sec-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def project_with_a_ledger(prefix: str) -> Iterator[Path]:
    """A project whose embedded server has Spectral's schema and one ledger entry (for a
    module-scoped fixture); its server is stopped and the directory removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    try:
        made = cli(root, "generations", "allocate", "--tag", "v1", "--commit", "abc")
        assert made.returncode == 0, made.stderr
        yield root
    finally:
        cli(root, "db", "stop")
        shutil.rmtree(root, ignore_errors=True)


def role_url(project: Path, role: str) -> str:
    """``db url --role ROLE`` of the project."""
    result = cli(project, "db", "url", "--role", role)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()
