"""`spectral-deploy lint` on an Alembic project in its own virtualenv, on stdin, and when it
finds nothing: findings at the revision file, --base by revision, clear tool errors (exit 2)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.conftest import Project
from tests.example_apps import EXAMPLES, example_python
from tests.gitrepo import git

DROP = '''"""drop the note's generation

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.execute("""
        ALTER TABLE notes
            DROP COLUMN generation
    """)
'''


@pytest.fixture(scope="module")
def python() -> Path:
    """The Alembic example's own virtualenv."""
    return example_python("alembic-app")


@pytest.fixture
def alembic_app(python: Path, tmp_path: Path) -> Iterator[Project]:
    """The Alembic example in a git repository, [hosting] python set to its venv."""
    root = tmp_path / "app"
    shutil.copytree(EXAMPLES / "alembic-app", root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "spectral.toml").write_text(f'[hosting]\npython = "{python}"\n')
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "app")
    yield Project(root)


def test_alembic_findings_point_at_the_revision_and_its_sql(alembic_app: Project) -> None:
    """SQL written in op.execute is found at its very line in the .py file; sql says where."""
    (alembic_app.root / "alembic/versions/0003_drop.py").write_text(DROP)
    result = alembic_app.run("lint", "--format", "json")
    assert result.returncode == 1, result.stderr
    (violation,) = json.loads(result.stdout)["violations"]
    assert (violation["path"], violation["line"], violation["column"], violation["rule"]) == (
        "alembic/versions/0003_drop.py",
        16,
        13,
        "drop-column",
    )
    assert violation["sql"] == {
        "command": "alembic upgrade 0002:0003 --sql",
        "line": 6,
        "column": 13,
    }
    one = alembic_app.run("lint", "alembic/versions/0003_drop.py", "--format", "github")
    assert one.returncode == 1
    assert one.stdout.startswith("::error file=alembic/versions/0003_drop.py,line=16,col=13,")


def test_base_maps_changed_revision_files_to_their_sql(alembic_app: Project) -> None:
    """--base lints the revisions changed since the ref, as the tool renders them; none: exit 0."""
    git(alembic_app.root, "checkout", "-q", "-b", "feature")
    nothing = alembic_app.run("lint", "--base", "main")
    assert nothing.returncode == 0, nothing.stderr
    assert "no migration added or changed since main (2 in alembic/versions)" in nothing.stderr
    (alembic_app.root / "alembic/versions/0003_drop.py").write_text(DROP)
    result = alembic_app.run("lint", "--base", "main", "--format", "json")
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    assert [v["path"] for v in document["violations"]] == ["alembic/versions/0003_drop.py"]


def test_a_broken_alembic_environment_is_exit_2_with_the_command_and_its_output(
    alembic_app: Project,
) -> None:
    """env.py that raises: exit 2, naming `alembic upgrade ... --sql` and showing the error."""
    env = alembic_app.root / "alembic" / "env.py"
    broken = env.read_text().replace(
        "if context.is_offline_mode():",
        "raise RuntimeError('SQLALCHEMY_URL is not configured')\nif context.is_offline_mode():",
    )
    env.write_text(broken)
    result = alembic_app.run("lint")
    assert result.returncode == 2, result.stdout
    assert "error: `alembic upgrade 0001 --sql` failed (exit 1, run by " in result.stderr
    assert "RuntimeError: SQLALCHEMY_URL is not configured" in result.stderr
    assert result.stdout == ""


def test_alembic_missing_from_the_interpreter_says_which_and_what_to_set(
    alembic_app: Project,
) -> None:
    """[hosting] python without Alembic (spectral-deploy's own): exit 2, the hint names it."""
    (alembic_app.root / "spectral.toml").write_text("")
    result = alembic_app.run("lint")
    assert result.returncode == 2
    assert "alembic is not installed for" in result.stderr
    assert "[hosting] python" in result.stderr


def test_stdin_is_linted_as_sql(project: Project) -> None:
    """`lint -` reads SQL from standard input and names it <stdin>; bad bytes are exit 2."""
    done = subprocess.run(
        [sys.executable, "-m", "spectral_deploy", "lint", "-"],
        cwd=project.root,
        input=b"ALTER TABLE users\n  DROP COLUMN email;\n",
        capture_output=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout.decode().startswith("<stdin>:2:3: MC102 drop-column")
    bad = subprocess.run(
        [sys.executable, "-m", "spectral_deploy", "lint", "-"],
        cwd=project.root,
        input=b"SELECT '\xff';\n",
        capture_output=True,
        check=False,
    )
    assert bad.returncode == 2
    assert b"<stdin>:1:9: error: not UTF-8" in bad.stdout


def test_finding_no_migration_is_exit_2_never_a_pass(project: Project, tmp_path: Path) -> None:
    """An empty migrations directory, or one holding only Python revisions in a SQL project,
    is an error that says what to set."""
    root = tmp_path / "p"
    (root / "migrations").mkdir(parents=True)
    (root / "spectral.toml").write_text("")
    empty = Project(root).run("lint")
    assert empty.returncode == 2
    assert "no migrations to lint in migrations" in empty.stderr
    (root / "migrations" / "0001_init.py").write_text("revision = '1'\n")
    python_files = Project(root).run("lint")
    assert python_files.returncode == 2
    assert 'set [migrations] tool = "alembic" or "django"' in python_files.stderr
    explicit = Project(root).run("lint", "migrations/0001_init.py")
    assert explicit.returncode == 2
    assert "a Python file is not SQL" in explicit.stderr
