"""The local hosting provider runs the app in its own interpreter, with checked commands."""

from __future__ import annotations

import sys
import venv
from pathlib import Path

import pytest

from spectral_deploy.config import load_config
from spectral_deploy.errors import ConfigError
from spectral_deploy.providers.base import Color
from spectral_deploy.providers.local.hosting import from_config


def _config(root: Path, hosting: str) -> object:
    (root / "spectral.toml").write_text(f"[hosting]\n{hosting}")
    return load_config(cwd=root, environ={})


def _venv(root: Path) -> Path:
    python = root / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.symlink_to(sys.executable)
    return python


def test_web_and_workers_run_in_the_apps_interpreter(tmp_path: Path) -> None:
    """{python}, {port}, {color} and {generation} are filled in; workers use the same python."""
    python = _venv(tmp_path)
    config = _config(
        tmp_path,
        'python = ".venv/bin/python"\n'
        'web_command = "{python} -m app.web --port {port} --name {color}-{generation}"\n'
        'worker_app = "app.handlers:handlers"\n',
    )
    hosting = from_config(config, "postgresql://db/app")  # type: ignore[arg-type]
    argv = hosting._web_argv(Color.GREEN, 8102, 7, tmp_path)
    assert argv == [str(python), "-m", "app.web", "--port", "8102", "--name", "green-7"]
    assert hosting._worker_argv()[:3] == [str(python), "-m", "spectral_deploy"]


def test_a_bad_command_or_interpreter_fails_before_anything_runs(tmp_path: Path) -> None:
    """An unknown placeholder or a missing interpreter is a config error at once (exit 2)."""
    bad_placeholder = _config(tmp_path, 'web_command = "{python} -m app --port {prt}"\n')
    with pytest.raises(ConfigError, match=r"hosting\.web_command: unknown placeholder \{prt\}"):
        from_config(bad_placeholder, "postgresql://db/app")  # type: ignore[arg-type]
    missing = _config(tmp_path, 'python = "venv/bin/python"\nweb_command = "{python} -m app"\n')
    with pytest.raises(ConfigError, match=r"hosting\.python: .*venv/bin/python is not an exec"):
        from_config(missing, "postgresql://db/app")  # type: ignore[arg-type]


def test_an_interpreter_without_spectral_deploy_cannot_run_the_workers(tmp_path: Path) -> None:
    """The workers import spectral_deploy: an app venv without it is named before a deploy."""
    bare = tmp_path / "bare"
    venv.EnvBuilder(with_pip=False).create(bare)
    config = _config(
        tmp_path,
        f'python = "{bare}/bin/python"\nweb_command = "{{python}} -m app"\nworker_app = "a:b"\n',
    )
    hosting = from_config(config, "postgresql://db/app")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"cannot run the workers.*No module named"):
        hosting._check_python()
