"""Every storage backend keeps the same contract, against servers that speak the vendor API."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from google.cloud import storage as gcs

from spectral_deploy.backup.storage import Storage, open_storage
from spectral_deploy.backup.storage import gcs as gcs_module
from spectral_deploy.errors import RetentionLocked, StorageUnavailable

MiB = 1024 * 1024


def new_bucket() -> str:
    """A bucket name no other test uses."""
    return f"spectral-{secrets.token_hex(4)}"


def make_gcs_bucket() -> str:
    """A new bucket on the GCS emulator."""
    name = new_bucket()
    gcs.Client().create_bucket(name)
    return name


def make_s3_bucket(*, locked: bool = False) -> str:
    """A new bucket on the S3 server (with Object Lock enabled if ``locked``)."""
    name = new_bucket()
    boto3.client("s3").create_bucket(Bucket=name, ObjectLockEnabledForBucket=locked)
    return name


@pytest.fixture(params=["file", "gs", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """A fresh, empty storage of each kind (gs and s3 against their local servers)."""
    if request.param == "file":
        yield open_storage(f"file://{tmp_path}/backups", project_root=tmp_path)
    elif request.param == "gs":
        request.getfixturevalue("gcs_env")
        yield open_storage(f"gs://{make_gcs_bucket()}/prod/db", project_root=tmp_path)
    else:
        request.getfixturevalue("s3_env")
        yield open_storage(f"s3://{make_s3_bucket()}/prod/db", project_root=tmp_path)


@pytest.fixture(autouse=True)
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """GCS chunks of 256 KiB (its minimum) so a few MiB take several requests."""
    monkeypatch.setattr(gcs_module, "UPLOAD_CHUNK_BYTES", 256 * 1024)
    monkeypatch.setattr(gcs_module, "DOWNLOAD_CHUNK_BYTES", 256 * 1024)


def test_small_objects_round_trip(storage: Storage) -> None:
    """write_bytes / read_bytes / size / list, for manifests."""
    assert storage.list() == []
    storage.write_bytes("a.manifest.json", b'{"x": 1}')
    assert storage.read_bytes("a.manifest.json") == b'{"x": 1}'
    assert storage.size("a.manifest.json") == 8
    assert storage.size("missing.json") is None
    assert [(o.name, o.size_bytes) for o in storage.list()] == [("a.manifest.json", 8)]


def test_streamed_upload_is_invisible_until_commit(storage: Storage) -> None:
    """A multi-part upload shows nothing under the prefix until commit, then all of it."""
    payload = os.urandom(11 * MiB + 123)  # three S3 parts of 5+ MiB, many GCS chunks
    upload = storage.open_upload("b.dump.age")
    for start in range(0, len(payload), 64 * 1024):
        upload.write(payload[start : start + 64 * 1024])
    assert storage.list() == []
    assert storage.size("b.dump.age") is None
    upload.commit()
    assert [(o.name, o.size_bytes) for o in storage.list()] == [("b.dump.age", len(payload))]

    reader = storage.open_read("b.dump.age")
    digest = hashlib.sha256()
    while chunk := reader.read(8192):
        digest.update(chunk)
    reader.close()
    assert digest.hexdigest() == hashlib.sha256(payload).hexdigest()


def test_aborted_upload_leaves_nothing(storage: Storage) -> None:
    """abort() discards what was written; nothing appears under the prefix."""
    upload = storage.open_upload("c.dump.age")
    upload.write(os.urandom(300 * 1024))
    upload.abort()
    assert storage.list() == []
    assert storage.size("c.dump.age") is None


def test_delete_is_idempotent_and_unheld_objects_have_no_hold(storage: Storage) -> None:
    """delete() removes an object; deleting it again is fine; no hold on plain objects."""
    storage.write_bytes("d.manifest.json", b"{}")
    assert storage.hold("d.manifest.json") is None
    storage.delete("d.manifest.json")
    storage.delete("d.manifest.json")
    assert storage.list() == []


def test_missing_bucket_is_one_clear_error(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """A bucket that does not exist: StorageUnavailable naming the URL (gs and s3)."""
    request.getfixturevalue("gcs_env")
    request.getfixturevalue("s3_env")
    for url in ("gs://no-such-bucket-spectral/x", "s3://no-such-bucket-spectral/x"):
        with pytest.raises(StorageUnavailable, match="does not exist") as caught:
            open_storage(url, project_root=tmp_path).list()
        assert url in caught.value.message


def test_s3_object_lock_is_respected(s3_env: str, tmp_path: Path) -> None:
    """An object under S3 Object Lock retention: hold() says so, delete() refuses."""
    bucket = make_s3_bucket(locked=True)
    storage = open_storage(f"s3://{bucket}/prod", project_root=tmp_path)
    storage.write_bytes("e.dump.age", b"locked bytes")
    until = datetime.now(UTC) + timedelta(days=30)
    boto3.client("s3").put_object_retention(
        Bucket=bucket,
        Key="prod/e.dump.age",
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until},
    )
    hold = storage.hold("e.dump.age")
    assert hold is not None and hold.reason == "object lock (governance)"
    with pytest.raises(RetentionLocked, match=r"s3://.*/prod/e\.dump\.age is locked"):
        storage.delete("e.dump.age")
    assert [o.name for o in storage.list()] == ["e.dump.age"]


def test_no_credentials_in_messages(s3_env: str, tmp_path: Path) -> None:
    """Errors name the URL, never the secret key from the environment."""
    storage = open_storage("s3://no-such-bucket-spectral/x", project_root=tmp_path)
    with pytest.raises(StorageUnavailable) as caught:
        storage.read_bytes("a")
    assert "spectral-test-secret" not in str(caught.value)
