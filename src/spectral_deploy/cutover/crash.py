"""Crash points: where a test (or a chaos drill) can SIGKILL the deploy process on purpose.

``SPECTRAL_CRASH_AT=<point>`` makes the process kill itself with SIGKILL when it reaches
``<point>``. The deployer's points: ``step-5:start`` (the step began, nothing done),
``step-5:done`` (the step did its work but the deploy row does not say so yet),
``flip:dns-changed`` (the CNAME points at green, the database does not know),
``abort:slot-stopped`` (abort stopped green, nothing recorded), ``finish:blue-retired``
(finish stopped blue, the deploy is not closed yet). The rollback runner's:
``rollback-<step>:start`` / ``rollback-<step>:done`` and ``rollback-flip-back:dns-changed``.
Every command the tool advises afterwards must be safe (see docs/cutover.md).

In-process tests replace the SIGKILL with ``install(handler)``: the handler sees every
point reached (to list them) and raises to simulate the kill.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

__all__ = ["CRASH_ENV", "install", "point"]

CRASH_ENV = "SPECTRAL_CRASH_AT"

_handler: Callable[[str], None] | None = None


def point(name: str) -> None:
    """Die here, now, if asked to."""
    if _handler is not None:
        _handler(name)
        return
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def install(handler: Callable[[str], None] | None) -> Callable[[str], None] | None:
    """Call ``handler`` at every crash point instead of reading the environment (None: back
    to the environment); returns the handler it replaces."""
    global _handler
    previous, _handler = _handler, handler
    return previous
