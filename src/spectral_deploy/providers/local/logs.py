"""The local slots' logs: what each process of blue and green wrote, read back or followed.

The supervisor appends each process's output to ``.spectral/hosting/<color>/<name>.log``
(``web``, ``worker-1`` ...): the app's own log lines and tracebacks, across releases.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from spectral_deploy.providers.base import Color

__all__ = ["LogFile", "follow", "log_files", "tail"]

FOLLOW_POLL_SECONDS = 0.25
TAIL_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class LogFile:
    """One process's log: which color, which process, where."""

    color: Color
    name: str
    path: Path

    @property
    def label(self) -> str:
        """``blue/web``."""
        return f"{self.color}/{self.name}"


def log_files(state_dir: Path, colors: Sequence[Color], *, workers: bool) -> list[LogFile]:
    """The web logs (or the workers' logs) of ``colors`` that exist, in color then name order."""
    found: list[LogFile] = []
    for color in colors:
        directory = state_dir / "hosting" / str(color)
        if workers:
            paths = sorted(directory.glob("worker-*.log"), key=lambda p: _number(p.stem))
        else:
            paths = [directory / "web.log"]
        found.extend(LogFile(color, path.stem, path) for path in paths if path.is_file())
    return found


def tail(path: Path, lines: int) -> tuple[list[str], int]:
    """The last ``lines`` lines of ``path`` and the offset its end was at."""
    with path.open("rb") as handle:
        end = handle.seek(0, 2)
        start = end
        data = b""
        while start > 0 and data.count(b"\n") <= lines:
            start = max(0, start - TAIL_CHUNK_BYTES)
            handle.seek(start)
            data = handle.read(end - start)
    text = data.decode("utf-8", errors="replace").splitlines()
    return (text[-lines:] if lines > 0 else []), end


def follow(
    files: Sequence[LogFile],
    offsets: dict[Path, int],
    *,
    stop: Callable[[], bool] = lambda: False,
    poll_seconds: float = FOLLOW_POLL_SECONDS,
) -> Iterator[tuple[LogFile, str]]:
    """Lines appended to ``files`` after ``offsets``, as they come, until ``stop()``.

    A file that shrinks (replaced or truncated) is read again from its start.
    """
    pending: dict[Path, bytes] = {}
    while not stop():
        quiet = True
        for log in files:
            try:
                size = log.path.stat().st_size
            except OSError:
                continue
            offset = offsets.get(log.path, 0)
            if size < offset:
                offset = 0
            if size == offset:
                continue
            with log.path.open("rb") as handle:
                handle.seek(offset)
                data = pending.pop(log.path, b"") + handle.read(size - offset)
            offsets[log.path] = size
            *complete, rest = data.split(b"\n")
            if rest:
                pending[log.path] = rest
            for line in complete:
                quiet = False
                yield log, line.decode("utf-8", errors="replace")
        if quiet:
            time.sleep(poll_seconds)


def _number(stem: str) -> int:
    digits = stem.rpartition("-")[2]
    return int(digits) if digits.isdigit() else 0
