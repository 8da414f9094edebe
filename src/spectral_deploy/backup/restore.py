"""``backup verify`` and ``backup restore``: storage -> age -> pg_restore, streamed.

::

    Storage.open_read --> HashingReader --> pyrage.decrypt_io --> HoldbackWriter --> pg_restore -1
                          (sha256, size)    (authenticates       (last bytes held      (one
                                             every 64 KiB chunk)  until sha256 ok)      transaction)

Before a byte is downloaded the stored size is compared with the manifest
(truncation) and the identity with the manifest's recipients (wrong key). While
streaming, age authenticates each chunk, so pg_restore never sees forged data;
at the end the sha256 must match the manifest before pg_restore gets the last
bytes it needs to finish. pg_restore runs as one transaction, so any failure
leaves the target as it was.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pyrage
from psycopg import sql
from psycopg.conninfo import make_conninfo

from spectral_deploy._version import __version__
from spectral_deploy.backup.keys import Identities
from spectral_deploy.backup.manifest import Check, Manifest, Verification, verification_name
from spectral_deploy.backup.pipeline import stderr_tail
from spectral_deploy.backup.queries import catalog_statements, count_rows
from spectral_deploy.backup.signing import SigningKey
from spectral_deploy.backup.storage import Storage
from spectral_deploy.backup.streams import HashingReader, HoldbackWriter, Progress
from spectral_deploy.backup.tools import PgTool, find_tool, libpq_target
from spectral_deploy.db.access import execute
from spectral_deploy.db.connect import connect, describe_target
from spectral_deploy.errors import (
    BackupCorrupt,
    PreconditionFailed,
    SpectralError,
    StorageUnavailable,
    TargetNotEmpty,
    ToolFailed,
    WrongIdentity,
)
from spectral_deploy.redaction import register_secret

__all__ = ["RestoreResult", "restore_backup", "stream_into", "verify_backup"]

log = logging.getLogger(__name__)

APPLICATION_NAME = "spectral-deploy restore"
SCRATCH_PREFIX = "spectral_verify_"

Connection = psycopg.Connection[tuple[object, ...]]


@dataclass(frozen=True)
class RestoreResult:
    """What ``restore`` did."""

    backup_id: str
    target: str
    size_bytes: int
    pg_restore_version: str
    seconds: float
    replaced: bool

    def as_json(self) -> dict[str, Any]:
        """As ``backup restore --format json`` prints it."""
        return {
            "backup_id": self.backup_id,
            "target": self.target,
            "size_bytes": self.size_bytes,
            "pg_restore_version": self.pg_restore_version,
            "seconds": round(self.seconds, 3),
            "replaced_existing_objects": self.replaced,
        }


def stream_into(
    storage: Storage,
    manifest: Manifest,
    identities: Identities,
    argv: list[str],
    env: dict[str, str],
    *,
    progress: Progress | None = None,
) -> None:
    """Download, authenticate and decrypt ``manifest``'s object into the ``argv`` consumer."""
    where = f"{storage.url}/{manifest.object}"
    require_recipient(manifest, identities)
    _check_stored_size(storage, manifest, where)
    with tempfile.TemporaryFile() as errors:
        reader = HashingReader(storage.open_read(manifest.object), progress)
        try:
            process = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors, env=env
            )
        except OSError as exc:
            reader.close()
            raise ToolFailed(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
        assert process.stdin is not None
        sink = HoldbackWriter(process.stdin)
        finished = False
        try:
            decrypt_error: Exception | None = None
            try:
                pyrage.decrypt_io(reader, sink, identities.objects())
            except (pyrage.DecryptError, OSError) as exc:
                decrypt_error = exc
            if reader.failure is not None:
                raise _download_failed(where, reader.size_bytes, reader.failure)
            if sink.failure is not None:
                process.stdin.close()
                returncode = process.wait()
                raise ToolFailed(
                    f"{Path(argv[0]).name} stopped reading (status {returncode}): "
                    f"{stderr_tail(errors)}"
                )
            if decrypt_error is not None:
                raise _corrupt(where, manifest, identities, reader.size_bytes, decrypt_error)
            reader.drain()
            if reader.sha256 != manifest.sha256 or reader.size_bytes != manifest.size_bytes:
                raise BackupCorrupt(
                    f"{where} does not match its manifest: sha256 {reader.sha256} over "
                    f"{reader.size_bytes} bytes, the manifest says {manifest.sha256} over "
                    f"{manifest.size_bytes}; it was altered or replaced"
                )
            reader.finish_progress()
            try:
                sink.release()
                process.stdin.close()
            except OSError:
                pass  # pg_restore went away first: its status and stderr below say why
            returncode = process.wait()
            if returncode != 0:
                raise ToolFailed(
                    f"{Path(argv[0]).name} exited with status {returncode}: {stderr_tail(errors)}"
                )
            finished = True
        finally:
            reader.close()
            if not finished and process.poll() is None:
                # pg_restore has not had the last bytes: killing it rolls its transaction back
                process.kill()
                process.wait()


def _check_stored_size(storage: Storage, manifest: Manifest, where: str) -> None:
    """A missing or truncated object is refused before a byte is downloaded."""
    stored = storage.size(manifest.object)
    if stored is None:
        raise BackupCorrupt(f"{where} is missing, though its manifest exists")
    if stored != manifest.size_bytes:
        shorter = "truncated" if stored < manifest.size_bytes else "longer than recorded"
        raise BackupCorrupt(
            f"{where} is {shorter}: {stored} bytes stored, the manifest says "
            f"{manifest.size_bytes}; it cannot be restored"
        )


def _download_failed(where: str, offset: int, exc: BaseException) -> BaseException:
    """The storage's own error, or a StorageUnavailable for an SDK's exception."""
    if isinstance(exc, SpectralError | KeyboardInterrupt):
        return exc
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    failure = StorageUnavailable(
        f"{where}: the download failed after {offset} bytes: {type(exc).__name__} {first}".rstrip()
    )
    failure.__cause__ = exc
    return failure


def require_recipient(manifest: Manifest, identities: Identities) -> None:
    """WrongIdentity unless one of the identities' public keys is a recipient of the backup."""
    if set(identities.public_keys) & set(manifest.recipients):
        return
    raise WrongIdentity(
        f"identity file {identities.path} cannot decrypt backup {manifest.id}: it holds "
        f"{', '.join(identities.public_keys)}, the backup was encrypted to "
        f"{', '.join(manifest.recipients)}",
        hint="pass the identity file of one of those recipients with --identity",
    )


def _corrupt(
    where: str, manifest: Manifest, identities: Identities, offset: int, exc: Exception
) -> BackupCorrupt:
    if isinstance(exc, pyrage.DecryptError):
        return BackupCorrupt(
            f"{where}: the age header does not open with {identities.path}, although the "
            f"manifest lists its public key as a recipient: the object is corrupt or was replaced"
        )
    return BackupCorrupt(
        f"{where} failed age authentication after {offset} of {manifest.size_bytes} bytes: "
        "the object is tampered or truncated; nothing was restored from it"
    )


def verify_backup(
    storage: Storage,
    manifest: Manifest,
    identities: Identities,
    *,
    scratch_server_url: str,
    pg_bin_dir: Path | None = None,
    progress: Progress | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    signing_key: SigningKey | None = None,
) -> Verification:
    """Restore into a scratch database, check it against the manifest, record the result.

    The restore and the checks run as a throwaway role that is not a superuser and owns
    only the scratch database: whatever the dump holds (a CHECK constraint or a trigger
    calling ``COPY ... TO PROGRAM``, an untrusted language, an event trigger) runs with
    no more rights than that, so it fails the verification instead of running anything
    on the server's machine. A corrupt object or a failed pg_restore is recorded as a
    failed verification and raised; a wrong identity is the operator's mistake and
    records nothing. The record is signed with ``signing_key`` when one is given.
    """
    require_recipient(manifest, identities)
    started = time.monotonic()
    server = describe_target(scratch_server_url).rsplit("/", 1)[0]
    tool = _restore_tool(scratch_server_url, manifest, pg_bin_dir, what="the scratch server")
    scratch = f"{SCRATCH_PREFIX}{secrets.token_hex(4)}"
    checks: list[Check] = []

    def record(ok: bool, error: str | None) -> Verification:
        verification = Verification(
            backup_id=manifest.id,
            verified_at=clock(),
            ok=ok,
            checks=tuple(checks),
            error=error,
            scratch_server=server,
            duration_seconds=time.monotonic() - started,
            tool_version=__version__,
        )
        storage.write_bytes(
            verification_name(manifest.id, verification.verified_at),
            verification.to_bytes(signing_key),
        )
        log.info("action=backup.verified id=%s ok=%s error=%s", manifest.id, ok, error)
        return verification

    with _scratch_database(scratch_server_url, scratch) as scratch_url:
        dsn, env = libpq_target(scratch_url, application_name=APPLICATION_NAME)
        argv = [
            str(tool.path),
            f"--dbname={dsn}",
            "--no-password",
            "--single-transaction",
            "--exit-on-error",
            "--no-owner",
            "--no-privileges",
            "--no-publications",
            "--no-subscriptions",
            "--no-security-labels",
            "--no-tablespaces",
        ]
        try:
            stream_into(storage, manifest, identities, argv, env, progress=progress)
        except (BackupCorrupt, ToolFailed) as exc:
            checks.append(Check("restore", False, exc.message))
            record(False, exc.message)
            raise
        checks.append(Check("sha256", True, f"{manifest.sha256} over {manifest.size_bytes} bytes"))
        checks.append(Check("decrypt", True, "every age chunk authenticated"))
        checks.append(Check("restore", True, f"pg_restore {tool.version} into a scratch database"))
        checks.extend(_row_checks(scratch_url, manifest))
    failed = [c for c in checks if not c.ok]
    error = None
    if failed:
        error = f"{len(failed)} sanity check(s) failed: " + "; ".join(
            f"{c.name}: {c.detail}" for c in failed[:5]
        )
    return record(not failed, error)


def _row_checks(url: str, manifest: Manifest) -> list[Check]:
    checks: list[Check] = []
    queries = catalog_statements()
    with connect(url, autocommit=True, application_name=APPLICATION_NAME) as conn:
        queries.run(conn, "no_timeouts")
        for table in manifest.tables:
            qualified = f'"{_quote(table.schema)}"."{_quote(table.name)}"'
            if not queries.value(conn, "table_exists", {"table": qualified}):
                checks.append(Check(f"rows {table.qualified}", False, "table missing"))
                continue
            found = count_rows(conn, table.schema, table.name)
            checks.append(
                Check(
                    f"rows {table.qualified}",
                    found == table.rows,
                    f"{found} rows restored, {table.rows} recorded",
                )
            )
    return checks


def _quote(identifier: str) -> str:
    return identifier.replace('"', '""')


def restore_backup(
    storage: Storage,
    manifest: Manifest,
    identities: Identities,
    *,
    target_url: str,
    force: bool = False,
    no_owner: bool = False,
    pg_bin_dir: Path | None = None,
    progress: Progress | None = None,
) -> RestoreResult:
    """Restore into ``target_url``; refuses a database that holds tables unless ``force``."""
    require_recipient(manifest, identities)
    started = time.monotonic()
    target = describe_target(target_url)
    tool = _restore_tool(target_url, manifest, pg_bin_dir, what=f"the target {target}")
    existing, count = _existing_relations(target_url)
    if existing and not force:
        raise TargetNotEmpty(
            f"{target} already holds {count} relation(s) ({', '.join(existing)}"
            f"{', ...' if count > len(existing) else ''}); restoring there would mix two databases",
            hint="restore into an empty database (createdb), or add --force to drop and "
            "replace the objects the backup contains",
        )
    dsn, env = libpq_target(target_url, application_name=APPLICATION_NAME)
    argv = [str(tool.path), f"--dbname={dsn}", "--no-password", "--single-transaction"]
    argv.append("--exit-on-error")
    if existing:
        argv += ["--clean", "--if-exists"]
    if no_owner:
        argv += ["--no-owner", "--no-privileges"]
    log.info("action=backup.restore id=%s target=%s force=%s", manifest.id, target, force)
    stream_into(storage, manifest, identities, argv, env, progress=progress)
    return RestoreResult(
        backup_id=manifest.id,
        target=target,
        size_bytes=manifest.size_bytes,
        pg_restore_version=tool.version,
        seconds=time.monotonic() - started,
        replaced=bool(existing),
    )


@dataclass(frozen=True)
class _ServerInfo:
    version: str
    version_num: int


@dataclass(frozen=True)
class _Relation:
    relation: str
    total: int


def _restore_tool(url: str, manifest: Manifest, pg_bin_dir: Path | None, *, what: str) -> PgTool:
    """pg_restore of the server's major version, which must not be older than the dump's."""
    with connect(url, autocommit=True, application_name=APPLICATION_NAME) as conn:
        info = catalog_statements().one(conn, "server_info", into=_ServerInfo)
    assert info is not None
    major = info.version_num // 10000
    if major < manifest.server_major:
        raise PreconditionFailed(
            f"backup {manifest.id} was dumped from PostgreSQL {manifest.server_version}; "
            f"{what} runs {info.version}: restore it on PostgreSQL {manifest.server_major} or newer"
        )
    return find_tool("pg_restore", major, pinned_dir=pg_bin_dir)


def _existing_relations(url: str) -> tuple[list[str], int]:
    """Up to five relations already in the target, and how many there are."""
    with connect(url, autocommit=True, application_name=APPLICATION_NAME) as conn:
        rows = catalog_statements().all(conn, "user_relations", into=_Relation)
    return [r.relation for r in rows], rows[0].total if rows else 0


@contextlib.contextmanager
def _scratch_database(server_url: str, name: str) -> Iterator[str]:
    """A fresh database on the scratch server owned by a fresh unprivileged role (both
    dropped afterwards whatever happens); yields that role's URL of the database."""
    role = name  # spectral_verify_<hex>: one throwaway role per verification
    password = secrets.token_urlsafe(24)
    register_secret(password)
    statements = [
        sql.SQL(
            "CREATE ROLE {} LOGIN PASSWORD {} NOSUPERUSER NOCREATEDB NOCREATEROLE "
            "NOREPLICATION NOBYPASSRLS NOINHERIT CONNECTION LIMIT 4"
        ).format(sql.Identifier(role), sql.Literal(password)),
        sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(
            sql.Identifier(name), sql.Identifier(role)
        ),
        sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(name)),
    ]
    drops = [
        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)),
        sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)),
    ]
    try:
        with connect(server_url, autocommit=True, application_name=APPLICATION_NAME) as conn:
            try:
                for statement in statements:
                    execute(conn, statement)
            except SpectralError as exc:
                raise PreconditionFailed(
                    f"cannot create the scratch database and its unprivileged role on "
                    f"{describe_target(server_url)}: {exc.message}",
                    hint="the scratch server's user needs CREATEDB and CREATEROLE "
                    "(--scratch-server / backup.scratch_server_url)",
                ) from exc
        log.info("action=backup.scratch_created database=%s role=%s", name, role)
        yield make_conninfo(server_url, dbname=name, user=role, password=password)
    finally:
        try:
            with connect(server_url, autocommit=True, application_name=APPLICATION_NAME) as conn:
                for statement in drops:
                    execute(conn, statement)
            log.info("action=backup.scratch_dropped database=%s", name)
        except SpectralError as exc:
            log.warning("action=backup.scratch_left database=%s error=%s", name, exc)
