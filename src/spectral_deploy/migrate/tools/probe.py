"""Running a probe script in the app's own interpreter, and reading what it wrote.

The probes (``alembic_probe.py``, ``django_probe.py``) import the app's Alembic or Django,
so they run in the app's virtualenv (``[hosting] python``), from the project directory,
as ``python -c SOURCE`` (the probe, then ``probe_main.py``, the entry point they share): run
as a file, the directory holding them would come first on
``sys.path`` and shadow nothing good. A probe that fails is a ``MigrationToolFailed``
naming the command it stands for, the interpreter, and the end of its output.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from spectral_deploy.errors import MigrationToolFailed

__all__ = ["PROBE_TIMEOUT_SECONDS", "output_tail", "run_probe", "run_tool"]

PROBE_TIMEOUT_SECONDS = 300.0
TAIL_LINES = 25
PROGRESS = "spectral-probe: "  # what a probe prints before each command it stands for
PROBE_MAIN = "probe_main.py"  # the entry point appended to every probe's source


def run_probe(
    probe: str,
    args: Sequence[str],
    *,
    python: str,
    cwd: Path,
    env: Mapping[str, str],
    label: str,
    module: str,
) -> dict[str, Any]:
    """Run ``probe`` (a file beside this module) with ``args`` plus an output path; its JSON.

    ``label`` is the command the probe stands for (``alembic upgrade 0001:0002 --sql``);
    ``module`` is the package it needs (``alembic``), named in the hint when it is missing.
    """
    tools = resources.files("spectral_deploy.migrate.tools")
    source = "\n".join((tools / name).read_text("utf-8") for name in (probe, PROBE_MAIN))
    with tempfile.TemporaryDirectory(prefix="spectral-probe-") as scratch:
        out = Path(scratch) / "out.json"
        argv = [python, "-c", source, *args[:1], str(out), *args[1:]]
        done = _run(
            argv,
            cwd=cwd,
            env=env,
            label=label,
            missing=f"the app's interpreter {python} does not exist",
        )
        if done.returncode != 0 or not out.is_file():
            # the probe names each command as it starts it: the last one is what failed
            started = [
                line.removeprefix(PROGRESS)
                for line in done.stderr.splitlines()
                if line.startswith(PROGRESS)
            ]
            label = started[-1] if started else label
            stderr = "\n".join(
                line for line in done.stderr.splitlines() if not line.startswith(PROGRESS)
            )
            output = output_tail(stderr, done.stdout)
            hint = (
                f"{module} is not installed for {python}: set [hosting] python to the app's "
                "virtualenv interpreter, or install the app's requirements there"
                if _lacks(module, output)
                else f"run `{label}` yourself in {cwd} to see the whole error"
            )
            raise MigrationToolFailed(
                f"`{label}` failed (exit {done.returncode}, run by {python} in {cwd}):\n{output}",
                hint=hint,
            )
        try:
            result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise MigrationToolFailed(f"`{label}` wrote no readable result: {exc}") from exc
    return result


def output_tail(*streams: str) -> str:
    """The last lines of the first stream that has any (stderr before stdout)."""
    for text in streams:
        lines = (text or "").strip().splitlines()
        if lines:
            return "\n".join(lines[-TAIL_LINES:])
    return "(no output)"


def run_tool(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], label: str, module: str
) -> str:
    """Run one of the tool's own commands (``alembic current``); its standard output."""
    done = _run(argv, cwd=cwd, env=env, label=label, missing=f"{argv[0]} does not exist")
    if done.returncode != 0:
        output = output_tail(done.stderr, done.stdout)
        raise MigrationToolFailed(
            f"`{label}` failed (exit {done.returncode}, run by {argv[0]} in {cwd}):\n{output}",
            hint=(
                f"{module} is not installed for {argv[0]}: set [hosting] python to the app's "
                "virtualenv interpreter"
                if _lacks(module, output)
                else None
            ),
        )
    return done.stdout


def _run(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], label: str, missing: str
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (its output captured); a program that does not exist (``missing`` says
    which) or a run past ``PROBE_TIMEOUT_SECONDS`` is a ``MigrationToolFailed``."""
    try:
        return subprocess.run(
            list(argv),
            cwd=cwd,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_SECONDS,
            check=False,
        )
    except FileNotFoundError as exc:
        raise MigrationToolFailed(
            f"cannot run `{label}`: {missing}",
            hint="set [hosting] python to the app's virtualenv interpreter",
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise MigrationToolFailed(
            f"`{label}` did not finish in {PROBE_TIMEOUT_SECONDS:g} s (run by {argv[0]} in {cwd})"
        ) from exc


def _lacks(module: str, output: str) -> bool:
    """Whether the output says ``module`` is not importable."""
    return re.search(rf"No module named '{re.escape(module)}[.']", output) is not None
