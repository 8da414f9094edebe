"""What ``init`` finds in an existing app: its migration tool, where migrations live, its
virtualenv, what serves it, and the release to deploy first.

Read from the files alone (nothing of the app is imported or run): ``alembic.ini`` and its
``script_location``; ``manage.py`` and the apps' ``migrations`` packages; the usual plain
SQL directories; ``.venv/bin/python``; a Django ``wsgi.py``; the repository's version tags.
"""

from __future__ import annotations

import configparser
import fnmatch
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from spectral_deploy.scaffold.project import detect_migrations_dir

__all__ = ["Stack", "detect_stack", "first_release_tag"]

VIRTUALENVS = (".venv", "venv", "env")
SKIPPED_DIRS = frozenset({".venv", "venv", "env", ".git", "node_modules", ".spectral", ".tox"})
GIT_TIMEOUT_SECONDS = 10
_SEMVER = re.compile(r"^(?P<prefix>[vV]?)(?P<major>\d+)\.(?P<minor>\d+)(?:\.(?P<patch>\d+))?$")


@dataclass(frozen=True)
class Stack:
    """The app as ``init`` found it; ``migrations_dir`` is what the lint workflow watches."""

    tool: str = "sql"
    migrations_dir: str | None = None
    python: str = ""
    web_command: str = ""
    found: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        """``Alembic (alembic.ini, revisions in alembic/versions)``, for the report."""
        return "; ".join(self.found) if self.found else "no migration tool found"


def detect_stack(root: Path) -> Stack:
    """Alembic (``alembic.ini``), else Django (``manage.py``), else plain SQL directories."""
    found: list[str] = []
    python = ""
    for name in VIRTUALENVS:
        if (root / name / "bin" / "python").is_file():
            python = f"{name}/bin/python"
            found.append(f"virtualenv {name}/")
            break
    if (root / "alembic.ini").is_file():
        versions = _alembic_versions(root)
        found.insert(0, f"Alembic (alembic.ini, revisions in {versions})")
        return Stack("alembic", versions, python, "", tuple(found))
    if (root / "manage.py").is_file():
        packages = _django_migrations(root)
        where = ", ".join(packages) if packages else "no migrations package yet"
        found.insert(0, f"Django (manage.py, {where})")
        wsgi = _django_wsgi(root)
        web = f"{{python}} -m gunicorn --bind 127.0.0.1:{{port}} {wsgi}" if wsgi else ""
        return Stack("django", packages[0] if packages else None, python, web, tuple(found))
    directory = detect_migrations_dir(root)
    if directory is not None:
        found.insert(0, f"SQL migrations in {directory}/")
    return Stack("sql", directory, python, "", tuple(found))


def first_release_tag(root: Path, pattern: str) -> tuple[str, str | None]:
    """The tag to give the first release after adoption, and the latest existing one.

    The release that adopts spectral-deploy is the first one it deploys: a tag from before
    (without the config, the outbox and the workers' code) is not. The next minor version
    after the highest tag matching ``pattern``, or ``v1.0.0``.
    """
    try:
        done = subprocess.run(
            ["git", "tag", "--list"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "v1.0.0", None
    tags = (
        [t for t in done.stdout.split() if fnmatch.fnmatch(t, pattern)]
        if done.returncode == 0
        else []
    )
    versions = []
    for tag in tags:
        parsed = _SEMVER.match(tag)
        if parsed and "rollback" not in tag:
            key = (int(parsed["major"]), int(parsed["minor"]), int(parsed["patch"] or 0))
            versions.append((key, tag, parsed["prefix"]))
    if not versions:
        return "v1.0.0", None
    (major, minor, _), latest, prefix = max(versions)
    candidate = f"{prefix}{major}.{minor + 1}.0"
    while candidate in tags:
        minor += 1
        candidate = f"{prefix}{major}.{minor + 1}.0"
    return candidate, latest


def _alembic_versions(root: Path) -> str:
    """``script_location``'s ``versions`` directory, relative to the project (else the usual)."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(root / "alembic.ini", encoding="utf-8")
        location = parser.get("alembic", "script_location", fallback="alembic")
    except (configparser.Error, UnicodeDecodeError):
        location = "alembic"
    location = location.replace("%(here)s", ".").strip()
    if ":" in location and not location.startswith("."):  # package:resource form
        return "alembic/versions"
    directory = (root / location / "versions").resolve()
    try:
        return directory.relative_to(root.resolve()).as_posix()
    except ValueError:
        return "alembic/versions"


def _django_migrations(root: Path) -> list[str]:
    """The apps' ``migrations`` packages under the project (not in virtualenvs), sorted."""
    found = []
    for marker in sorted(root.glob("**/migrations/__init__.py")):
        relative = marker.parent.relative_to(root)
        if SKIPPED_DIRS.intersection(relative.parts) or len(relative.parts) > 4:
            continue
        found.append(relative.as_posix())
    return found


def _django_wsgi(root: Path) -> str:
    """``config.wsgi`` when ``config/wsgi.py`` (a project package) exists beside manage.py."""
    for wsgi in sorted(root.glob("*/wsgi.py")):
        if not SKIPPED_DIRS.intersection(wsgi.relative_to(root).parts):
            return f"{wsgi.parent.name}.wsgi"
    return ""
