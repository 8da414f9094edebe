"""Whether a process is alive, asked of the kernel: the one check every part uses."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["alive"]


def alive(pid: int | None) -> bool:
    """Whether a process with ``pid`` exists on this host (a zombie does not count).

    ``PermissionError`` means it exists under another user (the embedded server's own user,
    another operator's worker): alive.
    """
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): the signal's answer stands
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
