"""The interface every backup storage backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol

__all__ = ["TEMP_DIR", "Hold", "Storage", "StoredObject", "Upload"]

# where uploads are written before they are committed under their final name
TEMP_DIR = ".tmp"


@dataclass(frozen=True)
class StoredObject:
    """One object directly under the prefix."""

    name: str
    size_bytes: int


@dataclass(frozen=True)
class Hold:
    """Why the storage refuses to delete an object (retention policy, hold, object lock)."""

    reason: str
    until: datetime | None = None

    def describe(self) -> str:
        """``temporary hold`` or ``retention until 2027-01-01T00:00:00+00:00``."""
        return f"{self.reason} until {self.until.isoformat()}" if self.until else self.reason


class Upload(Protocol):
    """A streamed write that becomes visible under its final name only on ``commit``."""

    def write(self, data: bytes) -> None:
        """Append bytes; memory use stays bounded by the backend's part size."""

    def commit(self) -> None:
        """Make the object visible under its final name (atomically where the storage can)."""

    def abort(self) -> None:
        """Discard what was written; never raises."""


class Storage(Protocol):
    """A flat namespace of objects under one prefix."""

    @property
    def url(self) -> str:
        """The storage URL, for messages (never carries credentials)."""

    def list(self) -> list[StoredObject]:
        """Objects directly under the prefix (temporary uploads excluded)."""

    def size(self, name: str) -> int | None:
        """The object's size in bytes, or None when it does not exist."""

    def read_bytes(self, name: str) -> bytes:
        """A small object's content (a manifest)."""

    def write_bytes(self, name: str, data: bytes) -> None:
        """Store a small object; it appears whole or not at all."""

    def open_read(self, name: str) -> BinaryIO:
        """A streaming reader over an object."""

    def open_upload(self, name: str) -> Upload:
        """Start a streamed upload of ``name``."""

    def hold(self, name: str) -> Hold | None:
        """The retention lock or hold that keeps the object, if any."""

    def delete(self, name: str) -> None:
        """Delete an object; a lock raises RetentionLocked, a missing object is fine."""
