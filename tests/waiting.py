"""The one way a test waits for something it cannot be told about: poll, then fail by name."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["wait_for"]


def wait_for(
    condition: Callable[[], object], timeout: float = 90.0, what: str = "", interval: float = 0.1
) -> None:
    """Poll ``condition`` every ``interval`` s until it is true; after ``timeout`` s fail with
    an AssertionError naming ``what`` (or the condition) and how long was waited."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or condition}")
        time.sleep(interval)
