"""What init finds in an existing app: its migration tool, its virtualenv, the first release."""

from __future__ import annotations

from pathlib import Path

from spectral_deploy.config import load_config
from spectral_deploy.scaffold import Flavour, Outcome, Settings, ensure_ignored, render
from spectral_deploy.scaffold.stack import detect_stack, first_release_tag
from tests.gitrepo import git


def _touch(path: Path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_alembic_is_found_from_alembic_ini_and_its_script_location(tmp_path: Path) -> None:
    """alembic.ini's script_location (with %(here)s) gives the versions directory."""
    _touch(tmp_path / "alembic.ini", "[alembic]\nscript_location = %(here)s/db/alembic\n")
    _touch(tmp_path / "migrations" / "0001.sql")  # alembic.ini wins over a SQL directory
    _touch(tmp_path / ".venv" / "bin" / "python")
    stack = detect_stack(tmp_path)
    assert (stack.tool, stack.migrations_dir, stack.python) == (
        "alembic",
        "db/alembic/versions",
        ".venv/bin/python",
    )
    assert (
        stack.summary
        == "Alembic (alembic.ini, revisions in db/alembic/versions); virtualenv .venv/"
    )


def test_django_is_found_from_manage_py_with_its_migrations_and_wsgi(tmp_path: Path) -> None:
    """manage.py: the apps' migrations packages (not a virtualenv's) and gunicorn on config.wsgi."""
    _touch(tmp_path / "manage.py")
    _touch(tmp_path / "config" / "wsgi.py")
    _touch(tmp_path / "notes" / "migrations" / "__init__.py")
    _touch(tmp_path / ".venv" / "lib" / "django" / "contrib" / "migrations" / "__init__.py")
    stack = detect_stack(tmp_path)
    assert (stack.tool, stack.migrations_dir) == ("django", "notes/migrations")
    assert stack.web_command == "{python} -m gunicorn --bind 127.0.0.1:{port} config.wsgi"


def test_plain_sql_directories_and_nothing(tmp_path: Path) -> None:
    """Without a tool: the usual SQL directory, or nothing found."""
    assert detect_stack(tmp_path).summary == "no migration tool found"
    _touch(tmp_path / "db" / "migrations" / "0001.sql")
    assert (detect_stack(tmp_path).tool, detect_stack(tmp_path).migrations_dir) == (
        "sql",
        "db/migrations",
    )


def test_rendered_config_carries_the_tool_and_the_interpreter(tmp_path: Path) -> None:
    """The spectral.toml init writes for an Alembic app with a venv loads with both set."""
    settings = Settings(
        Flavour.LOCAL,
        migrations_dir="alembic/versions",
        migrations_tool="alembic",
        python=".venv/bin/python",
        web_command="{python} -m gunicorn --bind 127.0.0.1:{port} config.wsgi",
    )
    config_file = render(settings)[0]
    (tmp_path / "spectral.toml").write_text(config_file.content)
    config = load_config(cwd=tmp_path, environ={})
    assert (config.migrations.tool, config.hosting.python) == ("alembic", ".venv/bin/python")
    assert config.hosting.web_command.startswith("{python} -m gunicorn")


def test_gitignore_gets_spectral_once(tmp_path: Path) -> None:
    """.spectral/ is added (file created or appended to), and never twice."""
    assert ensure_ignored(tmp_path) is Outcome.WRITTEN
    assert ensure_ignored(tmp_path) is Outcome.UNCHANGED
    (tmp_path / ".gitignore").write_text("__pycache__/")
    assert ensure_ignored(tmp_path) is Outcome.OVERWRITTEN
    assert (tmp_path / ".gitignore").read_text().splitlines()[0] == "__pycache__/"
    (tmp_path / ".gitignore").write_text("/.spectral\n")
    assert ensure_ignored(tmp_path) is Outcome.UNCHANGED


def test_the_first_release_after_adoption_is_a_new_tag(tmp_path: Path) -> None:
    """The next minor version after the latest release tag (rollback tags ignored), else v1.0.0."""
    assert first_release_tag(tmp_path, "v*") == ("v1.0.0", None)
    git(tmp_path, "init", "-q")
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "one")
    for tag in ("v1.2.0", "v1.10.3", "v1.9.0", "v1.11.0-rollback", "v1.11.0", "nightly"):
        git(tmp_path, "tag", tag)
    assert first_release_tag(tmp_path, "v*") == ("v1.12.0", "v1.11.0")
