"""The app's own environment: its interpreter ([hosting] python) and command placeholders."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from spectral_deploy.appenv import PLACEHOLDERS, app_python, command_argv, placeholder_help
from spectral_deploy.config import load_config
from spectral_deploy.errors import ConfigError


def _config(tmp_path: Path, python: str = "") -> object:
    (tmp_path / "spectral.toml").write_text(f'[hosting]\npython = "{python}"\n')
    return load_config(cwd=tmp_path, environ={})


def _venv_python(root: Path) -> Path:
    python = root / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.symlink_to(sys.executable)
    return python


def test_empty_python_is_spectral_deploys_own(tmp_path: Path) -> None:
    """No [hosting] python: the interpreter spectral-deploy runs on."""
    assert app_python(_config(tmp_path)) == sys.executable  # type: ignore[arg-type]


def test_relative_python_is_the_projects_virtualenv_not_resolved(tmp_path: Path) -> None:
    """.venv/bin/python is taken relative to the project, and its symlink is kept as is."""
    python = _venv_python(tmp_path)
    assert app_python(_config(tmp_path, ".venv/bin/python")) == str(python)  # type: ignore[arg-type]


def test_missing_python_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    """A path that is not an executable file names hosting.python and the file."""
    with pytest.raises(ConfigError, match=r"hosting\.python: .*\.venv/bin/python is not an exec"):
        app_python(_config(tmp_path, ".venv/bin/python"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="is not a command on PATH"):
        app_python(_config(tmp_path, "python-that-does-not-exist"))  # type: ignore[arg-type]


def _argv(template: str, tmp_path: Path, cwd: Path | None = None) -> list[str]:
    values = {"python": "/venv/bin/python", "port": "8101", "color": "blue", "generation": "7"}
    return command_argv(
        template,
        {**values, "project": str(tmp_path)},
        key="hosting.web_command",
        source="spectral.toml",
        project_root=tmp_path,
        cwd=cwd,
    )


def test_placeholders_are_filled_in_and_quoted(tmp_path: Path) -> None:
    """Every placeholder has a value; a value with spaces stays one argument."""
    argv = _argv("{python} -m app --port {port} --color {color} --gen {generation} {{x}}", tmp_path)
    assert argv == [
        "/venv/bin/python",
        "-m",
        "app",
        "--port",
        "8101",
        "--color",
        "blue",
        "--gen",
        "7",
        "{x}",
    ]
    spaced = command_argv(
        "{project}/run", {"project": "/my app"}, key="k", source="s", project_root=tmp_path
    )
    assert spaced == ["/my app/run"]


def test_an_unknown_placeholder_is_a_config_error_listing_the_known_ones(tmp_path: Path) -> None:
    """{prot} (a typo) names the key and every placeholder that exists."""
    with pytest.raises(ConfigError, match=r"unknown placeholder \{prot\}.*\{port\}"):
        _argv("{python} -m app --port {prot}", tmp_path)
    with pytest.raises(ConfigError, match="literal braces"):
        _argv("{python} -m app {", tmp_path)


def test_bare_python_and_project_relative_programs(tmp_path: Path) -> None:
    """`python` is the app's interpreter; .venv/bin/gunicorn is found in the project, not the
    release's checkout; a program the checkout has stays relative to it."""
    release = tmp_path / "release"
    (release / "bin").mkdir(parents=True)
    (release / "bin" / "start").write_text("#!/bin/sh\n")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "gunicorn").write_text("#!/bin/sh\n")
    assert _argv("python -m app", tmp_path)[0] == "/venv/bin/python"
    gunicorn = _argv(".venv/bin/gunicorn app:app", tmp_path, cwd=release)
    assert gunicorn[0] == str(tmp_path / ".venv" / "bin" / "gunicorn")
    assert _argv("bin/start", tmp_path, cwd=release)[0] == "bin/start"


def test_every_placeholder_is_documented() -> None:
    """The help lists each placeholder once."""
    text = placeholder_help()
    assert [line.split()[0] for line in text.splitlines()] == [f"{{{n}}}" for n in PLACEHOLDERS]
