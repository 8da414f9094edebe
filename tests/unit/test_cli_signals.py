"""``cli/signals.on_stop_signals``: the first SIGTERM/SIGINT stops, a second Ctrl-C exits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from spectral_deploy.errors import EXIT_INTERRUPTED

REPO = Path(__file__).resolve().parents[2]

# installs the handler, then signals itself as the arguments say; prints what ``stop`` saw
PROGRAM = """
import os, signal, sys, time
from spectral_deploy.cli.signals import STOP_SIGNALS, on_stop_signals
seen = []
second = STOP_SIGNALS if sys.argv[1] == "any" else (signal.SIGINT,)
on_stop_signals(lambda: seen.append(1), exit_on_second=second)
for name in sys.argv[2:]:
    os.kill(os.getpid(), getattr(signal, name))
    time.sleep(0.05)
print(len(seen))
"""


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROGRAM, *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_first_sigterm_or_sigint_calls_stop_and_the_process_goes_on() -> None:
    """One signal of either kind: ``stop`` is called once, nothing exits."""
    for name in ("SIGTERM", "SIGINT"):
        result = run("interrupt", name)
        assert (result.returncode, result.stdout.strip()) == (0, "1"), result.stderr


def test_a_second_ctrl_c_exits_at_once_with_the_interrupted_code() -> None:
    """SIGTERM then Ctrl-C: exit 130 without running on; two SIGTERMs only stop (the worker)."""
    twice = run("interrupt", "SIGTERM", "SIGINT")
    assert (twice.returncode, twice.stdout) == (EXIT_INTERRUPTED, "")
    terms = run("interrupt", "SIGTERM", "SIGTERM")
    assert (terms.returncode, terms.stdout.strip()) == (0, "2"), terms.stderr


def test_any_second_signal_exits_when_asked() -> None:
    """``exit_on_second=STOP_SIGNALS`` (the drain): a second SIGTERM exits at once too."""
    result = run("any", "SIGTERM", "SIGTERM")
    assert (result.returncode, result.stdout) == (EXIT_INTERRUPTED, "")
