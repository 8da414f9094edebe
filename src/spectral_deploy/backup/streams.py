"""The file-like adapters pyrage reads from and writes to, so nothing is ever buffered whole.

pyrage's ``encrypt_io`` / ``decrypt_io`` pull with ``read(8192)`` and push
64 KiB age chunks with ``write``; these adapters hash and count on the way and
keep the exception a callback raised (pyrage turns it into a plain message).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, BinaryIO

from spectral_deploy.backup.storage.base import Upload

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = ["PROGRESS_STEP_BYTES", "HashingReader", "HashingWriter", "HoldbackWriter"]

# progress callbacks fire at most once per this many bytes
PROGRESS_STEP_BYTES = 1024 * 1024
DRAIN_CHUNK_BYTES = 1024 * 1024

Progress = Callable[[int], None]


class _Counter(io.BufferedIOBase):
    def __init__(self, progress: Progress | None) -> None:
        super().__init__()
        self._hash = hashlib.sha256()
        self.size_bytes = 0
        self._progress = progress
        self._reported = 0
        self.failure: BaseException | None = None

    def _account(self, data: bytes) -> None:
        self._hash.update(data)
        self.size_bytes += len(data)
        if self._progress and self.size_bytes - self._reported >= PROGRESS_STEP_BYTES:
            self._reported = self.size_bytes
            self._progress(self.size_bytes)

    def finish_progress(self) -> None:
        """Report the final count."""
        if self._progress:
            self._progress(self.size_bytes)

    @property
    def sha256(self) -> str:
        """Hex sha256 of the bytes seen so far."""
        return self._hash.hexdigest()


class HashingWriter(_Counter):
    """Hashes and counts what pyrage writes, passing it on to a storage upload."""

    def __init__(self, upload: Upload, progress: Progress | None = None) -> None:
        super().__init__(progress)
        self._upload = upload

    def writable(self) -> bool:
        """A sink."""
        return True

    def write(self, buffer: ReadableBuffer, /) -> int:
        """Account for the bytes, then hand them to the upload."""
        data = bytes(buffer)
        try:
            self._account(data)
            self._upload.write(data)
        except BaseException as exc:
            self.failure = exc
            raise
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: the upload buffers at most one part."""


class HashingReader(_Counter):
    """Hashes and counts what pyrage reads from a stored object."""

    def __init__(self, source: BinaryIO, progress: Progress | None = None) -> None:
        super().__init__(progress)
        self._source = source

    def readable(self) -> bool:
        """A source."""
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        """Read from the source, accounting for the bytes."""
        try:
            data = self._source.read(-1 if size is None else size)
        except BaseException as exc:
            self.failure = exc
            raise
        self._account(data)
        return data

    def drain(self) -> None:
        """Read to the end so the hash covers every stored byte (trailing ones included)."""
        while self.read(DRAIN_CHUNK_BYTES):
            pass

    def close(self) -> None:
        """Close the source."""
        self._source.close()
        super().close()


class HoldbackWriter(io.BufferedIOBase):
    """Passes decrypted bytes to a consumer, always holding back the latest write.

    The consumer (pg_restore) cannot finish without the last bytes of the dump,
    so holding them back until the stored object's sha256 is confirmed means a
    restore never completes from an object that does not match its manifest.
    """

    def __init__(self, sink: IO[bytes]) -> None:
        super().__init__()
        self._sink = sink
        self._pending = b""
        self.failure: BaseException | None = None

    def writable(self) -> bool:
        """A sink."""
        return True

    def write(self, buffer: ReadableBuffer, /) -> int:
        """Send what was held, hold this."""
        data = bytes(buffer)
        if self._pending:
            self._send(self._pending)
        self._pending = data
        return len(data)

    def flush(self) -> None:
        """Deliberately nothing: the held bytes wait for ``release``."""

    def release(self) -> None:
        """Send the held bytes: the caller has confirmed the object."""
        if self._pending:
            self._send(self._pending)
            self._pending = b""
        self._sink.flush()

    def _send(self, data: bytes) -> None:
        try:
            self._sink.write(data)
        except BaseException as exc:
            self.failure = exc
            raise
