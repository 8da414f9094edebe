"""Finding the app's migration tool and its migrations, without running the tool."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from spectral_deploy.config import load_config
from spectral_deploy.errors import ConfigError, InputError, MigrationToolFailed
from spectral_deploy.lint.source import Position
from spectral_deploy.migrate.tools import ToolKind, detect, lint_inputs, tool_for
from spectral_deploy.migrate.tools.django import operation_spans
from spectral_deploy.migrate.tools.probe import run_probe, run_tool

DJANGO_MIGRATION = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("notes", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="note",
            name="author",
            field=models.TextField(default="anonymous"),
        ),
        migrations.RemoveField(model_name="note", name="body"),
    ]
"""


def _config(root: Path, text: str = "") -> object:
    (root / "spectral.toml").write_text(text)
    return load_config(cwd=root, environ={})


def test_auto_finds_alembic_then_django_then_sql(tmp_path: Path) -> None:
    """alembic.ini wins, then manage.py; otherwise plain SQL."""
    assert detect(tmp_path) is ToolKind.SQL
    (tmp_path / "manage.py").write_text("")
    assert detect(tmp_path) is ToolKind.DJANGO
    (tmp_path / "alembic.ini").write_text("")
    assert detect(tmp_path) is ToolKind.ALEMBIC


def test_the_configured_tool_wins_over_what_is_found(tmp_path: Path) -> None:
    """[migrations] tool = "sql" in a project that also has manage.py lints .sql files."""
    (tmp_path / "manage.py").write_text("")
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "0002_b.sql").write_text("SELECT 2;")
    (tmp_path / "migrations" / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "migrations" / "notes.txt").write_text("")
    tool = tool_for(_config(tmp_path, '[migrations]\ntool = "sql"\n'))  # type: ignore[arg-type]
    assert tool.kind is ToolKind.SQL
    assert [m.display for m in tool.migrations()] == [
        "migrations/0001_a.sql",
        "migrations/0002_b.sql",
    ]
    files, origins = lint_inputs(tool.render(tool.migrations()))
    assert [f.text for f in files] == [None, None] and origins == {}  # the lint reads the files
    assert tool.default_command() is None


def test_none_means_no_migrations(tmp_path: Path) -> None:
    """tool = "none": nothing to list, render or run."""
    tool = tool_for(_config(tmp_path, '[migrations]\ntool = "none"\n'))  # type: ignore[arg-type]
    assert (tool.kind, tool.migrations(), tool.default_command()) == (ToolKind.NONE, [], None)


def test_an_unknown_tool_is_a_config_error(tmp_path: Path) -> None:
    """A typo in [migrations] tool names the key and the choices."""
    with pytest.raises(ConfigError, match=r"migrations\.tool: unknown tool 'flyway'.*alembic"):
        _config(tmp_path, '[migrations]\ntool = "flyway"\n')


def test_a_missing_sql_directory_is_an_input_error(tmp_path: Path) -> None:
    """The configured directory must exist: exit 2 naming it."""
    tool = tool_for(_config(tmp_path))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="migrations directory migrations does not exist"):
        tool.migrations()


def test_alembic_and_django_use_the_apps_interpreter_and_their_own_commands(
    tmp_path: Path,
) -> None:
    """The tool's adapter runs in [hosting] python; migrate apply runs the tool's upgrade."""
    (tmp_path / "alembic.ini").write_text("")
    config = _config(tmp_path, '[hosting]\npython = "/bin/sh"\n')
    alembic = tool_for(config)  # type: ignore[arg-type]
    assert alembic.python == "/bin/sh"  # type: ignore[attr-defined]
    assert alembic.default_command() == "{python} -m alembic upgrade head"
    config = _config(tmp_path, '[migrations]\ntool = "django"\n')
    assert tool_for(config).default_command() == "{python} manage.py migrate --no-input"  # type: ignore[arg-type]


def test_django_operations_are_located_in_the_migration_file(tmp_path: Path) -> None:
    """Each entry of the operations list has its span; other SQL points at `operations`."""
    path = tmp_path / "0002_author.py"
    path.write_text(DJANGO_MIGRATION)
    spans, fallback = operation_spans(path, DJANGO_MIGRATION.splitlines())
    assert spans == [
        (Position(8, 9), Position(12, 10)),
        (Position(13, 9), Position(13, 63)),
    ]
    assert fallback.start == Position(7, 5)


def test_a_probe_or_tool_that_cannot_start_names_what_is_missing(tmp_path: Path) -> None:
    """A missing interpreter (probe) or program (tool command): a MigrationToolFailed naming it
    and the setting to fix, never an OSError."""

    missing = str(tmp_path / "no-python")
    with pytest.raises(MigrationToolFailed) as probe:
        run_probe(
            "alembic_probe.py",
            ["alembic.ini"],
            python=missing,
            cwd=tmp_path,
            env={},
            label="alembic history",
            module="alembic",
        )
    assert probe.value.message == (
        f"cannot run `alembic history`: the app's interpreter {missing} does not exist"
    )
    assert probe.value.hint == "set [hosting] python to the app's virtualenv interpreter"
    with pytest.raises(MigrationToolFailed) as tool:
        run_tool([missing, "current"], cwd=tmp_path, env={}, label="alembic current", module="x")
    assert tool.value.message == f"cannot run `alembic current`: {missing} does not exist"


def test_a_failing_probe_exits_1_with_the_end_of_its_traceback(tmp_path: Path) -> None:
    """The shared entry point: the probe's exception is printed and the run fails (exit 1),
    the message naming the command the probe stood for."""

    with pytest.raises(MigrationToolFailed) as failed:
        run_probe(
            "django_probe.py",
            ["no-manage.py"],
            python=sys.executable,
            cwd=tmp_path,
            env={},
            label="python manage.py showmigrations --plan",
            module="django",
        )
    assert failed.value.message.startswith(
        "`python manage.py showmigrations --plan` failed (exit 1, run by"
    )
    assert "Traceback (most recent call last)" in failed.value.message
