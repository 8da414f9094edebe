"""Configuration: ``spectral.toml`` or ``[tool.spectral-deploy]`` -> frozen dataclasses.

Precedence, lowest first: built-in defaults, the config file, environment
variables, command-line overrides (``--set section.key=value``). Every key has
an environment variable ``SPECTRAL_<SECTION>_<KEY>`` (``database.schema`` is
``SPECTRAL_DATABASE_SCHEMA``); ``database.url`` also reads the conventional
``DATABASE_URL``.

Secrets come only from the environment: a password inside ``database.url`` (or
any other URL key) in a file or on the command line is a ``ConfigError`` naming
the key and the file. Age identities and cloud credentials are never config keys.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from spectral_deploy.errors import ConfigError
from spectral_deploy.redaction import register_url_password

__all__ = [
    "CONFIG_FILENAME",
    "MIGRATION_TOOLS",
    "BackupConfig",
    "Config",
    "DatabaseConfig",
    "DeployConfig",
    "DnsConfig",
    "EmbeddedConfig",
    "ErrorRateConfig",
    "HostingConfig",
    "LintConfig",
    "MigrationsConfig",
    "NotifyConfig",
    "OutboxConfig",
    "VcsConfig",
    "find_config_file",
    "load_config",
    "normalize_host",
    "production_providers",
    "url_has_password",
]

CONFIG_FILENAME = "spectral.toml"
PYPROJECT_TABLE = "spectral-deploy"
ENV_PREFIX = "SPECTRAL_"


@dataclass(frozen=True)
class DatabaseConfig:
    """Where Spectral's schema lives. No URL means the embedded server."""

    url: str | None = field(default=None, repr=False)
    schema: str = "spectral"
    # least privilege (docs/security.md): the role owning Spectral's schema, the apps' role,
    # and (external databases) the URL handed to apps; its password only from the environment
    owner_role: str = "spectral_owner"
    app_role: str = "spectral_app"
    app_url: str | None = field(default=None, repr=False)
    connect_timeout_seconds: int = 5
    statement_timeout_seconds: int = 60
    lock_timeout_seconds: int = 10


@dataclass(frozen=True)
class EmbeddedConfig:
    """The embedded PostgreSQL server used when no database URL is configured."""

    data_dir: Path = Path(".spectral/pg")
    database: str = "spectral"


@dataclass(frozen=True)
class OutboxConfig:
    """How workers claim, lease, retry and finish outbox rows."""

    batch_rows: int = 100
    lease_seconds: float = 30.0
    heartbeat_seconds: float = 3.0
    stale_after_seconds: float = 15.0
    poll_seconds: float = 2.0
    max_attempts: int = 10
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 600.0
    archive: bool = False
    # acks and claims may be lost on a server crash without breaking at-least-once delivery
    synchronous_commit: bool = False
    # a handler still running after this long gives its row back as a failed attempt
    # (per topic: Handlers().on(topic, timeout=...))
    handler_timeout_seconds: float = 300.0
    # emit refuses bigger payloads (apps read it from SPECTRAL_OUTBOX_MAX_PAYLOAD_BYTES)
    max_payload_bytes: int = 1_048_576


@dataclass(frozen=True)
class BackupConfig:
    """Backups: where they are stored, who can decrypt them, how many ``prune`` keeps.

    ``storage`` is ``file://PATH`` (relative paths are under the project root),
    ``gs://bucket/prefix`` or ``s3://bucket/prefix``; credentials come from the
    cloud SDK's usual environment, never from here. ``recipients`` are age public
    keys (``age1...``). ``pg_bin_dir`` pins where pg_dump/pg_restore are taken from;
    ``scratch_server_url`` is the server ``verify`` restores into (default: the
    embedded server). ``signing_public_keys`` are the Ed25519 public keys
    (``ed25519:...``) trusted to have written backups: a manifest not signed by one is
    refused unless ``--allow-unsigned``. ``signing_key_file`` is where the backup writer
    keeps its private signing key (or ``$SPECTRAL_BACKUP_SIGNING_KEY[_FILE]``).
    """

    storage: str = "file://.spectral/backups"
    recipients: tuple[str, ...] = ()
    signing_public_keys: tuple[str, ...] = ()
    signing_key_file: Path | None = None
    keep_daily: int = 7
    keep_weekly: int = 4
    keep_monthly: int = 6
    pg_bin_dir: Path | None = None
    scratch_server_url: str | None = field(default=None, repr=False)
    # schemas left out of every dump (patterns like "audit_*"); on Supabase its own schemas
    # (auth, storage, realtime, extensions ...) are left out without being listed here
    exclude_schemas: tuple[str, ...] = ()


