"""The ``spectral-deploy`` console script: ``lint`` straight away, everything else via Typer.

Importing Typer and rich costs more than linting a whole migration history, and the
lint runs on every pull request; so ``spectral-deploy lint ...`` goes to its argparse
command line directly. Any other command, and ``lint`` after root options
(``spectral-deploy -v lint``), goes through the Typer app in ``cli/main.py``, which maps
errors to exit codes the same way this module does for the fast path.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the console script and of ``python -m spectral_deploy``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["lint"]:
        sys.exit(_lint(args[1:]))
    from spectral_deploy.cli.main import main as typer_main

    typer_main(args)


def _lint(args: list[str]) -> int:
    from spectral_deploy.cli.exits import report

    try:
        from spectral_deploy.cli.lint import run

        return run(args)  # the lint reads its own settings (the full loader if it must)
    except (KeyboardInterrupt, Exception) as exc:
        return report(
            exc, rerun_hint="rerun as `spectral-deploy -v lint ...` for the traceback and report it"
        )
