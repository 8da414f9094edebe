"""The example apps' own virtualenvs, built from the package index the first time a test (or
``make examples``) needs them, then reused.

Each example (``examples/alembic-app``, ``examples/django-app``) pins its dependencies in
``requirements.txt``; its virtualenv gets those plus this checkout of spectral-deploy (the
app's library: ``emit``, ``Handlers``, the worker), installed editable, so the venv follows
the source. A venv is keyed by its requirements, ``pyproject.toml`` and the interpreter, and
kept under ``.venv/example-apps/`` (``make clean`` removes it); a lock makes parallel test
workers build it once.

    python -m tests.example_apps            # build both
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
EXAMPLES = REPOSITORY / "examples"
APPS = ("alembic-app", "django-app")
INSTALL_TIMEOUT_SECONDS = 1200


def venv_home() -> Path:
    """Where the example venvs live: beside the project's own venv, else a temporary dir."""
    if (REPOSITORY / ".venv").is_dir():
        return REPOSITORY / ".venv" / "example-apps"
    return Path(tempfile.gettempdir()) / f"spectral-example-apps-{os.getuid()}"


def example_python(app: str) -> Path:
    """The interpreter of ``app``'s virtualenv, built if missing (pinned requirements)."""
    requirements = EXAMPLES / app / "requirements.txt"
    digest = hashlib.sha256()
    for part in (requirements.read_bytes(), (REPOSITORY / "pyproject.toml").read_bytes()):
        digest.update(part)
    digest.update(sys.version.encode())
    home = venv_home()
    home.mkdir(parents=True, exist_ok=True)
    target = home / f"{app}-{digest.hexdigest()[:12]}"
    python = target / "bin" / "python"
    with (home / f"{app}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / ".ready").is_file():
            return python
        for stale in home.glob(f"{app}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(target)
        _pip(python, "-r", str(requirements))
        _pip(python, "-e", str(REPOSITORY))
        (target / ".ready").write_text("ok\n")
    return python


def _pip(python: Path, *args: str) -> None:
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(args)} failed:\n{done.stderr[-4000:]}")


if __name__ == "__main__":
    for name in sys.argv[1:] or APPS:
        print(f"{name}: {example_python(name)}")