@dataclass(frozen=True)
class LintConfig:
    """``spectral-deploy lint``: which rules run (it lints ``[migrations] directory``).

    ``enable`` turns on rules that are off by default, ``disable`` turns rules off;
    both take rule names or codes (checked by the lint, which knows the rules).
    ``jobs`` is how many processes lint independent files; 0 means one per core.
    ``override_scope`` is what one ``-- compat: breaking`` marker covers: ``"file"`` (every
    finding of its file, the runbook's rule) or ``"statement"`` (the statement after it).
    ``max_file_bytes`` is the largest migration file the lint reads.
    """

    enable: tuple[str, ...] = ()
    disable: tuple[str, ...] = ()
    jobs: int = 0
    override_scope: str = "file"
    max_file_bytes: int = 32 * 1024 * 1024


@dataclass(frozen=True)
class MigrationsConfig:
    """The app's own migrations: linted by ``lint``, applied by ``migrate apply``.

    ``tool`` says what writes them: ``sql`` (``.sql`` files in ``directory``), ``alembic``
    (revisions found through ``alembic.ini`` at the project root), ``django``
    (``manage.py``'s migrations), ``none`` (the app has no schema), or ``auto`` (the
    default: ``alembic.ini``, else ``manage.py``, else ``sql``). Alembic and Django
    revisions are linted as the SQL the tool renders, run by ``[hosting] python``.

    ``command`` replaces the built-in runner for projects that use another tool
    (``alembic upgrade head``, ``supabase db push``, ``dbmate up``); it runs with
    ``DATABASE_URL`` and ``SPECTRAL_GENERATION`` set. With ``alembic`` or ``django`` and no
    command, the tool's own (``{python} -m alembic upgrade head``,
    ``{python} manage.py migrate``) runs.
    """

    directory: Path = Path("migrations")
    tool: str = "auto"
    command: str | None = None
    lock_timeout_seconds: int = 5
    statement_timeout_seconds: int = 600


@dataclass(frozen=True)
class DeployConfig:
    """The cutover: waits, the smoke test and the hold window."""

    health_timeout_seconds: float = 120.0
    workers_ready_timeout_seconds: float = 60.0
    smoke_paths: tuple[str, ...] = ("/health",)
    hold_seconds: float = 900.0
    watch_interval_seconds: float = 5.0
    release_tag_pattern: str = "v*"


@dataclass(frozen=True)
class HostingConfig:
    """Where blue and green run. ``local`` runs processes on this machine.

    ``python`` is the app's own interpreter (its virtualenv's ``bin/python``, relative to the
    project root, or a command on ``PATH``; empty: spectral-deploy's own). It runs the app's
    migration tool, and locally ``{python}`` in commands and the workers.

    ``web_command`` runs from the release's checkout with its placeholders filled in
    (``{python}``, ``{port}``, ``{color}``, ``{generation}``, ``{project}``) and
    ``SPECTRAL_GENERATION``, ``DATABASE_URL`` and ``PORT`` set; ``worker_app`` is what
    ``spectral-deploy worker --app`` loads; ``workers`` how many worker processes a color runs.
    """

    provider: str = "local"
    python: str = ""
    web_command: str = ""
    worker_app: str = ""
    workers: int = 1
    health_path: str = "/health"
    blue_port: int = 8101
    green_port: int = 8102
    # render: one web service and one worker service per color
    blue_service_id: str = ""
    green_service_id: str = ""
    blue_worker_service_id: str = ""
    green_worker_service_id: str = ""
    blue_url: str = ""
    green_url: str = ""
    # render: API (empty: $RENDER_API_BASE_URL, else Render's), deploy wait, rollback builds
    api_url: str = ""
    deploy_timeout_seconds: float = 1800.0
    poll_seconds: float = 5.0
    # how many successful builds Render keeps for rollbacks (plan-dependent: free 2,
    # hobby 5, pro 15, scale/enterprise 30); an older commit needs a rebuild
    builds_retained: int = 5


