"""The whole exception tree of Spectral Deploy.

Every error the tool raises on purpose is a ``SpectralError``. The CLI maps the
tree to exit codes in one place (``spectral_deploy.cli.main``)::

    SpectralError                       exit 1  the checked thing failed
    ├── CheckFailed                     exit 1  e.g. rows remain after a drain
    │   ├── BackupCorrupt               exit 1  a backup is tampered, truncated or not its manifest
    │   └── ReleaseNotFound             exit 1  the error tracker knows no such release
    ├── UsageError                      exit 2  bad flag, value or input file
    │   ├── ConfigError                 exit 2  names the key and the file
    │   ├── GenerationUnknown           exit 2  no generation given and no SPECTRAL_GENERATION
    │   └── InputError                  exit 2  names the file, line or value
    │       ├── InvalidEvent            exit 2  an outbox event that cannot be stored
    │       ├── WrongIdentity           exit 2  the age identity cannot open this backup
    │       └── MigrationToolFailed     exit 2  Alembic/Django could not list or render the
    │                                           migrations: names the command and its output
    ├── PreconditionFailed              exit 3  the world is not in the state required
    │   ├── DeployLockHeld              exit 3  another process drives a deploy right now
    │   ├── GenerationRefused           exit 3  a generation unknown or failed (see --force)
    │   ├── DatabaseUnreachable         exit 3  names host and port, never the password
    │   ├── SchemaNotInstalled          exit 3  run `spectral-deploy db init`
    │   ├── EmbeddedServerError         exit 3  the embedded PostgreSQL cannot start
    │   ├── ToolNotFound                exit 3  no pg_dump/pg_restore for the server's version
    │   ├── StorageUnavailable          exit 3  bucket or directory missing, unreachable, denied
    │   ├── TargetNotEmpty              exit 3  a restore target holds tables (see --force)
    │   └── RetentionLocked             exit 3  the storage holds an object under a lock
    ├── DatabaseError                   exit 1  a query failed (translated psycopg error)
    │   └── LedgerIsAppendOnly          exit 1  an UPDATE/DELETE hit the ledger
    ├── ProviderError                   exit 1  a provider call failed: names provider,
    │   │                                       operation and HTTP status, never a token
    │   ├── ProviderRejected            exit 1  401/403/404: our config or credentials
    │   ├── ProviderRateLimited         exit 1  429 after every retry: slow down
    │   └── ProviderUnavailable         exit 1  5xx, timeout, unreachable: their outage
    └── ToolFailed                      exit 1  pg_dump or pg_restore exited non-zero

An interrupted command (Ctrl-C, or a second one during a drain) exits ``EXIT_INTERRUPTED``
(130, the shell's 128 + SIGINT).

Each error carries an optional ``hint``: the next command an operator should run.
Library errors (psycopg, subprocess, OSError) are translated at the boundary and
chained with ``raise ... from exc``.
"""

from __future__ import annotations

__all__ = [
    "EXIT_INTERRUPTED",
    "BackupCorrupt",
    "CheckFailed",
    "ConfigError",
    "DatabaseError",
    "DatabaseUnreachable",
    "DeployLockHeld",
    "EmbeddedServerError",
    "GenerationRefused",
    "GenerationUnknown",
    "InputError",
    "InvalidEvent",
    "LedgerIsAppendOnly",
    "MigrationToolFailed",
    "PreconditionFailed",
    "ProviderError",
    "ProviderRateLimited",
    "ProviderRejected",
    "ProviderUnavailable",
    "ReleaseNotFound",
    "RetentionLocked",
    "SchemaNotInstalled",
    "SpectralError",
    "StorageUnavailable",
    "TargetNotEmpty",
    "ToolFailed",
    "ToolNotFound",
    "UsageError",
    "WrongIdentity",
]

EXIT_INTERRUPTED = 130


