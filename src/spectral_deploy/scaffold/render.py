"""What ``spectral-deploy init`` writes, rendered from the templates beside this module.

Pure: settings in, file contents out. A template names a value as ``@name@``
(``@migrations_dir@``); ``@common@`` in a ``spectral.*.toml`` stands for the sections both
flavours share (``common.toml``), and ``@install_step@`` on a line of its own for the step
that installs spectral-deploy from the pinned source (``scaffold/install.py``). Workflow text
keeps GitHub's ``${{ ... }}`` and the shell's ``$VAR`` as they are, which is why the
placeholders are not ``$``-based.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import PurePosixPath

from spectral_deploy._version import __version__
from spectral_deploy.config import CONFIG_FILENAME, MIGRATION_TOOLS, DeployConfig, VcsConfig
from spectral_deploy.errors import UsageError
from spectral_deploy.scaffold.install import HINT as INSTALL_HINT
from spectral_deploy.scaffold.install import InstallSource

__all__ = [
    "ACTION_PATH",
    "CNAME_FLIP_WORKFLOW",
    "CODEOWNERS_PATH",
    "CONFIG_PATH",
    "DEPLOY_FINISH_WORKFLOW",
    "DEPLOY_WORKFLOW",
    "MIGRATION_LINT_WORKFLOW",
    "NIGHTLY_BACKUP_WORKFLOW",
    "PYTHON_VERSION",
    "SECRETS",
    "Flavour",
    "ScaffoldFile",
    "Secret",
    "Settings",
    "github_repository",
    "render",
    "secrets_used",
]

# what the generated workflows install; the newest CPython that every dependency has wheels for
PYTHON_VERSION = "3.12"

CONFIG_PATH = PurePosixPath(CONFIG_FILENAME)
DEPLOY_WORKFLOW = PurePosixPath(".github/workflows") / VcsConfig().deploy_workflow
MIGRATION_LINT_WORKFLOW = PurePosixPath(".github/workflows/migration-lint.yml")
NIGHTLY_BACKUP_WORKFLOW = PurePosixPath(".github/workflows/nightly-backup.yml")
CNAME_FLIP_WORKFLOW = PurePosixPath(".github/workflows/cname-flip.yml")
DEPLOY_FINISH_WORKFLOW = PurePosixPath(".github/workflows/deploy-finish.yml")
ACTION_PATH = PurePosixPath(".github/actions/cloudflare-cname-flip/action.yml")
CODEOWNERS_PATH = PurePosixPath(".github/CODEOWNERS")

_PLACEHOLDER = re.compile(r"@([a-z_]+)@")
_SECRET_REF = re.compile(r"\bsecrets\.([A-Za-z_][A-Za-z0-9_]*)")
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_DIRECTORY = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
_GITHUB_REMOTE = re.compile(
    r"^(?:(?:https?|ssh|git)://(?:[^@/]+@)?github\.com(?::\d+)?/|[^@/\s]+@github\.com:)"
    r"(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+?)(?:\.git)?/?$"
)


class Flavour(StrEnum):
    """Which providers the generated ``spectral.toml`` configures (``init --provider``)."""

    LOCAL = "local"
    RENDER_CLOUDFLARE = "render-cloudflare"


@dataclass(frozen=True)
class Secret:
    """A secret the generated workflows read, to be set in the repository's settings."""

    name: str
    what: str


# every `secrets.NAME` the templates use, except GITHUB_TOKEN, which Actions provides
SECRETS = (
    Secret(
        "DATABASE_URL",
        "the production database URL (on Supabase the session pooler, port 5432; never 6543)",
    ),
    Secret("RENDER_API_KEY", "Render API key (deploys, env vars, scaling)"),
    Secret("CLOUDFLARE_API_TOKEN", "Cloudflare API token: Zone / DNS / Edit on the one zone"),
    Secret("SLACK_WEBHOOK_URL", "the ops channel's Slack incoming webhook"),
    Secret("SENTRY_AUTH_TOKEN", "Sentry auth token: org:read and project:read"),
    Secret("GCP_BACKUP_WRITER", "service account key (JSON) that may create objects in the bucket"),
    Secret("BACKUP_VERIFY_KEY", "age secret key (AGE-SECRET-KEY-1...) of the verify recipient"),
    Secret(
        "BACKUP_SIGNING_KEY",
        "Ed25519 private key (PEM) that signs backups: spectral-deploy backup keygen",
    ),
)
ACTIONS_PROVIDED = frozenset({"GITHUB_TOKEN"})