@dataclass(frozen=True)
class DnsConfig:
    """The public hostname: a CNAME pointing at blue's or green's target.

    ``local`` plays the CNAME with a router on ``listen`` (a loopback address); its
    resolver cache honours ``ttl`` and, for clients that say so, ``long_tail_seconds``.
    ``public_url`` (e.g. ``https://app.example.com/health``) is requested after each flip
    until its ``Spectral-Generation`` header shows the generation the flip meant
    (``spectral_deploy.middleware``); empty: the record read back alone confirms a flip.
    """

    provider: str = "local"
    record: str = "app.localhost"
    ttl: int = 60
    proxied: bool = False
    blue_target: str = "blue"
    green_target: str = "green"
    zone_id: str = ""
    listen: str = "127.0.0.1:8100"
    long_tail_seconds: float = 0.0
    public_url: str = ""

    def target_of(self, color: str) -> str:
        """The CNAME target that sends traffic to ``color`` (a ``providers.base.Color``;
        compared by its value, as this module sits below the providers)."""
        return self.blue_target if color == "blue" else self.green_target


@dataclass(frozen=True)
class VcsConfig:
    """Where tags come from: ``git`` (the project's repository) or ``github`` (its API).

    With ``github``, a Class 3 rollback dispatches ``deploy_workflow`` and waits up to
    ``workflow_timeout_seconds`` for its run, reading it every ``workflow_poll_seconds``.
    """

    provider: str = "git"
    repository: str = ""
    deploy_workflow: str = "deploy-prod.yml"
    workflow_timeout_seconds: float = 5400.0
    workflow_poll_seconds: float = 10.0
    # github: API (empty: $GITHUB_API_URL, else api.github.com; GitHub Enterprise sets it)
    api_url: str = ""


@dataclass(frozen=True)
class NotifyConfig:
    """Communications of a rollback (Class 2-5)."""

    chat: str = "console"
    release_notes: str = "none"
    incident_log: Path = Path("docs/incidents.md")


@dataclass(frozen=True)
class ErrorRateConfig:
    """Where the hold-window watch reads the error rate: ``none`` or ``sentry``.

    A breach is more than ``max_errors`` errors of the release since the flip *and* an error
    rate (per minute) above ``max_rate_ratio`` times the previous release's over as long a
    window before the flip. Only events of ``environment`` count (empty: every environment).
    """

    provider: str = "none"
    organization: str = ""
    project: str = ""
    max_errors: int = 0
    max_rate_ratio: float = 2.0
    environment: str = "production"
    # sentry: server (empty: $SENTRY_URL, else sentry.io; self-hosted Sentry sets it)
    api_url: str = ""


@dataclass(frozen=True)
class Config:
    """The whole configuration, resolved against the project root."""

    project_root: Path
    source: str
    database: DatabaseConfig = DatabaseConfig()
    embedded: EmbeddedConfig = EmbeddedConfig()
    outbox: OutboxConfig = OutboxConfig()
    backup: BackupConfig = BackupConfig()
    lint: LintConfig = LintConfig()
    migrations: MigrationsConfig = MigrationsConfig()
    deploy: DeployConfig = DeployConfig()
    hosting: HostingConfig = HostingConfig()
    dns: DnsConfig = DnsConfig()
    vcs: VcsConfig = VcsConfig()
    notify: NotifyConfig = NotifyConfig()
    errors: ErrorRateConfig = ErrorRateConfig()

    @property
    def embedded_data_dir(self) -> Path:
        """The embedded server's directory, absolute."""
        path = self.embedded.data_dir
        return path if path.is_absolute() else self.project_root / path

    @property
    def migrations_dir(self) -> Path:
        """The directory ``spectral-deploy lint`` checks when given no path, absolute."""
        path = self.migrations.directory
        return path if path.is_absolute() else self.project_root / path


