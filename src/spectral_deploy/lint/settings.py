"""The lint command's own settings (``[lint]`` and ``[migrations]``), read fast.

``spectral-deploy lint`` runs on every pull request, and importing the whole configuration
(``config.py``: a dozen frozen dataclasses, every section validated) costs about as much as
linting a migration history. The lint needs five keys of ``[lint]``, the migrations
directory and tool, so ``load`` reads just those from the same file ``config.load_config`` would
find (``SPECTRAL_CONFIG``, else the nearest ``spectral.toml`` or ``pyproject.toml`` with
``[tool.spectral-deploy]``), with the same defaults and types.

It only handles the plain case. Whenever anything is unusual (a ``SPECTRAL_LINT_*`` or
``SPECTRAL_MIGRATIONS_*`` variable, a key or value it does not expect, a file it cannot
read or parse) it answers None and the caller loads the full configuration, which applies
every rule and reports every error exactly as the other commands do. Sections other than
these two are left to the commands that use them.

``tool_kind`` says which migration tool writes the project's migrations (``[migrations]
tool``, ``auto`` resolved as ``spectral_deploy.migrate.tools.detect`` does, which asks it):
for plain SQL the lint needs nothing more; Alembic and Django need the full configuration
(the app's interpreter, the database) to render revisions.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from spectral_deploy.config import Config
    from spectral_deploy.lint.violation import OverrideScope

__all__ = ["LintSettings", "checked_scope", "detect_tool", "from_config", "load", "tool_kind"]

CONFIG_FILENAME = "spectral.toml"
PYPROJECT_TABLE = "spectral-deploy"
DEFAULT_MAX_FILE_BYTES = 32 * 1024 * 1024
DEFAULT_MIGRATIONS_DIRECTORY = "migrations"
DEFAULT_TOOL = "auto"
TOOLS = ("auto", "sql", "alembic", "django", "none")  # config.MIGRATION_TOOLS
ALEMBIC_CONFIG = "alembic.ini"
DJANGO_MANAGE_PY = "manage.py"
# key -> the types a file may give it (checked: anything else goes to the full loader)
_LINT_KEYS: dict[str, tuple[type, ...]] = {
    "enable": (list,),
    "disable": (list,),
    "jobs": (int,),
    "override_scope": (str,),
    "max_file_bytes": (int,),
}
_MIGRATIONS_KEYS: dict[str, tuple[type, ...]] = {
    "directory": (str,),
    "tool": (str,),
    "command": (str,),
    "lock_timeout_seconds": (int,),
    "statement_timeout_seconds": (int,),
}
_ENV_PREFIXES = ("SPECTRAL_LINT_", "SPECTRAL_MIGRATIONS_")


class LintSettings(NamedTuple):
    """What the lint command reads from the configuration."""

    enable: tuple[str, ...]
    disable: tuple[str, ...]
    jobs: int
    override_scope: str
    max_file_bytes: int
    migrations_dir: Path  # absolute
    source: str  # the config file, or "defaults"
    tool: str = DEFAULT_TOOL  # [migrations] tool, as configured ("auto" unresolved)
    project_root: Path | None = None  # the config file's directory, else the cwd


def checked_scope(settings: LintSettings) -> OverrideScope:
    """The ``[lint]`` values only the lint can check; the override scope (``ConfigError``
    naming the key and the file otherwise)."""
    from spectral_deploy.errors import ConfigError  # noqa: PLC0415 - only to report
    from spectral_deploy.lint.violation import OverrideScope  # noqa: PLC0415

    if settings.jobs < 0:
        raise ConfigError(
            f"must be 0 (one per core) or more, got {settings.jobs}",
            key="lint.jobs",
            source=settings.source,
        )
    if settings.max_file_bytes < 1:
        raise ConfigError(
            f"must be a positive number of bytes, got {settings.max_file_bytes}",
            key="lint.max_file_bytes",
            source=settings.source,
        )
    try:
        return OverrideScope(settings.override_scope)
    except ValueError:
        raise ConfigError(
            f'must be "file" or "statement", got {settings.override_scope!r}',
            key="lint.override_scope",
            source=settings.source,
        ) from None


def from_config(config: Config) -> LintSettings:
    """The same settings from a fully loaded configuration."""
    lint = config.lint
    return LintSettings(
        tuple(lint.enable),
        tuple(lint.disable),
        lint.jobs,
        lint.override_scope,
        lint.max_file_bytes,
        config.migrations_dir,
        config.source,
        config.migrations.tool,
        config.project_root,
    )


def load(cwd: Path, environ: Mapping[str, str] | None = None) -> LintSettings | None:
    """The settings for a lint run in ``cwd``, or None when only the full loader can say."""
    environ = os.environ if environ is None else environ
    if any(name.startswith(_ENV_PREFIXES) for name in environ) or environ.get("SPECTRAL_CONFIG"):
        return None
    cwd = cwd.resolve()
    found = _find(cwd)
    if found is None:
        return _settings({}, {}, cwd, "defaults")
    table = _read(found)
    if table is None:
        return None
    lint, migrations = table.get("lint", {}), table.get("migrations", {})
    if not _plain(lint, migrations):
        return None  # the full loader names the bad key or value
    return _settings(lint, migrations, found.parent, str(found))


def _plain(lint: dict[str, Any], migrations: dict[str, Any]) -> bool:
    """Whether the tables hold only keys and values the fast path reads as the loader would."""
    if not _valid(lint, _LINT_KEYS) or not _valid(migrations, _MIGRATIONS_KEYS):
        return False
    if migrations.get("tool", DEFAULT_TOOL) not in TOOLS:
        return False
    names = [*lint.get("enable", ()), *lint.get("disable", ())]
    return all(isinstance(name, str) for name in names)


def _settings(
    lint: dict[str, Any], migrations: dict[str, Any], root: Path, source: str
) -> LintSettings:
    directory = Path(migrations.get("directory", DEFAULT_MIGRATIONS_DIRECTORY))
    return LintSettings(
        tuple(lint.get("enable", ())),
        tuple(lint.get("disable", ())),
        lint.get("jobs", 0),
        lint.get("override_scope", "file"),
        lint.get("max_file_bytes", DEFAULT_MAX_FILE_BYTES),
        directory if directory.is_absolute() else root / directory,
        source,
        migrations.get("tool", DEFAULT_TOOL),
        root,
    )


def detect_tool(root: Path) -> str:
    """What ``auto`` means for a project: ``alembic.ini``, else ``manage.py``, else SQL."""
    if (root / ALEMBIC_CONFIG).is_file():
        return "alembic"
    if (root / DJANGO_MANAGE_PY).is_file():
        return "django"
    return "sql"


def tool_kind(settings: LintSettings, cwd: Path) -> str:
    """The tool that writes the project's migrations: ``sql``, ``alembic``, ``django`` or
    ``none`` (``auto`` resolved from the project root)."""
    if settings.tool != DEFAULT_TOOL:
        return settings.tool
    return detect_tool(settings.project_root or cwd)


def _valid(section: Any, keys: dict[str, tuple[type, ...]]) -> bool:
    if not isinstance(section, dict):
        return False
    for key, value in section.items():
        expected = keys.get(key)
        if expected is None or isinstance(value, bool) or not isinstance(value, expected):
            return False
    return True


def _find(start: Path) -> Path | None:
    """The nearest spectral.toml (or pyproject.toml with our table) at or above start."""
    for directory in (start, *start.parents):
        candidate = directory / CONFIG_FILENAME
        if candidate.is_file():
            return candidate
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and _read(pyproject) is not None:
            return pyproject
    return None


def _read(path: Path) -> dict[str, Any] | None:
    """Our table of the file (None: unreadable, not TOML, or a pyproject without it)."""
    import tomllib  # noqa: PLC0415 - only when a config file exists

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    if path.name == "pyproject.toml":
        tool = data.get("tool")
        table = tool.get(PYPROJECT_TABLE) if isinstance(tool, dict) else None
        return table if isinstance(table, dict) else None
    return data
