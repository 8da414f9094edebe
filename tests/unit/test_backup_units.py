"""Backup building blocks without a database: names, manifests, keys, tools, URLs, streams."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyrage
import pytest

from spectral_deploy.backup.keys import load_identities, parse_recipients
from spectral_deploy.backup.manifest import (
    Check,
    Manifest,
    TableRows,
    Verification,
    new_backup_id,
    parse_stored_name,
    verification_name,
)
from spectral_deploy.backup.restore import _download_failed
from spectral_deploy.backup.storage import open_storage
from spectral_deploy.backup.storage.gcs import GcsStorage
from spectral_deploy.backup.storage.gcs import hold_of as gcs_hold_of
from spectral_deploy.backup.storage.local import LocalStorage
from spectral_deploy.backup.storage.s3 import S3Storage
from spectral_deploy.backup.storage.s3 import hold_of as s3_hold_of
from spectral_deploy.backup.streams import HashingWriter, HoldbackWriter
from spectral_deploy.backup.tools import find_tool, libpq_target
from spectral_deploy.errors import InputError, RetentionLocked, StorageUnavailable, ToolNotFound
from tests.backup_support import make_keypair

NOW = datetime(2026, 11, 26, 9, 13, 0, 123456, tzinfo=UTC)


def sample_manifest() -> Manifest:
    """A manifest with every field set."""
    return Manifest(
        id=new_backup_id(NOW),
        sha256="ab" * 32,
        size_bytes=1234,
        created_at=NOW,
        completed_at=NOW + timedelta(seconds=3),
        database="shop",
        server_version="16.4",
        server_version_num=160004,
        pg_dump_version="16.4",
        tool_version="0.1.0",
        recipients=("age1one",),
        tables=(TableRows("public", "orders", 10),),
        generation=7,
    )


def test_ids_sort_by_time_and_names_parse_back() -> None:
    """Ids start with the UTC time; every stored name maps back to (id, kind)."""
    backup_id = new_backup_id(NOW)
    assert backup_id.startswith("20261126T091300Z-")
    assert new_backup_id(NOW + timedelta(seconds=1)) > backup_id
    assert parse_stored_name(f"{backup_id}.dump.age") == (backup_id, "object")
    assert parse_stored_name(f"{backup_id}.manifest.json") == (backup_id, "manifest")
    assert parse_stored_name(verification_name(backup_id, NOW)) == (backup_id, "verification")
    assert parse_stored_name("notes.txt") is None
    assert parse_stored_name("x.dump.age") is None


def test_manifest_round_trips() -> None:
    """A manifest read back equals the one written."""
    manifest = sample_manifest()
    assert Manifest.from_bytes(manifest.to_bytes(), source="m.json") == manifest
    assert manifest.server_major == 16
    assert json.loads(manifest.to_bytes())["object"] == f"{manifest.id}.dump.age"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda raw: raw.pop("sha256"), "m.json: missing key 'sha256'"),
        (lambda raw: raw.update(size_bytes="big"), "m.json: size_bytes: expected an integer"),
        (lambda raw: raw.update(format=99), "manifest format 99 is not supported"),
        (lambda raw: raw.update(created_at="yesterday"), "created_at: not an ISO 8601 time"),
        (lambda raw: raw["tables"][0].pop("rows"), "m.json: tables[0]: missing key 'rows'"),
    ],
)
def test_malformed_manifest_names_source_and_key(
    mutate: Callable[[dict[str, Any]], object], message: str
) -> None:
    """A broken manifest is an InputError naming the object and the key."""
    raw = sample_manifest().as_json()
    mutate(raw)
    with pytest.raises(InputError, match=re.escape(message)):
        Manifest.from_bytes(json.dumps(raw).encode(), source="m.json")


def test_manifest_that_is_not_json() -> None:
    """Garbage instead of JSON names the source."""
    with pytest.raises(InputError, match=r"m\.json: not valid JSON"):
        Manifest.from_bytes(b"\x00garbage", source="m.json")


def test_verification_round_trips() -> None:
    """A verification record read back keeps its outcome and checks."""
    record = Verification(
        backup_id="20261126T091300Z-3fa2c1",
        verified_at=NOW,
        ok=False,
        checks=(Check("rows a.b", False, "1 vs 2"),),
    )
    back = Verification.from_bytes(record.to_bytes(), source="v.json")
    assert (back.ok, back.checks, back.verified_at) == (False, record.checks, NOW)


def test_recipients_are_validated_and_deduplicated(tmp_path: Path) -> None:
    """Valid age1 keys pass (duplicates dropped); a bad one names the value and source."""
    key = make_keypair(tmp_path).public_key
    assert parse_recipients([key, f" {key} "], source="x").public_keys == (key,)
    with pytest.raises(InputError, match=r"backup.recipients: 'age1nope' is not an age X25519"):
        parse_recipients([key, "age1nope"], source="backup.recipients")


def test_no_recipients_says_how_to_make_one() -> None:
    """An empty recipient list points at age-keygen and the config key."""
    with pytest.raises(InputError) as caught:
        parse_recipients([], source="backup.recipients")
    assert caught.value.hint is not None
    assert "backup.recipients" in caught.value.hint and "age-keygen" in caught.value.hint


def test_identity_file_is_read_and_never_shown(tmp_path: Path) -> None:
    """Comments are skipped; repr shows the path and public key, never the secret."""
    pair = make_keypair(tmp_path)
    identities = load_identities(pair.identity_file)
    assert identities.public_keys == (pair.public_key,)
    assert pair.secret not in repr(identities)
    assert pair.public_key in repr(identities)


def test_bad_identity_line_names_file_and_line_without_echoing_it(tmp_path: Path) -> None:
    """A typo in a secret key: file:line in the error, the line itself nowhere."""
    pair = make_keypair(tmp_path)
    broken = pair.secret[:-3] + "QQQ"
    path = tmp_path / "broken.key"
    path.write_text(f"# comment\n\n{broken}\n")
    with pytest.raises(InputError) as caught:
        load_identities(path)
    assert str(caught.value) == f"{path}:3: not an age X25519 identity (AGE-SECRET-KEY-1...)"
    assert caught.value.__cause__ is None and caught.value.__context__ is not None
    assert broken not in str(caught.value) and broken not in repr(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [(None, "does not exist"), ("# only a comment\n", "holds no age identity")],
)
def test_missing_or_empty_identity_file(tmp_path: Path, text: str | None, message: str) -> None:
    """A missing file or one without identities is an InputError naming the file."""
    path = tmp_path / "id.key"
    if text is not None:
        path.write_text(text)
    with pytest.raises(InputError, match=message) as caught:
        load_identities(path)
    assert str(path) in str(caught.value)


def fake_tool(directory: Path, name: str, version: str) -> Path:
    """A script answering ``--version`` like a PostgreSQL client program."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f'#!/bin/sh\necho "{name} (PostgreSQL) {version}"\n')
    path.chmod(0o755)
    return path