class SpectralError(Exception):
    """Base of every error Spectral Deploy raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class CheckFailed(SpectralError):
    """The thing the command checks is not true (lint violations, rows left over)."""

    exit_code = 1


class UsageError(SpectralError):
    """The operator asked for something malformed."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration key is unknown, mistyped, or holds a secret."""

    def __init__(self, message: str, *, key: str, source: str, hint: str | None = None) -> None:
        super().__init__(f"{source}: {key}: {message}", hint=hint)
        self.key = key
        self.source = source


class InputError(UsageError):
    """An input file or value cannot be used."""


class InvalidEvent(InputError):
    """An outbox event was rejected before touching the database (topic, payload, key, delay)."""


class MigrationToolFailed(InputError):
    """The app's migration tool (Alembic, Django) failed to list, render or report migrations.

    The message names the command as it ran (and the interpreter) and ends with its output.
    """


class GenerationUnknown(UsageError):
    """No usable generation: none given, ``SPECTRAL_GENERATION`` unset or not a positive int, or
    a generation that was never allocated (``emit`` checks, once per process and generation)."""


class PreconditionFailed(SpectralError):
    """The world is not in the state the command requires."""

    exit_code = 3


class DeployLockHeld(PreconditionFailed):
    """Another spectral-deploy process holds the deploy lock (it drives a deploy right now)."""


class GenerationRefused(PreconditionFailed):
    """A command needs a generation that exists and has not failed (a worker, an adopt target);
    ``--force`` overrides."""


class DatabaseUnreachable(PreconditionFailed):
    """PostgreSQL cannot be reached at the configured host and port."""


class SchemaNotInstalled(PreconditionFailed):
    """Spectral's own schema is missing or older than this tool needs."""


class EmbeddedServerError(PreconditionFailed):
    """The embedded PostgreSQL server cannot be initialised, started or stopped."""


class ProviderError(SpectralError):
    """A provider (Render, Cloudflare, GitHub, the local sandbox...) failed an operation."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        operation: str,
        status: int | None = None,
        hint: str | None = None,
    ) -> None:
        where = f"{provider} {operation}" + (f" (HTTP {status})" if status is not None else "")
        super().__init__(f"{where}: {message}", hint=hint)
        self.provider = provider
        self.operation = operation
        self.status = status


class ProviderRejected(ProviderError):
    """The vendor refused the request as ours to fix: a credential (401), a permission (403),
    or something named in the config that does not exist (404)."""


class ProviderRateLimited(ProviderError):
    """The vendor still rate-limits (429) after the retries the client allows."""


class ProviderUnavailable(ProviderError):
    """The vendor failed or did not answer: a 5xx, a timeout, a connection that never
    completed. The only class that says anything about the vendor's health."""


class DatabaseError(SpectralError):
    """A statement failed; the psycopg error is chained as ``__cause__``."""

    exit_code = 1


class LedgerIsAppendOnly(DatabaseError):
    """Something tried to rewrite history: the ledger refuses UPDATE and DELETE."""


class BackupCorrupt(CheckFailed):
    """A stored backup does not match its manifest or fails age authentication."""


class ReleaseNotFound(CheckFailed):
    """The error tracker has no such release: its errors cannot be counted (never "zero")."""


class WrongIdentity(InputError):
    """The age identity given cannot decrypt the backup (its key is not a recipient)."""


class ToolNotFound(PreconditionFailed):
    """No PostgreSQL client program (pg_dump, pg_restore) for the server's major version."""


class StorageUnavailable(PreconditionFailed):
    """Backup storage cannot be reached, does not exist, or refuses access."""


class TargetNotEmpty(PreconditionFailed):
    """A restore target already holds tables; restoring needs ``--force``."""


class RetentionLocked(PreconditionFailed):
    """The storage keeps an object under a retention lock or hold; it cannot be deleted."""


class ToolFailed(SpectralError):
    """pg_dump or pg_restore exited non-zero; the message carries the end of its stderr."""

    exit_code = 1
