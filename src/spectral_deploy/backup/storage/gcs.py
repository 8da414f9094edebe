"""``gs://bucket/prefix`` storage on Google Cloud Storage.

Credentials are Application Default Credentials (``GOOGLE_APPLICATION_CREDENTIALS``,
workload identity, ``gcloud auth application-default login``). With
``STORAGE_EMULATOR_HOST`` set the client talks to that emulator, anonymously.

Uploads are resumable uploads of ``UPLOAD_CHUNK_BYTES`` at a time to
``prefix/.tmp/NAME.RANDOM``; commit rewrites that object to its final name
server-side (only if the name is free) and deletes the temporary one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO, cast

from spectral_deploy.backup.storage.base import TEMP_DIR, Hold, StoredObject
from spectral_deploy.errors import RetentionLocked, StorageUnavailable

__all__ = ["DOWNLOAD_CHUNK_BYTES", "UPLOAD_CHUNK_BYTES", "GcsStorage", "hold_of"]

# resumable uploads go in multiples of 256 KiB; this is what one upload keeps in memory
UPLOAD_CHUNK_BYTES = 8 * 1024 * 1024
DOWNLOAD_CHUNK_BYTES = 8 * 1024 * 1024


class GcsStorage:
    """Backups under ``gs://bucket/prefix``."""

    def __init__(self, bucket: str, prefix: str) -> None:
        self.bucket_name = bucket
        self.prefix = prefix
        self._bucket: Any = None

    @property
    def url(self) -> str:
        """``gs://bucket/prefix``."""
        return f"gs://{self.bucket_name}/{self.prefix}".rstrip("/")

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def bucket(self) -> Any:
        """The client's bucket handle, created on first use."""
        if self._bucket is None:
            with self._translated("cannot create a client"):
                from google.cloud import storage

                project = os.environ.get("GOOGLE_CLOUD_PROJECT")
                client = storage.Client(project=project) if project else storage.Client()
                self._bucket = client.bucket(self.bucket_name)
        return self._bucket

    def list(self) -> list[StoredObject]:
        """Objects directly under the prefix."""
        prefix = self._key("")
        with self._translated("cannot list"):
            blobs = self.bucket().client.list_blobs(self.bucket(), prefix=prefix, delimiter="/")
            return [
                StoredObject(name=blob.name[len(prefix) :], size_bytes=int(blob.size or 0))
                for blob in blobs
            ]

    def size(self, name: str) -> int | None:
        """The object's size, or None."""
        with self._translated(f"cannot stat {name}"):
            blob = self.bucket().get_blob(self._key(name))
            return None if blob is None else int(blob.size or 0)

    def read_bytes(self, name: str) -> bytes:
        """A small object's content."""
        with self._translated(f"cannot read {name}"):
            return cast(bytes, self.bucket().blob(self._key(name)).download_as_bytes())

    def write_bytes(self, name: str, data: bytes) -> None:
        """One-request upload: the object appears whole or not at all."""
        with self._translated(f"cannot write {name}"):
            self.bucket().blob(self._key(name)).upload_from_string(
                data, content_type="application/json"
            )

    def open_read(self, name: str) -> BinaryIO:
        """A ranged, chunked reader."""
        with self._translated(f"cannot open {name}"):
            blob = self.bucket().blob(self._key(name))
            return cast(BinaryIO, blob.open("rb", chunk_size=DOWNLOAD_CHUNK_BYTES))

    def open_upload(self, name: str) -> GcsUpload:
        """A resumable upload to a temporary object."""
        temp_name = self._key(f"{TEMP_DIR}/{name}.{secrets.token_hex(4)}")
        with self._translated(f"cannot start the upload of {name}"):
            temp = self.bucket().blob(temp_name)
            writer = temp.open(
                "wb",
                chunk_size=UPLOAD_CHUNK_BYTES,
                ignore_flush=True,
                content_type="application/octet-stream",
            )
        return GcsUpload(self, writer, temp, self._key(name))

    def hold(self, name: str) -> Hold | None:
        """A temporary or event-based hold, or a retention time not yet reached."""
        with self._translated(f"cannot read the metadata of {name}"):
            blob = self.bucket().get_blob(self._key(name))
        return None if blob is None else hold_of(blob, datetime.now(UTC))

    def delete(self, name: str) -> None:
        """Delete; the bucket's retention policy or a hold raises RetentionLocked."""
        from google.api_core import exceptions as gexc

        held = self.hold(name)
        if held is not None:
            raise RetentionLocked(f"{self.url}/{name} is locked: {held.describe()}")
        try:
            self.bucket().blob(self._key(name)).delete()
        except gexc.NotFound:
            return
        except gexc.Forbidden as exc:
            if "retention" in str(exc).lower() or "hold" in str(exc).lower():
                raise RetentionLocked(
                    f"{self.url}/{name} is locked by the bucket's retention policy"
                ) from exc
            raise StorageUnavailable(f"{self.url}: cannot delete {name}: access denied") from exc
        except Exception as exc:
            raise _unavailable(self.url, f"cannot delete {name}", exc) from exc

    @contextlib.contextmanager
    def _translated(self, what: str) -> Iterator[None]:
        try:
            yield
        except (StorageUnavailable, RetentionLocked):
            raise
        except Exception as exc:
            raise _unavailable(self.url, what, exc) from exc


