"""The CLI as a user runs it: a subprocess in a project directory."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.acceptance.sandbox import Sandbox, make_sandbox, run_cli


@dataclass
class Project:
    """A project directory and a way to run spectral-deploy in it."""

    root: Path

    def run(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run ``spectral-deploy ARGS`` in the project; never raises on a non-zero exit."""
        return run_cli(self.root, args, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def project() -> Iterator[Project]:
    """A fresh project directory under /tmp; its embedded server is stopped afterwards."""
    root = Path(tempfile.mkdtemp(prefix="spectral-project-"))
    root.chmod(0o755)
    project = Project(root)
    try:
        yield project
    finally:
        project.run("db", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A fresh sandbox project with v1.0.0 and v1.1.0 tagged; everything stopped after."""
    project = make_sandbox()
    try:
        yield project
    finally:
        project.down()
        shutil.rmtree(project.root, ignore_errors=True)
