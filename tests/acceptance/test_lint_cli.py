"""``spectral-deploy lint`` as a user and a CI job run it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.acceptance.conftest import Project
from tests.gitrepo import git


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def workdir(project: Project, request: pytest.FixtureRequest) -> Path:
    """A fresh directory inside the project for one test."""
    directory = project.root / request.node.name
    directory.mkdir()
    return directory


def lint(project: Project, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return Project(cwd).run("lint", *args)


def test_help_explains_usage_with_examples(project: Project) -> None:
    """lint --help needs no database and shows usage, the exit codes and examples."""
    result = project.run("lint", "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: spectral-deploy lint" in result.stdout
    assert "--base GIT_REF" in result.stdout and "Examples:" in result.stdout
    assert "lint" in project.run("--help").stdout


def test_configured_directory_is_linted_by_default(project: Project, workdir: Path) -> None:
    """With no PATH the [lint] migrations directory is linted; violations exit 1."""
    write(workdir / "spectral.toml", '[migrations]\ndirectory = "db/migrations"\n')
    write(workdir / "db/migrations/0001_init.sql", "CREATE TABLE users (id bigint, email text);\n")
    write(workdir / "db/migrations/0002_drop.sql", "ALTER TABLE users DROP COLUMN email;\n")
    write(workdir / "db/migrations/notes.txt", "DROP TABLE users;\n")
    result = lint(project, workdir)
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith(
        "db/migrations/0002_drop.sql:1:19: MC102 drop-column\n"
        "  |\n"
        "1 | ALTER TABLE users DROP COLUMN email;\n"
        "  |                   ^^^^^^^^^^^^^^^^^ dropping column"
    )
    assert result.stdout.endswith("Found 1 violation in 2 files.\n")


def test_missing_migrations_directory_is_a_usage_error(project: Project, workdir: Path) -> None:
    """No PATH and no migrations/ directory: exit 2 naming it, with what to do."""
    result = lint(project, workdir)
    assert result.returncode == 2
    assert "migrations directory" in result.stderr and "does not exist" in result.stderr
    assert "next:" in result.stderr


def test_clean_and_override_exit_zero(project: Project, workdir: Path) -> None:
    """A clean file and an overridden file exit 0; the override is listed for signoff."""
    write(workdir / "a.sql", "ALTER TABLE users ADD COLUMN nickname text;\n")
    write(workdir / "b.sql", "-- compat: breaking (reason: table unused since v3)\nDROP TABLE x;\n")
    result = lint(project, workdir, "a.sql", "b.sql", "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == {
        "violations": [],
        "overrides": [
            {
                "path": "b.sql",
                "reason": "table unused since v3",
                "line": 1,
                "scope": "file",
                "covers": [
                    {
                        "path": "b.sql",
                        "line": 2,
                        "column": 1,
                        "rule": "drop-table",
                        "code": "MC103",
                        "message": "dropping table x breaks the running release, "
                        "which still uses it",
                    }
                ],
                "signoff": None,
            }
        ],
        "errors": [],
        "notes": [],
    }


def test_parse_error_exits_2_and_other_files_are_still_linted(
    project: Project, workdir: Path
) -> None:
    """An unparseable and a non-UTF-8 file are errors with positions; the rest is linted."""
    write(workdir / "m/0001.sql", "CREATE TABLE t (\n  a int UNSIGNED\n);\n")
    (workdir / "m/0002.sql").write_bytes(b"SELECT '\xff';\n")
    write(workdir / "m/0003.sql", "DROP TABLE t;\n")
    result = lint(project, workdir, "m", "--format", "json")
    assert result.returncode == 2
    document = json.loads(result.stdout)
    assert [(e["path"], e["line"], e["column"]) for e in document["errors"]] == [
        ("m/0001.sql", 2, 9),
        ("m/0002.sql", 1, 9),
    ]
    assert [v["path"] for v in document["violations"]] == ["m/0003.sql"]


def test_github_and_sarif_formats(project: Project, workdir: Path) -> None:
    """github prints workflow commands; sarif prints a SARIF 2.1.0 log."""
    write(workdir / "a.sql", "DROP TABLE t;\n")
    github = lint(project, workdir, "a.sql", "--format", "github")
    assert github.returncode == 1
    assert github.stdout.startswith("::error file=a.sql,line=1,col=1,")
    sarif = json.loads(lint(project, workdir, "a.sql", "--format", "sarif").stdout)
    assert sarif["version"] == "2.1.0"
    assert sarif["runs"][0]["results"][0]["ruleId"] == "MC103"


def test_select_and_ignore(project: Project, workdir: Path) -> None:
    """--select runs only the named rules; --ignore drops some; a typo is exit 2."""
    write(workdir / "a.sql", "DROP TABLE t;\nCREATE INDEX i ON u (a);\n")
    selected = lint(project, workdir, "a.sql", "--select", "MC103", "--format", "json")
    assert [v["rule"] for v in json.loads(selected.stdout)["violations"]] == ["drop-table"]
    ignored = lint(project, workdir, "a.sql", "--ignore", "drop-table,MC203")
    assert ignored.returncode == 0, ignored.stdout
    typo = lint(project, workdir, "a.sql", "--ignore", "drop-tabel")
    assert typo.returncode == 2 and "unknown rule 'drop-tabel'" in typo.stderr


def test_config_disables_and_enables_rules(project: Project, workdir: Path) -> None:
    """[lint] disable and enable apply; an unknown name names the key and the file."""
    write(workdir / "a.sql", "DROP TABLE t;\nALTER TABLE u ALTER COLUMN a DROP NOT NULL;\n")
    write(workdir / "spectral.toml", '[lint]\ndisable = ["drop-table"]\nenable = ["MC114"]\n')
    result = lint(project, workdir, "a.sql", "--format", "json")
    assert [v["rule"] for v in json.loads(result.stdout)["violations"]] == ["drop-not-null"]
    write(workdir / "spectral.toml", '[lint]\ndisable = ["drop-tabel"]\n')
    bad = lint(project, workdir, "a.sql")
    assert bad.returncode == 2
    assert "lint.disable" in bad.stderr and "spectral.toml" in bad.stderr


def test_explain_prints_the_doc_page(project: Project) -> None:
    """--explain prints the rule's documentation; an unknown rule is exit 2."""
    result = project.run("lint", "--explain", "MC102")
    assert result.returncode == 0
    assert result.stdout.startswith("# drop-column (MC102)")
    assert "## Why it breaks old code" in result.stdout
    assert project.run("lint", "--explain", "nope").returncode == 2