_RESOLVED_FIELDS = ("project_root", "source")
_SECTIONS: dict[str, type[Any]] = {
    f.name: typing.get_type_hints(Config)[f.name]
    for f in dataclasses.fields(Config)
    if f.name not in _RESOLVED_FIELDS
}


def find_config_file(start: Path) -> Path | None:
    """The nearest spectral.toml (or pyproject.toml with our table) at or above start."""
    for directory in (start, *start.parents):
        candidate = directory / CONFIG_FILENAME
        if candidate.is_file():
            return candidate
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and _pyproject_has_table(pyproject):
            return pyproject
    return None


def load_config(
    *,
    config_file: Path | None = None,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> Config:
    """Resolve the configuration from file, environment and overrides."""
    environ = os.environ if environ is None else environ
    cwd = (cwd or Path.cwd()).resolve()
    if config_file is None and environ.get(f"{ENV_PREFIX}CONFIG"):
        config_file = Path(environ[f"{ENV_PREFIX}CONFIG"])
    if config_file is not None:
        config_file = (cwd / config_file).resolve()
        if not config_file.is_file():
            raise ConfigError("config file does not exist", key="--config", source=str(config_file))
    else:
        config_file = find_config_file(cwd)

    raw: dict[str, Any] = {}
    source = "defaults"
    project_root = cwd
    if config_file is not None:
        raw = _read_table(config_file)
        source = str(config_file)
        project_root = config_file.parent

    sections: dict[str, Any] = {}
    for name, section_type in _SECTIONS.items():
        file_values = raw.pop(name, {})
        if not isinstance(file_values, dict):
            raise ConfigError("must be a table", key=name, source=source)
        sections[name] = _build_section(name, section_type, file_values, source, environ)
    if raw:
        unknown = sorted(raw)[0]
        raise ConfigError(
            f"unknown section (known: {', '.join(sorted(_SECTIONS))})",
            key=unknown,
            source=source,
        )

    for dotted, text in (overrides or {}).items():
        sections = _apply_override(sections, dotted, text)

    _check_outbox(sections["outbox"], source)
    _check_migrations(sections["migrations"], source)
    _check_counts(sections["backup"], source)
    _check_timeouts(sections, source)
    sections["dns"] = _normalized_dns(sections["dns"])
    return Config(project_root=project_root, source=source, **sections)


def normalize_host(name: str) -> str:
    """A DNS name as DNS compares it: no surrounding space, no trailing dot, lower case."""
    return name.strip().rstrip(".").lower()


def _normalized_dns(dns: DnsConfig) -> DnsConfig:
    """The record and the targets as DNS compares them, so that reading back
    ``Shop-Blue.onrender.com.`` is recognised as blue, never as "somewhere else"."""
    return dataclasses.replace(
        dns,
        record=normalize_host(dns.record),
        blue_target=normalize_host(dns.blue_target),
        green_target=normalize_host(dns.green_target),
    )


# the value of each provider key that keeps everything on this machine (the sandbox)
LOCAL_PROVIDERS = {
    "hosting.provider": "local",
    "dns.provider": "local",
    "vcs.provider": "git",
    "notify.chat": "console",
    "notify.release_notes": "none",
    "errors.provider": "none",
}


def production_providers(config: Config) -> dict[str, str]:
    """The provider keys set to something other than the local sandbox's, with their value."""
    found = {}
    for dotted, local in LOCAL_PROVIDERS.items():
        section, _, key = dotted.partition(".")
        value = getattr(getattr(config, section), key)
        if value != local:
            found[dotted] = value
    return found


def _check_outbox(outbox: OutboxConfig, source: str) -> None:
    """Relations between outbox timings that keep a live worker's rows from being re-run."""
    for key in ("batch_rows", "max_attempts", "max_payload_bytes"):
        if getattr(outbox, key) < 1:
            raise ConfigError("must be at least 1", key=f"outbox.{key}", source=source)
    for key in (
        "lease_seconds",
        "heartbeat_seconds",
        "poll_seconds",
        "backoff_base_seconds",
        "handler_timeout_seconds",
    ):
        if getattr(outbox, key) <= 0:
            raise ConfigError("must be positive", key=f"outbox.{key}", source=source)
    if outbox.heartbeat_seconds > outbox.lease_seconds / 3:
        raise ConfigError(
            f"must be at most a third of outbox.lease_seconds ({outbox.lease_seconds:g}), "
            "or a slow handler's lease can lapse between renewals",
            key="outbox.heartbeat_seconds",
            source=source,
        )
    if outbox.stale_after_seconds < 3 * outbox.heartbeat_seconds:
        raise ConfigError(
            f"must be at least three heartbeats ({3 * outbox.heartbeat_seconds:g} s), "
            "or live workers are taken for dead",
            key="outbox.stale_after_seconds",
            source=source,
        )


MIGRATION_TOOLS = ("auto", "sql", "alembic", "django", "none")


def _check_migrations(migrations: MigrationsConfig, source: str) -> None:
    if migrations.tool not in MIGRATION_TOOLS:
        raise ConfigError(
            f"unknown tool {migrations.tool!r} (known: {', '.join(MIGRATION_TOOLS)})",
            key="migrations.tool",
            source=source,
        )


def _pyproject_has_table(path: Path) -> bool:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return PYPROJECT_TABLE in data.get("tool", {})


def _read_table(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", key="file", source=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError("not UTF-8", key="file", source=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", key="file", source=str(path)) from exc
    if path.name == "pyproject.toml":
        table = data.get("tool", {}).get(PYPROJECT_TABLE, {})
        return dict(table) if isinstance(table, dict) else {}
    return data


def _build_section(
    name: str,
    section_type: type[Any],
    file_values: dict[str, Any],
    source: str,
    environ: Mapping[str, str],
) -> Any:
    hints = typing.get_type_hints(section_type)
    known = {f.name for f in dataclasses.fields(section_type)}
    for key in file_values:
        if key not in known:
            raise ConfigError(
                f"unknown key (known: {', '.join(sorted(known))})",
                key=f"{name}.{key}",
                source=source,
            )
    values: dict[str, Any] = {}
    for key in known:
        dotted = f"{name}.{key}"
        if key in file_values:
            values[key] = _coerce(file_values[key], hints[key], dotted, source, from_text=False)
            _refuse_secret(dotted, values[key], source)
        env_name = f"{ENV_PREFIX}{name}_{key}".upper()
        env_value = environ.get(env_name)
        if dotted == "database.url" and environ.get("DATABASE_URL"):  # the convention
            env_value = environ["DATABASE_URL"]
            env_name = "DATABASE_URL"
        if env_value is not None and env_value != "":
            if dotted in _URL_KEYS:
                register_url_password(env_value)
            values[key] = _coerce(env_value, hints[key], dotted, f"${env_name}", from_text=True)
    return section_type(**values)


def _apply_override(sections: dict[str, Any], dotted: str, text: str) -> dict[str, Any]:
    source = "--set"
    section_name, _, key = dotted.partition(".")
    if section_name not in sections or not key:
        raise ConfigError(
            f"unknown key (sections: {', '.join(sorted(sections))})", key=dotted, source=source
        )
    section = sections[section_name]
    hints = typing.get_type_hints(type(section))
    if key not in hints:
        raise ConfigError("unknown key", key=dotted, source=source)
    value = _coerce(text, hints[key], dotted, source, from_text=True)
    _refuse_secret(dotted, value, source)
    return {**sections, section_name: dataclasses.replace(section, **{key: value})}


_URL_KEYS = {
    "database.url": "export DATABASE_URL='postgresql://user:...@host/db' instead",
    "database.app_url": "export SPECTRAL_DATABASE_APP_URL='postgresql://app:...@host/db' instead",
    "backup.scratch_server_url": "put the password in PGPASSWORD or ~/.pgpass instead",
    "backup.storage": "cloud credentials come from the SDK's environment "
    "(GOOGLE_APPLICATION_CREDENTIALS, AWS_ACCESS_KEY_ID ...)",
    "hosting.api_url": "the API key comes from RENDER_API_KEY",
    "vcs.api_url": "the token comes from GITHUB_TOKEN",
    "errors.api_url": "the token comes from SENTRY_AUTH_TOKEN",
}


def _refuse_secret(dotted: str, value: Any, source: str) -> None:
    if dotted in _URL_KEYS and isinstance(value, str) and url_has_password(value):
        raise ConfigError(
            "contains a password; secrets come only from the environment",
            key=dotted,
            source=source,
            hint=_URL_KEYS[dotted],
        )


def _check_timeouts(sections: Mapping[str, Any], source: str) -> None:
    """Timeouts are 0 (none) or more; PostgreSQL would take a negative one as "none" too."""
    for section in ("database", "migrations"):
        values = sections[section]
        for item in dataclasses.fields(values):
            if not item.name.endswith("_seconds"):
                continue
            value = getattr(values, item.name)
            if value < 0:
                raise ConfigError(
                    f"must be 0 (no timeout) or more, got {value}",
                    key=f"{section}.{item.name}",
                    source=source,
                )


def _check_counts(backup: BackupConfig, source: str) -> None:
    for key in ("keep_daily", "keep_weekly", "keep_monthly"):
        if getattr(backup, key) < 0:
            raise ConfigError(
                f"must be 0 or more, got {getattr(backup, key)}", key=f"backup.{key}", source=source
            )


# libpq keywords that carry a secret: the password, and the passphrase of the client key
_SECRET_KEYWORD = re.compile(r"(?:^|[\s&?;])(?:ssl)?password\s*=", re.IGNORECASE)
_URL_USERINFO_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://[^/?#@]*:[^/?#@]*@")


def url_has_password(url: str) -> bool:
    """Whether a libpq URL or keyword string carries a password (or ``sslpassword``).

    Read without trusting a parser: ``password = x`` with spaces, a query parameter, a
    URL no parser accepts (``postgresql+psycopg://user:pw@...``) all count.
    """
    if _SECRET_KEYWORD.search(url):
        return True
    if "://" not in url:
        return False
    if _URL_USERINFO_PASSWORD.match(url):
        return True
    try:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        return bool(parts.password) or "password" in query or "sslpassword" in query
    except ValueError:
        return "@" in url  # unparseable and carrying userinfo: assume the worst


def _coerce(value: Any, hint: Any, dotted: str, source: str, *, from_text: bool) -> Any:
    """Turn a TOML value (or an env/flag string) into the field's declared type."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None or (from_text and value == ""):
            return None
        inner = next(arg for arg in typing.get_args(hint) if arg is not type(None))
        return _coerce(value, inner, dotted, source, from_text=from_text)
    if origin in (list, tuple):
        item_type = typing.get_args(hint)[0]
        if from_text and isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list):
            raise ConfigError(f"expected a list, got {value!r}", key=dotted, source=source)
        return tuple(
            _coerce(item, item_type, dotted, source, from_text=from_text) for item in value
        )
    scalar = _SCALARS.get(hint)
    if scalar is None:
        raise TypeError(f"config field {dotted} has an unsupported type {hint!r}")
    expected, convert = scalar
    result = convert(value, from_text)
    if result is _INVALID:
        raise ConfigError(f"expected {expected}, got {value!r}", key=dotted, source=source)
    return result


_INVALID = object()
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _to_bool(value: Any, from_text: bool) -> Any:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if from_text and text in _TRUE + _FALSE:
        return text in _TRUE
    return _INVALID


def _to_number(kind: type[int] | type[float]) -> typing.Callable[[Any, bool], Any]:
    def convert(value: Any, from_text: bool) -> Any:
        if isinstance(value, bool):
            return _INVALID
        if isinstance(value, int) or (kind is float and isinstance(value, float)):
            return kind(value)
        if from_text:
            try:
                return kind(str(value))
            except ValueError:
                return _INVALID
        return _INVALID

    return convert


def _to_str(value: Any, from_text: bool) -> Any:
    return value if isinstance(value, str) else _INVALID


def _to_path(value: Any, from_text: bool) -> Any:
    return Path(value).expanduser() if isinstance(value, str) and value else _INVALID


_SCALARS: dict[Any, tuple[str, typing.Callable[[Any, bool], Any]]] = {
    bool: ("true or false", _to_bool),
    int: ("an integer", _to_number(int)),
    float: ("a number", _to_number(float)),
    str: ("a string", _to_str),
    Path: ("a path", _to_path),
}
