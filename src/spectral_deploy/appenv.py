"""The app's own environment: its Python interpreter, and the commands spectral-deploy runs in it.

An app brings its own virtualenv (Flask, SQLAlchemy, Alembic, Django ...), which is rarely
the one spectral-deploy runs from. ``[hosting] python`` names its interpreter; it runs the
app's migration tool, ``{python}`` in commands, and the local workers.

A command (``[hosting] web_command``, ``[migrations] command``) is split like a shell would
(no shell runs it) after its placeholders are filled in, each value quoted:

    {python}      the app's interpreter ([hosting] python; empty: spectral-deploy's own)
    {port}        the port the color's web app listens on (also $PORT)
    {color}       blue or green
    {generation}  the release's generation (also $SPECTRAL_GENERATION)
    {project}     the project's directory (where spectral.toml is)

``{{`` and ``}}`` are literal braces. A first word ``python`` or ``python3`` means the app's
interpreter too, and a relative program path that is not in the release's checkout (a
virtualenv is not committed) is taken from the project's directory, so
``.venv/bin/gunicorn -b 127.0.0.1:{port} app:app`` works as written.
"""

from __future__ import annotations

import os
import shlex
import shutil
import string
import sys
from collections.abc import Mapping
from pathlib import Path

from spectral_deploy.config import Config
from spectral_deploy.errors import ConfigError

__all__ = ["PLACEHOLDERS", "app_python", "command_argv", "placeholder_help"]

PLACEHOLDERS: Mapping[str, str] = {
    "python": "the app's interpreter ([hosting] python)",
    "port": "the port the color's web app listens on (also $PORT)",
    "color": "blue or green",
    "generation": "the release's generation (also $SPECTRAL_GENERATION)",
    "project": "the project's directory (where spectral.toml is)",
}
PYTHON_NAMES = ("python", "python3")


def placeholder_help(names: tuple[str, ...] = tuple(PLACEHOLDERS)) -> str:
    """One line per placeholder, for ``--help`` and error messages."""
    width = max(len(name) for name in names) + 2
    return "\n".join(f"{'{' + name + '}':<{width}}  {PLACEHOLDERS[name]}" for name in names)


def app_python(config: Config) -> str:
    """The app's interpreter: ``[hosting] python`` checked, else spectral-deploy's own.

    A path is relative to the project root and is not resolved: a virtualenv's ``python``
    is a symlink whose location is what makes it that virtualenv's.
    """
    value = config.hosting.python.strip()
    if not value:
        return sys.executable
    hint = 'the interpreter of the app\'s virtualenv, e.g. python = ".venv/bin/python"'
    if os.sep in value or value.startswith("~"):
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = config.project_root / path
        if not path.is_file() or not os.access(path, os.X_OK):
            raise ConfigError(
                f"{path} is not an executable file",
                key="hosting.python",
                source=config.source,
                hint=hint,
            )
        return str(path)
    found = shutil.which(value)
    if found is None:
        raise ConfigError(
            f"{value!r} is not a command on PATH",
            key="hosting.python",
            source=config.source,
            hint=hint,
        )
    return found


def command_argv(
    template: str,
    values: Mapping[str, str],
    *,
    key: str,
    source: str,
    project_root: Path,
    cwd: Path | None = None,
) -> list[str]:
    """``template`` with its placeholders filled in (values quoted), split into an argv."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise ConfigError(
            f"{template!r}: {exc} (write {{{{ and }}}} for literal braces)", key=key, source=source
        ) from exc
    unknown = [name for name in fields if name not in values]
    if unknown:
        known = ", ".join(f"{{{name}}}" for name in values)
        raise ConfigError(
            f"unknown placeholder {{{unknown[0]}}} in {template!r} (known here: {known})",
            key=key,
            source=source,
        )
    text = template.format_map({name: shlex.quote(value) for name, value in values.items()})
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise ConfigError(f"{template!r}: {exc}", key=key, source=source) from exc
    if not argv:
        raise ConfigError("is empty", key=key, source=source)
    if argv[0] in PYTHON_NAMES and "python" in values:
        argv[0] = values["python"]
    elif os.sep in argv[0] and not Path(argv[0]).is_absolute():
        here = (cwd or project_root) / argv[0]
        there = project_root / argv[0]
        if not here.exists() and there.exists():
            argv[0] = str(there)
    return argv
