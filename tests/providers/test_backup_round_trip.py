"""A whole backup -> verify -> restore through gs:// and s3://, against local servers."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.cloud import storage as gcs

from spectral_deploy.backup.catalog import read_catalog
from spectral_deploy.backup.keys import load_identities, parse_recipients
from spectral_deploy.backup.pipeline import run_backup
from spectral_deploy.backup.restore import restore_backup, verify_backup
from spectral_deploy.backup.storage import open_storage
from spectral_deploy.db.embedded import ServerStatus
from spectral_deploy.errors import BackupCorrupt
from tests.backup_support import make_keypair, seed_app_database, table_checksums
from tests.conftest import _scratch, server_url
from tests.providers.test_backup_storage import make_gcs_bucket, make_s3_bucket

pytestmark = pytest.mark.db


@pytest.fixture
def app_url(empty_database: str) -> str:
    """The sample application database."""
    seed_app_database(empty_database)
    return empty_database


@pytest.fixture
def target_url(pg_server: ServerStatus) -> Iterator[str]:
    """An empty database to restore into."""
    yield from _scratch(pg_server, f"test_restore_{secrets.token_hex(4)}", template=None)


@pytest.fixture(params=["gs", "s3"])
def bucket_url(request: pytest.FixtureRequest) -> str:
    """A fresh bucket URL on the GCS emulator or the S3 server."""
    if request.param == "gs":
        request.getfixturevalue("gcs_env")
        return f"gs://{make_gcs_bucket()}/nightly"
    request.getfixturevalue("s3_env")
    return f"s3://{make_s3_bucket()}/nightly"


def test_round_trip_through_object_storage(
    app_url: str, target_url: str, pg_server: ServerStatus, bucket_url: str, tmp_path: Path
) -> None:
    """run -> list -> verify -> restore through the bucket: data identical, verified listed."""
    keys = make_keypair(tmp_path)
    storage = open_storage(bucket_url, project_root=tmp_path)
    result = run_backup(app_url, storage, parse_recipients([keys.public_key], source="test"))
    assert result.storage_url == bucket_url

    identities = load_identities(keys.identity_file)
    [entry] = read_catalog(storage)
    assert entry.manifest == result.manifest and entry.intact and not entry.verified
    verification = verify_backup(
        storage,
        entry.manifest,
        identities,
        scratch_server_url=server_url(pg_server, "postgres"),
    )
    assert verification.ok, verification.error
    assert read_catalog(storage)[0].verified

    restore_backup(storage, entry.manifest, identities, target_url=target_url)
    assert table_checksums(target_url) == table_checksums(app_url)


def test_tampered_object_in_the_bucket_is_caught(
    app_url: str, target_url: str, gcs_env: str, tmp_path: Path
) -> None:
    """An object rewritten in the bucket (same size, one byte changed) is refused."""
    keys = make_keypair(tmp_path)
    bucket = make_gcs_bucket()
    storage = open_storage(f"gs://{bucket}/nightly", project_root=tmp_path)
    manifest = run_backup(
        app_url, storage, parse_recipients([keys.public_key], source="test")
    ).manifest
    blob = gcs.Client().bucket(bucket).blob(f"nightly/{manifest.object}")
    data = bytearray(blob.download_as_bytes())
    data[-100] ^= 0xFF
    blob.upload_from_string(bytes(data))

    with pytest.raises(BackupCorrupt, match="tampered"):
        restore_backup(
            storage, manifest, load_identities(keys.identity_file), target_url=target_url
        )
    assert table_checksums(target_url) == {}