def test_root_options_path_gives_the_same_result(project: Project, workdir: Path) -> None:
    """`spectral-deploy -v lint` (through Typer) prints what `spectral-deploy lint` prints."""
    write(workdir / "a.sql", "ALTER TABLE users RENAME TO accounts;\n")
    fast = lint(project, workdir, "a.sql", "--format", "json")
    via_typer = Project(workdir).run("-v", "lint", "a.sql", "--format", "json")
    assert via_typer.returncode == fast.returncode == 1
    assert via_typer.stdout == fast.stdout


def test_base_lints_only_the_change_set(project: Project, workdir: Path) -> None:
    """--base: history is not linted; tables created in the change set are new in all of it."""
    migrations = workdir / "migrations"
    git(workdir, "init", "-q", "-b", "main")
    write(migrations / "0001_init.sql", "CREATE TABLE users (id bigint, email text);\n")
    write(migrations / "0002_old_break.sql", "DROP TABLE legacy;\n")
    git(workdir, "add", ".")
    git(workdir, "commit", "-q", "-m", "history")
    git(workdir, "checkout", "-q", "-b", "feature")
    write(migrations / "0003_staging.sql", "CREATE TABLE staging (id bigint, x int);\n")
    write(migrations / "0004_use.sql", "CREATE INDEX s_idx ON staging (id);\nDROP TABLE staging;\n")
    git(workdir, "add", ".")
    git(workdir, "commit", "-q", "-m", "feature")
    write(migrations / "0005_untracked.sql", "ALTER TABLE users DROP COLUMN email;\n")

    result = lint(project, workdir, "--base", "main", "--format", "json")
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    assert [(v["path"], v["rule"]) for v in document["violations"]] == [
        ("migrations/0005_untracked.sql", "drop-column")
    ]
    assert document["errors"] == []

    without_base = json.loads(lint(project, workdir, "--format", "json").stdout)
    flagged = {v["path"] for v in without_base["violations"]}
    assert "migrations/0002_old_break.sql" in flagged  # history breaks only show without --base
    assert "migrations/0004_use.sql" in flagged  # its own change set: staging is existing


