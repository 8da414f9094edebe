"""The one place commands say what SIGTERM and SIGINT do: ``on_stop_signals(stop)``.

A long-running command (``worker``, ``drain``, ``dashboard``) stops gracefully on the first
SIGTERM or Ctrl-C; a second Ctrl-C exits at once with ``EXIT_INTERRUPTED`` (nothing is lost:
leases expire and the rows are handled again). Other commands keep Python's defaults.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Collection
from types import FrameType

from spectral_deploy.errors import EXIT_INTERRUPTED

__all__ = ["STOP_SIGNALS", "on_stop_signals"]

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def on_stop_signals(
    stop: Callable[[], None],
    *,
    exit_on_second: Collection[signal.Signals] = (signal.SIGINT,),
) -> None:
    """On SIGTERM or SIGINT call ``stop``; a second signal of ``exit_on_second`` exits at once.

    ``stop`` runs in the main thread between two bytecodes, whatever thread the signal was
    delivered to: it must only set a flag, or start a thread, never block.
    """
    received = 0

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal received
        received += 1
        if received > 1 and signum in exit_on_second:
            os._exit(EXIT_INTERRUPTED)
        stop()

    for number in STOP_SIGNALS:
        signal.signal(number, on_signal)
