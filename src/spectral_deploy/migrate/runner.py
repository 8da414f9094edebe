"""Forward-only migrations: plain ``.sql`` files applied in name order, once each.

Each file runs in one transaction with its bookkeeping row, with ``lock_timeout`` and
``statement_timeout`` set, unless it holds a statement PostgreSQL refuses inside a
transaction (``CREATE INDEX CONCURRENTLY`` and friends): then its statements run one by
one outside a transaction, and such a file should be idempotent (``IF NOT EXISTS``).
Applied files are checksummed; editing one afterwards is an error. Runs are serialised by
an advisory lock. There are no down migrations: the fix for a bad migration is the next
migration (the runbook's Class 4).

A project that uses another tool sets ``[migrations] command`` instead; it runs with
``DATABASE_URL`` and ``SPECTRAL_GENERATION`` in its environment.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

import psycopg
from psycopg import sql

from spectral_deploy.config import Config, MigrationsConfig
from spectral_deploy.db.access import Statements, execute, statements, translated
from spectral_deploy.errors import CheckFailed, InputError, SpectralError, ToolFailed
from spectral_deploy.ledger.store import EntryKind, Outcome, append, current_actor
from spectral_deploy.lint.parse import SyntaxFailure, parse_sql
from spectral_deploy.lint.source import Text

__all__ = [
    "FileState",
    "MigrationFile",
    "MigrationStatus",
    "apply",
    "discover",
    "plan",
    "run_command",
    "statements_of",
]

log = logging.getLogger(__name__)
Connection = psycopg.Connection[Any]
MIGRATE = statements("spectral_deploy.migrate", "migrate.sql")

# statements PostgreSQL will not run inside a transaction block
NON_TRANSACTIONAL = "cannot run inside a transaction"


class FileState(StrEnum):
    """Where a migration file stands against the database."""

    APPLIED = "applied"
    PENDING = "pending"
    CHANGED = "changed"
    MISSING = "missing"
    UNKNOWN = "unknown"  # applied by another tool's command, which keeps its own record


@dataclass(frozen=True)
class MigrationFile:
    """One migration file on disk."""

    path: Path
    text: str

    @property
    def name(self) -> str:
        """The file name (the key it is recorded under)."""
        return self.path.name

    @property
    def checksum(self) -> str:
        """sha256 of the file's text."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class MigrationStatus:
    """A file (or a recorded migration whose file is gone) and its state."""

    name: str
    state: FileState
    generation: int | None = None
    applied_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "name": self.name,
            "state": str(self.state),
            "generation": self.generation,
            "applied_at": self.applied_at.isoformat() if self.applied_at else None,
        }


def discover(directory: Path) -> list[MigrationFile]:
    """The ``*.sql`` files of ``directory`` in name order."""
    if not directory.is_dir():
        raise InputError(
            f"migrations directory {directory} does not exist",
            hint="set [migrations] directory in spectral.toml",
        )
    files = []
    for path in sorted(p for p in directory.iterdir() if p.suffix == ".sql" and p.is_file()):
        try:
            files.append(MigrationFile(path, path.read_text(encoding="utf-8")))
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not UTF-8 (byte {exc.start})") from exc
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    return files


def plan(conn: Connection, schema: str, files: Sequence[MigrationFile]) -> list[MigrationStatus]:
    """Each file's state: applied, pending, or changed since it was applied; plus missing."""
    applied = _applied(conn, schema)
    statuses = []
    for file in files:
        record = applied.pop(file.name, None)
        if record is None:
            statuses.append(MigrationStatus(file.name, FileState.PENDING))
            continue
        state = FileState.APPLIED if record["checksum"] == file.checksum else FileState.CHANGED
        statuses.append(
            MigrationStatus(file.name, state, record["generation"], record["applied_at"])
        )
    for name, record in applied.items():
        statuses.append(
            MigrationStatus(name, FileState.MISSING, record["generation"], record["applied_at"])
        )
    return statuses


def apply(
    conn: Connection,
    schema: str,
    files: Sequence[MigrationFile],
    settings: MigrationsConfig,
    *,
    generation: int | None,
    on_file: Callable[[MigrationFile], None] = lambda file: None,
) -> list[str]:
    """Apply the pending files in order; returns their names. Stops at the first failure."""
    queries = MIGRATE(schema)
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.rollback()
    was_autocommit = conn.autocommit
    conn.autocommit = True
    done: list[str] = []
    try:
        queries.run(conn, "lock_migrations", {"schema": schema})
        try:
            statuses = {s.name: s for s in plan(conn, schema, files)}
            changed = [name for name, s in statuses.items() if s.state is FileState.CHANGED]
            if changed:
                raise CheckFailed(
                    f"applied migration(s) edited since: {', '.join(changed)}; "
                    "migrations are forward-only, so write a new one instead",
                    hint="git diff the file against the commit that applied it",
                )
            for file in files:
                if statuses[file.name].state is FileState.APPLIED:
                    continue
                on_file(file)
                _apply_one(conn, schema, queries, file, settings=settings, generation=generation)
                done.append(file.name)
        finally:
            queries.run(conn, "unlock_migrations", {"schema": schema})
    finally:
        conn.autocommit = was_autocommit
    return done