def test_base_that_does_not_exist_is_exit_2(project: Project, workdir: Path) -> None:
    """A bad ref names itself and says how to fix it."""
    git(workdir, "init", "-q", "-b", "main")
    write(workdir / "migrations/0001.sql", "SELECT 1;\n")
    git(workdir, "add", ".")
    git(workdir, "commit", "-q", "-m", "one")
    result = lint(project, workdir, "--base", "no-such-branch")
    assert result.returncode == 2
    assert "--base no-such-branch" in result.stderr and "git fetch" in result.stderr


def test_override_scope_from_config_and_a_bad_value(project: Project, workdir: Path) -> None:
    """[lint] override_scope = "statement" narrows a marker; another value is exit 2."""
    write(
        workdir / "a.sql",
        "-- compat: breaking (reason: sessions unused)\nDROP TABLE sessions;\nDROP TABLE users;\n",
    )
    write(workdir / "spectral.toml", '[lint]\noverride_scope = "statement"\n')
    result = lint(project, workdir, "a.sql", "--format", "json")
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    assert [v["line"] for v in document["violations"]] == [3]
    assert document["overrides"][0]["scope"] == "statement"
    write(workdir / "spectral.toml", '[lint]\noverride_scope = "line"\n')
    bad = lint(project, workdir, "a.sql")
    assert bad.returncode == 2
    assert "lint.override_scope" in bad.stderr and '"file" or "statement"' in bad.stderr


def test_a_fifo_in_the_migrations_directory_is_reported_not_waited_on(
    project: Project, workdir: Path
) -> None:
    """A *.sql FIFO is an error with its path; the other files are linted; no hang."""
    write(workdir / "m/0001.sql", "DROP TABLE t;\n")
    os.mkfifo(workdir / "m/0002.sql")
    result = lint(project, workdir, "m", "--format", "json")
    assert result.returncode == 2
    document = json.loads(result.stdout)
    assert [(e["path"], e["message"]) for e in document["errors"]] == [
        ("m/0002.sql", "not a regular file (a FIFO): only migration files are read")
    ]
    assert [v["path"] for v in document["violations"]] == ["m/0001.sql"]


def test_max_file_bytes_from_config(project: Project, workdir: Path) -> None:
    """A file over [lint] max_file_bytes is exit 2 naming the limit; a bad value too."""
    write(workdir / "big.sql", "SELECT 1;\n" * 200)
    write(workdir / "spectral.toml", "[lint]\nmax_file_bytes = 1000\n")
    result = lint(project, workdir, "big.sql")
    assert result.returncode == 2
    assert "file is 2000 bytes, over the limit of 1000 bytes" in result.stdout
    assert "max_file_bytes" in result.stdout
    write(workdir / "spectral.toml", "[lint]\nmax_file_bytes = 0\n")
    assert lint(project, workdir, "big.sql").returncode == 2


def test_a_directory_is_linted_with_its_history(project: Project, workdir: Path) -> None:
    """Each file is judged after the ones before it: the widening passes, the narrowing not."""
    write(workdir / "migrations/0001.sql", "CREATE TABLE users (name varchar(20));\n")
    write(workdir / "migrations/0002.sql", "ALTER TABLE users ALTER COLUMN name TYPE text;\n")
    write(
        workdir / "migrations/0003.sql", "ALTER TABLE users ALTER COLUMN name TYPE varchar(10);\n"
    )
    result = lint(project, workdir, "--format", "json")
    assert result.returncode == 1
    [violation] = json.loads(result.stdout)["violations"]
    assert violation["path"] == "migrations/0003.sql"
    assert "from text to varchar(10) narrows" in violation["message"]
    one = lint(project, workdir, "migrations/0002.sql", "--format", "json")
    assert one.returncode == 0, one.stdout  # 0001 is its history