@dataclass(frozen=True)
class Settings:
    """What varies between projects; ``validated()`` checks it before anything is rendered."""

    flavour: Flavour = Flavour.LOCAL
    migrations_dir: str = "migrations"
    repository: str = ""
    version: str = __version__
    migrations_tool: str = "sql"
    python: str = ""  # the app's interpreter, relative to the project
    web_command: str = ""
    # where the workflows install spectral-deploy from; None: no pinned source is known
    install: InstallSource | None = None

    def validated(self) -> Settings:
        """The same settings, normalised; a value that would break TOML or YAML is refused."""
        directory = self.migrations_dir.strip().removeprefix("./").rstrip("/")
        parts = directory.split("/")
        if not _DIRECTORY.match(directory) or ".." in parts or "." in parts:
            raise UsageError(
                f"--migrations-dir {self.migrations_dir!r}: use a relative path of letters, "
                "digits and . _ - (no .. and no glob characters)",
                hint="spectral-deploy init --migrations-dir db/migrations",
            )
        repository = self.repository.strip()
        if repository and not _REPOSITORY.match(repository):
            raise UsageError(
                f"--repository {self.repository!r}: expected OWNER/NAME",
                hint="spectral-deploy init --repository acme/shop",
            )
        if self.migrations_tool not in MIGRATION_TOOLS:
            raise UsageError(f"unknown migration tool {self.migrations_tool!r}")
        python = self.python.strip()
        if python and not _DIRECTORY.match(python):
            raise UsageError(f"interpreter path {self.python!r}: letters, digits and . _ - /")
        if '"' in self.web_command or "\\" in self.web_command or "\n" in self.web_command:
            raise UsageError(f"web command {self.web_command!r} cannot be written to TOML as is")
        if self.install is None and self.flavour is Flavour.RENDER_CLOUDFLARE:
            # these workflows run beside the production secrets: never an unpinned name
            raise UsageError(
                "choose where the workflows install spectral-deploy from: a pinned wheel "
                "(with its sha256) or a pinned commit, never a package name",
                hint=INSTALL_HINT,
            )
        return dataclasses.replace(
            self, migrations_dir=directory, repository=repository, python=python
        )


@dataclass(frozen=True)
class ScaffoldFile:
    """One file ``init`` writes: where (relative to the project), what for, and its text."""

    path: PurePosixPath
    purpose: str
    content: str


# (path, template, purpose) per flavour, in the order they are written and listed
_CONFIG_TEMPLATE = {
    Flavour.LOCAL: "spectral.local.toml",
    Flavour.RENDER_CLOUDFLARE: "spectral.render-cloudflare.toml",
}
_CONFIG_PURPOSE = {
    Flavour.LOCAL: "the configuration: the local sandbox",
    Flavour.RENDER_CLOUDFLARE: "the configuration: Render, Cloudflare, GitHub, Slack, Sentry, GCS",
}
_LINT = (
    MIGRATION_LINT_WORKFLOW,
    "migration-lint.yml",
    "pull requests: the migration-compat lint of new migrations",
)
_CODEOWNERS = (
    CODEOWNERS_PATH,
    "CODEOWNERS",
    "who signs off migrations that break the running release on purpose",
)
# the production pipeline only comes with a production configuration: run against the
# local sandbox's config, a deploy workflow would migrate the real database from a runner
_PRODUCTION = (
    (DEPLOY_WORKFLOW, "deploy-prod.yml", "release tags and dispatch: lint, deploy, hold window"),
    (
        DEPLOY_FINISH_WORKFLOW,
        "deploy-finish.yml",
        "every 15 min: deploy finish --when-due (hold window over, no breach)",
    ),
    (ACTION_PATH, "cloudflare-cname-flip.action.yml", "composite action: dns point, read back"),
    (CNAME_FLIP_WORKFLOW, "cname-flip.yml", "dispatch: flip the CNAME, then the Class 2 rest"),
    _LINT,
    _CODEOWNERS,
    (NIGHTLY_BACKUP_WORKFLOW, "nightly-backup.yml", "nightly: backup run, then backup verify"),
)
_FILES = {Flavour.LOCAL: (_LINT, _CODEOWNERS), Flavour.RENDER_CLOUDFLARE: _PRODUCTION}


