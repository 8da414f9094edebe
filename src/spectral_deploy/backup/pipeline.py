"""``backup run``: pg_dump -> age -> storage, streamed, in constant memory.

::

    pg_dump -Fc --snapshot=S  --pipe-->  pyrage.encrypt_io  -->  HashingWriter  -->  Upload
                                         (64 KiB chunks)         (sha256, size)      (one part)

Nothing holds the whole dump: pg_dump writes into a pipe, pyrage reads 8 KiB at a
time and emits 64 KiB age chunks, the upload buffers one part. The object is
written under a temporary name and committed only when pg_dump exited 0 and the
encryption finished; the manifest is written after it, so a crash never leaves
something that looks like a good backup.

The row counts in the manifest are taken in the very snapshot pg_dump dumps (our
transaction exports it, pg_dump imports it), on a thread while the dump streams.
"""

from __future__ import annotations

import contextlib
import io
import logging
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

import psycopg
import pyrage

from spectral_deploy._version import __version__
from spectral_deploy.backup.keys import Recipients
from spectral_deploy.backup.manifest import (
    Manifest,
    TableRows,
    manifest_name,
    new_backup_id,
    object_name,
)
from spectral_deploy.backup.queries import catalog_statements, count_rows
from spectral_deploy.backup.schemas import DumpScope, dump_scope
from spectral_deploy.backup.signing import SigningKey
from spectral_deploy.backup.storage import Storage
from spectral_deploy.backup.streams import HashingWriter, Progress
from spectral_deploy.backup.tools import PgTool, find_tool, libpq_target
from spectral_deploy.db.access import translated
from spectral_deploy.db.connect import connect, describe_target
from spectral_deploy.errors import SpectralError, ToolFailed
from spectral_deploy.ledger import generations, store

__all__ = ["STDERR_TAIL_BYTES", "BackupResult", "run_backup", "stderr_tail"]

log = logging.getLogger(__name__)

STDERR_TAIL_BYTES = 4000
APPLICATION_NAME = "spectral-deploy backup"

Connection = psycopg.Connection[tuple[object, ...]]


@dataclass(frozen=True)
class BackupResult:
    """A committed backup and what it cost."""

    manifest: Manifest
    storage_url: str
    seconds: float
    # schemas the dump left out: the platform's own (Supabase) and backup.exclude_schemas
    excluded_schemas: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """``backup run --format json``: the manifest, then where, how long, what was left out."""
        return {
            **self.manifest.as_json(),
            "storage": self.storage_url,
            "seconds": self.seconds,
            "excluded_schemas": list(self.excluded_schemas),
        }


def run_backup(
    database_url: str,
    storage: Storage,
    recipients: Recipients,
    *,
    schema: str = "spectral",
    pg_bin_dir: Path | None = None,
    exclude_schemas: Sequence[str] = (),
    progress: Progress | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    signing_key: SigningKey | None = None,
) -> BackupResult:
    """Dump ``database_url``, encrypt it to ``recipients`` and commit it to ``storage``; the
    manifest is signed with ``signing_key`` (readers refuse unsigned ones by default)."""
    started = time.monotonic()
    created_at = clock()
    backup_id = new_backup_id(created_at)
    queries = catalog_statements()
    target = describe_target(database_url)
    log.info("action=backup.start id=%s target=%s storage=%s", backup_id, target, storage.url)
    with _snapshot_connection(database_url) as conn:
        info = queries.one(conn, "snapshot_info", into=_SnapshotInfo)
        assert info is not None
        version, version_num, database, snapshot = (
            info.version,
            info.version_num,
            info.database,
            info.snapshot,
        )
        scope = dump_scope(conn, exclude=exclude_schemas)
        tables = [
            (table.schema, table.name)
            for table in queries.all(conn, "user_tables", into=_Table)
            if scope.keeps(table.schema)
        ]
        spectral = _spectral_schema_present(conn, schema)
        generation = _active_generation(conn, schema) if spectral else None
        tool = find_tool("pg_dump", version_num // 10000, pinned_dir=pg_bin_dir)
        ledger = _Ledger(database_url, schema, backup_id) if spectral else None
        if ledger:
            ledger.record(
                store.Outcome.STARTED,
                generation,
                {
                    "storage": storage.url,
                    "database": database,
                    "pg_dump": tool.version,
                    "excluded_schemas": list(scope.excluded_schemas),
                },
            )
        log.info(
            "action=backup.scope id=%s supabase=%s excluded_schemas=%s",
            backup_id,
            scope.supabase,
            ",".join(scope.excluded_schemas) or "-",
        )
        try:
            sha256, size_bytes, counts = _stream(
                conn,
                tool=tool,
                database_url=database_url,
                snapshot=snapshot,
                scope=scope,
                tables=tables,
                storage=storage,
                backup_id=backup_id,
                recipients=recipients,
                progress=progress,
            )
            manifest = Manifest(
                id=backup_id,
                sha256=sha256,
                size_bytes=size_bytes,
                created_at=created_at,
                completed_at=clock(),
                database=database,
                server_version=version,
                server_version_num=version_num,
                pg_dump_version=tool.version,
                tool_version=__version__,
                recipients=recipients.public_keys,
                tables=tuple(counts),
                generation=generation,
            )
            storage.write_bytes(manifest_name(backup_id), manifest.to_bytes(signing_key))
        except BaseException as exc:
            if ledger:
                ledger.record(store.Outcome.FAILED, generation, {"error": _describe(exc)})
            log.warning("action=backup.failed id=%s error=%s", backup_id, _describe(exc))
            raise
    seconds = time.monotonic() - started
    if ledger:
        ledger.record(
            store.Outcome.OK,
            generation,
            {
                "storage": storage.url,
                "sha256": manifest.sha256,
                "size_bytes": manifest.size_bytes,
                "seconds": round(seconds, 3),
            },
        )
    log.info(
        "action=backup.ok id=%s size_bytes=%d sha256=%s seconds=%.1f",
        backup_id,
        manifest.size_bytes,
        manifest.sha256,
        seconds,
    )
    return BackupResult(
        manifest=manifest,
        storage_url=storage.url,
        seconds=seconds,
        excluded_schemas=scope.excluded_schemas,
    )


def _stream(
    conn: Connection,
    *,
    tool: PgTool,
    database_url: str,
    snapshot: str,
    scope: DumpScope,
    tables: list[tuple[str, str]],
    storage: Storage,
    backup_id: str,
    recipients: Recipients,
    progress: Progress | None,
) -> tuple[str, int, list[TableRows]]:
    """Run pg_dump into the encryptor into the upload; count rows meanwhile."""
    dsn, env = libpq_target(database_url, application_name=APPLICATION_NAME)
    argv = [str(tool.path), "--format=custom", "--no-password", f"--snapshot={snapshot}"]
    argv += scope.pg_dump_args()
    argv.append(f"--dbname={dsn}")
    upload = storage.open_upload(object_name(backup_id))
    committed = False
    with (
        tempfile.TemporaryFile() as errors,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="backup-count") as pool,
    ):
        try:
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors, env=env
            )
        except OSError as exc:
            upload.abort()
            raise ToolFailed(f"cannot run {tool.path}: {exc.strerror or exc}") from exc
        counting: Future[list[TableRows]] = pool.submit(_count_rows, conn, tables)
        sink = HashingWriter(upload, progress)
        try:
            assert process.stdout is not None
            try:
                pyrage.encrypt_io(
                    cast(io.BufferedIOBase, process.stdout), sink, recipients.objects()
                )
            except pyrage.EncryptError as exc:
                if sink.failure is not None:
                    raise sink.failure from exc
                raise
            returncode = process.wait()
            if returncode != 0:
                raise ToolFailed(
                    f"pg_dump {tool.version} exited with status {returncode}: "
                    f"{stderr_tail(errors)}",
                    hint="the partial upload was discarded; nothing was committed",
                )
            counts = counting.result()
            sink.finish_progress()
            upload.commit()
            committed = True
        finally:
            if not committed:
                upload.abort()
            if process.poll() is None:
                process.kill()
                process.wait()
            with contextlib.suppress(Exception):
                counting.result()
    return sink.sha256, sink.size_bytes, counts


