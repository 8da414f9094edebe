"""Crash points: where a test (or a chaos drill) can SIGKILL the deploy process on purpose.

``SPECTRAL_CRASH_AT=<point>`` makes the process kill itself with SIGKILL when it reaches
``<point>``: ``step-5:start`` (the step began, nothing done), ``step-5:done`` (the step did
its work but the deploy row does not say so yet), ``flip:dns-changed`` (the CNAME points at
green, the database does not know). ``deploy resume`` must end where an uninterrupted
deploy would.
"""

from __future__ import annotations

import os
import signal

__all__ = ["CRASH_ENV", "point"]

CRASH_ENV = "SPECTRAL_CRASH_AT"


def point(name: str) -> None:
    """Die here, now, if asked to."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
