"""Backup storage: one narrow interface, three backends chosen by URL scheme.

``file:///abs/path`` or ``file://relative/path`` (under the project root),
``gs://bucket/prefix`` (Google Cloud Storage; ``STORAGE_EMULATOR_HOST`` points the
client at an emulator) and ``s3://bucket/prefix`` (S3-compatible; the endpoint
comes from ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``). Credentials come only
from each SDK's usual environment and never appear in a URL, message or log.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from spectral_deploy.backup.storage.base import Hold, Storage, StoredObject, Upload
from spectral_deploy.errors import InputError

__all__ = ["Hold", "Storage", "StoredObject", "Upload", "open_storage"]

SCHEMES = ("file", "gs", "s3")


def open_storage(url: str, *, project_root: Path) -> Storage:
    """The backend for ``url``; a malformed URL is an InputError naming it."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in SCHEMES:
        raise InputError(
            f"storage URL {url!r} is not one of file://PATH, gs://BUCKET/PREFIX, "
            "s3://BUCKET/PREFIX",
            hint="spectral-deploy backup run --to file:///var/backups/shop",
        )
    if scheme == "file":
        if not rest:
            raise InputError(f"storage URL {url!r} has no path")
        path = Path(rest).expanduser()
        from spectral_deploy.backup.storage.local import LocalStorage

        return LocalStorage(path if path.is_absolute() else project_root / path)
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise InputError(
            f"storage URL for bucket {parts.hostname!r} carries credentials; "
            "they come only from the environment"
        )
    bucket = parts.hostname or ""
    prefix = parts.path.strip("/")
    if not bucket:
        raise InputError(f"storage URL {url!r} has no bucket")
    if scheme == "gs":
        from spectral_deploy.backup.storage.gcs import GcsStorage

        return GcsStorage(bucket, prefix)
    from spectral_deploy.backup.storage.s3 import S3Storage

    return S3Storage(bucket, prefix)