@dataclass(frozen=True)
class _SnapshotInfo:
    """The server, the database, and the snapshot pg_dump imports."""

    version: str
    version_num: int
    database: str
    snapshot: str


@dataclass(frozen=True)
class _Table:
    schema: str
    name: str


def _count_rows(conn: Connection, tables: list[tuple[str, str]]) -> list[TableRows]:
    return [
        TableRows(schema=schema, name=name, rows=count_rows(conn, schema, name))
        for schema, name in tables
    ]


@contextlib.contextmanager
def _snapshot_connection(url: str) -> Any:
    """A repeatable-read, read-only transaction with no timeouts: it lives as long as the dump."""
    conn = connect(url, autocommit=True, application_name=APPLICATION_NAME)
    try:
        catalog_statements().run(conn, "no_timeouts")
        conn.autocommit = False
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        yield conn
    finally:
        with contextlib.suppress(psycopg.Error):
            conn.rollback()
        conn.close()


def _spectral_schema_present(conn: Connection, schema: str) -> bool:
    quoted = '"' + schema.replace('"', '""') + '"'
    return bool(
        catalog_statements().value(
            conn,
            "spectral_schema_present",
            {"generations": f"{quoted}.generations", "ledger": f"{quoted}.ledger"},
        )
    )


def _active_generation(conn: Connection, schema: str) -> int | None:
    active = generations.active(conn, schema)
    return active.generation if active else None


class _Ledger:
    """Backup entries in the deploy ledger of the database being backed up (best effort)."""

    def __init__(self, url: str, schema: str, backup_id: str) -> None:
        self._url = url
        self._schema = schema
        self._backup_id = backup_id

    def record(
        self, outcome: store.Outcome, generation: int | None, details: dict[str, Any]
    ) -> None:
        try:
            with (
                translated(),
                connect(self._url, application_name=APPLICATION_NAME) as conn,
                conn.transaction(),
            ):
                store.append(
                    conn,
                    self._schema,
                    store.EntryKind.BACKUP,
                    "run",
                    outcome=outcome,
                    generation=generation,
                    details={"backup_id": self._backup_id, **details},
                )
        except SpectralError as exc:
            # the backup matters more than its ledger line; say so and carry on
            log.warning(
                "action=backup.ledger_unwritable id=%s outcome=%s error=%s",
                self._backup_id,
                outcome,
                exc.message,
            )


def stderr_tail(handle: IO[bytes]) -> str:
    """The last lines a tool wrote to its stderr file."""
    handle.flush()
    handle.seek(0, 2)
    size = handle.tell()
    handle.seek(max(0, size - STDERR_TAIL_BYTES))
    text = handle.read().decode("utf-8", errors="replace").strip()
    return text or "(no output)"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SpectralError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"
