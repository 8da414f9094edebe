"""A Django app adopted from a fresh repository, in its own virtualenv: init, a breaking
migration stopped by lint and by deploy step 3, the fixed one deployed, an event emitted in the
request's transaction and handled, Class 2 and Class 3 rollbacks, nothing lost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.adopt import (
    AppRepo,
    NoteTables,
    adopted_app,
    class_2_under_load,
    class_3_under_load,
    first_note,
)
from tests.acceptance.adopt import adopt as adopt_app
from tests.example_apps import example_python

BREAKING = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("notes", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="note",
            name="author",
            field=models.TextField(),
        ),
    ]
"""
FIXED = BREAKING.replace("models.TextField()", "models.TextField(null=True)")
MIGRATION = "notes/migrations/0002_note_author.py"
TABLES = NoteTables(notes="notes_note", handled="notes_handledevent")


@pytest.fixture(scope="module")
def python() -> Path:
    """The example's own virtualenv (Django, gunicorn, psycopg, spectral-deploy)."""
    return example_python("django-app")


@pytest.fixture
def app(python: Path) -> Iterator[AppRepo]:
    """The app's repository at v0.9.0 (before adoption); everything stopped afterwards."""
    with adopted_app("django-app", python) as repo:
        yield repo


def adopt(app: AppRepo) -> str:
    """init finds Django and its gunicorn command; returns the tag of the first deploy."""
    return adopt_app(
        app,
        "found: Django (manage.py, notes/migrations)",
        'tool = "django"',
        'web_command = "{python} -m gunicorn --bind 127.0.0.1:{port} config.wsgi"',
    )


def test_adopt_lint_deploy_and_class_2_rollback(app: AppRepo) -> None:
    """The whole adoption story through a Class 2 rollback; status ok; 0 events lost."""
    first_note(app, TABLES, adopt(app))

    # a breaking migration: caught by lint at the migration file, then by the deploy's step 3
    app.write(MIGRATION, BREAKING)
    lint = app.run("lint", "--format", "json")
    assert lint.returncode == 1, lint.stdout + lint.stderr
    (violation,) = json.loads(lint.stdout)["violations"]
    assert (violation["path"], violation["line"], violation["column"], violation["rule"]) == (
        MIGRATION,
        8,
        9,
        "adding-required-column",
    )
    assert violation["sql"]["command"] == "python manage.py sqlmigrate notes 0002_note_author"
    app.release("v0.11.0", "Note.author, required")
    stopped = app.run("deploy", "v0.11.0")
    assert stopped.returncode != 0
    output = stopped.stdout + stopped.stderr
    assert "the migration-compat lint stopped the deploy" in output
    assert f"{MIGRATION}:8:9: MC101" in output
    app.ok("deploy", "abort", "--yes")

    # the fix: nullable, deployed to green at a new generation
    app.write(MIGRATION, FIXED)
    app.release("v0.12.0", "Note.author, nullable")
    app.ok("deploy", "v0.12.0")
    assert app.health()["generation"] == 3
    migrated = json.loads(app.ok("migrate", "status", "--format", "json").stdout)
    assert migrated["source"] == "python manage.py showmigrations --plan"
    assert [(m["name"], m["state"]) for m in migrated["migrations"]] == [
        ("notes.0001_initial", "applied"),
        ("notes.0002_note_author", "applied"),
    ]

    class_2_under_load(app, TABLES)


def test_class_3_redeploys_the_prior_code_and_keeps_the_schema(app: AppRepo) -> None:
    """Class 3: the prior code at a new generation on the newer schema; status ok; 0 lost."""
    first = adopt(app)
    app.ok("deploy", first)
    app.write(MIGRATION, FIXED)
    app.release("v0.11.0", "Note.author, nullable")
    app.ok("deploy", "v0.11.0")
    # the prior code's `manage.py migrate` was not run: the newer migration is kept
    class_3_under_load(
        app,
        TABLES,
        "schema ahead of code, kept",
        "does not know notes.0002_note_author (applied by generation 2",
    )
    applied = "SELECT count(*) FROM django_migrations WHERE name = '0002_note_author'"
    assert app.scalar(applied) == 1  # the schema stays