class GcsUpload:
    """A resumable upload to a temporary object, rewritten to its final name on commit."""

    def __init__(self, storage: GcsStorage, writer: Any, temp: Any, final_key: str) -> None:
        self._storage = storage
        self._writer = writer
        self._temp = temp
        self._final_key = final_key

    def write(self, data: bytes) -> None:
        """Buffered up to one chunk, then sent."""
        with self._storage._translated("upload failed"):
            self._writer.write(data)

    def commit(self) -> None:
        """Finish the upload, rewrite server-side to the final name, drop the temporary."""
        with self._storage._translated(f"cannot commit {self._final_key}"):
            self._writer.close()
            final = self._storage.bucket().blob(self._final_key)
            token, _, _ = final.rewrite(self._temp, if_generation_match=0)
            while token is not None:
                token, _, _ = final.rewrite(self._temp, token=token, if_generation_match=0)
        self._drop_temp()

    def abort(self) -> None:
        """Drop the temporary object (an unfinished resumable upload simply expires)."""
        self._drop_temp()

    def _drop_temp(self) -> None:
        with contextlib.suppress(Exception):
            self._temp.delete()


def hold_of(blob: Any, now: datetime) -> Hold | None:
    """What keeps ``blob`` from being deleted: holds, bucket retention, object retention."""
    if getattr(blob, "temporary_hold", None):
        return Hold("temporary hold")
    if getattr(blob, "event_based_hold", None):
        return Hold("event-based hold")
    until = getattr(blob, "retention_expiration_time", None)
    if isinstance(until, datetime) and until > now:
        return Hold("bucket retention policy", until)
    retention = getattr(blob, "retention", None)
    retain_until = getattr(retention, "retain_until_time", None) if retention else None
    if isinstance(retain_until, datetime) and retain_until > now:
        mode = getattr(retention, "mode", None) or "locked"
        return Hold(f"object retention ({mode})", retain_until)
    return None


def _unavailable(url: str, what: str, exc: Exception) -> StorageUnavailable:
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exc

    if isinstance(exc, auth_exc.DefaultCredentialsError):
        return StorageUnavailable(
            f"{url}: {what}: no Google Cloud credentials found",
            hint="set GOOGLE_APPLICATION_CREDENTIALS, or run "
            "`gcloud auth application-default login`",
        )
    if isinstance(exc, gexc.NotFound):
        return StorageUnavailable(f"{url}: {what}: the bucket or object does not exist")
    if isinstance(exc, gexc.Forbidden):
        return StorageUnavailable(f"{url}: {what}: access denied")
    if isinstance(exc, gexc.GoogleAPICallError):
        return StorageUnavailable(f"{url}: {what}: {exc.code} {exc.message}")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return StorageUnavailable(f"{url}: {what}: {type(exc).__name__}: {first}")
