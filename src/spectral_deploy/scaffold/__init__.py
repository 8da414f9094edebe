"""Project scaffolding: the ``spectral.toml`` and GitHub workflow files ``init`` writes.

``render`` turns settings into file contents (pure; templates in ``templates/``);
``write_files`` puts them in the project without overwriting what is there unless asked.
"""

from __future__ import annotations

from spectral_deploy.scaffold.project import (
    FileResult,
    Outcome,
    detect_migrations_dir,
    detect_repository,
    ensure_ignored,
    git_toplevel,
    pyproject_configures_spectral,
    write_files,
)
from spectral_deploy.scaffold.render import (
    SECRETS,
    Flavour,
    ScaffoldFile,
    Secret,
    Settings,
    render,
    secrets_used,
)

__all__ = [
    "SECRETS",
    "FileResult",
    "Flavour",
    "Outcome",
    "ScaffoldFile",
    "Secret",
    "Settings",
    "detect_migrations_dir",
    "detect_repository",
    "ensure_ignored",
    "git_toplevel",
    "pyproject_configures_spectral",
    "render",
    "secrets_used",
    "write_files",
]
