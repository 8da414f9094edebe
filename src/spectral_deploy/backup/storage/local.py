"""``file://`` storage: a directory; uploads are renamed into place when complete.

A file ``NAME.hold`` beside an object holds it: ``prune`` keeps it and
``delete`` refuses it, the way a bucket's retention lock would.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import BinaryIO

from spectral_deploy.backup.storage.base import TEMP_DIR, Hold, StoredObject
from spectral_deploy.errors import InputError, RetentionLocked, StorageUnavailable

__all__ = ["HOLD_SUFFIX", "LocalStorage", "LocalUpload"]

HOLD_SUFFIX = ".hold"


def _plain_name(name: str) -> str:
    """A name directly in the directory: never a path, never ``..``."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise InputError(f"{name!r} is not an object name in the backup directory")
    return name


class LocalStorage:
    """Backups in a local (or mounted) directory; every name stays inside it."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, name: str) -> Path:
        return self.root / _plain_name(name)

    @property
    def url(self) -> str:
        """``file:///absolute/path``."""
        return f"file://{self.root}"

    def list(self) -> list[StoredObject]:
        """Regular files directly in the directory; an absent directory holds nothing."""
        if not self.root.exists():
            return []
        try:
            entries = sorted(os.scandir(self.root), key=lambda e: e.name)
            return [
                StoredObject(name=entry.name, size_bytes=entry.stat().st_size)
                for entry in entries
                if entry.is_file() and not entry.name.endswith(HOLD_SUFFIX)
            ]
        except OSError as exc:
            raise self._unavailable("cannot list", exc) from exc

    def size(self, name: str) -> int | None:
        """The file's size, or None."""
        try:
            return self._path(name).stat().st_size
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._unavailable(f"cannot stat {name}", exc) from exc

    def read_bytes(self, name: str) -> bytes:
        """The whole file."""
        try:
            return self._path(name).read_bytes()
        except OSError as exc:
            raise self._unavailable(f"cannot read {name}", exc) from exc

    def write_bytes(self, name: str, data: bytes) -> None:
        """Write beside, fsync, rename into place."""
        upload = self.open_upload(name)
        try:
            upload.write(data)
            upload.commit()
        except BaseException:
            upload.abort()
            raise

    def open_read(self, name: str) -> BinaryIO:
        """The file opened for reading."""
        try:
            return self._path(name).open("rb")
        except OSError as exc:
            raise self._unavailable(f"cannot open {name}", exc) from exc

    def open_upload(self, name: str) -> LocalUpload:
        """A temporary file under ``.tmp/`` renamed to ``name`` on commit."""
        temp_dir = self.root / TEMP_DIR
        try:
            temp_dir.mkdir(parents=True, exist_ok=True)
            temp = temp_dir / f"{_plain_name(name)}.{os.getpid()}-{secrets.token_hex(4)}"
            handle = temp.open("xb")
        except OSError as exc:
            raise self._unavailable("cannot write", exc) from exc
        return LocalUpload(self, handle, temp, self._path(name))

    def hold(self, name: str) -> Hold | None:
        """A ``NAME.hold`` file beside the object holds it."""
        marker = self._path(name + HOLD_SUFFIX)
        try:
            text = marker.read_text(encoding="utf-8", errors="replace").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._unavailable(f"cannot read {marker.name}", exc) from exc
        first_line = text.splitlines()[0] if text else ""
        return Hold(reason=f"hold file {marker.name}" + (f" ({first_line})" if first_line else ""))

    def delete(self, name: str) -> None:
        """Unlink, unless a hold file keeps it."""
        held = self.hold(name)
        if held is not None:
            raise RetentionLocked(f"{self.url}/{name} is held: {held.describe()}")
        try:
            self._path(name).unlink(missing_ok=True)
        except OSError as exc:
            raise self._unavailable(f"cannot delete {name}", exc) from exc

    def _unavailable(self, what: str, exc: OSError) -> StorageUnavailable:
        return StorageUnavailable(f"{self.url}: {what}: {exc.strerror or exc}")


class LocalUpload:
    """A file being written under ``.tmp/``; renamed into place on commit."""

    def __init__(self, storage: LocalStorage, handle: BinaryIO, temp: Path, final: Path) -> None:
        self._storage = storage
        self._handle = handle
        self._temp = temp
        self._final = final

    def write(self, data: bytes) -> None:
        """Append to the temporary file."""
        try:
            self._handle.write(data)
        except OSError as exc:
            raise self._storage._unavailable(f"cannot write {self._temp.name}", exc) from exc

    def commit(self) -> None:
        """fsync, then rename into place and fsync the directory so the rename is durable."""
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._temp.replace(self._final)
            directory = os.open(self._final.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as exc:
            self.abort()
            raise self._storage._unavailable(f"cannot commit {self._final.name}", exc) from exc

    def abort(self) -> None:
        """Close and remove the temporary file."""
        with contextlib.suppress(OSError):
            self._handle.close()
        with contextlib.suppress(OSError):
            self._temp.unlink(missing_ok=True)