def run_command(
    command: str,
    *,
    cwd: Path,
    database_url: str,
    generation: int | None,
    config: Config | None = None,
) -> None:
    """Run another tool's migration command (``[migrations] command``, or the tool's own).

    With ``config``, the command's placeholders (``{python}``: the app's interpreter,
    ``{project}``) are filled in, and a relative program path is found in the project.
    """
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url
    if generation is not None:
        env["SPECTRAL_GENERATION"] = str(generation)
    if config is None:
        argv = shlex.split(command)
    else:
        from spectral_deploy.appenv import app_python, command_argv  # noqa: PLC0415

        argv = command_argv(
            command,
            {"python": app_python(config), "project": str(config.project_root)},
            key="migrations.command",
            source=config.source,
            project_root=config.project_root,
            cwd=cwd,
        )
    shown = shlex.join(argv)
    try:
        result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise ToolFailed(f"cannot run the migrations command {shown!r}: {exc.strerror}") from exc
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-10:])
        raise ToolFailed(f"the migrations command {shown!r} exited {result.returncode}:\n{tail}")


def statements_of(file: MigrationFile) -> tuple[list[str], bool]:
    """The file's statements and whether they can run in one transaction."""
    parsed = parse_sql(Text(file.text))
    if isinstance(parsed, SyntaxFailure):
        raise InputError(f"{file.path}: does not parse: {parsed.message}")
    texts = [file.text[s.start - s.base : s.end - s.base] for s in parsed]
    transactional = not any(_needs_autocommit(s.kind, s.node) for s in parsed)
    return texts, transactional


def _needs_autocommit(kind: str, node: Mapping[str, Any]) -> bool:
    if kind in ("IndexStmt", "DropStmt", "ReindexStmt") and node.get("concurrent"):
        return True
    if kind == "ReindexStmt":
        return any(
            option.get("DefElem", {}).get("defname") == "concurrently"
            for option in node.get("params", ())
        )
    if kind == "AlterTableStmt":  # DETACH PARTITION ... CONCURRENTLY
        return any(
            cmd.get("AlterTableCmd", {}).get("def", {}).get("PartitionCmd", {}).get("concurrent")
            for cmd in node.get("cmds", ())
        )
    return kind in ("VacuumStmt", "CreatedbStmt", "DropdbStmt", "AlterSystemStmt")


def _apply_one(
    conn: Connection,
    schema: str,
    queries: Statements,
    file: MigrationFile,
    *,
    settings: MigrationsConfig,
    generation: int | None,
) -> None:
    pieces, transactional = statements_of(file)
    timeouts = {
        "lock_timeout": f"{settings.lock_timeout_seconds}s",
        "statement_timeout": f"{settings.statement_timeout_seconds}s",
    }
    record = {
        "filename": file.name,
        "checksum": file.checksum,
        "generation": generation,
        "transactional": transactional,
        "applied_by": current_actor(),
    }
    started = time.monotonic()
    try:
        if transactional:
            with translated(), conn.transaction():
                queries.run(conn, "set_local_timeouts", timeouts)
                execute(conn, sql.SQL(cast(Any, file.text)))
                queries.run(conn, "record_applied", {**record, "duration_ms": _elapsed_ms(started)})
        else:
            queries.run(conn, "set_session_timeouts", timeouts)
            try:
                for statement in pieces:
                    execute(conn, sql.SQL(cast(Any, statement)))
            finally:
                execute(conn, "RESET lock_timeout")
                execute(conn, "RESET statement_timeout")
            queries.run(conn, "record_applied", {**record, "duration_ms": _elapsed_ms(started)})
    except SpectralError as error:
        raise CheckFailed(
            f"migration {file.name} failed: {error.message}"
            + ("" if transactional else " (it ran outside a transaction: check what it did)"),
            hint="fix forward with a new migration; spectral-deploy migrate status",
        ) from error
    with conn.transaction():
        append(
            conn,
            schema,
            EntryKind.MIGRATION,
            "apply",
            outcome=Outcome.OK,
            generation=generation,
            details={
                "file": file.name,
                "checksum": file.checksum,
                "transactional": transactional,
                "duration_ms": _elapsed_ms(started),
            },
        )
    log.info("action=migrate.applied file=%s generation=%s", file.name, generation)


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _applied_row(
    filename: str, checksum: str, generation: int | None, applied_at: datetime, **_: Any
) -> tuple[str, dict[str, Any]]:
    return filename, {"checksum": checksum, "generation": generation, "applied_at": applied_at}


def _applied(conn: Connection, schema: str) -> dict[str, dict[str, Any]]:
    return dict(MIGRATE(schema).all(conn, "applied", into=_applied_row))