def render(settings: Settings) -> tuple[ScaffoldFile, ...]:
    """Every file of the flavour, rendered: ``spectral.toml`` first, then ``.github/``."""
    settings = settings.validated()
    values = {
        "version": settings.version,
        "migrations_tool": settings.migrations_tool,
        "hosting_python": f'python = "{settings.python}"'
        if settings.python
        else '# python = ".venv/bin/python"',
        "web_command": f'web_command = "{settings.web_command}"'
        if settings.web_command
        else '# web_command = "{python} -m myapp.web --port {port}"',
        "install_step": _install_step(settings.install),
        "migrations_dir": settings.migrations_dir,
        "repository": settings.repository,
        "python_version": PYTHON_VERSION,
        "release_tag_pattern": DeployConfig().release_tag_pattern,
        "codeowners_line": _codeowners_line(settings),
    }
    config_text = _template(_CONFIG_TEMPLATE[settings.flavour]).replace(
        "@common@\n", _template("common.toml")
    )
    files = [
        ScaffoldFile(CONFIG_PATH, _CONFIG_PURPOSE[settings.flavour], _fill(config_text, values))
    ]
    for path, template, purpose in _FILES[settings.flavour]:
        files.append(ScaffoldFile(path, purpose, _fill(_template(template), values)))
    return tuple(files)


def _codeowners_line(settings: Settings) -> str:
    """The migrations directory's owner: the repository's owner when it is known."""
    owner = settings.repository.partition("/")[0]
    if owner:
        return f"/{settings.migrations_dir}/ @{owner}"
    return (
        "# no GitHub repository was found: name the owners, then remove the leading '# '\n"
        f"# /{settings.migrations_dir}/ @your-github-user"
    )


def secrets_used(files: Iterable[ScaffoldFile]) -> dict[str, tuple[PurePosixPath, ...]]:
    """``secrets.NAME`` referenced by the files -> the files that use it (Actions' own left out)."""
    used: dict[str, list[PurePosixPath]] = {}
    for file in files:
        for name in dict.fromkeys(_SECRET_REF.findall(file.content)):
            if name not in ACTIONS_PROVIDED:
                used.setdefault(name, []).append(file.path)
    order = {secret.name: index for index, secret in enumerate(SECRETS)}
    return {
        name: tuple(paths)
        for name, paths in sorted(used.items(), key=lambda item: order.get(item[0], len(order)))
    }


def github_repository(remote_url: str) -> str:
    """``owner/name`` of a GitHub remote URL (https, ssh or scp-like); empty for any other."""
    found = _GITHUB_REMOTE.match(remote_url.strip())
    return f"{found['owner']}/{found['name']}" if found else ""


# steps of a workflow's job are items indented under "    steps:"
_STEP_INDENT = "      "


def _install_step(source: InstallSource | None) -> str:
    if source is not None:
        return source.step(_STEP_INDENT)
    lines = [
        "- name: Install spectral-deploy (no pinned source chosen yet)",
        "  run: |",
        '    echo "::error::no pinned source to install spectral-deploy from; run: '
        'spectral-deploy init --install ... --force (docs/production.md)"',
        "    exit 1",
    ]
    return "\n".join(_STEP_INDENT + line for line in lines)


def _template(name: str) -> str:
    template = resources.files("spectral_deploy.scaffold") / "templates" / name
    return template.read_text(encoding="utf-8")


def _fill(text: str, values: Mapping[str, str]) -> str:
    def value(found: re.Match[str]) -> str:
        name = found.group(1)
        if name not in values:
            raise KeyError(f"template placeholder @{name}@ has no value")
        return values[name]

    return _PLACEHOLDER.sub(value, text)
