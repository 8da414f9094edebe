"""``s3://bucket/prefix`` storage on S3 or any S3-compatible service (MinIO, R2, ...).

Credentials and region come from boto3's usual chain (``AWS_ACCESS_KEY_ID`` ...,
``AWS_PROFILE``, instance roles); the endpoint of a non-AWS service from
``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``. Needs the ``s3`` extra (boto3).

Uploads are multipart uploads of ``PART_BYTES`` at a time. S3 makes nothing
visible under the key until CompleteMultipartUpload, so the in-progress upload
is the temporary name: a crash leaves an incomplete upload (invisible; expire it
with a lifecycle rule), never an object that looks like a backup.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO, cast

from spectral_deploy.backup.storage.base import Hold, StoredObject
from spectral_deploy.errors import RetentionLocked, StorageUnavailable

__all__ = ["PART_BYTES", "S3Storage", "hold_of"]

# S3 parts are at least 5 MiB (except the last); one part is what an upload keeps in memory
PART_BYTES = 8 * 1024 * 1024
_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3Storage:
    """Backups under ``s3://bucket/prefix``."""

    def __init__(self, bucket: str, prefix: str) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self._client: Any = None

    @property
    def url(self) -> str:
        """``s3://bucket/prefix``."""
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def client(self) -> Any:
        """The boto3 S3 client, created on first use."""
        if self._client is None:
            try:
                import boto3
            except ImportError as exc:
                raise StorageUnavailable(
                    f"{self.url}: S3 storage needs boto3, which is not installed",
                    hint="pip install 'spectral-deploy[s3]'",
                ) from exc
            with self._translated("cannot create a client"):
                self._client = boto3.client("s3")
        return self._client

    def list(self) -> list[StoredObject]:
        """Objects directly under the prefix."""
        prefix = self._key("")
        found: list[StoredObject] = []
        with self._translated("cannot list"):
            pages = (
                self.client()
                .get_paginator("list_objects_v2")
                .paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/")
            )
            for page in pages:
                for item in page.get("Contents", []):
                    found.append(
                        StoredObject(name=item["Key"][len(prefix) :], size_bytes=int(item["Size"]))
                    )
        return found

    def size(self, name: str) -> int | None:
        """The object's size, or None."""
        head = self._head(name)
        return None if head is None else int(head["ContentLength"])

    def read_bytes(self, name: str) -> bytes:
        """A small object's content."""
        with self._translated(f"cannot read {name}"):
            body = self.client().get_object(Bucket=self.bucket, Key=self._key(name))["Body"]
            return cast(bytes, body.read())

    def write_bytes(self, name: str, data: bytes) -> None:
        """One PUT: the object appears whole or not at all."""
        with self._translated(f"cannot write {name}"):
            self.client().put_object(
                Bucket=self.bucket, Key=self._key(name), Body=data, ContentType="application/json"
            )

    def open_read(self, name: str) -> BinaryIO:
        """The GET response body, read as it streams."""
        with self._translated(f"cannot open {name}"):
            response = self.client().get_object(Bucket=self.bucket, Key=self._key(name))
            return cast(BinaryIO, response["Body"])

    def open_upload(self, name: str) -> S3Upload:
        """A multipart upload to the final key (invisible until completed)."""
        key = self._key(name)
        with self._translated(f"cannot start the upload of {name}"):
            started = self.client().create_multipart_upload(Bucket=self.bucket, Key=key)
        return S3Upload(self, key, started["UploadId"])

    def hold(self, name: str) -> Hold | None:
        """A legal hold, or an object-lock retention date not yet reached."""
        head = self._head(name)
        return None if head is None else hold_of(head, datetime.now(UTC))

    def delete(self, name: str) -> None:
        """Delete; an object lock raises RetentionLocked."""
        held = self.hold(name)
        if held is not None:
            raise RetentionLocked(f"{self.url}/{name} is locked: {held.describe()}")
        with self._translated(f"cannot delete {name}"):
            self.client().delete_object(Bucket=self.bucket, Key=self._key(name))

    def _head(self, name: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        with self._translated(f"cannot stat {name}"):
            try:
                return cast(
                    dict[str, Any],
                    self.client().head_object(Bucket=self.bucket, Key=self._key(name)),
                )
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code"))
                if code in _MISSING and self._bucket_exists():
                    return None
                raise

    def _bucket_exists(self) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client().head_bucket(Bucket=self.bucket)
        except ClientError:
            return False
        return True

    @contextlib.contextmanager
    def _translated(self, what: str) -> Iterator[None]:
        try:
            yield
        except (StorageUnavailable, RetentionLocked):
            raise
        except Exception as exc:
            raise _unavailable(self.url, what, exc) from exc


class S3Upload:
    """Parts of ``PART_BYTES`` buffered one at a time."""

    def __init__(self, storage: S3Storage, key: str, upload_id: str) -> None:
        self._storage = storage
        self._key = key
        self._upload_id = upload_id
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        """Buffer; send a part whenever one is full."""
        self._buffer += data
        while len(self._buffer) >= PART_BYTES:
            self._send(bytes(self._buffer[:PART_BYTES]))
            del self._buffer[:PART_BYTES]

    def commit(self) -> None:
        """Send the last part and complete the upload."""
        if self._buffer or not self._parts:
            self._send(bytes(self._buffer))
            self._buffer.clear()
        with self._storage._translated(f"cannot complete the upload of {self._key}"):
            self._storage.client().complete_multipart_upload(
                Bucket=self._storage.bucket,
                Key=self._key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )

    def abort(self) -> None:
        """Abort the multipart upload; S3 discards its parts."""
        self._buffer.clear()
        with contextlib.suppress(Exception):
            self._storage.client().abort_multipart_upload(
                Bucket=self._storage.bucket, Key=self._key, UploadId=self._upload_id
            )

    def _send(self, part: bytes) -> None:
        number = len(self._parts) + 1
        with self._storage._translated(f"cannot upload part {number} of {self._key}"):
            sent = self._storage.client().upload_part(
                Bucket=self._storage.bucket,
                Key=self._key,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=part,
            )
        self._parts.append({"ETag": sent["ETag"], "PartNumber": number})


def hold_of(head: dict[str, Any], now: datetime) -> Hold | None:
    """What a HEAD response says keeps the object: a legal hold or object-lock retention."""
    if head.get("ObjectLockLegalHoldStatus") == "ON":
        return Hold("legal hold")
    until = head.get("ObjectLockRetainUntilDate")
    if isinstance(until, datetime) and until > now:
        mode = str(head.get("ObjectLockMode") or "retention").lower()
        return Hold(f"object lock ({mode})", until)
    return None


def _unavailable(url: str, what: str, exc: Exception) -> StorageUnavailable:
    from botocore import exceptions as bexc

    if isinstance(exc, bexc.NoCredentialsError):
        return StorageUnavailable(
            f"{url}: {what}: no AWS credentials found",
            hint="set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE "
            "(and AWS_ENDPOINT_URL_S3 for an S3-compatible service)",
        )
    if isinstance(exc, bexc.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "?"))
        if code in {"NoSuchBucket", *_MISSING}:
            return StorageUnavailable(f"{url}: {what}: the bucket or object does not exist")
        if code in {"AccessDenied", "403", "Forbidden"}:
            return StorageUnavailable(f"{url}: {what}: access denied")
        return StorageUnavailable(f"{url}: {what}: {code} {error.get('Message', '')}".rstrip())
    if isinstance(exc, bexc.EndpointConnectionError | bexc.ConnectionError):
        return StorageUnavailable(f"{url}: {what}: cannot reach the S3 endpoint")
    return StorageUnavailable(f"{url}: {what}: {type(exc).__name__}")