def test_tool_of_the_servers_major_version_is_chosen(tmp_path: Path) -> None:
    """Among several pg_dump versions the one matching the server's major wins."""
    fake_tool(tmp_path / "17", "pg_dump", "17.2")
    wanted = fake_tool(tmp_path / "15", "pg_dump", "15.8")
    tool = find_tool("pg_dump", 15, search=[tmp_path / "17", tmp_path / "none", tmp_path / "15"])
    assert (tool.path, tool.major, tool.version) == (wanted, 15, "15.8")


def test_missing_major_version_is_named_with_what_was_found(tmp_path: Path) -> None:
    """No pg_dump 15: the error names 15, lists the other versions seen, and how to install."""
    other = fake_tool(tmp_path / "17", "pg_dump", "17.2")
    with pytest.raises(ToolNotFound) as caught:
        find_tool("pg_dump", 15, search=[tmp_path / "17"])
    assert caught.value.message == (
        f"the server runs PostgreSQL 15, and no pg_dump 15 was found; found only: {other} is 17.2"
    )
    assert caught.value.hint is not None and "postgresql-client-15" in caught.value.hint


def test_pinned_directory_is_the_only_place_looked(tmp_path: Path) -> None:
    """backup.pg_bin_dir pins the directory: nothing else is searched."""
    with pytest.raises(ToolNotFound, match=f"in {tmp_path}"):
        find_tool("pg_restore", 18, pinned_dir=tmp_path)


