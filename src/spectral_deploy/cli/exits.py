"""How a command's failure becomes its exit code: the one map, for Typer's commands and the
lint's fast path alike (``cli/main.py``, ``cli/launch.py``).

``SpectralError`` carries its code (1, 2 or 3: see ``errors.py``); an interrupt is 130; a
closed output pipe (``| head``) is 1 without a word; anything else is a bug, said plainly.
"""

from __future__ import annotations

from spectral_deploy.cli import console
from spectral_deploy.errors import EXIT_INTERRUPTED, SpectralError

__all__ = ["report"]


def report(exc: BaseException, *, rerun_hint: str) -> int:
    """Tell the operator what went wrong (the traceback too with ``-v``); the exit code."""
    if isinstance(exc, KeyboardInterrupt):
        console.error("interrupted")
        return EXIT_INTERRUPTED
    if isinstance(exc, BrokenPipeError):
        return 1
    if console.settings.verbosity:
        console.print_traceback(exc)
    if isinstance(exc, SpectralError):
        console.error(exc.message, hint=exc.hint)
        return exc.exit_code
    console.error(f"internal error: {type(exc).__name__}: {exc}", hint=rerun_hint)
    return 1