def test_password_goes_to_the_environment_not_the_command_line() -> None:
    """The connection string for pg_dump has no password; PGPASSWORD carries it."""
    dsn, env = libpq_target("postgresql://deploy:hunter2@db:5433/app", application_name="t")
    assert "hunter2" not in dsn
    assert "host=db" in dsn and "port=5433" in dsn and "dbname=app" in dsn
    assert env["PGPASSWORD"] == "hunter2"


@pytest.mark.parametrize(
    ("url", "kind", "where"),
    [
        ("file://.spectral/backups", LocalStorage, "file:///project/.spectral/backups"),
        ("file:///var/backups/shop", LocalStorage, "file:///var/backups/shop"),
        ("gs://shop-backups/prod/db", GcsStorage, "gs://shop-backups/prod/db"),
        ("gs://shop-backups", GcsStorage, "gs://shop-backups"),
        ("s3://shop-backups/prod/", S3Storage, "s3://shop-backups/prod"),
    ],
)
def test_storage_urls(url: str, kind: type, where: str) -> None:
    """Each scheme picks its backend; relative file paths are under the project root."""
    storage = open_storage(url, project_root=Path("/project"))
    assert isinstance(storage, kind)
    assert storage.url == where


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/var/backups", "is not one of file://PATH"),
        ("ftp://host/x", "is not one of file://PATH"),
        ("gs:///prefix", "has no bucket"),
        ("s3://key:secret@bucket/x", "carries credentials"),
    ],
)
def test_bad_storage_urls(url: str, message: str) -> None:
    """A malformed storage URL is an InputError; credentials in it are not echoed."""
    with pytest.raises(InputError, match=message) as caught:
        open_storage(url, project_root=Path("/project"))
    assert "secret" not in str(caught.value)


def test_local_hold_file_blocks_delete(tmp_path: Path) -> None:
    """A NAME.hold file keeps the object: hold() reports it, delete() refuses it."""
    storage = LocalStorage(tmp_path)
    storage.write_bytes("a.dump.age", b"x")
    (tmp_path / "a.dump.age.hold").write_text("legal hold: case 1234\n")
    hold = storage.hold("a.dump.age")
    assert hold is not None and "case 1234" in hold.describe()
    with pytest.raises(RetentionLocked, match="is held"):
        storage.delete("a.dump.age")
    assert [o.name for o in storage.list()] == ["a.dump.age"]


def test_local_upload_is_invisible_until_commit(tmp_path: Path) -> None:
    """Written under .tmp/, renamed into place on commit; abort leaves nothing."""
    storage = LocalStorage(tmp_path)
    upload = storage.open_upload("b.dump.age")
    upload.write(b"partial")
    assert storage.list() == []
    upload.commit()
    assert [(o.name, o.size_bytes) for o in storage.list()] == [("b.dump.age", 7)]
    aborted = storage.open_upload("c.dump.age")
    aborted.write(b"junk")
    aborted.abort()
    assert [o.name for o in storage.list()] == ["b.dump.age"]
    assert list((tmp_path / ".tmp").iterdir()) == []


def test_gcs_holds_and_retention() -> None:
    """Temporary and event-based holds, bucket retention and object retention all lock."""
    later = NOW + timedelta(days=30)
    blob = SimpleNamespace
    assert gcs_hold_of(blob(temporary_hold=True), NOW).reason == "temporary hold"  # type: ignore[union-attr]
    assert gcs_hold_of(blob(event_based_hold=True), NOW).reason == "event-based hold"  # type: ignore[union-attr]
    policy = gcs_hold_of(blob(retention_expiration_time=later), NOW)
    assert policy is not None and policy.until == later
    retention = blob(retain_until_time=later, mode="Locked")
    assert "Locked" in gcs_hold_of(blob(retention=retention), NOW).reason  # type: ignore[union-attr]
    assert gcs_hold_of(blob(retention_expiration_time=NOW - timedelta(days=1)), NOW) is None
    assert gcs_hold_of(blob(temporary_hold=False, event_based_hold=None), NOW) is None


def test_s3_object_lock_and_legal_hold() -> None:
    """A legal hold, or a retain-until date in the future, locks an S3 object."""
    assert s3_hold_of({"ObjectLockLegalHoldStatus": "ON"}, NOW).reason == "legal hold"  # type: ignore[union-attr]
    later = NOW + timedelta(days=1)
    hold = s3_hold_of({"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": later}, NOW)
    assert hold is not None and hold.reason == "object lock (compliance)" and hold.until == later
    assert s3_hold_of({"ObjectLockRetainUntilDate": NOW - timedelta(seconds=1)}, NOW) is None
    assert s3_hold_of({"ObjectLockLegalHoldStatus": "OFF"}, NOW) is None


def test_holdback_writer_keeps_the_last_write_until_release() -> None:
    """The consumer gets everything but the latest write until release()."""
    sink = io.BytesIO()
    writer = HoldbackWriter(sink)
    for part in (b"aaa", b"bbb", b"cc"):
        writer.write(part)
    writer.flush()
    assert sink.getvalue() == b"aaabbb"
    writer.release()
    assert sink.getvalue() == b"aaabbbcc"


def test_upload_errors_survive_pyrage() -> None:
    """An exception raised by the upload is kept, though pyrage reports only its text."""

    class Failing:
        def write(self, data: bytes) -> None:
            raise RetentionLocked("bucket says no")

        def commit(self) -> None: ...

        def abort(self) -> None: ...

    sink = HashingWriter(Failing())
    recipient = pyrage.x25519.Identity.generate().to_public()
    with pytest.raises(pyrage.EncryptError):
        pyrage.encrypt_io(io.BytesIO(b"x" * 100_000), sink, [recipient])
    assert isinstance(sink.failure, RetentionLocked)


def test_download_errors_become_storage_errors() -> None:
    """An SDK's exception while streaming a download is a StorageUnavailable naming the object."""
    cause = ConnectionResetError("peer reset")
    error = _download_failed("gs://b/p/x.dump.age", 4096, cause)
    assert isinstance(error, StorageUnavailable)
    assert str(error) == (
        "gs://b/p/x.dump.age: the download failed after 4096 bytes: ConnectionResetError peer reset"
    )
    assert error.__cause__ is cause
    own = StorageUnavailable("already translated")
    assert _download_failed("x", 0, own) is own


def test_a_backup_result_as_json_is_the_manifest_then_where_and_how_long() -> None:
    """`backup run --format json`: the manifest's keys, then storage, seconds and the left-out
    schemas, in that order (as the command printed it before the library built it)."""
    from spectral_deploy.backup.pipeline import BackupResult  # noqa: PLC0415

    manifest = sample_manifest()
    result = BackupResult(manifest, "file:///b", 1.5, excluded_schemas=("auth",))
    assert list(result.as_json().items()) == [
        *manifest.as_json().items(),
        ("storage", "file:///b"),
        ("seconds", 1.5),
        ("excluded_schemas", ["auth"]),
    ]


def test_a_listing_as_json_names_the_storage_then_each_backup(tmp_path: Path) -> None:
    """`backup list --format json`: {"storage", "backups": [each entry's as_json(now)]}."""
    from spectral_deploy.backup.catalog import listing_as_json, read_catalog  # noqa: PLC0415
    from spectral_deploy.backup.signing import Trust  # noqa: PLC0415

    storage = LocalStorage(tmp_path)
    manifest = sample_manifest()
    storage.write_bytes(f"{manifest.id}.manifest.json", manifest.to_bytes())
    entries = read_catalog(storage, Trust(allow_unsigned=True))
    assert list(listing_as_json(storage.url, entries, NOW).items()) == [
        ("storage", storage.url),
        ("backups", [e.as_json(NOW) for e in entries]),
    ]
    assert len(entries) == 1
